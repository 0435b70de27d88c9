"""verify_ledger's set-based check: the SQL fold of each card's entries equals the Python fold
(``fold_entries``), and the cards it flags are exactly those ``ledger_differences`` and
``foreign_entry_kinds`` explain, for every balance and every "last ... at" date.

Tampering goes around the services on purpose: a raw UPDATE of the card's columns, or an entry
appended directly (what the append-only ledger still allows).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards import rules, selectors, services
from cards.actions import ACTIONS
from cards.management.commands import verify_ledger
from cards.models import BALANCE_FIELDS, Card, LedgerEntry, Program, Source
from cards.rules import Kind, LedgerError
from cards.selectors import (
    LAST_DATE_FIELDS,
    Recomputed,
    card_ranges,
    cards_with_entries,
    fold_entries,
    foreign_entry_kinds,
    ledger_differences,
    ledger_disagreeing_card_ids,
    ledger_sql_folds,
)
from loyalty import clock
from tests.factories import (
    CashbackProgramFactory,
    MerchantFactory,
    StampProgramFactory,
    issue_card,
)

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime.datetime(2025, 3, 3, 9, 0, tzinfo=datetime.UTC)
CHECKED_FIELDS = (*BALANCE_FIELDS, *LAST_DATE_FIELDS)
_keys = itertools.count()


def at(minutes: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def span(cards: list[Card]) -> dict[str, int]:
    return {"low": min(card.pk for card in cards), "high": max(card.pk for card in cards)}


def sql_flagged(cards: list[Card], merchant_id: int | None = None) -> list[int]:
    return ledger_disagreeing_card_ids(**span(cards), merchant_id=merchant_id)


def python_flagged(cards: list[Card]) -> list[int]:
    chosen = Card.objects.filter(pk__in=[card.pk for card in cards])
    return [
        card.pk
        for card, entries in cards_with_entries(chosen)
        if ledger_differences(card, entries) or foreign_entry_kinds(card, entries)
    ]


def python_fold(card: Card) -> Recomputed:
    return fold_entries(card.entries.order_by("created_at", "id"))


def sql_fold(card: Card) -> Recomputed:
    return ledger_sql_folds(low=card.pk, high=card.pk)[card.pk].recomputed


def tamper(card: Card, **values: Any) -> Card:
    """Change the card's columns behind the services' back (CHECK constraints still hold)."""
    Card.objects.filter(pk=card.pk).update(**values)
    return Card.objects.get(pk=card.pk)


def append(card: Card, *, minutes: int, kind: str = Kind.PURCHASE, **fields: Any) -> LedgerEntry:
    """An entry written straight into the ledger: no service folds it into the card."""
    return LedgerEntry.objects.create(
        merchant_id=card.merchant_id,
        card=card,
        kind=kind,
        created_at=at(minutes),
        operation_key=f"raw-{next(_keys)}",
        **fields,
    )


def verify(*args: str) -> tuple[str, str]:
    """The command's output and its error ("" when every card matches)."""
    out = io.StringIO()
    try:
        call_command("verify_ledger", *args, stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), ""


def issue(program: Program, **kwargs: Any) -> Card:
    """A card issued through the real service before any history these tests write."""
    with clock.frozen_at(at(0)):
        return issue_card(program, **kwargs)


def apply(card: Card, action: str, minutes: int, **inputs: Any) -> None:
    with clock.frozen_at(at(minutes)):
        services.card_apply(card=card, action=action, actor=None, **inputs)


def stamp_history(card: Card) -> Card:
    """Every stamp balance and date moves: purchases, a conversion, a refund, a redemption."""
    apply(card, "transaction_amount_add", 1, value="95")
    apply(card, "transaction_amount_add", 2, value="30")  # 12 stamps: one reward
    apply(card, "transaction_amount_subtract", 3, value="27")  # peak stays at 125
    apply(card, "rewards_subtract", 4, value=1, purchase_amount="4.50")
    apply(card, "stamps_add", 5, value=3)
    return Card.objects.get(pk=card.pk)


