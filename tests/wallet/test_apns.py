"""Live updates of Apple Wallet passes through APNs, against the local stand-in (HTTP/2 over
TLS, client certificate required): what is sent, what each answer does, coalescing, retries,
and messages from the Send push tab."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from cards import services as card_services
from cards.models import Card, Device
from loyalty.celery import app as celery_app
from pushes import services as push_services
from pushes.channels import Outcome
from pushes.models import Delivery, DeliveryStatus, PushSubscription
from tests.pushes.support import wait_until
from tests.wallet.apns_fixtures import device_register, push_token
from tests.wallet.apns_server import (
    BAD_DEVICE_TOKEN,
    DROP,
    SERVER_ERROR,
    TOO_MANY,
    UNREGISTERED,
    APNsServer,
    Reply,
)
from wallet import tasks
from wallet.apple.credentials import apple_test_credentials_create
from wallet.channels import AppleWalletChannel
from wallet.models import ApplePush, AppleRegistration, UpdateStatus, WalletPass
from wallet.services import apple

pytestmark = pytest.mark.django_db

TOKEN = push_token(1)


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """Run a service as the worker does, outside any transaction: what it queues on commit
    is queued (the test's own transaction never commits)."""

    def run(function: Any, *args: Any, **kwargs: Any) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            function(*args, **kwargs)

    return run


def _held(card: Card, apns_server: APNsServer, *tokens: str) -> WalletPass:
    """The card in Apple Wallet on one device per token."""
    wallet_pass = None
    for number, token in enumerate(tokens or (TOKEN,)):
        wallet_pass = device_register(card, f"device{number}", token)
    assert wallet_pass is not None
    return wallet_pass


def _changed(card: Card, staff: Any, times: int = 1) -> None:
    for _ in range(times):
        card_services.card_add_stamps(card=card, value="1", actor=staff)


def _push(wallet_pass: WalletPass) -> ApplePush:
    return ApplePush.objects.get(wallet_pass=wallet_pass)


def test_a_change_is_pushed_over_http2_with_the_pass_certificate_topic_and_empty_payload(
    stamp_card, staff, apns_server, apple_credentials, queued, committed
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)

    (request,) = apns_server.received()
    assert request.protocol == "h2"
    assert (request.method, request.path) == ("POST", f"/3/device/{TOKEN}")
    assert request.headers["apns-topic"] == apple_credentials.pass_type_id
    assert request.body == b"{}"
    assert request.client_subject["userId"] == apple_credentials.pass_type_id
    push = _push(wallet_pass)
    assert (push.status, push.status_code, push.attempts) == (UpdateStatus.SENT, 200, 1)
    assert push.apns_id == request.apns_id
    assert push.version == 2
    assert push.finished_at is not None


def test_ten_ledger_changes_then_their_tasks_make_one_push(
    stamp_card, staff, apns_server, queued, committed, django_capture_on_commit_callbacks
) -> None:
    _held(stamp_card, apns_server)
    with django_capture_on_commit_callbacks(execute=True):
        _changed(stamp_card, staff, times=10)
    assert len(queued) == 10
    for _name, (pass_id,), _countdown in queued:
        committed(apple.apple_pass_notify, wallet_pass_id=pass_id)

    assert len(apns_server.received()) == 1
    assert list(ApplePush.objects.values_list("version", "status")) == [(11, UpdateStatus.SENT)]


def test_every_device_holding_the_pass_is_told_over_one_connection(
    stamp_card, staff, apns_server, queued, committed
) -> None:
    tokens = [push_token(n) for n in (1, 2, 3)]
    wallet_pass = _held(stamp_card, apns_server, *tokens)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)

    pushed = [request.push_token for request in apns_server.received()]
    assert sorted(pushed) == sorted(tokens * 2)
    assert apns_server.connections == 1
    assert ApplePush.objects.filter(status=UpdateStatus.SENT).count() == 6


def test_a_version_already_pushed_is_not_pushed_again(
    stamp_card, staff, apns_server, queued, committed
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    assert len(apns_server.received()) == 1


@pytest.mark.parametrize(
    ("reply", "status_code", "reason"),
    [(UNREGISTERED, 410, "Unregistered"), (BAD_DEVICE_TOKEN, 400, "BadDeviceToken")],
)
def test_a_dead_device_token_ends_the_registration(
    stamp_card, staff, apns_server, queued, committed, reply, status_code, reason
) -> None:
    stamp_card.merchant.language = "es"
    stamp_card.merchant.save(update_fields=["language"])
    wallet_pass = _held(stamp_card, apns_server)
    subscription = PushSubscription.objects.get(card=stamp_card)
    apns_server.reply_for(TOKEN, reply)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)

    push = _push(wallet_pass)
    assert (push.status, push.status_code, push.reason) == (
        UpdateStatus.EXPIRED,
        status_code,
        reason,
    )
    assert not AppleRegistration.objects.exists()
    subscription.refresh_from_db()
    assert subscription.expired_at is not None
    with translation.override("es"):
        expected = translation.gettext("Apple Wallet no longer holds the card (%(reason)s).")
    assert subscription.expired_reason == expected % {"reason": reason}
    assert Device.APPLE_WALLET not in Card.objects.get(pk=stamp_card.pk).devices


