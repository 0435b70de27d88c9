"""Dispatching and sending, in this process against the local push service (the worker tests
run the same code in a real Celery worker)."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cards import services as card_services
from loyalty import clock
from pushes import selectors, services, vapid
from pushes.channels import parse_retry_after
from pushes.devinbox import b64url_decode
from pushes.models import (
    MESSAGE_MAX_LENGTH,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    MessageStatus,
    PushMessage,
)
from pushes.services.delivery import _attempt
from tests.factories import MerchantFactory, StampProgramFactory, issue_card
from tests.pushes.push_service import PushService, Reply

pytestmark = pytest.mark.django_db


def _send_all(message: PushMessage) -> list[Delivery]:
    """Dispatch, then run every queued pair here, as the worker would."""
    services.messages_dispatch_due()
    for delivery in Delivery.objects.filter(message=message).order_by("id"):
        services.delivery_send(delivery_id=delivery.pk)
    return list(Delivery.objects.filter(message=message).order_by("id"))


def test_the_longest_message_fits_one_encrypted_record(
    push_service: PushService, subscribe: Any
) -> None:
    # The worst case in bytes: four-byte characters in the shop's name and in the message.
    merchant = MerchantFactory(name="𝄞" * 120)
    program: Any = StampProgramFactory(merchant=merchant)
    card = issue_card(program)
    fake, _ = subscribe(card)
    text = "𝄞" * MESSAGE_MAX_LENGTH

    message = services.message_create(card=card, body=text, actor=None)
    (delivery,) = _send_all(message)

    assert delivery.status == DeliveryStatus.DELIVERED
    (received,) = push_service.received_for(fake)
    assert received.errors == []
    assert received.payload is not None
    assert (received.payload["title"], received.payload["body"]) == ("𝄞" * 120, text)


def test_each_send_signs_for_its_own_push_service(subscribe: Any, stamp_program: Any) -> None:
    """pywebpush writes ``aud`` into the claims it is given: a shared dict would sign every
    later request for the first push service's origin, and they would all be refused."""
    card = issue_card(stamp_program)
    with PushService(vapid.public_key()) as first, PushService(vapid.public_key()) as second:
        fakes = [first.subscribe(), second.subscribe(), first.subscribe()]
        for fake in fakes:
            services.subscription_save(
                card=card, endpoint=fake.endpoint, p256dh=fake.p256dh, auth=fake.auth
            )
        message = services.message_create(card=card, body="Hello", actor=None)

        deliveries = _send_all(message)

        assert [d.status for d in deliveries] == [DeliveryStatus.DELIVERED] * 3
        assert first.errors() == second.errors() == []
        assert (first.count, second.count) == (2, 1)


def test_a_deleted_card_gets_no_push_even_if_it_was_due(
    push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card)
    soon = timezone.now() + datetime.timedelta(minutes=1)
    message = services.message_create(card=card, body="Hi", send_at=soon, actor=None)
    card_services.card_delete(card=card, actor=None)

    with clock.frozen_at(soon + datetime.timedelta(seconds=1)):
        report = services.messages_dispatch_due()

    assert report.claimed == [message.pk]
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "deleted" in message.failure_reason
    assert not Delivery.objects.exists()
    assert push_service.count == 0


def test_a_card_deleted_while_its_pairs_wait_is_not_sent(
    push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card)
    message = services.message_create(card=card, body="Hi", actor=None)
    services.messages_dispatch_due()
    card_services.card_delete(card=card, actor=None)

    delivery = Delivery.objects.get()
    assert services.delivery_send(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_rows.count()) == (DeliveryStatus.SKIPPED, 0)
    assert push_service.count == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED


