"""One message from the Send push tab reaches a card held three ways (a browser with
notifications on, Apple Wallet, Google Wallet), each exactly once, however often the
dispatcher and the send tasks run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards.models import Card, Device
from pushes import services as push_services
from pushes import vapid
from pushes.models import Channel, Delivery, DeliveryStatus, MessageStatus, PushMessage
from tests.pushes.push_service import PushService
from tests.wallet.apns_fixtures import device_register, push_token
from tests.wallet.apns_server import APNsServer
from tests.wallet.apple_fixtures import pkpass_files
from tests.wallet.google_api import GoogleWalletStandIn
from tests.wallet.google_fixtures import saved_to_google
from wallet.models import GoogleObject

pytestmark = pytest.mark.django_db

ANDROID_CHROME = "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36"


@pytest.fixture
def push_service(settings: Any) -> Iterator[PushService]:
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True  # the local push service speaks http
    with PushService(vapid.public_key()) as service:
        yield service


def _send_everything_twice(message: PushMessage) -> list[Delivery]:
    """The dispatcher twice, then every pair's task twice: a beat restart and a redelivered
    task, as the worker could see them."""
    push_services.messages_dispatch_due()
    push_services.messages_dispatch_due()
    for _ in range(2):
        for delivery in Delivery.objects.filter(message=message).order_by("id"):
            push_services.delivery_send(delivery_id=delivery.pk)
    return list(Delivery.objects.filter(message=message).select_related("subscription"))


def test_a_message_reaches_a_browser_an_iphone_and_google_wallet_once_each(
    stamp_card: Card,
    staff_client: Client,
    client: Client,
    push_service: PushService,
    apns_server: APNsServer,
    google_api: GoogleWalletStandIn,
    queued: Any,
    settings: Any,
) -> None:
    browser = push_service.subscribe()
    push_services.subscription_save(
        card=stamp_card,
        endpoint=browser.endpoint,
        p256dh=browser.p256dh,
        auth=browser.auth,
        user_agent=ANDROID_CHROME,
    )
    iphone_token = push_token(7)
    wallet_pass = device_register(stamp_card, "iphone-of-ada", iphone_token)
    google_object: GoogleObject = saved_to_google(client, stamp_card, google_api)
    stamp_card.refresh_from_db()
    assert {Device.APPLE_WALLET, Device.GOOGLE_WALLET} <= set(stamp_card.devices)

    response = staff_client.post(
        reverse("pushes:tab", args=[stamp_card.serial]),
        {"card": stamp_card.serial, "body": "Double stamps this weekend"},
    )
    assert response.status_code == 302
    message = PushMessage.objects.get(card=stamp_card)
    deliveries = _send_everything_twice(message)

    assert sorted(d.subscription.channel for d in deliveries) == sorted(
        [Channel.WEB_PUSH, Channel.APPLE_WALLET, Channel.GOOGLE_WALLET]
    )
    assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    # The browser: one encrypted push with the text.
    (received,) = push_service.received_for(browser)
    assert received.payload is not None
    assert received.payload["body"] == "Double stamps this weekend"
    # Google Wallet: one message on the object, with a notification.
    (added,) = google_api.api_requests("POST", "/addMessage")
    assert google_object.object_id in added.path
    # Apple Wallet: one push to the iPhone, whose next download carries the text in a field
    # Wallet announces on the lock screen.
    (pushed,) = [r for r in apns_server.received() if r.path == f"/3/device/{iphone_token}"]
    assert pushed.headers["apns-topic"] == settings.APPLE_PASS_TYPE_ID
    fetched = client.get(
        reverse("passkit:latest_pass", args=[settings.APPLE_PASS_TYPE_ID, stamp_card.serial]),
        headers={"Authorization": f"ApplePass {wallet_pass.authentication_token}"},
    )
    content = json.loads(pkpass_files(fetched.content)["pass.json"])
    fields = [f for group in content["storeCard"].values() for f in group]
    (news,) = [f for f in fields if f["key"] == "message"]
    assert news["value"] == "Double stamps this weekend"
    assert "%@" in news["changeMessage"]
