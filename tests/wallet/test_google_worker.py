"""End to end with a real Celery worker: a stamp added in the dashboard reaches the object at
Google (the stand-in) through the real broker, the worker fetching its own OAuth token with
the service account key it reads from its environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from cards import services as card_services
from cards.models import Card
from loyalty.celery import app as celery_app
from tests.pushes.support import Worker, wait_until
from tests.wallet.google_api import GoogleWalletStandIn
from tests.wallet.google_fixtures import saved_to_google
from wallet.models import GoogleUpdate, UpdateStatus

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(
    google_api: GoogleWalletStandIn,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    django_db_setup: Any,
) -> Iterator[Worker]:
    # The worker reads the same Google settings from its environment, as a deployment does.
    monkeypatch.setenv("GOOGLE_WALLET_ISSUER_ID", django_settings.GOOGLE_WALLET_ISSUER_ID)
    monkeypatch.setenv(
        "GOOGLE_WALLET_SERVICE_ACCOUNT_FILE", django_settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE
    )
    monkeypatch.setenv("GOOGLE_WALLET_API_URL", django_settings.GOOGLE_WALLET_API_URL)
    monkeypatch.setenv("MEDIA_ROOT", str(django_settings.MEDIA_ROOT))
    celery_app.control.purge()
    started = Worker(tmp_path, pool="solo", concurrency=1)
    yield started
    started.stop()


def test_a_stamp_reaches_google_wallet_through_the_worker(
    worker: Worker, google_api: GoogleWalletStandIn, client: Client, stamp_card: Card
) -> None:
    held = saved_to_google(client, stamp_card, google_api)

    for _ in range(3):
        card_services.card_add_stamps(card=stamp_card, value="2", actor=None)

    def patched() -> Any:
        """the object was patched with the last balance"""
        balance = google_api.objects[held.object_id]["loyaltyPoints"]["balance"]
        return balance == {"string": "6/10"}

    wait_until(patched, timeout=30)
    wait_until(lambda: GoogleUpdate.objects.filter(status=UpdateStatus.SENT).exists())
    patch = google_api.object_patches(held.object_id)[-1]
    assert patch.bearer in google_api.tokens
    # The worker fetched a token of its own with the key (the web process had one already).
    assert len(google_api.token_grants) >= 2
    assert "Traceback" not in worker.output()
