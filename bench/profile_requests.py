"""Where a dashboard request spends its time, in-process: mean time, SQL queries, and a profile.

    python3 dev.py bench profile_requests [--runs 200] [--profile dialog_post] [--top 30]

Runs against the configured database as it is (the demo data of ``dev.py run``, or a generated
one), with production settings (``DEBUG`` off), through Django's test client: every middleware,
the session, the templates, but no HTTP server. For each hot path (a staff member's; the home
page over 30 days and 12 months as an owner or admin of the same merchant) it prints the mean
and p95 wall time and the queries one request runs; ``--profile NAME`` adds cProfile's
functions with the largest own and cumulative time for that path. Use it before optimising a
path, and after.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ["SESSION_COOKIE_SECURE"] = "0"
os.environ["CSRF_COOKIE_SECURE"] = "0"
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from cards.models import Card, LedgerEntry  # noqa: E402
from loyalty.models import Membership  # noqa: E402

HTMX = {"HX-Request": "true", "HX-Target": "dialog"}


def _staff_client() -> tuple[Client, Membership]:
    """A logged-in session of a staff member of the merchant with the most cards."""
    biggest = (
        Card.objects.values("merchant_id").order_by().annotate(n=Count("id")).order_by("-n").first()
    )
    if biggest is None:
        raise SystemExit("No card in this database: load the demo data first.")
    membership = (
        Membership.objects.filter(role="staff", merchant_id=biggest["merchant_id"])
        .select_related("merchant", "user")
        .first()
    )
    if membership is None:
        raise SystemExit("No staff member in this database: load the demo data first.")
    client = Client()
    client.force_login(membership.user)
    return client, membership


def _manager_client(membership: Membership) -> Client | None:
    """A session of an owner or admin of the same merchant: staff never see the home page."""
    manager = (
        Membership.objects.filter(merchant=membership.merchant, role__in=("owner", "admin"))
        .select_related("user")
        .first()
    )
    if manager is None:
        return None
    client = Client()
    client.force_login(manager.user)
    return client


def _paths(client: Client, membership: Membership) -> dict[str, Callable[[], Any]]:
    merchant = membership.merchant
    stamp_cards = list(
        Card.objects.filter(
            merchant=merchant, program__kind="stamp", status="installed"
        ).values_list("serial", flat=True)[:200]
    ) or list(Card.objects.filter(merchant=merchant).values_list("serial", flat=True)[:200])
    longest = (
        LedgerEntry.objects.filter(merchant=merchant)
        .values("card__serial")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    sample = Card.objects.filter(merchant=merchant).select_related("customer").first()
    assert sample is not None
    assert sample.customer is not None
    queries = [sample.serial, sample.customer.email, sample.customer.first_name[:3]]

    def dialog_post() -> Any:
        serial = random.choice(stamp_cards)
        url = reverse("cards:dialog", args=[serial, "transaction_amount_add"])
        data = {"idempotency_key": uuid.uuid4().hex, "value": "12.50"}
        return client.post(url, data, headers=HTMX)

    def profile() -> Any:
        return client.get(reverse("cards:profile", args=[random.choice(stamp_cards)]))

    def search() -> Any:
        return client.get(reverse("customers:list"), {"q": random.choice(queries)})

    def customers_list() -> Any:
        return client.get(reverse("customers:list"))

    def history() -> Any:
        serial = longest["card__serial"] if longest else stamp_cards[0]
        return client.get(reverse("cards:history", args=[serial]), headers=HTMX)

    paths = {
        "dialog_post": dialog_post,
        "profile": profile,
        "search": search,
        "customers_list": customers_list,
        "history": history,
    }
    manager = _manager_client(membership)
    if manager is not None:
        paths["home_30d"] = lambda: manager.get(reverse("home"), {"period": "30d"})
        paths["home_12m"] = lambda: manager.get(reverse("home"), {"period": "12m"})
    return paths


def _measure(call: Callable[[], Any], runs: int) -> tuple[float, float, int, int]:
    for _ in range(5):
        call()  # warm: templates compiled, connection open, caches filled
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        response = call()
    p95 = statistics.quantiles(timings, n=20)[-1]
    return statistics.mean(timings), p95, len(captured), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", help="profile this path (a name printed in the table)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    client, membership = _staff_client()
    paths = _paths(client, membership)
    cards = Card.objects.filter(merchant=membership.merchant).count()
    print(f"{membership.merchant.name}: {cards:,} cards")
    print(f"{'path':16} {'mean ms':>8} {'p95 ms':>8} {'queries':>8} {'status':>7}")
    for name, call in paths.items():
        mean, p95, queries, status = _measure(call, args.runs)
        print(f"{name:16} {mean:8.1f} {p95:8.1f} {queries:8} {status:7}")
    if args.profile:
        call = paths[args.profile]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.runs):
            call()
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"\n{args.profile}: {args.runs} requests, by own time")
        stats.sort_stats("tottime").print_stats(args.top)
        print(f"\n{args.profile}: by cumulative time")
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
