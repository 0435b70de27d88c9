"""Push throughput: 100,000 pushes through the real pipeline to the local push service.

    python3 dev.py bench push_throughput [--pushes 100000] [--workers 1,2,4] [--verify-every 50]

(or with DATABASE_URL and REDIS_URL set: .venv/bin/python bench/push_throughput.py ...)

It creates a scratch database next to DATABASE_URL's (``<name>_pushbench``, dropped at the
end unless ``--keep``). For each number of worker processes in ``--workers``, in turn: a new
merchant with ``--pushes`` cards, one subscribed device each and one due message per card; a
Celery worker with that many processes against REDIS_URL; the beat tick run here until every
message is claimed (timed on its own, before the worker starts, so it does not share this
process with the push service while sends are timed); then the time from the first pair's
claim to the last pair's answer, as their rows record them. The local push service
(pushes/devinbox.py, a fresh one per round) answers 201 and fully checks one request
in ``--verify-every`` (VAPID signature, headers, decryption), so it is not what is measured;
it runs in this process, on the same cores as the workers and PostgreSQL.

Prints sends per second in total and per worker process for each round. Purges REDIS_URL's
default queue: point it at a Redis database nothing else uses.
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


def _create_data(count: int, service: object) -> int:
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
    return merchant.pk


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


def _dispatch_all() -> float:
    """Run the beat tick until every message is claimed (their pairs' tasks wait in the
    queue for the worker); the seconds it took."""
    # Project modules load only after _setup_django(): models need Django's app registry.
    from pushes import services
    from pushes.models import MessageStatus, PushMessage

    start = time.perf_counter()
    while services.messages_dispatch_due(limit=1000).claimed:
        pass
    assert not PushMessage.objects.filter(status=MessageStatus.SCHEDULED).exists()
    return time.perf_counter() - start


def _sending_window(count: int, merchant_id: int) -> float:
    """Wait until every pair is final; the seconds from the first claim to the last answer,
    as the pairs' own timestamps say (the worker's start-up is not counted)."""
    # Project modules load only after _setup_django(): models need Django's app registry.
    from django.db.models import Max, Min

    from pushes.models import FINAL_DELIVERY_STATUSES, Delivery

    pairs = Delivery.objects.filter(message__merchant_id=merchant_id)
    while pairs.filter(status__in=FINAL_DELIVERY_STATUSES).count() < count:
        time.sleep(0.2)
    window = pairs.aggregate(first=Min("claimed_at"), last=Max("finished_at"))
    return (window["last"] - window["first"]).total_seconds()


def _round(options: argparse.Namespace, processes: int, scratch_url: str) -> str:
    """One measured run with ``processes`` worker processes; its line of the summary."""
    # Project modules load only after _setup_django(): models need Django's app registry.
    from loyalty.celery import app
    from pushes import vapid
    from pushes.devinbox import PushInbox
    from pushes.models import Delivery, DeliveryStatus

    service = PushInbox(vapid.public_key(), verify_every=options.verify_every).start()
    worker = None
    try:
        print(f"Creating {options.pushes:,} cards, devices and due messages ...", flush=True)
        merchant_id = _create_data(options.pushes, service)
        app.control.purge()
        dispatched = _dispatch_all()
        print(f"  dispatched (every message claimed, its pairs queued): {dispatched:.1f} s")
        print(f"Sending with {processes} worker process(es) ...", flush=True)
        worker = _start_worker(processes, scratch_url)
        _wait_worker_ready()
        elapsed = _sending_window(options.pushes, merchant_id)
        delivered = Delivery.objects.filter(
            message__merchant_id=merchant_id, status=DeliveryStatus.DELIVERED
        ).count()
        rate = delivered / elapsed
        print(f"  pushes sent:            {delivered:,} of {options.pushes:,}")
        print(f"  requests received:      {service.count:,} (one per pair: no duplicate)")
        print(f"  fully verified sample:  {len(service.received)}, errors: {len(service.errors())}")
        print(f"  sending, first claim to last answer: {elapsed:.1f} s")
        if service.errors() or service.count != options.pushes or delivered != options.pushes:
            raise SystemExit("the run was not clean: see the counts above")
        return f"{processes:>9} {elapsed:>10.1f} {rate:>13.0f} {rate / processes:>22.0f}"
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=100_000)
    parser.add_argument(
        "--workers", default="1,2,4", help="worker processes per round, comma-separated"
    )
    parser.add_argument("--verify-every", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("Set DATABASE_URL and REDIS_URL (a Redis database nothing else uses).")
    rounds = [int(n) for n in options.workers.split(",") if n.strip()]

    admin_url, scratch_url = _scratch_database(os.environ["DATABASE_URL"])
    _recreate(admin_url, scratch_url)
    _setup_django(scratch_url)
    lines = []
    try:
        for processes in rounds:
            lines.append(_round(options, processes, scratch_url))
    finally:
        connection.close()
        if not options.keep:
            _recreate(admin_url, scratch_url, drop_only=True)
    print(f"\n{options.pushes:,} pushes per round, {os.cpu_count()} cores on this machine")
    print("processes  elapsed s  sends/s total  sends/s per process")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
