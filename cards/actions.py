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


PURCHASE_EQUALS_VALUE = gettext_lazy("Optional. If you fill it in, it must equal the value.")
REWARD_PURCHASE = gettext_lazy("Required; enter 0 if nothing was bought.")
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
        value_label=gettext_lazy("Value"),
        value_is_count=False,
        purchase=PurchaseField.OPTIONAL,
        purchase_help=PURCHASE_EQUALS_VALUE,
    ),
    Action(
        name="transaction_amount_subtract",
        kind=STAMP,
        title=gettext_lazy("Refund of amount spent"),
        rule=rules.stamp_refund_transaction_amount,
        writes=frozenset({Kind.REFUND, Kind.STAMPS_CLAWBACK}),
        describe=wording.describe_stamp_refund,
        balances=wording.stamp_refund_lines,
        value_label=gettext_lazy("Value"),
        value_is_count=False,
        purchase=PurchaseField.OPTIONAL,
        purchase_help=PURCHASE_EQUALS_VALUE,
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
        value_label=gettext_lazy("Number of visits"),
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
        value_label=gettext_lazy("Number of stamps"),
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
        value_label=gettext_lazy("Number of stamps"),
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
        value_label=gettext_lazy("Number of rewards"),
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
        value_label=gettext_lazy("Number of rewards"),
        value_is_count=True,
        purchase=PurchaseField.REQUIRED,
        purchase_help=REWARD_PURCHASE,
    ),
    Action(
        name="points_add",
        kind=CASHBACK,
        title=gettext_lazy("Add points"),
        rule=rules.cashback_add_points,
        writes=frozenset({Kind.POINTS_ADDED}),
        describe=wording.describe_points_added,
        balances=wording.points_lines,
        value_label=gettext_lazy("Value (points)"),
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
        value_label=gettext_lazy("Value (points)"),
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
        value_label=gettext_lazy("Value"),
        value_is_count=False,
        purchase=PurchaseField.OPTIONAL,
        purchase_help=PURCHASE_EQUALS_VALUE,
    ),
    Action(
        name="transaction_amount_subtract",
        kind=CASHBACK,
        title=gettext_lazy("Decrease transaction amount"),
        rule=rules.cashback_subtract_transaction_amount,
        writes=frozenset({Kind.REFUND}),
        describe=wording.describe_cashback_refund,
        balances=wording.cashback_purchase_lines,
        value_label=gettext_lazy("Value"),
        value_is_count=False,
        purchase=PurchaseField.OPTIONAL,
        purchase_help=PURCHASE_EQUALS_VALUE,
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
