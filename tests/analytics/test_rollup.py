"""The daily rollup always equals the same figures aggregated from scratch.

Random histories of every action, on stamp and cashback cards of one merchant, placed around
local midnight and daylight-saving changes, with refunds, write-offs, refused actions, replayed
keys, ratings, card deletions and customer removals; after every step the stored rollup is
compared with the set-based aggregation of the ledger, the cards and the ratings.
"""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from analytics.consistency import rollup_differences
from analytics.models import DailyTotals, TierCount, VisitDays
from analytics.periods import Period
from analytics.selectors import _period_sums
from analytics.services import rollup_rebuild
from cards import services
from cards.models import Card
from cards.rules import LedgerError
from cards.services.lifecycle import card_delete
from customers.services import customer_remove
from feedback.services import feedback_leave
from loyalty import clock
from loyalty.models import Merchant
from tests.factories import (
    CashbackProgramFactory,
    CustomerFactory,
    MerchantFactory,
    StampProgramFactory,
    issue_card,
)

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
# 2026-03-29 02:00 -> 03:00 and 2026-10-25 03:00 -> 02:00 in Berlin; histories start a little
# before each change and step over local midnight.
STARTS = [
    datetime.datetime(2026, 3, 28, 21, 30, tzinfo=datetime.UTC),
    datetime.datetime(2026, 10, 24, 21, 45, tzinfo=datetime.UTC),
]
STAMP_ACTIONS = [
    (services.card_add_transaction_amount, {"value": "25.00"}),
    (services.card_add_transaction_amount, {"value": "95.00", "purchase_amount": "95.00"}),
    (services.card_subtract_transaction_amount, {"value": "30.00"}),
    (services.card_add_stamps, {"value": 4}),
    (services.card_remove_stamps, {"value": 2}),
    (services.card_add_rewards, {"value": 1, "purchase_amount": "3.50"}),
    (services.card_redeem_rewards, {"value": 1, "purchase_amount": "0"}),
]
CASHBACK_ACTIONS = [
    (services.card_add_transaction_amount, {"value": "400.00"}),
    (services.card_add_transaction_amount, {"value": "650.00"}),
    (services.card_subtract_transaction_amount, {"value": "120.00"}),
    (services.card_add_points, {"value": "5.00", "purchase_amount": "12.00"}),
    (services.card_remove_points, {"value": "7.50"}),
]


def _assert_rollup_matches(merchant: Merchant) -> None:
    assert rollup_differences(merchant=merchant) == []


class RollupMachine(RuleBasedStateMachine):
    @initialize(start=st.sampled_from(STARTS))
    def open_cards(self, start: datetime.datetime) -> None:
        self.merchant = MerchantFactory(time_zone=BERLIN)
        stamp = StampProgramFactory(merchant=self.merchant)
        cashback = CashbackProgramFactory(merchant=self.merchant)
        self.start = self.now = start
        self.cards: list[tuple[Card, list[Any]]] = []
        for program, actions in ((stamp, STAMP_ACTIONS), (cashback, CASHBACK_ACTIONS)) * 2:
            customer = CustomerFactory(merchant=self.merchant)
            with clock.frozen_at(self.now):
                self.cards.append((issue_card(program, customer), actions))
        self.keys: list[tuple[int, str, Any, dict[str, Any]]] = []

    @rule(minutes=st.sampled_from([1, 17, 45, 60, 150, 23 * 60, 3 * 24 * 60]))
    def time_passes(self, minutes: int) -> None:
        self.now += datetime.timedelta(minutes=minutes)

    # Mostly the counter's actions; now and then (1 in 16) the card is deleted instead.
    @rule(which=st.integers(0, 3), action=st.integers(0, 15), replay=st.booleans())
    def act(self, which: int, action: int, replay: bool) -> None:
        card, actions = self.cards[which]
        if action == 15:
            self._delete(card)
            return
        if replay and self.keys:
            index, key, service, kwargs = self.keys[-1]
            card = self.cards[index][0]
        else:
            service, kwargs = actions[action % len(actions)]
            key = f"k{len(self.keys)}"
            index = which
        try:
            with clock.frozen_at(self.now):
                service(
                    card=Card.objects.get(pk=card.pk), actor=None, idempotency_key=key, **kwargs
                )
        except LedgerError:
            return  # refused (a balance too small, a deleted card): nothing may change
        self.keys.append((index, key, service, kwargs))

    def _delete(self, card: Card) -> None:
        with clock.frozen_at(self.now):
            card = card_delete(card=Card.objects.get(pk=card.pk), actor=None)
        if card.customer_id is not None and not card.customer.cards.exclude(status="deleted"):
            customer_remove(customer=card.customer)  # their figures stay

    @rule(which=st.integers(0, 3), rating=st.integers(1, 5))
    def rate(self, which: int, rating: int) -> None:
        card = Card.objects.get(pk=self.cards[which][0].pk)
        try:
            with clock.frozen_at(self.now):
                feedback_leave(card=card, rating=rating)
        except Exception:  # already rated this visit, or no visit yet: nothing stored
            return

    @invariant()
    def rollup_equals_the_aggregation_from_scratch(self) -> None:
        _assert_rollup_matches(self.merchant)

    @invariant()
    def customers_until_today_equal_the_pairs_read_one_by_one(self) -> None:
        programs = sorted({card.program for card, _ in self.cards}, key=lambda p: p.pk)
        ids = [program.pk for program in programs]
        first = (
            STARTS[0].date() if self.now.year == 2026 and self.now.month < 6 else STARTS[1].date()
        )
        for offset in (0, 1, 2, 5):
            start = first + datetime.timedelta(days=offset)
            period = Period(preset="custom", start=start, end=self.now.date())
            counted = _period_sums(merchant=self.merchant, programs=programs, period=period)
            assert counted.crossing == _pairs_since(ids, start)


