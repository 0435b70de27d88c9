"""The plus/minus dialogs that change a card's balances.

One view serves every dialog. ``ACTIONS`` says, per card kind and action name, which service
applies it, which pure rule previews it, which fields the form has and how they read. An action
that does not apply to the card (stamps on a cashback card, a refund on a card that earns stamps
per visit, where writing off visits replaces it) is a 404, like an unknown one.

With htmx the dialog is a ``<dialog>`` partial: a validation error re-renders its form (422) and
a success answers 204 with ``HX-Trigger: ledger-changed`` (the profile refreshes its metrics and
history; app.js closes the dialog and toasts the message). Without JavaScript the same URL is a
page with the form: a success redirects to the profile with a message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from cards import rules, services
from cards.forms import LedgerDialogForm
from cards.models import Card, ProgramKind
from cards.rules import Balances, Delta, LedgerError
from cards.selectors import card_get
from cards.templatetags.ledger_format import percent
from loyalty.http import MerchantRequest
from loyalty.tenancy import merchant_required

RuleSet = Any  # rules.StampRules | rules.CashbackRules
Describe = Callable[[list[Delta], Balances | None, RuleSet], str]

# ---------------------------------------------------------------------------------------------
# Wording: the preview before Apply and the message after it say the same thing.


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _after(deltas: list[Delta], before: Balances) -> Balances:
    return rules.fold(deltas, before)


def _stamp_balance(deltas: list[Delta], before: Balances | None) -> list[str]:
    if before is None:
        return []
    return [f"balance {before.stamps_balance} -> {_after(deltas, before).stamps_balance}"]


def _rewards_unlocked(deltas: list[Delta]) -> list[str]:
    unlocked = sum(delta.rewards_earned for delta in deltas)
    return [f"{_count(unlocked, 'reward')} unlocked"] if unlocked else []


def _stamps_taken_back(deltas: list[Delta]) -> str:
    taken = -sum(delta.stamps_earned for delta in deltas)
    return f"{_count(taken, 'stamp')} taken back" if taken else "no stamps taken back"


def _describe_stamp_purchase(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    stamps = deltas[0].stamps_earned
    return ", ".join(
        [
            f"+{deltas[0].amount} transaction amount",
            f"+{_count(stamps, 'stamp')}" if stamps else "no stamps",
            *_stamp_balance(deltas, before),
            *_rewards_unlocked(deltas),
        ]
    )


def _describe_stamp_refund(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    return ", ".join(
        [
            f"-{abs(deltas[0].amount)} transaction amount",
            _stamps_taken_back(deltas),
            *_stamp_balance(deltas, before),
            "rewards unchanged",
        ]
    )


def _describe_visits_write_off(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    visits = -deltas[0].visits
    parts = [f"-{_count(visits, 'visit')}"]
    if before is not None:
        parts.append(f"visits {before.total_visits} -> {_after(deltas, before).total_visits}")
    return ", ".join([*parts, _stamps_taken_back(deltas), *_stamp_balance(deltas, before)])


def _describe_stamps_added(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    return ", ".join(
        [
            f"+{_count(deltas[0].stamps_earned, 'stamp')}",
            *_stamp_balance(deltas, before),
            *_rewards_unlocked(deltas),
        ]
    )


def _describe_stamps_removed(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    return ", ".join(
        [f"-{_count(-deltas[0].stamps_earned, 'stamp')}", *_stamp_balance(deltas, before)]
    )


def _rewards_parts(delta: Delta, before: Balances | None, headline: str) -> str:
    parts = [headline]
    if before is not None:
        after = before.rewards_available + delta.rewards_available
        parts.append(f"rewards available {before.rewards_available} -> {after}")
    if delta.amount:
        parts.append(f"+{delta.amount} transaction amount")
    parts.append("counts as a visit")
    return ", ".join(parts)


def _describe_rewards_added(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    return _rewards_parts(delta, before, f"+{_count(delta.rewards_earned, 'reward')}")


def _describe_rewards_redeemed(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    return _rewards_parts(delta, before, f"{_count(delta.rewards_redeemed, 'reward')} redeemed")


def _points_balance(deltas: list[Delta], before: Balances | None) -> list[str]:
    if before is None:
        return []
    return [f"balance {before.points_balance} -> {_after(deltas, before).points_balance}"]


def _describe_points_added(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    parts = [f"+{delta.points} points", *_points_balance(deltas, before)]
    if delta.ltv:
        parts.append(f"LTV +{delta.ltv}")
    parts.append("transaction amount unchanged")
    return ", ".join(parts)


def _describe_points_removed(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    return ", ".join(
        [f"-{abs(delta.points)} points", *_points_balance(deltas, before), "tier unchanged"]
    )


def _describe_cashback_purchase(
    deltas: list[Delta], before: Balances | None, rule_set: RuleSet
) -> str:
    delta = deltas[0]
    parts = [
        f"+{delta.points} points at {percent(delta.cashback_percentage)}",
        *_points_balance(deltas, before),
    ]
    if delta.tier is not None:
        # The purchase itself earned at the old rate; the new one starts with the next.
        parts.append(
            f"reaches {delta.tier.name} ({percent(delta.tier.percentage)} from the next purchase)"
        )
    elif before is not None:
        after = _after(deltas, before)
        upcoming = rules.next_tier(
            rule_set.tiers, rules.current_tier(rule_set.tiers, after).threshold
        )
        to_next = rules.to_next_tier(rule_set.tiers, after)
        if upcoming is not None and to_next is not None:
            parts.append(f"{to_next} more to {upcoming.name}")
    return ", ".join([f"+{delta.amount} transaction amount", *parts])


def _describe_cashback_refund(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    parts = [
        f"-{abs(delta.amount)} transaction amount",
        f"-{abs(delta.points)} points at {percent(delta.cashback_percentage)}",
        *_points_balance(deltas, before),
    ]
    if before is not None and before.tier_name:
        parts.append(f"tier stays {before.tier_name}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# What the dialog shows before anything is typed


def _money_line(label: str, value: Decimal) -> str:
    return f"{label}: {value}"


def _stamps_line(card: Card) -> str:
    return f"Balance: {_count(card.stamps_balance, 'stamp')}"


def _stamp_earning_rule(card: Card) -> str:
    program = card.program
    if program.mechanism == "visit":
        return f"{_count(program.stamps_per_visit, 'stamp')} per visit"
    return f"1 stamp per {program.spend_per_stamp} spent"


def _tier_line(card: Card) -> str:
    return f"Cashback: {card.tier_name}, {percent(card.cashback_percentage)}"


def _points_line(card: Card) -> str:
    return f"Balance: {card.points_balance} points"


# ---------------------------------------------------------------------------------------------
# The table of actions


@dataclass(frozen=True)
class DialogAction:
    name: str
    kind: str  # ProgramKind
    title: str
    value_label: str
    value_is_count: bool
    purchase: str  # "" (no field), "optional" or "required"
    service: Callable[..., services.LedgerResult]
    rule: Callable[..., list[Delta]]
    describe: Describe
    balances: Callable[[Card], Sequence[str]]
    purchase_help: str = ""
    # Stamp programs only: the mechanisms this action applies to (empty: every one).
    mechanisms: frozenset[str] = frozenset()

    def applies_to(self, card: Card) -> bool:
        program = card.program
        if program.kind != self.kind:
            return False
        return not self.mechanisms or program.mechanism in self.mechanisms

    def rule_inputs(self, data: Mapping[str, Any]) -> dict[str, str]:
        inputs = {"value": str(data.get("value", ""))}
        if self.purchase:
            inputs["purchase_amount"] = str(data.get("purchase_amount", ""))
        return inputs


VISIBLE_FIELDS = frozenset({"value", "purchase_amount", "comment"})
PURCHASE_EQUALS_VALUE = "Optional. If you fill it in, it must equal the value."
STAMP, CASHBACK = ProgramKind.STAMP, ProgramKind.CASHBACK

_ACTION_LIST = [
    DialogAction(
        name="transaction_amount_add",
        kind=STAMP,
        title="Add transaction amount",
        value_label="Value",
        value_is_count=False,
        purchase="optional",
        purchase_help=PURCHASE_EQUALS_VALUE,
        service=services.card_add_transaction_amount,
        rule=rules.stamp_add_transaction_amount,
        describe=_describe_stamp_purchase,
        balances=lambda card: [
            _money_line("Transaction amount", card.transaction_amount),
            _stamps_line(card),
            f"Earns {_stamp_earning_rule(card)}",
        ],
    ),
    DialogAction(
        name="transaction_amount_subtract",
        kind=STAMP,
        mechanisms=frozenset({"spend"}),
        title="Refund of amount spent",
        value_label="Value",
        value_is_count=False,
        purchase="optional",
        purchase_help=PURCHASE_EQUALS_VALUE,
        service=services.card_subtract_transaction_amount,
        rule=rules.stamp_refund_transaction_amount,
        describe=_describe_stamp_refund,
        balances=lambda card: [
            _money_line("Transaction amount", card.transaction_amount),
            _stamps_line(card),
        ],
    ),
    DialogAction(
        name="visits_write_off",
        kind=STAMP,
        mechanisms=frozenset({"visit"}),
        title="Write off visits",
        value_label="Number of visits",
        value_is_count=True,
        purchase="",
        service=services.card_write_off_visits,
        rule=rules.stamp_write_off_visits,
        describe=_describe_visits_write_off,
        balances=lambda card: [f"Total visits: {card.total_visits}", _stamps_line(card)],
    ),
    DialogAction(
        name="stamps_add",
        kind=STAMP,
        title="Add stamps",
        value_label="Number of stamps",
        value_is_count=True,
        purchase="",
        service=services.card_add_stamps,
        rule=rules.stamp_add_stamps,
        describe=_describe_stamps_added,
        balances=lambda card: [
            _stamps_line(card),
            f"{_count(card.program.stamps_per_reward, 'stamp')} make a reward",
        ],
    ),
    DialogAction(
        name="stamps_subtract",
        kind=STAMP,
        title="Remove stamps",
        value_label="Number of stamps",
        value_is_count=True,
        purchase="",
        service=services.card_remove_stamps,
        rule=rules.stamp_remove_stamps,
        describe=_describe_stamps_removed,
        balances=lambda card: [_stamps_line(card)],
    ),
    DialogAction(
        name="rewards_add",
        kind=STAMP,
        title="Add rewards",
        value_label="Number of rewards",
        value_is_count=True,
        purchase="required",
        purchase_help="Required; enter 0 if nothing was bought.",
        service=services.card_add_rewards,
        rule=rules.stamp_add_rewards,
        describe=_describe_rewards_added,
        balances=lambda card: [f"Rewards available: {card.rewards_available}"],
    ),
    DialogAction(
        name="rewards_subtract",
        kind=STAMP,
        title="Redeem rewards",
        value_label="Number of rewards",
        value_is_count=True,
        purchase="required",
        purchase_help="Required; enter 0 if nothing was bought.",
        service=services.card_redeem_rewards,
        rule=rules.stamp_redeem_rewards,
        describe=_describe_rewards_redeemed,
        balances=lambda card: [f"Rewards available: {card.rewards_available}"],
    ),
    DialogAction(
        name="points_add",
        kind=CASHBACK,
        title="Add points",
        value_label="Value (points)",
        value_is_count=False,
        purchase="optional",
        purchase_help="Optional. Adds to LTV; does not change the transaction amount.",
        service=services.card_add_points,
        rule=rules.cashback_add_points,
        describe=_describe_points_added,
        balances=lambda card: [_points_line(card)],
    ),
    DialogAction(
        name="points_subtract",
        kind=CASHBACK,
        title="Remove points",
        value_label="Value (points)",
        value_is_count=False,
        purchase="optional",
        purchase_help="Optional. Kept on the entry; changes neither transaction amount nor LTV.",
        service=services.card_remove_points,
        rule=rules.cashback_remove_points,
        describe=_describe_points_removed,
        balances=lambda card: [_points_line(card)],
    ),
    DialogAction(
        name="transaction_amount_add",
        kind=CASHBACK,
        title="Increase transaction amount",
        value_label="Value",
        value_is_count=False,
        purchase="optional",
        purchase_help=PURCHASE_EQUALS_VALUE,
        service=services.card_add_transaction_amount,
        rule=rules.cashback_add_transaction_amount,
        describe=_describe_cashback_purchase,
        balances=lambda card: [
            _money_line("Transaction amount", card.transaction_amount),
            _points_line(card),
            _tier_line(card),
        ],
    ),
    DialogAction(
        name="transaction_amount_subtract",
        kind=CASHBACK,
        title="Decrease transaction amount",
        value_label="Value",
        value_is_count=False,
        purchase="optional",
        purchase_help=PURCHASE_EQUALS_VALUE,
        service=services.card_subtract_transaction_amount,
        rule=rules.cashback_subtract_transaction_amount,
        describe=_describe_cashback_refund,
        balances=lambda card: [
            _money_line("Transaction amount", card.transaction_amount),
            _points_line(card),
            _tier_line(card),
        ],
    ),
]

ACTIONS: dict[tuple[str, str], DialogAction] = {
    (action.kind, action.name): action for action in _ACTION_LIST
}


def dialog_action(card: Card, name: str) -> DialogAction:
    """The action ``name`` on this card, or 404 where it does not apply."""
    action = ACTIONS.get((card.program.kind, name))
    if action is None or not action.applies_to(card):
        raise Http404("No such action on this card.")
    return action


# ---------------------------------------------------------------------------------------------
# Views


def _load(request: MerchantRequest, serial: str, name: str) -> tuple[Card, DialogAction]:
    card = card_get(merchant=request.merchant, serial=serial)
    action = dialog_action(card, name)
    if card.program.is_cashback:
        # The rules need the tiers: one query here rather than one per use.
        prefetch_related_objects([card.program], "tiers")
    return card, action


def _form(action: DialogAction, data: Any = None, key: str | None = None) -> LedgerDialogForm:
    initial = {"idempotency_key": key} if key else None
    return LedgerDialogForm(
        data,
        initial=initial,
        value_label=action.value_label,
        value_is_count=action.value_is_count,
        purchase=action.purchase,
        purchase_help=action.purchase_help,
    )


@dataclass(frozen=True)
class Preview:
    """Either the text of what Apply would do, or the error it would give (with its field)."""

    text: str = ""
    error: str = ""
    field: str = ""


def _closed_reason(card: Card) -> str:
    try:
        services.card_check_open(card=card)
    except LedgerError as error:
        return error.text
    return ""


def compute_preview(card: Card, action: DialogAction, data: Mapping[str, Any]) -> Preview:
    """What Apply would do, from the same pure rule the service runs; writes nothing."""
    closed = _closed_reason(card)
    if closed:
        return Preview(error=closed, field="value")
    inputs = action.rule_inputs(data)
    if not inputs["value"].strip():
        return Preview()
    before = card.balances()
    rule_set = card.program.rule_set()
    try:
        deltas = action.rule(before, rule_set, **inputs)
    except LedgerError as error:
        return Preview(error=error.text, field=error.field_name)
    return Preview(text=action.describe(deltas, before, rule_set))


def _context(card: Card, action: DialogAction, form: LedgerDialogForm) -> dict[str, Any]:
    data = form.data if form.is_bound else {}
    return {
        "card": card,
        "action": action,
        "form": form,
        "balances": action.balances(card),
        "closed_reason": _closed_reason(card),
        "preview": compute_preview(card, action, data),
        "dialog_url": reverse("cards:dialog", args=[card.serial, action.name]),
        "preview_url": reverse("cards:dialog_preview", args=[card.serial, action.name]),
        "profile_url": card.get_absolute_url(),
    }


def _render(
    request: MerchantRequest,
    card: Card,
    action: DialogAction,
    form: LedgerDialogForm,
    *,
    status: int = 200,
) -> HttpResponse:
    context = _context(card, action, form)
    if not request.htmx:
        context["as_page"] = True
        return render(request, "cards/dialogs/page.html", context, status=status)
    # A failed Apply swaps only the form, so the open dialog stays where it is.
    template = "cards/dialogs/dialog.html" + ("#form" if form.is_bound else "")
    return render(request, template, context, status=status)


def _apply(
    request: MerchantRequest, card: Card, action: DialogAction, form: LedgerDialogForm
) -> services.LedgerResult | None:
    """The service's result, or None after putting its refusal on the form."""
    try:
        return action.service(
            card=card,
            actor=request.user,
            idempotency_key=form.cleaned_data["idempotency_key"],
            **form.service_inputs(),
        )
    except LedgerError as error:
        # Anything but a visible field (say, an expired idempotency key) goes on top.
        field = error.field_name if error.field_name in VISIBLE_FIELDS else None
        form.add_error(field, error.text)
    except ValidationError as error:
        form.add_error(None, error)
    return None


