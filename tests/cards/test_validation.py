"""Bad input gets a message a merchant understands and changes nothing."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from cards import services
from cards.models import Card, LedgerEntry
from cards.rules import LedgerError

pytestmark = pytest.mark.django_db


def _snapshot(card: Card) -> tuple:
    fresh = Card.objects.get(pk=card.pk)
    return (fresh.balances(), LedgerEntry.objects.filter(card=card).count())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "greater than zero"),
        ("-5", "positive amount"),
        ("10.005", "at most 2 decimal places"),
        ("ten", "as a number"),
        ("", "required"),
        (None, "required"),
        ("NaN", "as a number"),
        ("1e3", None),  # 1000 is a perfectly good amount written oddly: accepted
    ],
)
def test_transaction_amount_input_is_validated(stamp_card: Card, staff, value, message) -> None:
    before = _snapshot(stamp_card)
    if message is None:
        services.card_add_transaction_amount(card=stamp_card, value=value, actor=staff)
        assert Card.objects.get(pk=stamp_card.pk).transaction_amount == Decimal("1000.00")
        return
    with pytest.raises(LedgerError, match=message) as error:
        services.card_add_transaction_amount(card=stamp_card, value=value, actor=staff)
    assert error.value.field_name == "value"
    assert _snapshot(stamp_card) == before


def test_purchase_amount_must_equal_the_value(stamp_card: Card, staff) -> None:
    before = _snapshot(stamp_card)
    with pytest.raises(LedgerError, match="must equal the value") as error:
        services.card_add_transaction_amount(
            card=stamp_card, value="10", purchase_amount="12", actor=staff
        )
    assert error.value.field_name == "purchase_amount"
    assert _snapshot(stamp_card) == before
    services.card_add_transaction_amount(
        card=stamp_card, value="10", purchase_amount="10.00", actor=staff
    )
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 1


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "lots", ""])
def test_stamp_counts_must_be_whole_and_positive(stamp_card: Card, staff, value) -> None:
    before = _snapshot(stamp_card)
    with pytest.raises(LedgerError):
        services.card_add_stamps(card=stamp_card, value=value, actor=staff)
    assert _snapshot(stamp_card) == before


def test_cannot_remove_more_stamps_than_the_balance(stamp_card: Card, staff) -> None:
    services.card_add_stamps(card=stamp_card, value=3, actor=staff)
    before = _snapshot(stamp_card)
    with pytest.raises(LedgerError, match="has 3 stamps; you cannot remove more than 3"):
        services.card_remove_stamps(card=stamp_card, value=4, actor=staff)
    assert _snapshot(stamp_card) == before


def test_cannot_redeem_more_rewards_than_available(stamp_card: Card, staff) -> None:
    before = _snapshot(stamp_card)
    with pytest.raises(LedgerError, match="0 rewards available"):
        services.card_redeem_rewards(card=stamp_card, value=1, purchase_amount="0", actor=staff)
    assert _snapshot(stamp_card) == before


def test_cannot_refund_more_than_the_transaction_amount(stamp_card: Card, staff) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="20", actor=staff)
    before = _snapshot(stamp_card)
    with pytest.raises(LedgerError, match="at most the transaction amount, 20.00"):
        services.card_subtract_transaction_amount(card=stamp_card, value="20.01", actor=staff)
    assert _snapshot(stamp_card) == before


def test_cannot_remove_more_points_than_the_balance(cashback_card: Card, staff) -> None:
    services.card_add_points(card=cashback_card, value="4.50", actor=staff)
    before = _snapshot(cashback_card)
    with pytest.raises(LedgerError, match="balance is 4.50 points"):
        services.card_remove_points(card=cashback_card, value="4.51", actor=staff)
    assert _snapshot(cashback_card) == before


def test_a_deleted_card_refuses_every_change(stamp_card: Card, owner, staff) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    before = _snapshot(stamp_card)
    with pytest.raises(LedgerError, match="was deleted"):
        services.card_add_stamps(card=stamp_card, value=1, actor=staff)
    assert _snapshot(stamp_card) == before


def test_an_expired_card_refuses_changes_naming_the_date(stamp_card: Card, staff) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    services.card_set_expiration(card=stamp_card, expires_on=yesterday, actor=staff)
    before = _snapshot(stamp_card)
    with pytest.raises(LedgerError, match=f"expired on {yesterday:%B %-d, %Y}"):
        services.card_add_stamps(card=stamp_card, value=1, actor=staff)
    assert _snapshot(stamp_card) == before
    # Moving the date (for owners and admins) brings the card back.
    services.card_set_expiration(
        card=stamp_card,
        expires_on=yesterday + datetime.timedelta(days=30),
        actor=staff,
        may_move_expired=True,
    )
    services.card_add_stamps(card=stamp_card, value=1, actor=staff)
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 1


def test_stamp_actions_are_refused_on_a_cashback_card(cashback_card: Card, staff) -> None:
    with pytest.raises(LedgerError, match="stamp cards only"):
        services.card_add_stamps(card=cashback_card, value=1, actor=staff)


def test_visit_mechanism_refunds_are_refused_with_a_pointer_to_write_off(
    stamp_program, staff
) -> None:
    from tests.factories import issue_card

    stamp_program.mechanism = "visit"
    stamp_program.save()
    card = issue_card(stamp_program)
    services.card_add_transaction_amount(card=card, value="12", actor=staff)
    with pytest.raises(LedgerError, match="write off visits"):
        services.card_subtract_transaction_amount(card=card, value="12", actor=staff)
    services.card_write_off_visits(card=card, value=1, actor=staff)
    card.refresh_from_db()
    assert (card.total_visits, card.stamps_balance) == (0, 0)
