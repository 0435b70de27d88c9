"""Fixtures of the push tests: the local push service and real Celery workers.

A worker is a real ``celery worker`` subprocess against the real broker (``REDIS_URL``) and
the pytest-django test database (passed as ``DATABASE_URL``), so the tests using it must be
``django_db(transaction=True)``: the worker only sees committed rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cards.models import Card
from loyalty.celery import app as celery_app
from pushes import services, vapid
from pushes.devinbox import InboxSubscription
from pushes.models import PushSubscription
from tests.pushes.push_service import PushService
from tests.pushes.support import FakeDNS, Worker
from tests.pushes.worker_settings import PUSH_SETTINGS


@pytest.fixture(autouse=True)
def push_settings(settings: Any) -> None:
    for name, value in PUSH_SETTINGS.items():
        setattr(settings, name, value)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """``fake_dns.set("push.example", "192.0.2.1")``: what chosen names resolve to."""
    return FakeDNS(monkeypatch)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService(vapid.public_key()) as service:
        yield service


@pytest.fixture
def subscribe(
    push_service: PushService,
) -> Callable[..., tuple[InboxSubscription, PushSubscription]]:
    """``subscribe(card, *replies)``: a browser subscribes the card through the real service."""

    def _subscribe(card: Card, *replies: Any) -> tuple[InboxSubscription, PushSubscription]:
        fake = push_service.subscribe(*replies)
        row = services.subscription_save(
            card=card,
            endpoint=fake.endpoint,
            p256dh=fake.p256dh,
            auth=fake.auth,
            user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36",
        )
        return fake, row

    return _subscribe


@pytest.fixture(scope="session")
def worker_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("celery")


@pytest.fixture
def start_worker(django_db_setup: Any, worker_logs: Path) -> Iterator[Callable[..., Worker]]:
    """``start_worker(pool="solo", concurrency=1)``; every worker is stopped afterwards."""
    workers: list[Worker] = []
    celery_app.control.purge()

    def _start(**kwargs: Any) -> Worker:
        worker = Worker(worker_logs, **kwargs)
        workers.append(worker)
        return worker

    yield _start
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="module")
def celery_worker(
    django_db_setup: Any, django_db_blocker: Any, worker_logs: Path
) -> Iterator[Worker]:
    """One prefork worker (two processes) shared by a module's tests."""
    celery_app.control.purge()
    worker = Worker(worker_logs)
    yield worker
    worker.stop()
