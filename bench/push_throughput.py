"""Push throughput: 10,000 pushes through the real pipeline to the local push service.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/loyalty \\
    REDIS_URL=redis://127.0.0.1:6379/5 \\
    .venv/bin/python bench/push_throughput.py [--pushes 10000] [--workers 2] [--verify-every 50]

It creates a scratch database next to DATABASE_URL's (``<name>_pushbench``, dropped at the
end unless ``--keep``), 10,000 cards with one subscribed device each and one due message per
card, starts a Celery worker with ``--workers`` processes against REDIS_URL, runs the beat
tick here until every message is claimed, and times until every pair is final. The local
push service (tests/pushes/push_service.py) answers 201 and fully checks one request in
``--verify-every`` (VAPID signature, headers, decryption), so it is not what is measured.

Prints sends per second in total and per worker process. Purges REDIS_URL's default queue:
point it at a Redis database nothing else uses.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import django
import psycopg
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _scratch_database(url: str) -> tuple[str, str]:
    """(admin URL, scratch URL): the scratch database sits on the same server."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "loyalty"
    admin = urlunsplit(parts._replace(path="/postgres"))
    scratch = urlunsplit(parts._replace(path=f"/{name}_pushbench"))
    return admin, scratch


def _recreate(admin_url: str, scratch_url: str, *, drop_only: bool = False) -> None:
    name = urlsplit(scratch_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django(scratch_url: str) -> None:
    os.environ["DATABASE_URL"] = scratch_url
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    # The local push service is plain http on 127.0.0.1; the worker inherits this too.
    os.environ["PUSH_ALLOW_PRIVATE_ENDPOINTS"] = "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "loyalty.settings"
    django.setup()
    call_command("migrate", verbosity=0)


def _create_data(count: int, service: object) -> None:
    """Cards, devices and due messages in bulk: setting the stage is not what is timed."""
    # Project modules load only after _setup_django(): models need Django's app registry.
    from cards.models import Card, CardStatus, Device, Program, ProgramKind
    from loyalty.models import Merchant
    from pushes.models import PushMessage, PushSubscription

    merchant = Merchant.objects.create(name="Bench Coffee", slug=f"bench-{uuid.uuid4().hex[:8]}")
    program = Program.objects.create(
        merchant=merchant, name="Bench card", kind=ProgramKind.STAMP, spend_per_stamp=10
    )
    cards = Card.objects.bulk_create(
        [
            Card(
                merchant=merchant,
                program=program,
                holder_name=f"Customer {n}",
                status=CardStatus.INSTALLED,
                devices=[Device.PWA],
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    fakes = [service.subscribe() for _ in range(count)]  # type: ignore[attr-defined]
    PushSubscription.objects.bulk_create(
        [
            PushSubscription(
                merchant=merchant,
                card=card,
                endpoint=fake.endpoint,
                p256dh=fake.p256dh,
                auth=fake.auth,
                user_agent="bench",
            )
            for card, fake in zip(cards, fakes, strict=True)
        ],
        batch_size=2000,
    )
    now = timezone.now()
    PushMessage.objects.bulk_create(
        [
            PushMessage(
                merchant=merchant,
                card=card,
                body=f"Offer number {n}: a free coffee ☕",
                send_at=now,
            )
            for n, card in enumerate(cards)
        ],
        batch_size=2000,
    )


def _start_worker(processes: int, scratch_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": scratch_url,
        "DJANGO_SETTINGS_MODULE": "loyalty.settings",
        "PYTHONPATH": str(ROOT),
        "CELERY_SKIP_CHECKS": "1",
        # Long-running workers keep their database connection, as in production.
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "600"),
    }
    celery = ROOT / ".venv" / "bin" / "celery"
    args = [
        str(celery), "-A", "loyalty", "worker", "--pool=prefork", f"--concurrency={processes}",
        f"--loglevel={os.environ.get('BENCH_LOGLEVEL', 'WARNING')}",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-n", f"pushbench-{uuid.uuid4().hex[:6]}@%h",
    ]  # fmt: skip
    return subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)


def _wait_worker_ready(timeout: float = 30.0) -> None:
    # Project modules load only after _setup_django(): models need Django's app registry.
    from loyalty.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return
    raise SystemExit("the Celery worker did not start")


def _run(count: int, processes: int) -> tuple[float, int]:
    """Tick until every message is claimed, then wait for every pair; (seconds, finals)."""
    # Project modules load only after _setup_django(): models need Django's app registry.
    from pushes import services
    from pushes.models import FINAL_DELIVERY_STATUSES, Delivery, MessageStatus, PushMessage

    start = time.perf_counter()
    while services.messages_dispatch_due(limit=500).claimed:
        pass
    while True:
        finals = Delivery.objects.filter(status__in=FINAL_DELIVERY_STATUSES).count()
        if finals >= count:
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    assert not PushMessage.objects.filter(status=MessageStatus.SCHEDULED).exists()
    return elapsed, finals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--verify-every", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("Set DATABASE_URL and REDIS_URL (a Redis database nothing else uses).")

    admin_url, scratch_url = _scratch_database(os.environ["DATABASE_URL"])
    _recreate(admin_url, scratch_url)
    _setup_django(scratch_url)

    # Project modules load only now: models need Django's app registry.
    from loyalty.celery import app
    from pushes import vapid
    from pushes.models import Delivery, DeliveryStatus
    from tests.pushes.push_service import PushService

    service = PushService(vapid.public_key(), verify_every=options.verify_every).start()
    worker = None
    try:
        print(f"Creating {options.pushes} cards, devices and due messages ...", flush=True)
        _create_data(options.pushes, service)
        app.control.purge()
        worker = _start_worker(options.workers, scratch_url)
        _wait_worker_ready()
        print(f"Sending with {options.workers} worker process(es) ...", flush=True)
        elapsed, _ = _run(options.pushes, options.workers)

        delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
        rate = delivered / elapsed
        print(f"pushes sent:              {delivered} of {options.pushes}")
        print(f"requests received:        {service.count} (one per pair: no duplicate)")
        print(f"fully verified sample:    {len(service.received)}, errors: {len(service.errors())}")
        print(f"elapsed:                  {elapsed:.1f} s")
        print(f"sends per second:         {rate:.0f} in total")
        print(f"sends per second per worker process: {rate / options.workers:.0f}")
        if service.errors() or service.count != options.pushes or delivered != options.pushes:
            raise SystemExit("the run was not clean: see the counts above")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        service.stop()
        connection.close()
        if not options.keep:
            _recreate(admin_url, scratch_url, drop_only=True)


if __name__ == "__main__":
    main()
