"""The ledger's actions: one table of what staff can do to a card's balances.

Each ``Action`` ties a card kind and an action name (the dialog's URL) to the pure rule in
``cards.rules`` that validates the input and computes the deltas, to what the merchant reads
(title, field labels, the preview's wording from ``cards.wording``) and to whether the dialog
asks for a purchase amount. The services apply actions through this table
(``cards.services.card_apply``), the dialogs and their live previews render from it, and
``verify_ledger`` checks that a card only holds the entry kinds its actions can write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards import rules, wording
from cards.models import Card, ProgramKind
from cards.rules import Balances, Delta, Kind, LedgerError
from cards.wording import Describe

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class PurchaseField(models.TextChoices):
    """Whether an action's dialog asks for the purchase amount (the rule checks the value)."""

    NONE = "", gettext_lazy("No purchase amount")
    OPTIONAL = "optional", gettext_lazy("Optional")
    REQUIRED = "required", gettext_lazy("Required (0 when nothing was bought)")
    # The value is the purchase amount: the dialog asks for it once, as the value; a caller
    # of the service may still pass the purchase amount, which must then equal the value.
    IS_VALUE = "value", gettext_lazy("The value is the purchase amount")


@dataclass(frozen=True)
class Action:
    name: str
    kind: ProgramKind
    # Lazy: the table is built at import time; str() them per request.
    title: StrOrPromise
    rule: Callable[..., list[Delta]]
    # The entry kinds the rule writes (verify_ledger checks cards hold no others).
    writes: frozenset[str]
    describe: Describe
    balances: Callable[[Card], Sequence[str]]
    value_label: StrOrPromise
    value_is_count: bool
    purchase: PurchaseField = PurchaseField.NONE
    purchase_help: StrOrPromise = ""
    # Stamp programs only: the mechanisms whose dialogs offer this action (empty: every one).
    mechanisms: frozenset[str] = frozenset()
    # Why the card cannot take this action now ("" when it can): its button is disabled and
    # says so, and the dialog refuses to open.
    unavailable: Callable[[Card], str] | None = None

    @property
    def asks_purchase(self) -> bool:
        """Whether the dialog has a purchase amount field besides the value."""
        return self.purchase in (PurchaseField.OPTIONAL, PurchaseField.REQUIRED)

    def refusal(self, card: Card) -> str:
        """Why the card cannot take this action now, or "" when it can."""
        return self.unavailable(card) if self.unavailable is not None else ""

    def offered_on(self, card: Card) -> bool:
        """Whether the card's profile offers this action's dialog."""
        program = card.program
        if program.kind != self.kind:
            return False
        return not self.mechanisms or program.mechanism in self.mechanisms

    def inputs(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The rule's inputs from a form or a service call: the purchase only where asked."""
        inputs = {"value": data.get("value")}
        if self.purchase:
            inputs["purchase_amount"] = data.get("purchase_amount")
        return inputs

    def canonical_inputs(self, data: Mapping[str, Any]) -> dict[str, str]:
        """The rule's inputs each written one way, so a resent request is recognised."""
        return {
            name: rules.canonical_input(raw, count=name == "value" and self.value_is_count)
            for name, raw in self.inputs(data).items()
        }

    def compute(self, balances: Balances, rule_set: Any, data: Mapping[str, Any]) -> list[Delta]:
        """The deltas this action makes from ``balances``; a ``LedgerError`` for bad input."""
        return self.rule(balances, rule_set, **self.inputs(data))


REWARD_PURCHASE = gettext_lazy("Required; enter 0 if nothing was bought.")
REDEEM_PURCHASE = gettext_lazy(
    "Optional: what the customer bought on this visit. Leave it empty when the reward is "
    "redeemed without a purchase."
)
STAMP, CASHBACK = ProgramKind.STAMP, ProgramKind.CASHBACK

_TABLE = (
    Action(
        name="transaction_amount_add",
        kind=STAMP,
        title=gettext_lazy("Add transaction amount"),
        rule=rules.stamp_add_transaction_amount,
        writes=frozenset({Kind.PURCHASE}),
        describe=wording.describe_stamp_purchase,
        balances=wording.stamp_purchase_lines,
        value_label=gettext_lazy("Amount spent"),
        value_is_count=False,
        purchase=PurchaseField.IS_VALUE,
    ),
    Action(
        name="transaction_amount_subtract",
        kind=STAMP,
        title=gettext_lazy("Refund of amount spent"),
        rule=rules.stamp_refund_transaction_amount,
        writes=frozenset({Kind.REFUND, Kind.STAMPS_CLAWBACK}),
        describe=wording.describe_stamp_refund,
        balances=wording.stamp_refund_lines,
        value_label=gettext_lazy("Amount to refund"),
        value_is_count=False,
        purchase=PurchaseField.IS_VALUE,
        mechanisms=frozenset({"spend"}),
    ),
    Action(
        name="visits_write_off",
        kind=STAMP,
        title=gettext_lazy("Write off visits"),
        rule=rules.stamp_write_off_visits,
        writes=frozenset({Kind.VISITS_WRITE_OFF}),
        describe=wording.describe_visits_write_off,
        balances=wording.visits_lines,
        value_label=gettext_lazy("Visits to write off"),
        value_is_count=True,
        mechanisms=frozenset({"visit"}),
    ),
    Action(
        name="stamps_add",
        kind=STAMP,
        title=gettext_lazy("Add stamps"),
        rule=rules.stamp_add_stamps,
        writes=frozenset({Kind.STAMPS_ADDED}),
        describe=wording.describe_stamps_added,
        balances=wording.stamps_added_lines,
        value_label=gettext_lazy("Stamps to add"),
        value_is_count=True,
    ),
    Action(
        name="stamps_subtract",
        kind=STAMP,
        title=gettext_lazy("Remove stamps"),
        rule=rules.stamp_remove_stamps,
        writes=frozenset({Kind.STAMPS_REMOVED}),
        describe=wording.describe_stamps_removed,
        balances=wording.stamps_lines,
        value_label=gettext_lazy("Stamps to remove"),
        value_is_count=True,
    ),
    Action(
        name="rewards_add",
        kind=STAMP,
        title=gettext_lazy("Add rewards"),
        rule=rules.stamp_add_rewards,
        writes=frozenset({Kind.REWARDS_ADDED}),
        describe=wording.describe_rewards_added,
        balances=wording.rewards_lines,
        value_label=gettext_lazy("Rewards to add"),
        value_is_count=True,
        purchase=PurchaseField.REQUIRED,
        purchase_help=REWARD_PURCHASE,
    ),
    Action(
        name="rewards_subtract",
        kind=STAMP,
        title=gettext_lazy("Redeem rewards"),
        rule=rules.stamp_redeem_rewards,
        writes=frozenset({Kind.REWARDS_REDEEMED}),
        describe=wording.describe_rewards_redeemed,
        balances=wording.rewards_lines,
        value_label=gettext_lazy("Rewards to redeem"),
        value_is_count=True,
        purchase=PurchaseField.OPTIONAL,
        purchase_help=REDEEM_PURCHASE,
        unavailable=wording.no_reward_available,
    ),
    Action(
        name="points_add",
        kind=CASHBACK,
        title=gettext_lazy("Add points"),
        rule=rules.cashback_add_points,
        writes=frozenset({Kind.POINTS_ADDED}),
        describe=wording.describe_points_added,
        balances=wording.points_lines,
        value_label=gettext_lazy("Points to add"),
        value_is_count=False,
        purchase=PurchaseField.OPTIONAL,
        purchase_help=gettext_lazy(
            "Optional. Adds to LTV; does not change the transaction amount."
        ),
    ),
    Action(
        name="points_subtract",
        kind=CASHBACK,
        title=gettext_lazy("Remove points"),
        rule=rules.cashback_remove_points,
        writes=frozenset({Kind.POINTS_REMOVED}),
        describe=wording.describe_points_removed,
        balances=wording.points_lines,
        value_label=gettext_lazy("Points to remove"),
        value_is_count=False,
        purchase=PurchaseField.OPTIONAL,
        purchase_help=gettext_lazy(
            "Optional. Kept on the entry; changes neither transaction amount nor LTV."
        ),
    ),
    Action(
        name="transaction_amount_add",
        kind=CASHBACK,
        title=gettext_lazy("Increase transaction amount"),
        rule=rules.cashback_add_transaction_amount,
        writes=frozenset({Kind.PURCHASE}),
        describe=wording.describe_cashback_purchase,
        balances=wording.cashback_purchase_lines,
        value_label=gettext_lazy("Amount spent"),
        value_is_count=False,
        purchase=PurchaseField.IS_VALUE,
    ),
    Action(
        name="transaction_amount_subtract",
        kind=CASHBACK,
        title=gettext_lazy("Decrease transaction amount"),
        rule=rules.cashback_subtract_transaction_amount,
        writes=frozenset({Kind.REFUND}),
        describe=wording.describe_cashback_refund,
        balances=wording.cashback_purchase_lines,
        value_label=gettext_lazy("Amount to subtract"),
        value_is_count=False,
        purchase=PurchaseField.IS_VALUE,
    ),
)

ACTIONS: dict[tuple[str, str], Action] = {(action.kind, action.name): action for action in _TABLE}

# Entries no staff action writes: every card's first entry, the system's bonuses and the
# opening balance of an imported card.
SYSTEM_KINDS = frozenset({Kind.CARD_ISSUED, Kind.REFERRAL_BONUS, Kind.WELCOME_BONUS, Kind.IMPORTED})


def action_for(kind: str, name: str) -> Action:
    """The action ``name`` of a card of ``kind``; a merchant-readable refusal on the other kind."""
    action = ACTIONS.get((kind, name))
    if action is not None:
        return action
    kinds = {k for k, n in ACTIONS if n == name}
    if not kinds:
        raise KeyError(f"No ledger action {name!r}.")
    # Two kinds of card: an action missing on one is the other's.
    if kinds == {STAMP}:
        raise LedgerError("value", _("This action is for stamp cards only."))
    raise LedgerError("value", _("This action is for cashback cards only."))


def kinds_written(kind: str) -> frozenset[str]:
    """Every entry kind a card of ``kind`` can hold."""
    # Any entry can be reversed, on every kind of card.
    written = {Kind.REVERSAL}.union(*(a.writes for (k, _), a in ACTIONS.items() if k == kind))
    return SYSTEM_KINDS | written


# The counter's actions, most used first, with their button style; a card shows those its
# profile offers (``Action.offered_on``). Corrections beyond these (refunds, write-offs) stay on
# the profile's metrics. The profile puts the first ones (no "subtract" style) at its top.
COUNTER_ACTIONS = (
    ("transaction_amount_add", "primary"),
    ("rewards_subtract", "primary"),
    ("stamps_add", "secondary"),
    ("points_add", "secondary"),
    ("stamps_subtract", "subtract"),
    ("points_subtract", "subtract"),
)


@dataclass(frozen=True)
class CounterButton:
    name: str
    title: StrOrPromise
    url: str
    style: str
    # Why the card cannot take the action now (the button is disabled and says so), or "".
    unavailable: str = ""


def counter_buttons(
    card: Card, *, styles: frozenset[str] | None = None, query: str = ""
) -> list[CounterButton]:
    """The counter's buttons for this card (of ``styles`` only, if given), each opening its
    dialog (``query`` appended to the URL). The caller decides whether the card takes changes."""
    buttons = []
    for name, style in COUNTER_ACTIONS:
        action = ACTIONS.get((card.program.kind, name))
        if action is None or not action.offered_on(card):
            continue
        if styles is not None and style not in styles:
            continue
        url = reverse("cards:dialog", args=[card.serial, name])
        url = f"{url}?{query}" if query else url
        buttons.append(CounterButton(name, action.title, url, style, action.refusal(card)))
    return buttons


def unavailable_actions(card: Card) -> dict[str, str]:
    """Why each action the card cannot take now is unavailable: {action name: reason}."""
    reasons = {}
    for (kind, name), action in ACTIONS.items():
        if kind == card.program.kind and (reason := action.refusal(card)):
            reasons[name] = reason
    return reasons
