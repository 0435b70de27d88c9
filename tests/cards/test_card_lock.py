"""``card_lock``: the dialogs' Apply reads the card once, by the query that locks it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cards import services
from cards.models import Card
from cards.rules import LedgerError
from loyalty.models import Merchant

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_it_needs_a_transaction(stamp_card: Card) -> None:
    with pytest.raises(transaction.TransactionManagementError):
        services.card_lock(
            merchant=stamp_card.merchant, serial=stamp_card.serial, idempotency_key="k"
        )


def test_another_merchants_serial_is_not_found(stamp_card: Card, other_merchant: Merchant) -> None:
    with transaction.atomic(), pytest.raises(Card.DoesNotExist):
        services.card_lock(merchant=other_merchant, serial=stamp_card.serial, idempotency_key="k")


def test_a_locked_card_is_not_read_again(stamp_card: Card, staff: Any) -> None:
    with transaction.atomic():
        card = services.card_lock(
            merchant=stamp_card.merchant, serial=stamp_card.serial, idempotency_key="k1"
        )
        with CaptureQueriesContext(connection) as captured:
            services.card_add_stamps(card=card, value=2, actor=staff, idempotency_key="k1")
    statements = [query["sql"] for query in captured.captured_queries]
    assert not any("FOR UPDATE" in sql for sql in statements)
    assert not any(sql.startswith("SAVEPOINT") for sql in statements)
    stamp_card.refresh_from_db()
    assert stamp_card.stamps_balance == 2


def test_another_key_than_the_locked_one_locks_again(stamp_card: Card, staff: Any) -> None:
    with transaction.atomic():
        card = services.card_lock(
            merchant=stamp_card.merchant, serial=stamp_card.serial, idempotency_key="k1"
        )
        with CaptureQueriesContext(connection) as captured:
            services.card_add_stamps(card=card, value=2, actor=staff, idempotency_key="k2")
    assert any("FOR UPDATE" in query["sql"] for query in captured.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_a_lock_from_an_earlier_transaction_is_not_trusted(stamp_card: Card, staff: Any) -> None:
    with transaction.atomic():
        card = services.card_lock(
            merchant=stamp_card.merchant, serial=stamp_card.serial, idempotency_key="k1"
        )
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        services.card_add_stamps(card=card, value=2, actor=staff, idempotency_key="k1")
    assert any("FOR UPDATE" in query["sql"] for query in captured.captured_queries)


def test_a_lock_taken_in_a_savepoint_rolled_back_is_not_trusted(
    stamp_card: Card, staff: Any
) -> None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                card = services.card_lock(
                    merchant=stamp_card.merchant, serial=stamp_card.serial, idempotency_key="k1"
                )
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        with CaptureQueriesContext(connection) as captured:
            services.card_add_stamps(card=card, value=2, actor=staff, idempotency_key="k1")
    assert any("FOR UPDATE" in query["sql"] for query in captured.captured_queries)


def test_a_refusal_on_a_locked_card_writes_nothing(stamp_card: Card, staff: Any) -> None:
    before = stamp_card.entries.count()
    with transaction.atomic():
        card = services.card_lock(
            merchant=stamp_card.merchant, serial=stamp_card.serial, idempotency_key="k1"
        )
        with pytest.raises(LedgerError):
            services.card_redeem_rewards(card=card, value=1, actor=staff, idempotency_key="k1")
    assert stamp_card.entries.count() == before


def test_a_replayed_key_on_a_locked_card_replays(stamp_card: Card, staff: Any) -> None:
    first = services.card_add_stamps(card=stamp_card, value=2, actor=staff, idempotency_key="k1")
    with transaction.atomic():
        card = services.card_lock(
            merchant=stamp_card.merchant, serial=stamp_card.serial, idempotency_key="k1"
        )
        again = services.card_add_stamps(card=card, value=2, actor=staff, idempotency_key="k1")
    assert again.replayed
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
