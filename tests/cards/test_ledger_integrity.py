"""The ledger is append-only in the database, balances never go negative, and
``verify_ledger`` catches any aggregate that drifts from the entries."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from cards import services
from cards.models import Card, LedgerEntry, Source
from cards.rules import Kind
from loyalty import clock

pytestmark = pytest.mark.django_db


def test_database_refuses_to_update_a_ledger_entry(stamp_card: Card, staff) -> None:
    services.card_add_stamps(card=stamp_card, value=3, actor=staff)
    entry = LedgerEntry.objects.filter(card=stamp_card).latest("id")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(stamps_delta=300)
    entry.refresh_from_db()
    assert entry.stamps_delta == 3


def test_database_refuses_to_delete_a_ledger_entry(stamp_card: Card, staff) -> None:
    services.card_add_stamps(card=stamp_card, value=3, actor=staff)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(card=stamp_card).delete()
    assert LedgerEntry.objects.filter(card=stamp_card).count() == 2


def test_database_refuses_a_negative_balance(stamp_card: Card) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Card.objects.filter(pk=stamp_card.pk).update(stamps_balance=-1)


def test_verify_ledger_is_clean_after_real_changes(
    stamp_card: Card, cashback_card: Card, staff, capsys
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="123.45", actor=staff)
    services.card_redeem_rewards(card=stamp_card, value=1, purchase_amount="0", actor=staff)
    services.card_add_transaction_amount(card=cashback_card, value="700", actor=staff)
    services.card_remove_points(card=cashback_card, value="5.5", actor=staff)
    call_command("verify_ledger")
    assert "2 cards match their ledger" in capsys.readouterr().out


def test_verify_ledger_reports_a_drifted_aggregate(stamp_card: Card, staff, capsys) -> None:
    services.card_add_stamps(card=stamp_card, value=4, actor=staff)
    Card.objects.filter(pk=stamp_card.pk).update(stamps_balance=5, ltv=Decimal("1.00"))
    with pytest.raises(CommandError, match="1 of 1 cards disagree"):
        call_command("verify_ledger")
    out = capsys.readouterr().out
    assert f"card {stamp_card.serial}: stamps_balance is 5, the ledger says 4" in out
    assert "ltv is 1.00, the ledger says 0.00" in out


def test_verify_ledger_reports_an_entry_no_action_of_the_cards_kind_writes(
    cashback_card: Card, capsys
) -> None:
    # Appending is what the database allows; a stamps entry has no place on a cashback card.
    LedgerEntry.objects.create(
        merchant_id=cashback_card.merchant_id,
        card=cashback_card,
        kind=Kind.STAMPS_ADDED,
        source=Source.SYSTEM,
        created_at=clock.now(),
        operation_key="stray",
    )
    with pytest.raises(CommandError, match="1 of 1 cards disagree"):
        call_command("verify_ledger")
    out = capsys.readouterr().out
    assert (
        f"card {cashback_card.serial}: holds stamps_added entries, "
        "which no action of a cashback card writes"
    ) in out