def _pairs_since(ids: list[int], start: datetime.date) -> tuple[int, int]:
    """Active and returning cards since ``start``, read pair by pair from VisitDays."""
    rows = VisitDays.objects.filter(program__in=ids, day__gte=start)
    active = sum(r.cards for r in rows if r.previous_day is None or r.previous_day < start)
    returning = sum(r.cards for r in rows if r.previous_day is not None and r.previous_day < start)
    return active, returning


def test_the_rollup_always_equals_a_from_scratch_aggregation() -> None:
    run_state_machine_as_test(
        RollupMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


def _at(text: str) -> Any:
    return clock.frozen_at(datetime.datetime.fromisoformat(text))


def test_a_purchase_just_before_local_midnight_counts_on_that_local_day() -> None:
    merchant = MerchantFactory(time_zone=BERLIN)
    card = issue_card(StampProgramFactory(merchant=merchant))
    with _at("2026-07-01T21:59:00+00:00"):  # 23:59 in Berlin
        services.card_add_transaction_amount(card=card, value="20", actor=None)
    with _at("2026-07-01T22:01:00+00:00"):  # 00:01 the next day
        services.card_add_transaction_amount(card=card, value="30", actor=None)
    days = dict(DailyTotals.objects.filter(program=card.program).values_list("day", "revenue"))
    assert days[datetime.date(2026, 7, 1)] == Decimal("20.00")
    assert days[datetime.date(2026, 7, 2)] == Decimal("30.00")
    _assert_rollup_matches(merchant)


def test_a_second_visit_the_same_day_counts_the_card_once() -> None:
    merchant = MerchantFactory(time_zone=BERLIN)
    card = issue_card(StampProgramFactory(merchant=merchant))
    with _at("2026-07-01T08:00:00+00:00"):
        services.card_add_transaction_amount(card=card, value="20", actor=None)
    with _at("2026-07-01T15:00:00+00:00"):
        services.card_add_transaction_amount(card=card, value="20", actor=None)
    with _at("2026-07-09T15:00:00+00:00"):
        services.card_add_transaction_amount(card=card, value="20", actor=None)
    rows = sorted(
        VisitDays.objects.filter(program=card.program).values_list("day", "previous_day", "cards")
    )
    assert rows == [
        (datetime.date(2026, 7, 1), None, 1),
        (datetime.date(2026, 7, 9), datetime.date(2026, 7, 1), 1),
    ]
    totals = DailyTotals.objects.get(program=card.program, day=datetime.date(2026, 7, 1))
    assert (totals.visits, totals.purchases) == (2, 2)


def test_a_refused_action_and_a_replayed_key_leave_the_rollup_alone() -> None:
    merchant = MerchantFactory()
    card = issue_card(StampProgramFactory(merchant=merchant))
    services.card_add_transaction_amount(card=card, value="20", actor=None, idempotency_key="once")
    before = list(DailyTotals.objects.values_list("revenue", "purchases", "visits"))
    services.card_add_transaction_amount(card=card, value="20", actor=None, idempotency_key="once")
    with pytest.raises(LedgerError):
        services.card_redeem_rewards(card=card, value=5, purchase_amount="0", actor=None)
    assert list(DailyTotals.objects.values_list("revenue", "purchases", "visits")) == before


def test_deleting_a_cashback_card_forfeits_its_points_and_leaves_its_tier() -> None:
    merchant = MerchantFactory()
    program = CashbackProgramFactory(merchant=merchant)
    card = issue_card(program)
    services.card_add_transaction_amount(card=card, value="400.00", actor=None)
    tier = Card.objects.get(pk=card.pk).tier_name
    assert TierCount.objects.get(program=program, tier_name=tier).cards == 1
    card_delete(card=card, actor=None)
    assert TierCount.objects.get(program=program, tier_name=tier).cards == 0
    forfeited = DailyTotals.objects.filter(program=program).values_list(
        "points_forfeited", flat=True
    )
    assert sum(forfeited) == Card.objects.get(pk=card.pk).points_balance > 0
    _assert_rollup_matches(merchant)


def test_removing_a_customer_changes_no_figure() -> None:
    merchant = MerchantFactory()
    customer = CustomerFactory(merchant=merchant)
    card = issue_card(StampProgramFactory(merchant=merchant), customer)
    services.card_add_transaction_amount(card=card, value="20", actor=None)
    card_delete(card=card, actor=None)
    before = list(DailyTotals.objects.values_list("revenue", "visits", "new_cards"))
    customer_remove(customer=customer)
    assert list(DailyTotals.objects.values_list("revenue", "visits", "new_cards")) == before
    _assert_rollup_matches(merchant)


def test_a_time_zone_change_is_repaired_by_the_rebuild() -> None:
    merchant = MerchantFactory(time_zone="UTC")
    card = issue_card(StampProgramFactory(merchant=merchant))
    with _at("2026-07-01T23:30:00+00:00"):
        services.card_add_transaction_amount(card=card, value="20", actor=None)
    merchant.time_zone = "Asia/Tokyo"  # 08:30 on July 2nd there
    merchant.save(update_fields=["time_zone"])
    assert rollup_differences(merchant=merchant) != []
    rollup_rebuild(merchant=merchant)
    assert (
        DailyTotals.objects.get(program=card.program, day=datetime.date(2026, 7, 2)).revenue == 20
    )
    _assert_rollup_matches(merchant)


def test_the_command_checks_and_rebuilds(capsys: Any) -> None:
    merchant = MerchantFactory(slug="corner-cafe")
    card = issue_card(StampProgramFactory(merchant=merchant))
    services.card_add_transaction_amount(card=card, value="20", actor=None)
    DailyTotals.objects.filter(program=card.program).update(revenue=Decimal("999.00"))
    with pytest.raises(CommandError, match="differs from the ledger"):
        call_command("rebuild_stats", "--check")
    assert "corner-cafe: analytics_dailytotals" in capsys.readouterr().out
    call_command("rebuild_stats", "--merchant", "corner-cafe")
    call_command("rebuild_stats", "--check")
    assert "matches the ledger" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No merchant"):
        call_command("rebuild_stats", "--merchant", "nobody")


@pytest.mark.django_db(transaction=True)
def test_concurrent_staff_on_one_program_lose_no_increment() -> None:
    merchant = MerchantFactory()
    program = StampProgramFactory(merchant=merchant)
    cards = [issue_card(program) for _ in range(8)]
    errors: list[Exception] = []

    def work(card: Card) -> None:
        try:
            for step in range(15):
                services.card_add_transaction_amount(
                    card=Card.objects.get(pk=card.pk),
                    value="10",
                    actor=None,
                    idempotency_key=f"s{step}",
                )
        except Exception as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(card,)) for card in cards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    totals = DailyTotals.objects.filter(program=program)
    assert sum(t.purchases for t in totals) == 8 * 15
    assert sum(t.revenue for t in totals) == Decimal("1200.00")
    _assert_rollup_matches(merchant)