def cashback_history(card: Card) -> Card:
    """Points earned and redeemed, an upgrade to Silver, a clawback."""
    apply(card, "transaction_amount_add", 1, value="400")
    apply(card, "transaction_amount_add", 2, value="200")  # Silver from here
    apply(card, "transaction_amount_subtract", 3, value="200")
    apply(card, "points_add", 4, value="5", purchase_amount="12")
    apply(card, "points_subtract", 5, value="3")
    return Card.objects.get(pk=card.pk)


@pytest.fixture
def stamp_card(stamp_program: Program) -> Card:
    return issue(stamp_program)


@pytest.fixture
def cashback_card(cashback_program: Program) -> Card:
    return issue(cashback_program)


@pytest.fixture
def histories(stamp_card: Card, cashback_card: Card) -> dict[str, Card]:
    return {"stamp": stamp_history(stamp_card), "cashback": cashback_history(cashback_card)}


def other_value(name: str, value: Any) -> Any:
    """A value unlike ``value`` that the card's CHECK constraints still accept."""
    if name in LAST_DATE_FIELDS:
        return (value or T0) + datetime.timedelta(seconds=1)
    if name == "tier_name":
        return f"{value}x"
    if value is None:
        return D("1.00")
    if name == "transaction_amount":  # at most the peak
        return value - 1
    return value + 1


# ---------------------------------------------------------------------------------------------
# Coverage: a balance or a date added later cannot be skipped silently


def test_every_balance_and_every_last_date_has_its_sql() -> None:
    assert set(selectors.FOLDED_BALANCES) == set(BALANCE_FIELDS)
    assert set(selectors.LAST_DATE_CONDITIONS) == set(rules.LAST_DATE_RULES)


def test_a_balance_without_sql_stops_the_check(
    monkeypatch: pytest.MonkeyPatch, stamp_card: Card
) -> None:
    monkeypatch.delitem(selectors.FOLDED_BALANCES, "ltv")
    with pytest.raises(ImproperlyConfigured, match="no SQL for ltv"):
        ledger_disagreeing_card_ids(low=stamp_card.pk, high=stamp_card.pk)


def test_a_date_without_sql_stops_the_check(
    monkeypatch: pytest.MonkeyPatch, stamp_card: Card
) -> None:
    monkeypatch.delitem(selectors.LAST_DATE_CONDITIONS, "last_visit_at")
    with pytest.raises(ImproperlyConfigured, match="no SQL for last_visit_at"):
        ledger_disagreeing_card_ids(low=stamp_card.pk, high=stamp_card.pk)


@pytest.mark.parametrize(("name", "column"), sorted(selectors.SUMMED_BALANCES.items()))
def test_each_summed_balance_reads_the_column_its_delta_comes_from(name: str, column: str) -> None:
    entry = LedgerEntry(kind=Kind.PURCHASE, **{column: 3})
    moved = rules.apply(rules.Balances(), entry.delta())
    assert getattr(moved, name) == 3


# ---------------------------------------------------------------------------------------------
# Every balance and every date, tampered with, is reported


def test_real_histories_match_and_fold_alike(histories: dict[str, Card]) -> None:
    cards = list(histories.values())
    assert sql_flagged(cards) == []
    for card in cards:
        assert sql_fold(card) == python_fold(card)
    assert verify() == ("2 cards match their ledger.\n", "")


@pytest.mark.parametrize("kind", ["stamp", "cashback"])
@pytest.mark.parametrize("name", CHECKED_FIELDS)
def test_a_tampered_aggregate_is_found_and_explained(
    histories: dict[str, Card], kind: str, name: str
) -> None:
    card = histories[kind]
    expected = getattr(card, name)
    card = tamper(card, **{name: other_value(name, expected)})
    assert sql_flagged(list(histories.values())) == [card.pk]
    out, error = verify()
    assert (
        out == f"card {card.serial}: {name} is {getattr(card, name)}, the ledger says {expected}\n"
    )
    assert error == "1 of 2 cards disagree with their ledger."


@pytest.mark.parametrize("name", LAST_DATE_FIELDS)
def test_a_cleared_date_is_reported(histories: dict[str, Card], name: str) -> None:
    card = next(card for card in histories.values() if getattr(card, name) is not None)
    expected = getattr(card, name)
    card = tamper(card, **{name: None})
    assert f"card {card.serial}: {name} is None, the ledger says {expected}" in verify()[0]


