"""A message from the Send push tab reaches a card saved in Google Wallet as a message added to
its object (``addMessage``, with a notification), and what each answer means for delivery."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from cards.models import Card
from pushes import services as push_services
from pushes.channels import Outcome
from pushes.models import Delivery, DeliveryStatus, MessageStatus, PushMessage
from tests.wallet.google_api import HANG_UP, GoogleWalletStandIn
from tests.wallet.google_fixtures import save_link_of, saved_to_google
from wallet.models import GoogleObject
from wallet.services import google as google_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(google_api: GoogleWalletStandIn, client: Client, stamp_card: Card) -> GoogleObject:
    return saved_to_google(client, stamp_card, google_api)


def _message(card: Card, body: str = "Double stamps today!") -> PushMessage:
    return push_services.message_create(card=card, body=body, actor=None)


def _send(message: PushMessage, google_object: GoogleObject) -> Any:
    return google_services.google_message_send(
        message=message, subscription=google_object.subscription
    )


def test_a_message_from_the_push_tab_is_added_to_the_object_with_a_notification(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = _message(stamp_card, "Free croissant with your 5th coffee ☕")
    with django_capture_on_commit_callbacks(execute=True):
        push_services.messages_dispatch_due()
    delivery = Delivery.objects.get(message=message)

    status = push_services.delivery_send(delivery_id=delivery.pk)

    assert status == DeliveryStatus.DELIVERED
    (request,) = google_api.api_requests("POST", "/addMessage")
    assert request.bearer in google_api.tokens
    assert google_api.objects[held.object_id]["messages"] == [
        {
            "header": "Demo Coffee",
            "body": "Free croissant with your 5th coffee ☕",
            "id": f"m{message.pk}",
            "messageType": "TEXT_AND_NOTIFY",
        }
    ]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_message_to_an_object_google_never_had_expires_the_subscription(
    google_api: GoogleWalletStandIn,
    client: Client,
    stamp_card: Card,
    queued: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    save_link_of(client, stamp_card)  # tapped, never saved
    message = _message(stamp_card)
    with django_capture_on_commit_callbacks(execute=True):
        push_services.messages_dispatch_due()
    delivery = Delivery.objects.get(message=message)

    assert push_services.delivery_send(delivery_id=delivery.pk) == DeliveryStatus.EXPIRED

    google_object = GoogleObject.objects.get()
    google_object.subscription.refresh_from_db()
    assert not google_object.subscription.is_active
    # Saving it again (from the card page) makes messages reach it again.
    save_link_of(client, stamp_card)
    google_object.subscription.refresh_from_db()
    assert google_object.subscription.is_active


@pytest.mark.parametrize(
    ("status", "times", "outcome"),
    [
        (429, 1, Outcome.RETRY),
        (500, 1, Outcome.RETRY),
        (503, 1, Outcome.RETRY),
        # The request, then twice again with a fresh token: still refused.
        (401, 3, Outcome.RETRY),
        (400, 1, Outcome.FAILED),
        (403, 1, Outcome.FAILED),
        (404, 1, Outcome.EXPIRED),
    ],
)
def test_what_each_answer_means_for_the_delivery(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    status: int,
    times: int,
    outcome: Outcome,
) -> None:
    google_api.answer_next(status, times=times, retry_after="7", path_contains="addMessage")

    result = _send(_message(stamp_card), held)

    assert (result.outcome, result.status_code) == (outcome, status)
    if outcome == Outcome.RETRY:
        assert result.retry_after == 7
    assert "messages" not in google_api.objects[held.object_id]


def test_a_401_fixed_by_a_fresh_token_delivers_once(
    held: GoogleObject, google_api: GoogleWalletStandIn, stamp_card: Card
) -> None:
    google_api.revoke_tokens()

    result = _send(_message(stamp_card), held)

    assert result.outcome == Outcome.DELIVERED
    assert [r.status for r in google_api.api_requests("POST", "/addMessage")] == [401, 200]
    assert len(google_api.objects[held.object_id]["messages"]) == 1


def test_a_message_sent_but_not_answered_is_unknown_and_not_resent(
    held: GoogleObject, google_api: GoogleWalletStandIn, stamp_card: Card
) -> None:
    google_api.answer_next(HANG_UP, path_contains="addMessage")

    result = _send(_message(stamp_card), held)

    assert result.outcome == Outcome.UNKNOWN
    assert "not resent" in result.detail
    assert len(google_api.api_requests("POST", "/addMessage")) == 1


def test_google_out_of_reach_is_retried_since_nothing_left(
    held: GoogleObject, stamp_card: Card, settings: Any
) -> None:
    settings.GOOGLE_WALLET_API_URL = "http://127.0.0.1:9/walletobjects/v1"

    result = _send(_message(stamp_card), held)

    assert (result.outcome, result.status_code) == (Outcome.RETRY, None)


def test_the_same_message_sent_twice_is_on_the_card_once(
    held: GoogleObject, google_api: GoogleWalletStandIn, stamp_card: Card
) -> None:
    message = _message(stamp_card)

    first, second = _send(message, held), _send(message, held)

    assert (first.outcome, second.outcome) == (Outcome.DELIVERED, Outcome.DELIVERED)
    assert len(google_api.objects[held.object_id]["messages"]) == 1


def test_the_holder_is_noted_from_the_answer(
    held: GoogleObject, google_api: GoogleWalletStandIn, stamp_card: Card
) -> None:
    GoogleObject.objects.filter(pk=held.pk).update(has_users=None)

    _send(_message(stamp_card), held)

    held.refresh_from_db()
    assert held.has_users is True
