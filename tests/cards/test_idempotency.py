"""A double click or a resent request changes things once."""

import pytest

from cards import services
from cards.models import Card, LedgerEntry

pytestmark = pytest.mark.django_db


def test_replaying_an_idempotency_key_writes_nothing_new(stamp_card: Card, staff) -> None:
    first = services.card_add_transaction_amount(
        card=stamp_card, value="35", actor=staff, idempotency_key="click-1"
    )
    again = services.card_add_transaction_amount(
        card=stamp_card, value="35", actor=staff, idempotency_key="click-1"
    )
    assert again.replayed
    assert not first.replayed
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    card = Card.objects.get(pk=stamp_card.pk)
    assert card.stamps_balance == 3
    assert LedgerEntry.objects.filter(card=card, operation_key="click-1").count() == 1


def test_a_replayed_refund_returns_both_of_its_entries(stamp_card: Card, staff) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="50", actor=staff)
    first = services.card_subtract_transaction_amount(
        card=stamp_card, value="20", actor=staff, idempotency_key="refund-1"
    )
    again = services.card_subtract_transaction_amount(
        card=stamp_card, value="20", actor=staff, idempotency_key="refund-1"
    )
    assert len(first.entries) == 2
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    assert Card.objects.get(pk=stamp_card.pk).transaction_amount == 30


def test_the_same_key_on_another_card_is_independent(stamp_program, staff) -> None:
    from tests.factories import issue_card

    one, two = issue_card(stamp_program), issue_card(stamp_program)
    services.card_add_stamps(card=one, value=1, actor=staff, idempotency_key="k")
    services.card_add_stamps(card=two, value=1, actor=staff, idempotency_key="k")
    assert Card.objects.get(pk=one.pk).stamps_balance == 1
    assert Card.objects.get(pk=two.pk).stamps_balance == 1
