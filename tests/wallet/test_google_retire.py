"""A replaced card link withdraws the card from whoever saved it to Google Wallet through the
old link: its object is made INACTIVE at Google, and the new link saves a new object."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from cards import services as card_services
from cards.models import Card, Device
from cards.services import LinkRotation
from pushes.channels import Outcome
from pushes.models import PushMessage
from tests.wallet.google_api import GoogleWalletStandIn
from tests.wallet.google_fixtures import TEST_ISSUER, save_link_of, saved_to_google
from wallet import tasks
from wallet.models import GoogleObject, GoogleUpdate, UpdateStatus
from wallet.services import google as google_services
from wallet.services.google import UPDATE_RETRY_TASK

pytestmark = pytest.mark.django_db

Queued = list[tuple[str, tuple[Any, ...], float]]


@pytest.fixture
def held(google_api: GoogleWalletStandIn, client: Client, stamp_card: Card) -> GoogleObject:
    return saved_to_google(client, stamp_card, google_api)


def _run(queued: Queued) -> None:
    """What the worker does with what was queued."""
    while queued:
        name, args, _countdown = queued.pop(0)
        getattr(tasks, name.rsplit(".", 1)[1])(*args)


def test_replacing_the_link_makes_the_saved_object_inactive_at_google(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        card_services.card_rotate_link(card=stamp_card, actor=None, reason=LinkRotation.CARD_PAGE)

    _run(queued)

    assert google_api.objects[held.object_id]["state"] == "INACTIVE"
    held.refresh_from_db()
    assert held.retired_at is not None
    assert not held.subscription.is_active


def test_a_retired_object_is_withdrawn_and_the_new_link_saves_a_new_one(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    client: Client,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        card = card_services.card_rotate_link(
            card=stamp_card, actor=None, reason=LinkRotation.CARD_PAGE
        )
        google_services.google_object_retire(card=card)
    assert Device.GOOGLE_WALLET not in Card.objects.get(pk=card.pk).devices
    assert (UPDATE_RETRY_TASK, (GoogleUpdate.objects.get().pk,), 0) in queued

    _run(queued)

    (withdrawal,) = google_api.object_patches(held.object_id)
    assert withdrawal.body == {"state": "INACTIVE"}
    assert GoogleUpdate.objects.get().status == UpdateStatus.SENT
    held.refresh_from_db()
    assert held.retired_at is not None
    assert held.subscription.expired_reason == "The card's link was replaced."

    renewed = saved_to_google(client, card, google_api)

    assert renewed.object_id == f"{TEST_ISSUER}.{card.serial.replace('-', '')}-1"
    assert renewed.subscription.is_active
    assert google_api.objects[renewed.object_id]["state"] == "ACTIVE"
    assert Device.GOOGLE_WALLET in Card.objects.get(pk=card.pk).devices


def test_a_retired_object_gets_no_more_updates_or_messages(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        google_services.google_object_retire(card=stamp_card)
    _run(queued)
    requests_before = len(google_api.api_requests())
    with django_capture_on_commit_callbacks(execute=True):
        card_services.card_add_stamps(card=stamp_card, value="2", actor=None)
    _run(queued)
    message = PushMessage.objects.create(
        merchant=stamp_card.merchant, card=stamp_card, body="Hello", send_at=held.created_at
    )

    result = google_services.google_message_send(message=message, subscription=held.subscription)

    assert result.outcome == Outcome.EXPIRED
    assert len(google_api.api_requests()) == requests_before


def test_withdrawing_an_object_google_never_had_needs_nothing_more(
    google_api: GoogleWalletStandIn,
    client: Client,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    save_link_of(client, stamp_card)
    with django_capture_on_commit_callbacks(execute=True):
        google_services.google_object_retire(card=stamp_card)

    _run(queued)

    update = GoogleUpdate.objects.get()
    assert (update.status, update.status_code) == (UpdateStatus.SENT, 404)