# ---------------------------------------------------------------------------------------------
# The peak: the highest running amount, oldest entry first, never below zero


def test_the_peak_outlives_a_refund(histories: dict[str, Card]) -> None:
    card = histories["stamp"]
    assert (card.transaction_amount, sql_fold(card).balances.peak_transaction_amount) == (
        D("102.50"),
        125,
    )
    card = tamper(card, peak_transaction_amount=card.transaction_amount)
    assert "peak_transaction_amount is 102.50, the ledger says 125.00" in verify()[0]


def test_the_peak_is_zero_when_the_running_amount_never_rises_above_it(
    stamp_card: Card,
) -> None:
    append(stamp_card, minutes=1, kind=Kind.REFUND, amount_delta=D("-5.00"))
    append(stamp_card, minutes=2, kind=Kind.PURCHASE, amount_delta=D("3.00"))
    folded = sql_fold(stamp_card).balances
    assert (folded.transaction_amount, folded.peak_transaction_amount) == (-2, 0)
    assert sql_fold(stamp_card) == python_fold(stamp_card)


def test_the_peak_follows_entry_time_not_insertion_order(stamp_card: Card) -> None:
    # Inserted: +100, then -100 dated earlier; in time the refund comes first.
    append(stamp_card, minutes=20, amount_delta=D("100.00"))
    append(stamp_card, minutes=10, kind=Kind.REFUND, amount_delta=D("-100.00"))
    assert sql_fold(stamp_card).balances.peak_transaction_amount == 0
    assert sql_fold(stamp_card) == python_fold(stamp_card)


def test_the_peak_orders_entries_of_the_same_moment_by_id(stamp_card: Card) -> None:
    append(stamp_card, minutes=10, kind=Kind.REFUND, amount_delta=D("-30.00"))
    append(stamp_card, minutes=10, amount_delta=D("100.00"))
    append(stamp_card, minutes=10, kind=Kind.REFUND, amount_delta=D("-50.00"))
    assert sql_fold(stamp_card).balances.peak_transaction_amount == 70
    assert sql_fold(stamp_card) == python_fold(stamp_card)


# ---------------------------------------------------------------------------------------------
# The tier: the latest entry carrying both a threshold and a percentage


def test_the_tier_comes_from_the_latest_entry_that_carries_one(
    histories: dict[str, Card],
) -> None:
    card = histories["cashback"]
    folded = sql_fold(card).balances
    assert (folded.tier_name, folded.tier_threshold, folded.cashback_percentage) == (
        "Silver",
        500,
        7,
    )
    card = tamper(card, tier_name="Gold", tier_threshold=D("1000"), cashback_percentage=D("10"))
    out = verify()[0]
    assert f"card {card.serial}: tier_name is Gold, the ledger says Silver" in out
    assert "tier_threshold is 1000.00, the ledger says 500.00" in out
    assert "cashback_percentage is 10.00, the ledger says 7.00" in out


# Dated after Silver, or between Bronze and Silver; named and sized to win any careless MAX.
@pytest.mark.parametrize("minutes", [60, 1])
@pytest.mark.parametrize(
    ("threshold", "percentage"), [(D("2000"), None), (None, D("12")), (None, None)]
)
def test_an_entry_with_half_a_tier_changes_no_tier(
    histories: dict[str, Card],
    minutes: int,
    threshold: Decimal | None,
    percentage: Decimal | None,
) -> None:
    card = histories["cashback"]
    append(
        card,
        minutes=minutes,
        tier_name="Zinc",
        tier_threshold=threshold,
        tier_percentage=percentage,
    )
    folded = sql_fold(card)
    assert folded == python_fold(card)
    assert (
        folded.balances.tier_name,
        folded.balances.tier_threshold,
        folded.balances.cashback_percentage,
    ) == ("Silver", 500, 7)
    assert sql_flagged([card]) == []


def test_a_partial_tier_on_the_card_is_reported(histories: dict[str, Card]) -> None:
    card = histories["cashback"]
    card = tamper(card, cashback_percentage=None)
    assert "cashback_percentage is None, the ledger says 7.00" in verify()[0]


