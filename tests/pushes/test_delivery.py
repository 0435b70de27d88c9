"""End to end: a real Celery worker sends through the real broker to the local push service,
which checks the VAPID signature and headers and decrypts the payload like a browser."""

from __future__ import annotations

from typing import Any

import pytest

from pushes import services
from pushes.models import (
    AttemptOutcome,
    Delivery,
    DeliveryStatus,
    MessageStatus,
    PushMessage,
    PushSubscription,
)
from tests.factories import issue_card
from tests.pushes.push_service import HANG, PushService, Reply
from tests.pushes.support import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _finished(message: PushMessage) -> Any:
    """the message reached a final status"""
    message.refresh_from_db()
    return message.status in {MessageStatus.SENT, MessageStatus.FAILED}


def test_a_push_reaches_the_device_signed_encrypted_and_word_for_word(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any, owner: Any
) -> None:
    card = issue_card(stamp_program)
    _, subscription = subscribe(card)
    text = "Double stamps today only ☕ — and a free croissant with every 5th coffee!"

    message = services.message_create(card=card, body=text, send_at=None, actor=owner)

    # Send now: the commit queues the dispatcher, which queues the pair; no beat needed.
    (received,) = push_service.wait_for(1)
    assert received.errors == []
    assert received.payload == {
        "title": "Demo Coffee",
        "body": text,
        "url": f"/c/{card.install_token}/",
        "tag": f"push-{message.pk}",
        "id": message.pk,
    }
    assert received.headers["ttl"] == "86400"
    assert received.headers["urgency"] == "normal"
    assert received.headers["topic"] == f"m{message.pk}"
    assert received.headers["content-encoding"] == "aes128gcm"
    wait_until(lambda: _finished(message))
    assert message.status == MessageStatus.SENT
    delivery = Delivery.objects.get(message=message)
    assert (delivery.subscription, delivery.status, delivery.status_code) == (
        subscription,
        DeliveryStatus.DELIVERED,
        201,
    )
    assert [a.outcome for a in delivery.attempt_rows.all()] == [AttemptOutcome.DELIVERED]


SCRIPTS = {
    "created": ([Reply(201)], DeliveryStatus.DELIVERED, 1),
    "not_found": ([Reply(404)], DeliveryStatus.EXPIRED, 1),
    "gone": ([Reply(410)], DeliveryStatus.EXPIRED, 1),
    "too_large": ([Reply(413)], DeliveryStatus.FAILED, 1),
    "rate_limited": ([Reply(429, {"Retry-After": "1"}), Reply(201)], DeliveryStatus.DELIVERED, 2),
    "server_error_then_ok": ([Reply(500), Reply(201)], DeliveryStatus.DELIVERED, 2),
    "server_error_forever": ([Reply(503)] * 5, DeliveryStatus.FAILED, 3),
    "hang": ([HANG], DeliveryStatus.UNKNOWN, 1),
}


def test_every_answer_of_the_push_service_is_handled_as_it_means(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    devices = {name: subscribe(card, *script) for name, (script, _, _) in SCRIPTS.items()}

    message = services.message_create(card=card, body="Happy hour!", send_at=None, actor=None)
    wait_until(lambda: _finished(message), timeout=30)

    assert push_service.errors() == []
    for name, (_, expected_status, expected_requests) in SCRIPTS.items():
        fake, subscription = devices[name]
        delivery = Delivery.objects.get(message=message, subscription=subscription)
        received = push_service.received_for(fake)
        assert (name, delivery.status) == (name, expected_status)
        assert (name, len(received)) == (name, expected_requests)
        assert delivery.attempt_rows.count() == expected_requests == delivery.attempts
        assert all(r.payload and r.payload["body"] == "Happy hour!" for r in received)
    # Retry-After: 1 was honoured: the second request came no sooner than a second later.
    first, second = push_service.received_for(devices["rate_limited"][0])
    assert second.at - first.at >= 0.95
    # 404 and 410 expire the subscription; nothing else does.
    expired = set(PushSubscription.objects.filter(expired_at__isnull=False))
    assert expired == {devices["not_found"][1], devices["gone"][1]}
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT  # some devices got it


def test_every_attempt_is_recorded_with_its_answer(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card, Reply(429, {"Retry-After": "1"}), Reply(503), Reply(503))

    message = services.message_create(card=card, body="Sorry, closed today", actor=None)
    wait_until(lambda: _finished(message), timeout=30)

    delivery = Delivery.objects.get(message=message)
    attempts = list(delivery.attempt_rows.values_list("number", "status_code", "outcome"))
    assert attempts == [(1, 429, "retry"), (2, 503, "retry"), (3, 503, "retry")]
    assert delivery.attempt_rows.get(number=1).retry_after == 1.0
    assert delivery.status == DeliveryStatus.FAILED
    assert "gave up after 3 attempts" in delivery.reason
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "gave up after 3 attempts" in message.failure_reason


def test_a_device_that_never_answers_is_not_sent_the_message_again(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any, settings: Any
) -> None:
    card = issue_card(stamp_program)
    fake, _ = subscribe(card, HANG, Reply(201))

    message = services.message_create(card=card, body="Last call", actor=None)
    wait_until(lambda: _finished(message), timeout=20)

    delivery = Delivery.objects.get(message=message)
    assert delivery.status == DeliveryStatus.UNKNOWN
    assert "not resent" in delivery.reason
    # A restarted beat with every recovery window elapsed sends nothing more.
    settings.PUSH_REQUEUE_AFTER = 0
    settings.PUSH_SENDING_TIMEOUT = 0
    for _ in range(2):
        report = services.messages_dispatch_due()
        assert (report.enqueued, report.requeued, report.interrupted) == ([], [], [])
    assert len(push_service.received_for(fake)) == 1
