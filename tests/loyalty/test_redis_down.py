"""With Redis down (the rate limiter's cache and Celery's broker), the public forms still answer
and queued work still gets done.

"Down" is what a stopped Redis looks like to the app: both the cache and the broker point at a
local port where nothing listens, so every connection is refused.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import socket
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from cards import services as card_services
from cards.models import Card, CardStatus, Program
from customers import services as customer_services
from customers.models import Customer, SegmentChange
from customers.segments import segments_recompute
from customers.tasks import recompute_merchant_segments
from feedback.models import Feedback
from loyalty import clock, ratelimit
from loyalty.celery import app as celery_app
from loyalty.models import Merchant
from pushes.models import PushSubscription
from tests.factories import CustomerFactory, issue_card

NOW = datetime.datetime(2026, 6, 15, 10, 30, tzinfo=datetime.UTC)


def _closed_port() -> int:
    """A local port nothing listens on (bound once to pick it, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_down(settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": url},
    }
    # The app keeps its broker connection pools once made: forget them (as Celery itself does
    # after a fork) so the next publish connects to the dead broker; restored afterwards.
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    return url


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def test_the_dead_redis_really_refuses(redis_down: str) -> None:
    with pytest.raises(RedisConnectionError):
        cache.get("anything")
    with pytest.raises(OperationalError, match="refused"):
        recompute_merchant_segments.delay(0)


@pytest.mark.django_db
def test_joining_works_and_is_still_limited(
    redis_down: str, logged: Any, client: Client, stamp_program: Program
) -> None:
    url = reverse("public:join", args=[stamp_program.join_token])
    person = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}

    response = client.post(url, person)

    assert response.status_code == 302
    assert Card.objects.filter(customer__email="ada@example.com").exists()
    assert "Rate-limit cache unreachable" in logged.text
    # Counted in the process meanwhile: one address still cannot join without end.
    for _ in range(19):
        assert client.post(url, {**person, "email": "bad"}).status_code == 422
    assert client.post(url, {**person, "email": "bob@example.com"}).status_code == 429
    assert logged.text.count("Rate-limit cache unreachable") == 1  # once per outage


def test_the_in_process_counters_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    counters = ratelimit._LocalCounters()
    monkeypatch.setattr(counters, "MAX_KEYS", 3)
    rule = ratelimit.Limit("scope", limit=5, window=60)

    for identity in range(10):
        counters.count(rule, f"visitor-{identity}", bucket=int(time.time()) // 60)

    assert len(counters._counts) <= 3


@pytest.mark.django_db
def test_rating_a_visit_works(redis_down: str, client: Client, stamp_program: Program) -> None:
    card = issue_card(stamp_program)
    card_services.card_add_transaction_amount(card=card, value="12", actor=None)

    response = client.post(
        reverse("public:card_feedback", args=[card.install_token]), {"rating": "5"}
    )

    assert response.status_code == 302
    assert Feedback.objects.filter(card=card, rating=5).exists()


@pytest.mark.django_db
def test_marking_the_card_installed_works(
    redis_down: str, client: Client, stamp_program: Program
) -> None:
    card = issue_card(stamp_program)

    response = client.post(reverse("public:card_installed", args=[card.install_token]))

    assert response.status_code == 204
    card.refresh_from_db()
    assert card.status == CardStatus.INSTALLED


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.django_db
def test_subscribing_to_pushes_works(
    redis_down: str, settings: Any, client: Client, stamp_program: Program
) -> None:
    # A local endpoint, so the test needs no DNS (nothing is sent to it).
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True
    card = issue_card(stamp_program)
    subscription = {
        "endpoint": "http://127.0.0.1:9/push/abc",
        "keys": {"p256dh": _b64(b"\x04" + os.urandom(64)), "auth": _b64(os.urandom(16))},
    }

    response = client.post(
        reverse("pushes_public:subscribe", args=[card.install_token]),
        json.dumps(subscription),
        content_type="application/json",
    )

    assert response.status_code == 201
    assert PushSubscription.objects.filter(card=card).exists()


def _crowd(merchant: Merchant) -> None:
    """Five customers whose segments move under the thresholds the tests save."""
    for visits, days_ago in ((0, None), (2, 10), (5, 45), (9, 75), (9, 100)):
        last = None if days_ago is None else NOW - datetime.timedelta(days=days_ago)
        CustomerFactory(merchant=merchant, total_visits=visits, last_visit_at=last)
    segments_recompute(merchant=merchant, now=NOW)


THRESHOLDS = {
    "recency_band_1": 7,
    "recency_band_2": 14,
    "recency_band_3": 200,
    "frequency_band_1": 1,
    "frequency_band_2": 4,
    "save": "1",
}


# Committed for real, so the recompute queued after the commit runs inside the request.
@pytest.mark.django_db(transaction=True)
def test_new_thresholds_of_a_large_merchant_still_move_its_customers(
    redis_down: str, logged: Any, owner_client: Client, merchant: Merchant, monkeypatch: Any
) -> None:
    monkeypatch.setattr(customer_services, "INLINE_SEGMENT_RECOMPUTE_LIMIT", 0)
    with clock.frozen_at(NOW):
        _crowd(merchant)
        before = SegmentChange.objects.count()

        response = owner_client.post(reverse("settings:segments"), THRESHOLDS)

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.recency_band_1, merchant.frequency_band_2) == (7, 4)
    # The broker refused the task, so the recompute ran in the request instead.
    assert SegmentChange.objects.count() == before + 3
    assert "Broker unreachable" in logged.text


@pytest.mark.django_db(transaction=True)
def test_the_recompute_button_still_recomputes(
    redis_down: str, owner_client: Client, merchant: Merchant
) -> None:
    with clock.frozen_at(NOW):
        _crowd(merchant)
        Customer.objects.filter(merchant=merchant).update(segment="no_visits")

        response = owner_client.post(reverse("customers:segments_recompute"))

    assert response.status_code == 302
    assert Customer.objects.filter(merchant=merchant).exclude(segment="no_visits").count() == 4


@pytest.mark.django_db
def test_a_signed_in_merchant_keeps_working_when_the_session_cache_is_down(
    staff_client: Client, stamp_card: Card, redis_down: str, logged: Any
) -> None:
    # The session was written to the cache and the database at sign-in; now only the
    # database answers.
    profile = reverse("cards:profile", args=[stamp_card.serial])

    assert staff_client.get(profile).status_code == 200
    assert staff_client.post(reverse("logout")).status_code == 302
    assert staff_client.get(profile).status_code == 302  # signed out: off to the login page
    assert "Session cache unavailable" in logged.text


@pytest.mark.django_db
def test_signing_in_works_with_the_session_cache_down(
    redis_down: str, staff: Any, stamp_card: Card, settings: Any
) -> None:
    settings.AXES_ENABLED = False  # the lockout store is the cache too; not what is tested
    client = Client()
    staff.set_password("a long pass phrase")
    staff.save()

    response = client.post(
        reverse("login"), {"username": staff.username, "password": "a long pass phrase"}
    )

    assert response.status_code == 302
    profile = reverse("cards:profile", args=[stamp_card.serial])
    assert client.get(profile).status_code == 200
