"""Reversing one entry: a compensating entry for exactly what it did, once, by the right people."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from analytics.consistency import rollup_differences
from analytics.models import DailyTotals
from cards import rules, services
from cards.models import Card, LedgerEntry, Program, Source
from cards.rules import Kind, LedgerError
from loyalty import clock
from loyalty.models import Role
from tests.factories import (
    CashbackProgramFactory,
    CustomerFactory,
    StampProgramFactory,
    UserFactory,
    issue_card,
)

pytestmark = pytest.mark.django_db


def _reverse(card: Card, entry: LedgerEntry, actor: Any = None, role: str = Role.OWNER, **kw: Any):
    return services.entry_reverse(
        card=card, entry=entry, reason=kw.pop("reason", "Wrong card"), actor=actor, role=role, **kw
    )


def _fresh(card: Card) -> Card:
    return Card.objects.get(pk=card.pk)


def _verified(capsys: Any) -> None:
    call_command("verify_ledger")
    assert "match their ledger" in capsys.readouterr().out


def test_reversing_a_purchase_takes_back_its_amount_stamps_and_visit(
    stamp_card: Card, owner: Any, capsys: Any
) -> None:
    before = _fresh(stamp_card).balances()
    bought = services.card_add_transaction_amount(card=stamp_card, value="35", actor=owner)

    result = _reverse(stamp_card, bought.entries[0], owner)

    (reversal,) = result.entries
    assert reversal.kind == Kind.REVERSAL
    assert reversal.reverses_id == bought.entries[0].pk
    assert reversal.comment == "Wrong card"
    assert reversal.actor == owner
    assert (reversal.amount_delta, reversal.stamps_delta, reversal.visits_delta) == (
        Decimal("-35.00"),
        -3,
        -1,
    )
    assert _fresh(stamp_card).balances() == before
    _verified(capsys)


def test_a_reversed_purchase_that_completed_a_card_takes_its_reward_back(
    stamp_card: Card, capsys: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value=8, actor=None)
    bought = services.card_add_transaction_amount(card=stamp_card, value="30", actor=None)
    assert (_fresh(stamp_card).stamps_balance, _fresh(stamp_card).rewards_available) == (1, 1)

    _reverse(stamp_card, bought.entries[0])

    card = _fresh(stamp_card)
    assert (card.stamps_balance, card.rewards_available, card.rewards_earned) == (8, 0, 0)
    assert card.stamps_earned == 8
    _verified(capsys)


def test_a_reversal_is_refused_once_its_reward_was_redeemed(stamp_card: Card) -> None:
    services.card_add_stamps(card=stamp_card, value=8, actor=None)
    bought = services.card_add_transaction_amount(card=stamp_card, value="30", actor=None)
    services.card_redeem_rewards(card=stamp_card, value=1, purchase_amount="0", actor=None)
    entries_before = LedgerEntry.objects.count()

    with pytest.raises(LedgerError, match="already redeemed"):
        _reverse(stamp_card, bought.entries[0])

    assert LedgerEntry.objects.count() == entries_before
    assert not LedgerEntry.objects.filter(reverses=bought.entries[0]).exists()


def test_a_reversal_of_stamps_already_removed_is_refused_naming_the_balance(
    stamp_card: Card,
) -> None:
    added = services.card_add_stamps(card=stamp_card, value=3, actor=None)
    services.card_remove_stamps(card=stamp_card, value=2, actor=None)

    with pytest.raises(LedgerError, match="already used: the card has 1 stamp"):
        _reverse(stamp_card, added.entries[0])


def test_stamps_given_back_that_fill_a_card_convert_into_a_reward(
    stamp_card: Card, capsys: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value=6, actor=None)
    removed = services.card_remove_stamps(card=stamp_card, value=5, actor=None)
    services.card_add_stamps(card=stamp_card, value=8, actor=None)  # 9 on the card

    _reverse(stamp_card, removed.entries[0])

    card = _fresh(stamp_card)
    assert (card.stamps_balance, card.rewards_available, card.stamps_earned) == (4, 1, 14)
    _verified(capsys)


def test_reversing_a_refund_gives_back_the_amount_but_not_the_stamps_it_took_separately(
    stamp_card: Card, capsys: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="50", actor=None)
    refund = services.card_subtract_transaction_amount(card=stamp_card, value="20", actor=None)
    refund_entry, clawback = refund.entries
    assert clawback.kind == Kind.STAMPS_CLAWBACK

    _reverse(stamp_card, refund_entry)
    card = _fresh(stamp_card)
    assert (card.transaction_amount, card.ltv, card.stamps_balance) == (
        Decimal("50.00"),
        Decimal("50.00"),
        3,
    )
    _reverse(stamp_card, clawback)
    assert _fresh(stamp_card).stamps_balance == 5
    _verified(capsys)


def test_reversing_a_redemption_makes_the_reward_available_again(stamp_card: Card) -> None:
    services.card_add_rewards(card=stamp_card, value=1, purchase_amount="0", actor=None)
    redeemed = services.card_redeem_rewards(
        card=stamp_card, value=1, purchase_amount="4.50", actor=None
    )

    _reverse(stamp_card, redeemed.entries[0])

    card = _fresh(stamp_card)
    assert (card.rewards_available, card.rewards_redeemed) == (1, 0)
    assert card.ltv == Decimal("0.00")


def test_a_cashback_purchase_is_reversed_at_the_rate_it_earned_and_its_tier_goes_back(
    cashback_program: Program, capsys: Any
) -> None:
    card = issue_card(cashback_program)
    services.card_add_transaction_amount(card=card, value="400", actor=None)  # Bronze, 5 %
    big = services.card_add_transaction_amount(card=card, value="200", actor=None)  # to Silver
    assert _fresh(card).tier_name == "Silver"
    # The merchant raises Bronze's rate since: a refund would claw back at the rate of now.
    cashback_program.tiers.filter(name="Bronze").update(percentage=Decimal("9"))

    _reverse(card, big.entries[0])

    card = _fresh(card)
    assert card.points_balance == Decimal("20.00")  # 5 % of 400: the 10 points of 200 are gone
    assert (card.tier_name, card.cashback_percentage) == ("Bronze", Decimal("9.00"))
    assert card.transaction_amount == card.peak_transaction_amount == Decimal("400.00")
    # Without the reversed purchase the card never reached Silver: 50 more does not either.
    services.card_add_transaction_amount(card=card, value="50", actor=None)
    assert _fresh(card).tier_name == "Bronze"
    _verified(capsys)


def test_a_cashback_reversal_is_refused_once_the_points_were_spent(
    cashback_program: Program,
) -> None:
    card = issue_card(cashback_program)
    added = services.card_add_points(card=card, value="10", actor=None)
    services.card_remove_points(card=card, value="8", actor=None)

    with pytest.raises(LedgerError, match="already spent: the balance is 2"):
        _reverse(card, added.entries[0])


def test_an_entry_is_reversed_once_and_a_reversal_or_a_first_entry_never(
    stamp_card: Card, owner: Any
) -> None:
    added = services.card_add_stamps(card=stamp_card, value=2, actor=None)
    reversal = _reverse(stamp_card, added.entries[0], owner).entries[0]

    with pytest.raises(LedgerError, match="already reversed on .* by owner"):
        _reverse(stamp_card, added.entries[0], owner)
    with pytest.raises(LedgerError, match="A reversal cannot be reversed"):
        _reverse(stamp_card, reversal, owner)
    issued = stamp_card.entries.get(kind=Kind.CARD_ISSUED)
    with pytest.raises(LedgerError, match="first entry cannot be reversed"):
        _reverse(stamp_card, issued, owner)
    assert stamp_card.entries.filter(kind=Kind.REVERSAL).count() == 1


def test_the_same_reversal_sent_twice_is_written_once(stamp_card: Card) -> None:
    added = services.card_add_stamps(card=stamp_card, value=2, actor=None)
    first = _reverse(stamp_card, added.entries[0], idempotency_key="k1")
    again = _reverse(stamp_card, added.entries[0], idempotency_key="k1")

    assert again.replayed
    assert again.entries == first.entries
    assert _fresh(stamp_card).stamps_balance == 0


@pytest.mark.django_db(transaction=True)
def test_two_managers_reversing_one_entry_at_once_write_one_reversal() -> None:
    card = issue_card(StampProgramFactory())
    added = services.card_add_stamps(card=card, value=4, actor=None)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def click(number: int) -> None:
        try:
            barrier.wait()
            _reverse(Card.objects.get(pk=card.pk), added.entries[0], idempotency_key=f"m{number}")
            outcomes.append("reversed")
        except LedgerError as error:
            outcomes.append(error.text)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("reversed") == 1
    assert all("already reversed" in text for text in outcomes if text != "reversed")
    assert _fresh(card).stamps_balance == 0


def test_staff_reverse_their_own_entries_for_the_programs_minutes_only(
    stamp_card: Card, staff: Any, owner: Any
) -> None:
    now = clock.now()
    with clock.frozen_at(now):
        mine = services.card_add_stamps(card=stamp_card, value=1, actor=staff).entries[0]
        theirs = services.card_add_stamps(card=stamp_card, value=1, actor=owner).entries[0]
        late = services.card_add_stamps(card=stamp_card, value=1, actor=staff).entries[0]

    with clock.frozen_at(now + datetime.timedelta(minutes=14)):
        _reverse(stamp_card, mine, staff, Role.STAFF)
        with pytest.raises(LedgerError, match="only their own entries"):
            _reverse(stamp_card, theirs, staff, Role.STAFF)
    with clock.frozen_at(now + datetime.timedelta(minutes=16)):
        with pytest.raises(LedgerError, match="for 15 minutes"):
            _reverse(stamp_card, late, staff, Role.STAFF)
        # Owners and admins reverse any entry, at any time.
        _reverse(stamp_card, late, UserFactory(), Role.ADMIN)
        _reverse(stamp_card, theirs, owner, Role.OWNER)
    assert _fresh(stamp_card).stamps_balance == 0


def test_a_reason_is_required_and_a_deleted_card_refuses(stamp_card: Card) -> None:
    added = services.card_add_stamps(card=stamp_card, value=1, actor=None)
    with pytest.raises(LedgerError, match="Say why"):
        _reverse(stamp_card, added.entries[0], reason="  ")

    services.card_delete(card=stamp_card, actor=None)
    with pytest.raises(LedgerError, match="deleted"):
        _reverse(stamp_card, added.entries[0])


def test_an_entry_of_another_card_is_refused(stamp_program: Program) -> None:
    one, other = issue_card(stamp_program), issue_card(stamp_program)
    added = services.card_add_stamps(card=other, value=1, actor=None)
    with pytest.raises(LedgerError, match="another card"):
        _reverse(one, added.entries[0])


def test_reversing_a_referral_bonus_takes_back_the_referral_stamps(
    stamp_program: Program, capsys: Any
) -> None:
    referrer = issue_card(stamp_program, CustomerFactory(merchant=stamp_program.merchant))
    newcomer = issue_card(
        stamp_program, CustomerFactory(merchant=stamp_program.merchant), referred_by=referrer
    )
    services.card_add_transaction_amount(card=newcomer, value="10", actor=None)
    bonus = referrer.entries.get(kind=Kind.REFERRAL_BONUS)
    assert _fresh(referrer).referral_stamps == 2

    _reverse(referrer, bonus)

    assert (_fresh(referrer).referral_stamps, _fresh(referrer).stamps_balance) == (0, 0)
    _verified(capsys)


def test_a_reversal_takes_back_the_days_revenue_and_visits_in_the_statistics(
    stamp_card: Card,
) -> None:
    bought = services.card_add_transaction_amount(card=stamp_card, value="35", actor=None)
    _reverse(stamp_card, bought.entries[0])

    totals = DailyTotals.objects.get(program=stamp_card.program)
    assert (totals.revenue, totals.visits, totals.stamps_issued) == (Decimal("0.00"), 0, 0)
    assert totals.purchases == 0
    # The incremental rollup agrees with a rebuild from the ledger.
    assert rollup_differences(merchant=stamp_card.merchant) == []


def test_a_reversal_is_booked_under_its_originals_source(stamp_program: Program) -> None:
    card = issue_card(stamp_program)
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        (opening,) = services.ledger_append(
            card=locked,
            deltas=[rules.Delta(kind=Kind.IMPORTED, stamps=4, stamps_earned=4, visits=2)],
            key="import:1",
            actor=None,
            source=Source.IMPORT,
        )

    reversal = _reverse(card, opening).entries[0]

    assert reversal.source == Source.IMPORT
    assert (_fresh(card).stamps_balance, _fresh(card).total_visits) == (0, 0)
    # An opening balance is no activity of the day: neither is its reversal.
    assert rollup_differences(merchant=card.merchant) == []


# Every action of the table, from a card that can take it: (program kind, mechanism, action,
# inputs). Reversed at once, the card holds exactly what it held before.
EVERY_ACTION = [
    ("stamp", "spend", "transaction_amount_add", {"value": "35"}),
    ("stamp", "spend", "transaction_amount_subtract", {"value": "20"}),
    ("stamp", "visit", "visits_write_off", {"value": "1"}),
    ("stamp", "spend", "stamps_add", {"value": "4"}),
    ("stamp", "spend", "stamps_subtract", {"value": "2"}),
    ("stamp", "spend", "rewards_add", {"value": "1", "purchase_amount": "3"}),
    ("stamp", "spend", "rewards_subtract", {"value": "1", "purchase_amount": "0"}),
    ("cashback", "", "points_add", {"value": "5", "purchase_amount": "20"}),
    ("cashback", "", "points_subtract", {"value": "1"}),
    ("cashback", "", "transaction_amount_add", {"value": "600"}),
    ("cashback", "", "transaction_amount_subtract", {"value": "30"}),
]


@pytest.mark.parametrize(("kind", "mechanism", "action", "inputs"), EVERY_ACTION)
def test_every_action_reversed_at_once_leaves_the_card_as_it_was(
    merchant: Any, kind: str, mechanism: str, action: str, inputs: dict[str, str], capsys: Any
) -> None:
    if kind == "stamp":
        program = StampProgramFactory(merchant=merchant, mechanism=mechanism)
        card = issue_card(program)
        services.card_add_transaction_amount(card=card, value="95", actor=None)
        services.card_add_rewards(card=card, value=1, purchase_amount="0", actor=None)
    else:
        card = issue_card(CashbackProgramFactory(merchant=merchant))
        services.card_add_transaction_amount(card=card, value="100", actor=None)
    before = _fresh(card).balances()
    done = services.card_apply(card=card, action=action, actor=None, **inputs)

    for entry in done.entries:
        _reverse(card, entry)

    assert _fresh(card).balances() == before
    _verified(capsys)


def test_a_reversed_cashback_refund_puts_its_points_back_without_un_spending_any(
    cashback_program: Program,
) -> None:
    card = issue_card(cashback_program)
    services.card_add_transaction_amount(card=card, value="100", actor=None)  # 5 points
    refund = services.card_subtract_transaction_amount(card=card, value="40", actor=None)

    _reverse(card, refund.entries[0])

    totals = DailyTotals.objects.get(program=cashback_program)
    assert (totals.points_redeemed, totals.points_change) == (Decimal("0.00"), Decimal("5.00"))
    assert rollup_differences(merchant=card.merchant) == []