def _success(
    request: MerchantRequest, card: Card, action: DialogAction, result: services.LedgerResult
) -> HttpResponse:
    deltas = [entry.delta() for entry in result.entries]
    message = f"{action.title}: {action.describe(deltas, None, card.program.rule_set())}."
    if request.htmx:
        response = HttpResponse(status=204)
        return trigger_client_event(response, "ledger-changed", {"message": message})
    messages.success(request, message)
    return redirect(card.get_absolute_url())


@merchant_required
@require_http_methods(["GET", "POST"])
def dialog(request: MerchantRequest, serial: str, action: str) -> HttpResponse:
    """A plus/minus dialog: GET renders it with a fresh idempotency key, POST applies it."""
    card, spec = _load(request, serial, action)
    if request.method == "GET":
        return _render(request, card, spec, _form(spec, key=uuid.uuid4().hex))
    form = _form(spec, request.POST)
    if form.is_valid():
        result = _apply(request, card, spec, form)
        if result is not None:
            return _success(request, card, spec, result)
    return _render(request, card, spec, form, status=422)


@merchant_required
@require_POST
def dialog_preview(request: MerchantRequest, serial: str, action: str) -> HttpResponse:
    """The live preview of a dialog as it is typed: computed, never written."""
    card, spec = _load(request, serial, action)
    context = {
        "card": card,
        "action": spec,
        "balances": spec.balances(card),
        "preview": compute_preview(card, spec, request.POST.dict()),
    }
    return render(request, "cards/dialogs/dialog.html#preview", context)
