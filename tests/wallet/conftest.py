"""Fixtures of the wallet tests: test credentials, the local APNs and Google Wallet stand-ins,
and the tasks the services queue."""

from typing import Any

import pytest

from loyalty.celery import app as celery_app
from tests.wallet.apns_fixtures import apns_server  # noqa: F401
from tests.wallet.apple_fixtures import apple_credentials  # noqa: F401
from tests.wallet.google_fixtures import (  # noqa: F401
    google_api,
    google_credentials,
    google_stand_in,
)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], float]]:
    """The tasks handed to the broker, with their countdown: the tests run each task
    themselves, when they choose (the worker tests run the real broker)."""
    sent: list[tuple[str, tuple[Any, ...], float]] = []

    def send_task(name: str, args: tuple[Any, ...] = (), countdown: float = 0, **kw: Any) -> None:
        sent.append((name, tuple(args), countdown))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return sent