def test_a_tier_dated_earlier_loses_to_the_later_one(histories: dict[str, Card]) -> None:
    card = histories["cashback"]
    append(card, minutes=0, tier_name="Gold", tier_threshold=D("1000"), tier_percentage=D("10"))
    assert sql_fold(card).balances.tier_name == "Silver"
    assert sql_fold(card) == python_fold(card)


def test_of_two_tiers_at_one_moment_the_later_id_wins(cashback_card: Card) -> None:
    append(
        cashback_card,
        minutes=5,
        tier_name="Gold",
        tier_threshold=D("1000"),
        tier_percentage=D("10"),
    )
    append(cashback_card, minutes=5, tier_name="", tier_threshold=D("0"), tier_percentage=D("3"))
    folded = sql_fold(cashback_card).balances
    assert (folded.tier_name, folded.tier_threshold, folded.cashback_percentage) == ("", 0, 3)
    assert sql_fold(cashback_card) == python_fold(cashback_card)


def test_a_card_without_tier_entries_has_no_tier(histories: dict[str, Card]) -> None:
    tamper(histories["stamp"], tier_threshold=D("0"))
    assert "tier_threshold is 0.00, the ledger says None" in verify()[0]


# ---------------------------------------------------------------------------------------------
# Referral sums: the stamps or points of entries whose source is the referral program


def test_referral_bonuses_are_summed_and_nothing_else(
    stamp_card: Card, cashback_card: Card
) -> None:
    for referrer in (stamp_card, cashback_card):
        apply(referrer, "transaction_amount_add", 1, value="40")
        for minutes in (2, 3):
            newcomer = issue(referrer.program, referred_by=referrer)
            apply(newcomer, "transaction_amount_add", minutes, value="10")
    stamp_card, cashback_card = (Card.objects.get(pk=c.pk) for c in (stamp_card, cashback_card))
    assert (stamp_card.referral_stamps, cashback_card.referral_points) == (4, 10)
    assert sql_fold(stamp_card).balances.referral_stamps == 4
    assert sql_fold(cashback_card).balances.referral_points == 10
    tamper(stamp_card, referral_stamps=5)
    tamper(cashback_card, referral_points=D("2.00"))
    out, error = verify()
    assert "referral_stamps is 5, the ledger says 4" in out
    assert "referral_points is 2.00, the ledger says 10.00" in out
    assert error.startswith("2 of ")


def test_only_referral_entries_count_as_referral(stamp_card: Card) -> None:
    append(
        stamp_card,
        minutes=1,
        kind=Kind.REFERRAL_BONUS,
        source=Source.REFERRAL,
        stamps_earned_delta=2,
        stamps_delta=2,
    )
    append(
        stamp_card,
        minutes=2,
        kind=Kind.REFERRAL_BONUS,
        source=Source.SYSTEM,
        stamps_earned_delta=7,
        stamps_delta=7,
    )
    assert sql_fold(stamp_card).balances.referral_stamps == 2
    assert sql_fold(stamp_card) == python_fold(stamp_card)


# ---------------------------------------------------------------------------------------------
# Cards without entries hold the empty balances


def bare_card(program: Program) -> Card:
    # Every card the services issue has its first entry; a card from elsewhere may not.
    return Card.objects.create(merchant=program.merchant, program=program, holder_name="Ada")


def test_a_card_without_entries_matches_the_empty_balances(stamp_program: Program) -> None:
    card = bare_card(stamp_program)
    assert (
        sql_fold(card)
        == python_fold(card)
        == Recomputed(rules.Balances(), dict.fromkeys(LAST_DATE_FIELDS))
    )
    assert verify() == ("1 cards match their ledger.\n", "")


@pytest.mark.parametrize(("name", "value"), [("stamps_balance", 1), ("last_visit_at", T0)])
def test_a_card_without_entries_but_with_balances_is_reported(
    stamp_program: Program, name: str, value: Any
) -> None:
    card = tamper(bare_card(stamp_program), **{name: value})
    empty = getattr(rules.Balances(), name, None)
    assert verify() == (
        f"card {card.serial}: {name} is {value}, the ledger says {empty}\n",
        "1 of 1 cards disagree with their ledger.",
    )


