"""Concurrent staff never lose an update: many threads, one card, real PostgreSQL."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from cards import services
from cards.models import Card, LedgerEntry
from cards.rules import LedgerError
from tests.factories import CashbackProgramFactory, StampProgramFactory, issue_card

THREADS = 16
PER_THREAD = 50


def _hammer(card_pk: int, seed: int, actions: list, outcomes: list, errors: list) -> None:
    rng = random.Random(seed)
    card = Card.objects.get(pk=card_pk)
    try:
        for step in range(PER_THREAD):
            service, value = rng.choice(actions)
            try:
                result = service(
                    card=card,
                    value=value,
                    actor=None,
                    idempotency_key=f"t{seed}-{step}",
                    **({"purchase_amount": "0"} if service is services.card_redeem_rewards else {}),
                )
                outcomes.append(len(result.entries))
            except LedgerError:
                outcomes.append(0)
    except Exception as error:  # surfaced in the main thread
        errors.append(error)
    finally:
        connection.close()


def _run(card: Card, actions: list) -> list[int]:
    outcomes: list[int] = []
    errors: list[Exception] = []
    threads = [
        threading.Thread(target=_hammer, args=(card.pk, seed, actions, outcomes, errors))
        for seed in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(outcomes) == THREADS * PER_THREAD
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_of_mixed_stamp_adjustments_lose_nothing(capsys) -> None:
    card = issue_card(StampProgramFactory())
    actions = [
        (services.card_add_transaction_amount, "25.00"),
        (services.card_add_stamps, 3),
        (services.card_remove_stamps, 2),
        (services.card_redeem_rewards, 1),
        (services.card_subtract_transaction_amount, "10.00"),
    ]
    outcomes = _run(card, actions)
    written = LedgerEntry.objects.filter(card=card).count() - 1  # less the issue entry
    assert written == sum(outcomes)
    card.refresh_from_db()
    purchases = LedgerEntry.objects.filter(card=card, kind="purchase").count()
    refunds = LedgerEntry.objects.filter(card=card, kind="refund").count()
    redeemed = LedgerEntry.objects.filter(card=card, kind="rewards_redeemed").count()
    assert card.transaction_amount == Decimal("25.00") * purchases - Decimal("10.00") * refunds
    assert card.rewards_redeemed == redeemed
    call_command("verify_ledger")
    assert "match their ledger" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_of_mixed_cashback_adjustments_lose_nothing(capsys) -> None:
    card = issue_card(CashbackProgramFactory())
    actions = [
        (services.card_add_transaction_amount, "40.00"),
        (services.card_add_points, "1.50"),
        (services.card_remove_points, "2.25"),
        (services.card_subtract_transaction_amount, "15.00"),
    ]
    outcomes = _run(card, actions)
    assert LedgerEntry.objects.filter(card=card).count() - 1 == sum(outcomes)
    call_command("verify_ledger")
    assert "match their ledger" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_from_two_threads_writes_one_entry() -> None:
    card = issue_card(StampProgramFactory())
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def click() -> None:
        try:
            barrier.wait()
            result = services.card_add_stamps(
                card=Card.objects.get(pk=card.pk), value=1, actor=None, idempotency_key="same"
            )
            results.append(result.replayed)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] + [True] * 7
    card.refresh_from_db()
    assert card.stamps_balance == 1