def test_a_device_that_unsubscribed_before_the_time_is_not_sent(
    push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    _, subscription = subscribe(card)
    soon = timezone.now() + datetime.timedelta(minutes=1)
    message = services.message_create(card=card, body="Hi", send_at=soon, actor=None)
    services.subscription_expire(subscription=subscription, reason="Gone")

    with clock.frozen_at(soon + datetime.timedelta(seconds=1)):
        services.messages_dispatch_due()

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "No device can receive it" in message.failure_reason


def test_a_pair_is_sent_once_however_often_its_task_runs(
    push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card)
    message = services.message_create(card=card, body="Once", actor=None)
    (delivery,) = _send_all(message)

    for _ in range(3):
        assert services.delivery_send(delivery_id=delivery.pk) is None

    assert push_service.count == 1
    assert delivery.attempt_rows.count() == 1


def test_a_retry_waits_as_long_as_the_push_service_asks(
    push_service: PushService, subscribe: Any, stamp_program: Any, settings: Any
) -> None:
    settings.PUSH_MAX_RETRY_DELAY = 3600
    card = issue_card(stamp_program)
    subscribe(card, Reply(429, {"Retry-After": "120"}))
    message = services.message_create(card=card, body="Later", actor=None)
    services.messages_dispatch_due()
    delivery = Delivery.objects.get()

    before = timezone.now()
    assert services.delivery_send(delivery_id=delivery.pk) == DeliveryStatus.PENDING

    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 < wait < 125
    # Not due yet: a task arriving early (a duplicate, a redelivery) does nothing but learn
    # when to come back.
    assert services.delivery_send(delivery_id=delivery.pk) is None
    assert 119 < (services.delivery_wait(delivery_id=delivery.pk) or 0) < 125
    assert push_service.count == 1
    with clock.frozen_at(delivery.next_attempt_at):
        assert services.delivery_send(delivery_id=delivery.pk) == DeliveryStatus.DELIVERED
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_push_service_asking_to_wait_too_long_fails_the_pair(
    push_service: PushService, subscribe: Any, stamp_program: Any, settings: Any
) -> None:
    settings.PUSH_MAX_RETRY_DELAY = 3600
    card = issue_card(stamp_program)
    subscribe(card, Reply(503, {"Retry-After": "86400"}))
    message = services.message_create(card=card, body="Stale tomorrow", actor=None)

    (delivery,) = _send_all(message)

    assert delivery.status == DeliveryStatus.FAILED
    assert "wait too long" in delivery.reason


def test_retry_after_may_be_an_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert parse_retry_after("17") == 17.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_the_card_page_shows_the_last_message_that_arrived(
    subscribe: Any, stamp_program: Any, django_assert_num_queries: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card)
    assert selectors.last_message_for(card) is None
    first = services.message_create(card=card, body="First", actor=None)
    _send_all(first)
    second = services.message_create(card=card, body="Second", actor=None)
    services.messages_dispatch_due()  # claimed, not yet delivered

    with django_assert_num_queries(1):
        last = selectors.last_message_for(card)

    assert last == first
    assert last is not None
    assert last.delivered_at is not None
    assert second.pk != last.pk


# --- VAPID keys ---------------------------------------------------------------------------


@pytest.fixture
def fresh_vapid(settings: Any, tmp_path: Path) -> Any:
    settings.DATA_DIR = tmp_path
    settings.VAPID_PRIVATE_KEY = ""
    settings.VAPID_PUBLIC_KEY = ""
    vapid.keys.cache_clear()
    yield settings
    vapid.keys.cache_clear()


def test_without_settings_a_key_pair_is_generated_once_into_the_data_folder(
    fresh_vapid: Any, tmp_path: Path
) -> None:
    public = vapid.public_key()

    key_file = tmp_path / "vapid" / "private_key.pem"
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(b64url_decode(public)) == 65  # an uncompressed P-256 point
    vapid.keys.cache_clear()  # another process, or a restart
    assert vapid.public_key() == public
    assert [p.name for p in key_file.parent.iterdir()] == ["private_key.pem"]


def test_keys_from_settings_are_used_and_checked(fresh_vapid: Any) -> None:
    from py_vapid import Vapid

    signer = Vapid()
    signer.generate_keys()
    raw = signer.private_key.private_numbers().private_value.to_bytes(32, "big")
    fresh_vapid.VAPID_PRIVATE_KEY = vapid.b64url(raw)

    public = vapid.public_key()

    vapid.keys.cache_clear()
    fresh_vapid.VAPID_PUBLIC_KEY = public
    assert vapid.public_key() == public
    vapid.keys.cache_clear()
    fresh_vapid.VAPID_PUBLIC_KEY = vapid.b64url(b"\x04" + b"\x01" * 64)
    with pytest.raises(ImproperlyConfigured, match="does not belong"):
        vapid.keys()


def test_a_batch_out_of_time_gives_back_the_pairs_it_has_not_started(
    push_service: PushService, subscribe: Any, stamp_program: Any, settings: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card)
    subscribe(card)
    services.message_create(card=card, body="Late", actor=None)
    pairs = services.messages_dispatch_due().enqueued
    # No time left at all: the recovery rule would take these claims for a dead worker's.
    settings.PUSH_SENDING_TIMEOUT = 0
    settings.PUSH_SEND_DEADLINE = 0

    assert services.deliveries_send(delivery_ids=pairs) == {}

    assert push_service.count == 0
    released = Delivery.objects.filter(pk__in=pairs)
    assert {(d.status, d.attempts, d.claimed_at) for d in released} == {
        (DeliveryStatus.PENDING, 0, None)
    }
    assert not DeliveryAttempt.objects.filter(delivery__in=released).exists()


def test_a_pair_taken_back_from_its_batch_is_not_started(
    push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card)
    services.message_create(card=card, body="Taken back", actor=None)
    (pair,) = services.messages_dispatch_due().enqueued
    claimed_at = clock.now()
    Delivery.objects.filter(pk=pair).update(status=DeliveryStatus.SENDING, claimed_at=claimed_at)
    delivery = Delivery.objects.select_related("message__merchant", "subscription").get(pk=pair)
    # The recovery rule released it (pending again) while its batch was busy elsewhere.
    Delivery.objects.filter(pk=pair).update(status=DeliveryStatus.PENDING, claimed_at=None)

    assert _attempt(delivery, claimed_at=claimed_at) is None
    assert push_service.count == 0
    assert not DeliveryAttempt.objects.filter(delivery_id=pair).exists()
