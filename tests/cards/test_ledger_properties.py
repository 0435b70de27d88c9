"""Property tests: random sequences of every action, on stamp and cashback cards.

Whatever happens, the card's aggregates equal the fold of its ledger (in Python and in the SQL
``verify_ledger`` runs), no balance is ever negative, an invalid action changes nothing, and
replaying an idempotency key changes nothing. Reversals of any earlier entry are among the
actions: refused or written, they keep all of it true.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from cards import rules, services
from cards.models import Card, LedgerEntry
from cards.rules import LedgerError
from cards.selectors import ledger_differences, ledger_disagreeing_card_ids
from loyalty.models import Role
from tests.factories import CashbackProgramFactory, MerchantFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db

# Valid and invalid inputs alike: the services must sort them out.
amounts = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("400"), places=2),
    st.sampled_from(["0", "-3", "1.999", "abc", "", "1e2", "5000000"]),
)
counts = st.one_of(st.integers(min_value=1, max_value=25), st.sampled_from([0, -1, "2.5", "x"]))
optional_purchase = st.one_of(st.none(), st.just("same"), amounts)

STAMP_ACTIONS = {
    "add_amount": (services.card_add_transaction_amount, "amount"),
    "refund": (services.card_subtract_transaction_amount, "amount"),
    "add_stamps": (services.card_add_stamps, "count"),
    "remove_stamps": (services.card_remove_stamps, "count"),
    "add_rewards": (services.card_add_rewards, "count+purchase"),
    "redeem_rewards": (services.card_redeem_rewards, "count+purchase"),
    "write_off_visits": (services.card_write_off_visits, "count"),
}
CASHBACK_ACTIONS = {
    "add_amount": (services.card_add_transaction_amount, "amount"),
    "subtract_amount": (services.card_subtract_transaction_amount, "amount"),
    "add_points": (services.card_add_points, "amount+purchase"),
    "remove_points": (services.card_remove_points, "amount+purchase"),
}


class LedgerMachine(RuleBasedStateMachine):
    kind = "stamp"

    def __init__(self) -> None:
        super().__init__()
        merchant = MerchantFactory()
        factory = StampProgramFactory if self.kind == "stamp" else CashbackProgramFactory
        self.card = issue_card(factory(merchant=merchant))
        self.keys: list[str] = []
        self.counter = 0

    def _snapshot(self) -> tuple[rules.Balances, int]:
        card = Card.objects.get(pk=self.card.pk)
        return card.balances(), LedgerEntry.objects.filter(card=card).count()

    def _act(self, name: str, data: st.DataObject, actions: dict[str, Any]) -> None:
        service, shape = actions[name]
        kwargs: dict[str, Any] = {}
        if shape.startswith("amount"):
            kwargs["value"] = data.draw(amounts)
        else:
            kwargs["value"] = data.draw(counts)
        if shape.endswith("purchase") or name in {"add_amount", "refund", "subtract_amount"}:
            purchase = data.draw(optional_purchase)
            if purchase == "same":
                purchase = kwargs["value"]
            if shape == "count+purchase" and purchase is None:
                purchase = data.draw(st.sampled_from(["0", "4.50", None]))
            kwargs["purchase_amount"] = purchase
        replay = self.keys and data.draw(st.booleans())
        key = data.draw(st.sampled_from(self.keys)) if replay else f"k{self.counter}"
        self.counter += 1
        before = self._snapshot()
        try:
            result = service(card=self.card, actor=None, idempotency_key=key, **kwargs)
        except LedgerError:
            assert self._snapshot() == before, "an invalid action changed something"
            return
        if replay:
            assert result.replayed
            assert self._snapshot() == before, "replaying an idempotency key changed something"
        else:
            self.keys.append(key)

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        """An owner reverses any entry: the first, a reversal, one reversed already included."""
        entries = list(LedgerEntry.objects.filter(card=self.card).order_by("id"))
        entry = data.draw(st.sampled_from(entries))
        before = self._snapshot()
        try:
            services.entry_reverse(
                card=self.card, entry=entry, reason="test", actor=None, role=Role.OWNER
            )
        except LedgerError:
            assert self._snapshot() == before, "a refused reversal changed something"
            return
        entry.refresh_from_db()
        assert entry.reversal.delta().amount == -entry.amount_delta

    @invariant()
    def aggregates_equal_the_fold_of_the_ledger(self) -> None:
        card = Card.objects.get(pk=self.card.pk)
        entries = list(card.entries.order_by("created_at", "id"))
        assert ledger_differences(card, entries) == []
        assert ledger_disagreeing_card_ids(low=card.pk, high=card.pk) == []
        assert card.balances().is_valid()


class StampMachine(LedgerMachine):
    kind = "stamp"

    @rule(name=st.sampled_from(sorted(STAMP_ACTIONS)), data=st.data())
    def act(self, name: str, data: st.DataObject) -> None:
        self._act(name, data, STAMP_ACTIONS)


class CashbackMachine(LedgerMachine):
    kind = "cashback"

    @rule(name=st.sampled_from(sorted(CASHBACK_ACTIONS)), data=st.data())
    def act(self, name: str, data: st.DataObject) -> None:
        self._act(name, data, CASHBACK_ACTIONS)


MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_stamp_card_aggregates_always_equal_the_ledger_fold() -> None:
    run_state_machine_as_test(StampMachine, settings=MACHINE_SETTINGS)


def test_cashback_card_aggregates_always_equal_the_ledger_fold() -> None:
    run_state_machine_as_test(CashbackMachine, settings=MACHINE_SETTINGS)