# ---------------------------------------------------------------------------------------------
# Entry kinds no action of the card's program writes


@pytest.mark.parametrize(
    ("card_fixture", "kind", "program_kind"),
    [
        ("stamp_card", Kind.POINTS_ADDED, "stamp"),
        ("cashback_card", Kind.STAMPS_ADDED, "cashback"),
        ("cashback_card", "teleport", "cashback"),
    ],
)
def test_a_foreign_entry_kind_is_found_and_explained(
    request: pytest.FixtureRequest, card_fixture: str, kind: str, program_kind: str
) -> None:
    card = request.getfixturevalue(card_fixture)
    append(card, minutes=1, kind=kind)
    assert ledger_sql_folds(low=card.pk, high=card.pk)[card.pk].holds_foreign_kinds
    assert verify() == (
        f"card {card.serial}: holds {kind} entries, which no action of a {program_kind} "
        "card writes\n",
        "1 of 1 cards disagree with their ledger.",
    )


def test_an_entry_kind_the_program_writes_is_not_foreign(cashback_card: Card) -> None:
    append(cashback_card, minutes=1, kind=Kind.POINTS_REMOVED)
    assert not ledger_sql_folds(low=cashback_card.pk, high=cashback_card.pk)[
        cashback_card.pk
    ].holds_foreign_kinds
    assert verify()[1] == ""


# ---------------------------------------------------------------------------------------------
# Scope and chunks


def test_merchant_scoping_checks_only_that_merchants_cards(
    stamp_card: Card, other_merchant: Any
) -> None:
    other = issue(StampProgramFactory(merchant=other_merchant))
    issue(StampProgramFactory(merchant=other_merchant))
    other = tamper(other, stamps_balance=3)
    assert verify("--merchant", str(stamp_card.merchant_id)) == (
        "1 cards match their ledger.\n",
        "",
    )
    out, error = verify("--merchant", str(other_merchant.pk))
    assert out == f"card {other.serial}: stamps_balance is 3, the ledger says 0\n"
    assert error == "1 of 2 cards disagree with their ledger."
    assert sql_flagged([stamp_card, other], merchant_id=stamp_card.merchant_id) == []
    assert sql_flagged([stamp_card, other], merchant_id=other_merchant.pk) == [other.pk]
    assert verify()[1] == "1 of 3 cards disagree with their ledger."


def test_every_range_of_cards_is_checked(
    monkeypatch: pytest.MonkeyPatch, stamp_program: Program
) -> None:
    monkeypatch.setattr(verify_ledger, "CARDS_PER_STATEMENT", 2)
    cards = [issue(stamp_program) for _ in range(5)]
    first, last = tamper(cards[0], total_visits=4), tamper(cards[4], total_visits=2)
    out, error = verify()
    assert out == (
        f"card {first.serial}: total_visits is 4, the ledger says 0\n"
        f"card {last.serial}: total_visits is 2, the ledger says 0\n"
    )
    assert error == "2 of 5 cards disagree with their ledger."


def test_card_ranges_cover_the_chosen_cards_in_runs(
    stamp_program: Program, other_merchant: Any
) -> None:
    other_program = StampProgramFactory(merchant=other_merchant)
    mine = [issue(stamp_program if n % 2 else other_program) for n in range(7)]
    chosen = sorted(card.pk for card in mine if card.program_id == stamp_program.pk)
    ranges = list(card_ranges(Card.objects.filter(program=stamp_program), size=2))
    assert [(r.low, r.high, r.count) for r in ranges] == [
        (chosen[0], chosen[1], 2),
        (chosen[2], chosen[2], 1),
    ]


# ---------------------------------------------------------------------------------------------
# Randomized: histories through the real services, dated out of order and at equal times,
# plus entries appended behind the services' back and columns tampered with


amounts = st.decimals(min_value=D("0.01"), max_value=D("300"), places=2)
small_money = st.decimals(min_value=D("-50"), max_value=D("50"), places=2)
small_whole = st.integers(min_value=-5, max_value=12)
minutes = st.integers(min_value=0, max_value=6)  # few moments: many ties, many out of order


