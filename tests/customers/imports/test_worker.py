"""A large import through a real Celery worker: checked on the worker, then applied, with the
worker killed in the middle of the apply. The apply is one transaction, so the kill leaves no
half import; the page puts the job back, and applying it again imports everything once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from cards.models import Card, LedgerEntry, Program
from customers.imports import services
from customers.models import Customer, ImportJob, ImportStatus
from loyalty.celery import app as celery_app
from tests.pushes.support import Worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = 30_000


@pytest.fixture
def workers(django_db_setup: Any, tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    """``workers()`` starts a real worker (solo pool); each is stopped at the end."""
    started: list[Worker] = []
    celery_app.control.purge()

    def _start() -> Worker:
        worker = Worker(tmp_path, pool="solo", concurrency=1)
        started.append(worker)
        return worker

    yield _start
    for worker in started:
        worker.stop()


def big_file() -> str:
    lines = ["First name,Last name,Email,Stamps,Visits"]
    lines += [f"Guest,{n},guest{n}@example.com,{n % 9},{n % 20}" for n in range(ROWS)]
    return "\n".join(lines) + "\n"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def status_of(job: ImportJob) -> str:
    return ImportJob.objects.values_list("status", flat=True).get(pk=job.pk)


def crm_counts() -> tuple[int, int, int]:
    return Customer.objects.count(), Card.objects.count(), LedgerEntry.objects.count()


def test_a_worker_killed_mid_import_leaves_nothing_and_the_import_can_be_applied_again(
    stamp_program: Program,
    upload: Callable[..., ImportJob],
    owner: Any,
    workers: Callable[[], Worker],
) -> None:
    before = crm_counts()
    job = upload(stamp_program, big_file())
    worker = workers()

    job = services.import_map(job=job, mapping=job.mapping, actor=owner)
    wait_for(lambda: status_of(job) == ImportStatus.CHECKED, "the worker's check")
    job.refresh_from_db()
    assert (job.new_customers, job.invalid_rows) == (ROWS, 0)

    services.import_apply_request(job=job, actor=owner)
    progress = services.PROGRESS_KEY.format(job=job.pk)
    wait_for(lambda: int(cache.get(progress) or 0) > 0, "the first rows written")
    worker.kill()

    assert crm_counts() == before
    job.refresh_from_db()
    assert job.status == ImportStatus.APPLYING
    assert services.import_recover(job=job)
    job.refresh_from_db()
    assert (job.status, job.failure) == (ImportStatus.CHECKED, "interrupted")

    workers()
    services.import_apply_request(job=job, actor=owner)
    wait_for(lambda: status_of(job) == ImportStatus.APPLIED, "the second apply", timeout=120)

    assert Customer.objects.count() == before[0] + ROWS
    assert Card.objects.filter(program=stamp_program).count() == before[1] + ROWS
    # The import analyzed its own tables; the rest of the suite's tables may still have the
    # statistics of an empty database, on which verify_ledger's fold is planned badly.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "cards match their ledger" in out.getvalue()