def test_a_dead_token_of_a_device_registered_again_since_keeps_the_new_registration(
    stamp_card, staff, apns_server, queued, committed, monkeypatch
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    apns_server.reply_for(TOKEN, UNREGISTERED)
    _changed(stamp_card, staff)
    # The device registers again, with a new token, while the old one is being pushed.
    original = apple.apns.push

    def push_then_reregister(**kwargs: Any) -> Any:
        answer = original(**kwargs)
        device_register(stamp_card, "device0", push_token(2))
        return answer

    monkeypatch.setattr(apple.apns, "push", push_then_reregister)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    assert AppleRegistration.objects.filter(device__push_token=push_token(2)).exists()
    assert PushSubscription.objects.get(card=stamp_card).expired_at is None


def test_too_many_requests_is_retried_after_retry_after_by_a_task(
    stamp_card, staff, apns_server, queued, committed
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    apns_server.reply_for(TOKEN, Reply(429, "TooManyRequests", retry_after="7"))
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)

    push = _push(wallet_pass)
    assert (push.status, push.status_code, push.attempts) == (UpdateStatus.RETRY, 429, 1)
    assert queued == [(apple.APPLE_PUSH_RETRY_TASK, (push.pk,), 7.0)]
    committed(tasks.apple_push_retry, push.pk)
    push.refresh_from_db()
    assert (push.status, push.status_code, push.attempts) == (UpdateStatus.SENT, 200, 2)
    assert len(apns_server.received()) == 2


def test_server_errors_back_off_exponentially_then_give_up(
    stamp_card, staff, apns_server, queued, committed, settings
) -> None:
    settings.WALLET_MAX_ATTEMPTS = 3
    settings.WALLET_BACKOFF_BASE = 10.0
    wallet_pass = _held(stamp_card, apns_server)
    apns_server.reply_for(TOKEN, SERVER_ERROR, TOO_MANY, SERVER_ERROR)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    push = _push(wallet_pass)
    committed(tasks.apple_push_retry, push.pk)
    committed(tasks.apple_push_retry, push.pk)

    countdowns = [countdown for _name, _args, countdown in queued]
    assert len(countdowns) == 2
    assert 8 <= countdowns[0] <= 12
    assert 16 <= countdowns[1] <= 24
    push.refresh_from_db()
    assert (push.status, push.status_code, push.attempts) == (UpdateStatus.FAILED, 500, 3)
    assert push.reason == "InternalServerError"
    assert AppleRegistration.objects.exists()


def test_a_duplicate_retry_task_sends_nothing(
    stamp_card, staff, apns_server, queued, committed
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    apns_server.reply_for(TOKEN, SERVER_ERROR)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    push = _push(wallet_pass)
    committed(tasks.apple_push_retry, push.pk)
    committed(tasks.apple_push_retry, push.pk)
    assert len(apns_server.received()) == 2
    push.refresh_from_db()
    assert (push.status, push.attempts) == (UpdateStatus.SENT, 2)


def test_another_refusal_fails_the_push_and_keeps_the_registration(
    stamp_card, staff, apns_server, queued, committed
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    apns_server.reply_for(TOKEN, Reply(403, "BadCertificateEnvironment"))
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    push = _push(wallet_pass)
    assert (push.status, push.status_code, push.reason) == (
        UpdateStatus.FAILED,
        403,
        "BadCertificateEnvironment",
    )
    assert queued == []
    assert AppleRegistration.objects.exists()


def test_a_connection_broken_off_is_retried(
    stamp_card, staff, apns_server, queued, committed
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    apns_server.reply_for(TOKEN, DROP)
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    push = _push(wallet_pass)
    assert push.status == UpdateStatus.RETRY
    committed(tasks.apple_push_retry, push.pk)
    push.refresh_from_db()
    assert push.status == UpdateStatus.SENT


def test_a_certificate_outside_the_pass_chain_is_refused_by_apns(
    stamp_card, staff, apns_server, queued, committed, settings, tmp_path
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    # Same pass type, another CA: APNs accepts only certificates Apple issued.
    rogue = tmp_path / "rogue"
    apple_test_credentials_create(rogue)
    settings.APPLE_PASS_CERTIFICATE = str(rogue / "apple-pass.pem")
    settings.APPLE_PASS_KEY = str(rogue / "apple-pass-key.pem")
    settings.APPLE_WWDR_CERTIFICATE = str(rogue / "apple-wwdr.pem")
    _changed(stamp_card, staff)
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)

    assert apns_server.received() == []
    # The stand-in's thread notes the refused handshake while the client already moves on.
    assert wait_until(lambda: apns_server.refused, timeout=5)
    assert _push(wallet_pass).status == UpdateStatus.RETRY


def test_the_retry_task_is_queued_under_its_registered_name() -> None:
    assert tasks.apple_push_retry.name == apple.APPLE_PUSH_RETRY_TASK
    assert apple.APPLE_PUSH_RETRY_TASK in celery_app.tasks


# ---------------------------------------------------------------------------------------------
# Messages from the Send push tab


def _send_message(card: Card, staff: Any, body: str) -> list[Delivery]:
    """The message goes through pushes' real dispatch and delivery, one pair at a time."""
    push_services.message_create(card=card, body=body, actor=staff)
    push_services.messages_dispatch_due()
    deliveries = list(Delivery.objects.filter(message__card=card).order_by("pk"))
    for delivery in deliveries:
        push_services.delivery_send(delivery_id=delivery.pk)
        delivery.refresh_from_db()
    return deliveries


def test_a_message_puts_its_text_on_the_pass_and_tells_each_device_once(
    stamp_card, staff, apns_server, queued, committed
) -> None:
    tokens = [push_token(1), push_token(2)]
    wallet_pass = _held(stamp_card, apns_server, *tokens)
    deliveries = _send_message(stamp_card, staff, "Free croissant today")

    assert [d.status for d in deliveries] == [DeliveryStatus.DELIVERED] * 2
    assert sorted(r.push_token for r in apns_server.received()) == sorted(tokens)
    wallet_pass.refresh_from_db()
    assert wallet_pass.message == "Free croissant today"
    assert wallet_pass.message_at is not None
    # One new version for the message, whatever the number of devices, already pushed.
    assert wallet_pass.version == 2
    assert wallet_pass.apple_pushed_version == 2
    committed(apple.apple_pass_notify, wallet_pass_id=wallet_pass.pk)
    assert len(apns_server.received()) == 2


def test_the_same_text_sent_again_later_is_a_new_version(
    stamp_card, staff, apns_server, queued
) -> None:
    wallet_pass = _held(stamp_card, apns_server)
    _send_message(stamp_card, staff, "See you soon")
    _send_message(stamp_card, staff, "See you soon")
    wallet_pass.refresh_from_db()
    assert wallet_pass.version == 3


@pytest.mark.parametrize(
    ("reply", "outcome", "status_code"),
    [
        (Reply(200), Outcome.DELIVERED, 200),
        (UNREGISTERED, Outcome.EXPIRED, 410),
        (BAD_DEVICE_TOKEN, Outcome.EXPIRED, 400),
        (Reply(429, "TooManyRequests", retry_after="30"), Outcome.RETRY, 429),
        (SERVER_ERROR, Outcome.RETRY, 500),
        (Reply(403, "InvalidProviderToken"), Outcome.FAILED, 403),
        (DROP, Outcome.UNKNOWN, None),
    ],
)
def test_the_message_channel_says_what_apns_answered(
    stamp_card, apns_server, queued, reply, outcome, status_code
) -> None:
    _held(stamp_card, apns_server)
    subscription = PushSubscription.objects.get(card=stamp_card)
    message = push_services.message_create(card=stamp_card, body="Hello", actor=None)
    apns_server.reply_for(TOKEN, reply)
    result = AppleWalletChannel().send(message, subscription)

    assert (result.outcome, result.status_code) == (outcome, status_code)
    if outcome == Outcome.RETRY and status_code == 429:
        assert result.retry_after == 30
    if outcome != Outcome.DELIVERED:
        assert result.detail
    assert AppleRegistration.objects.exists() is (outcome != Outcome.EXPIRED)


def test_the_message_channel_retries_when_apns_cannot_be_reached(
    stamp_card, apns_server, queued, settings
) -> None:
    _held(stamp_card, apns_server)
    subscription = PushSubscription.objects.get(card=stamp_card)
    message = push_services.message_create(card=stamp_card, body="Hello", actor=None)
    apns_server.stop()
    result = AppleWalletChannel().send(message, subscription)
    assert result.outcome == Outcome.RETRY


def test_a_device_that_left_before_its_message_is_expired(stamp_card, apns_server, queued) -> None:
    _held(stamp_card, apns_server)
    subscription = PushSubscription.objects.get(card=stamp_card)
    message = push_services.message_create(card=stamp_card, body="Hello", actor=None)
    AppleRegistration.objects.all().delete()
    result = AppleWalletChannel().send(message, subscription)
    assert result.outcome == Outcome.EXPIRED
    assert apns_server.received() == []