def random_action(data: st.DataObject, card: Card) -> None:
    name = data.draw(
        st.sampled_from(sorted(n for (k, n) in ACTIONS if k == card.program.kind)), label="action"
    )
    action = ACTIONS[(card.program.kind, name)]
    value = data.draw(st.integers(1, 15) if action.value_is_count else amounts, label="value")
    inputs = {"value": value}
    if action.purchase:
        purchase = data.draw(st.sampled_from([None, "0", "same", "7.25"]), label="purchase")
        inputs["purchase_amount"] = value if purchase == "same" else purchase
    with contextlib.suppress(LedgerError):  # refused: nothing written
        apply(card, name, data.draw(minutes, label="at"), **inputs)


def random_entry(data: st.DataObject, card: Card) -> None:
    has = data.draw(st.sampled_from(["tier", "threshold only", "percentage only", "none"]))
    append(
        card,
        minutes=data.draw(minutes),
        kind=data.draw(st.sampled_from([*Kind.values, "teleport"])),
        source=data.draw(st.sampled_from(Source.values)),
        amount_delta=data.draw(small_money),
        ltv_delta=data.draw(small_money),
        stamps_delta=data.draw(small_whole),
        stamps_earned_delta=data.draw(small_whole),
        rewards_earned_delta=data.draw(small_whole),
        rewards_available_delta=data.draw(small_whole),
        rewards_redeemed_delta=data.draw(small_whole),
        points_delta=data.draw(small_money),
        points_earned_delta=data.draw(small_money),
        points_redeemed_delta=data.draw(small_money),
        visits_delta=data.draw(small_whole),
        tier_name=data.draw(st.sampled_from(["", "Bronze", "Silver"])),
        tier_threshold=D("250") if has in {"tier", "threshold only"} else None,
        tier_percentage=D("6.5") if has in {"tier", "percentage only"} else None,
    )


def random_tampering(data: st.DataObject, card: Card) -> None:
    name = data.draw(st.sampled_from(CHECKED_FIELDS), label="field")
    value = getattr(card, name)
    if name in LAST_DATE_FIELDS:
        new: Any = data.draw(st.one_of(st.none(), minutes.map(at)))
    elif name == "tier_name":
        new = data.draw(st.sampled_from(["", "Bronze", "Silver", "Gold"]))
    else:
        shift = data.draw(st.sampled_from([-1, 1, 0]))
        new = None if value is None or shift == 0 else value + shift
        if name not in {"tier_threshold", "cashback_percentage"} and new is None:
            new = value
    try:
        with transaction.atomic():
            tamper(card, **{name: new})
    except IntegrityError:
        pass  # a CHECK constraint refused it


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_the_sql_fold_equals_the_python_fold_and_flags_what_it_explains(
    data: st.DataObject,
) -> None:
    merchant = MerchantFactory()
    stamp = issue(StampProgramFactory(merchant=merchant))
    cashback = issue(CashbackProgramFactory(merchant=merchant))
    referred = issue(stamp.program, referred_by=stamp)
    cards = [stamp, cashback, referred, bare_card(stamp.program)]
    for _ in range(data.draw(st.integers(0, 14), label="actions")):
        random_action(data, data.draw(st.sampled_from(cards[:3])))
    for _ in range(data.draw(st.integers(0, 2), label="appended")):
        random_entry(data, data.draw(st.sampled_from(cards)))
    for _ in range(data.draw(st.integers(0, 2), label="tampered")):
        random_tampering(data, Card.objects.get(pk=data.draw(st.sampled_from(cards)).pk))

    folds = ledger_sql_folds(**span(cards), merchant_id=merchant.pk)
    for card in Card.objects.filter(merchant=merchant):
        entries = list(card.entries.order_by("created_at", "id"))
        assert folds[card.pk].recomputed == fold_entries(entries)
        assert folds[card.pk].holds_foreign_kinds == bool(foreign_entry_kinds(card, entries))

    flagged = sql_flagged(cards, merchant_id=merchant.pk)
    assert flagged == python_flagged(cards)
    out, error = verify("--merchant", str(merchant.pk))
    explained = {card.pk for card in cards if f"card {card.serial}: " in out}
    assert explained == set(flagged)  # every flagged card explained, and no other
    assert "finds no difference" not in out
    assert bool(error) == bool(flagged)
