"""The card page's side: subscribing a device, and what the card page shows of pushes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import services as card_services
from cards.models import Card
from loyalty import ratelimit
from pushes import services, vapid
from pushes.models import Delivery, DeliveryStatus, PushSubscription
from tests.factories import issue_card
from tests.pushes.push_service import PushService
from tests.pushes.support import FakeDNS

pytestmark = pytest.mark.django_db

ANDROID = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36"


@pytest.fixture(autouse=True)
def fresh_limits() -> None:
    ratelimit.reset()


@pytest.fixture
def card(stamp_program: Any) -> Card:
    return issue_card(stamp_program)


@pytest.fixture
def browser() -> Client:
    """A phone's browser: CSRF is enforced as in production."""
    return Client(enforce_csrf_checks=True, headers={"User-Agent": ANDROID})


def _url(card: Card) -> str:
    return reverse("pushes_public:subscribe", args=[card.install_token])


def _post(browser: Client, card: Card, data: dict[str, Any], token: str | None = None) -> Any:
    if token is None:
        token = browser.get(_url(card)).json()["csrf_token"]
    return browser.post(
        _url(card),
        json.dumps(data),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )


def test_the_page_gets_the_sites_vapid_key_and_a_csrf_token(browser: Client, card: Card) -> None:
    response = browser.get(_url(card))

    assert response.status_code == 200
    assert response.json()["vapid_public_key"] == vapid.public_key()
    assert response.json()["csrf_token"]
    assert "csrftoken" in response.cookies
    assert "no-store" in response["Cache-Control"]


def test_a_device_subscribes_with_a_csrf_protected_post(
    browser: Client, card: Card, push_service: PushService
) -> None:
    fake = push_service.subscribe()

    refused = _post(browser, card, fake.as_json(), token="")
    assert refused.status_code == 403
    response = _post(browser, card, fake.as_json())

    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert (subscription.card, subscription.endpoint) == (card, fake.endpoint)
    assert (subscription.p256dh, subscription.auth) == (fake.p256dh, fake.auth)
    assert subscription.device_label == "Chrome on Android"


def test_subscribing_again_refreshes_the_same_device(
    browser: Client, card: Card, push_service: PushService
) -> None:
    fake = push_service.subscribe()
    _post(browser, card, fake.as_json())
    subscription = PushSubscription.objects.get()
    services.subscription_expire(subscription=subscription, reason="410")
    renewed = push_service.subscribe()
    data = {**fake.as_json(), "keys": renewed.as_json()["keys"]}

    assert _post(browser, card, data).status_code == 201

    subscription.refresh_from_db()
    assert PushSubscription.objects.count() == 1
    assert subscription.is_active
    assert subscription.p256dh == renewed.p256dh


def test_a_replaced_subscription_stops_receiving(
    browser: Client, card: Card, push_service: PushService
) -> None:
    old, new = push_service.subscribe(), push_service.subscribe()
    _post(browser, card, old.as_json())

    response = _post(browser, card, {**new.as_json(), "old_endpoint": old.endpoint})

    assert response.status_code == 201
    active = PushSubscription.objects.filter(expired_at__isnull=True)
    assert [s.endpoint for s in active] == [new.endpoint]
    assert PushSubscription.objects.get(endpoint=old.endpoint).expired_reason.startswith("Replaced")


def test_one_card_can_have_several_devices(
    browser: Client, card: Card, push_service: PushService
) -> None:
    for _ in range(3):
        assert _post(browser, card, push_service.subscribe().as_json()).status_code == 201
    assert card.push_subscriptions.filter(expired_at__isnull=True).count() == 3


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"keys": {"p256dh": "short", "auth": "tBHItJI5svbpez7KI4CCXg"}}, "invalid push key"),
        ({"keys": {"auth": "tBHItJI5svbpez7KI4CCXg"}}, "invalid push key"),
        ({"endpoint": "http://push.example.com/x"}, "must be an https URL"),
        ({"endpoint": "https://10.0.0.8/x"}, "must be a public host"),
        ({"endpoint": "https://127.0.0.1:8000/x"}, "must be a public host"),
        ({"endpoint": ""}, "must be an https URL"),
    ],
)
def test_a_bad_subscription_is_refused(
    browser: Client,
    card: Card,
    push_service: PushService,
    settings: Any,
    fake_dns: FakeDNS,
    change: dict[str, Any],
    error: str,
) -> None:
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False  # production: https push services only
    fake_dns.set("fcm.googleapis.com", "142.250.74.42")
    fake = push_service.subscribe()
    data = {**fake.as_json(), "endpoint": "https://fcm.googleapis.com/fcm/send/abc", **change}

    response = _post(browser, card, data)

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_a_body_that_is_not_json_is_refused(browser: Client, card: Card) -> None:
    token = browser.get(_url(card)).json()["csrf_token"]
    response = browser.post(
        _url(card), "endpoint=x", content_type="text/plain", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400


def test_a_deleted_card_takes_no_subscription(
    browser: Client, card: Card, push_service: PushService
) -> None:
    token = browser.get(_url(card)).json()["csrf_token"]
    card_services.card_delete(card=card, actor=None)

    assert browser.get(_url(card)).status_code == 410
    assert _post(browser, card, push_service.subscribe().as_json(), token=token).status_code == 410
    assert not PushSubscription.objects.exists()


def test_an_unknown_card_is_not_found(browser: Client) -> None:
    assert browser.get("/c/not-a-real-token/push/subscribe/").status_code == 404


def test_subscribing_is_rate_limited_per_card(
    browser: Client, card: Card, push_service: PushService
) -> None:
    token = browser.get(_url(card)).json()["csrf_token"]
    statuses = [
        _post(browser, card, push_service.subscribe().as_json(), token=token).status_code
        for _ in range(31)
    ]
    assert statuses == [201] * 30 + [429]


def test_the_card_page_offers_notifications_and_shows_the_last_message(
    client: Client, card: Card, subscribe: Any
) -> None:
    subscribe(card)
    message = services.message_create(card=card, body="Croissants are out of the oven", actor=None)
    services.messages_dispatch_due()
    Delivery.objects.filter(message=message).update(status=DeliveryStatus.DELIVERED)

    page = client.get(reverse("public:card", args=[card.install_token])).content.decode()

    assert 'data-action="enable_push"' in page
    assert f'data-subscribe-url="{_url(card)}"' in page
    assert "/static/card/push.js" in page
    assert "Croissants are out of the oven" in page
