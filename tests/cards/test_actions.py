"""The table of ledger actions: one entry per (card kind, action) that services, dialogs and
verify_ledger share."""

from __future__ import annotations

import datetime

import pytest

from cards import services
from cards.actions import ACTIONS, action_for, kinds_written
from cards.models import Card, LedgerEntry, ProgramKind
from cards.rules import Kind, LedgerError

pytestmark = pytest.mark.django_db


def test_every_action_of_a_kind_is_reachable_through_card_apply(
    stamp_card: Card, cashback_card: Card, staff
) -> None:
    services.card_apply(card=stamp_card, action="stamps_add", value="2", actor=staff)
    services.card_apply(
        card=cashback_card, action="points_add", value="3.50", purchase_amount="", actor=staff
    )
    assert (stamp_card.stamps_balance, cashback_card.points_balance) == (2, 3.5)


def test_an_action_of_the_other_kind_is_refused_in_words(cashback_card: Card, staff) -> None:
    with pytest.raises(LedgerError, match="This action is for stamp cards only.") as refused:
        services.card_add_stamps(card=cashback_card, value=1, actor=staff)
    assert refused.value.field_name == "value"
    assert LedgerEntry.objects.filter(card=cashback_card).count() == 1  # the issue entry only


def test_an_unknown_action_is_a_programming_error(stamp_card: Card, staff) -> None:
    with pytest.raises(KeyError):
        services.card_apply(card=stamp_card, action="stamps_multiply", value=2, actor=staff)


def test_a_purchase_amount_on_an_action_without_one_is_a_programming_error(
    stamp_card: Card, staff
) -> None:
    with pytest.raises(TypeError, match="Add stamps takes no purchase amount"):
        services.card_add_stamps(card=stamp_card, value=1, purchase_amount="5", actor=staff)


def test_an_empty_purchase_amount_is_no_purchase_amount(stamp_card: Card, staff) -> None:
    result = services.card_add_stamps(card=stamp_card, value=1, purchase_amount="", actor=staff)
    assert result.entries[0].purchase_amount is None


@pytest.mark.parametrize("expires_on", [None, datetime.date(2099, 12, 31)])
def test_a_balance_change_runs_a_fixed_number_of_queries(
    stamp_card: Card, staff, django_assert_num_queries, expires_on
) -> None:
    # An expiring card reads its merchant's time zone: loaded with the locked card, not after.
    Card.objects.filter(pk=stamp_card.pk).update(expires_on=expires_on)
    for _ in range(30):
        services.card_add_stamps(card=stamp_card, value=1, actor=staff)
    # Lock the card with its program and merchant, look up the key, insert the entries and
    # update the card (one statement), update its customer; plus the transaction's savepoint
    # and its release.
    with django_assert_num_queries(6):
        services.card_add_stamps(card=stamp_card, value=1, actor=staff)


def test_the_kinds_a_card_can_hold_follow_from_its_actions() -> None:
    stamp, cashback = kinds_written(ProgramKind.STAMP), kinds_written(ProgramKind.CASHBACK)
    assert {Kind.STAMPS_ADDED, Kind.STAMPS_CLAWBACK, Kind.REWARDS_REDEEMED} <= stamp
    assert Kind.POINTS_ADDED not in stamp
    assert {Kind.POINTS_ADDED, Kind.PURCHASE, Kind.REFUND} <= cashback
    assert Kind.STAMPS_ADDED not in cashback
    assert {Kind.CARD_ISSUED, Kind.WELCOME_BONUS, Kind.REFERRAL_BONUS} <= stamp & cashback


def test_each_action_name_is_one_dialog_per_kind() -> None:
    assert action_for(ProgramKind.STAMP, "transaction_amount_subtract").title == (
        "Refund of amount spent"
    )
    assert action_for(ProgramKind.CASHBACK, "transaction_amount_subtract").title == (
        "Decrease transaction amount"
    )
    assert len(ACTIONS) == 11


def test_the_first_entry_goes_through_the_ledgers_write_path(stamp_card: Card) -> None:
    entry = LedgerEntry.objects.get(card=stamp_card)
    assert (entry.kind, entry.sequence, entry.operation_key) == (
        Kind.CARD_ISSUED,
        0,
        f"issue:{stamp_card.pk}",
    )
    assert (entry.created_at, entry.comment, entry.source) == (
        stamp_card.issued_at,
        "",
        "dashboard",
    )
