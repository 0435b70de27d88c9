"""Customer search latency at N customers, with the query plans that prove index use.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/loyalty \\
    .venv/bin/python bench/search_customers.py [--customers 1000000] [--runs 20] [--keep] [--reuse]

Creates a scratch database next to DATABASE_URL's (``<name>_crmbench``; dropped at the end
unless ``--keep``; ``--reuse`` keeps a previous ``--keep`` run's data), loads one merchant with
N customers and a card each (bench/crm_data.py), then times ``customers.selectors.
customer_search`` (the list's whole search: ranked ids, then the rows with their cards) for
typical queries: names, an email, phones written several ways or by their last digits, serials
with and without dashes.
Prints the median and the slowest run of each, then EXPLAIN (ANALYZE, BUFFERS) of the search
statement for a few of them, and says whether any plan scans the customers or cards table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from django.db import connection, transaction

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import crm_data

SCAN_MARKERS = (
    "Seq Scan",
    "customers_customer_merchant_id",
    "cards_card_merchant_id",
    "cards_card_customer_id",
    "customer_recent",
)


def _samples(merchant: Any) -> dict[str, str]:
    """Queries a merchant types, built from real rows of the loaded data."""
    # Project modules load only after setup_django(): models need Django's app registry.
    from cards.models import Card
    from customers.models import Customer

    customer = Customer.objects.filter(merchant=merchant).order_by("pk")[4321]
    card = Card.objects.get(customer=customer)
    digits = customer.phone[2:]
    serial_digits = card.serial.replace("-", "")
    return {
        "first name (common)": customer.first_name.lower(),
        "first name prefix": customer.first_name[:3],
        "full name": f"{customer.first_name} {customer.last_name}",
        "last name substring": customer.last_name[1:5],
        "email (exact)": customer.email.upper(),
        "email prefix": customer.email[:12],
        "phone E.164": customer.phone,
        "phone (415) 555-0123 style": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        "phone, last 7 digits": f"{digits[3:6]}-{digits[6:]}",
        "phone, last 7 digits run together": digits[3:],
        "phone, last 4 digits": digits[6:],
        "serial with dashes": card.serial,
        "serial without dashes": serial_digits,
        "serial prefix": card.serial[:7],
        "serial substring": serial_digits[4:10],
        "no match": "zzqxj",
    }


def _time(merchant: Any, q: str, runs: int) -> tuple[float, float, int]:
    # Project modules load only after setup_django(): models need Django's app registry.
    from customers.selectors import customer_search

    timings = []
    found = 0
    for _ in range(runs):
        started = time.perf_counter()
        found = len(customer_search(merchant=merchant, q=q))
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), max(timings), found


def _plan(merchant: Any, q: str) -> str:
    """EXPLAIN ANALYZE of the very statement the search runs, planned as the search plans it."""
    # Project modules load only after setup_django(): models need Django's app registry.
    from customers.selectors import NO_SEQSCAN, customer_search_statement

    sql, params = customer_search_statement(merchant=merchant, q=q)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(NO_SEQSCAN)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    crm_data.add_scratch_arguments(parser)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with crm_data.scratch_database("crmbench", keep=args.keep, reuse=args.reuse):
        merchant = crm_data.load(args.customers)
        samples = _samples(merchant)
        print(f"\nsearch at {args.customers:,} customers, {args.runs} runs each (ms)")
        print(f"{'query':34} {'typed':28} {'median':>8} {'slowest':>8} {'rows':>5}")
        for label, q in samples.items():
            _time(merchant, q, 2)  # warm the cache, as a busy server would have it
            median, slowest, found = _time(merchant, q, args.runs)
            print(f"{label:34} {q[:28]:28} {median:8.1f} {slowest:8.1f} {found:5}")
        # A plan "scans" if it reads a table, or reads one merchant's rows through an index on
        # the merchant alone; every branch must use its own index instead.
        scans = []
        shown = {
            "first name (common)",
            "last name substring",
            "phone (415) 555-0123 style",
            "phone, last 4 digits",
            "serial without dashes",
        }
        for label, q in samples.items():
            plan = _plan(merchant, q)
            if label in shown:
                print(f"\nEXPLAIN ANALYZE: {label} ({q!r})\n{plan}")
            executed = [line for line in plan.splitlines() if "never executed" not in line]
            if any(marker in line for line in executed for marker in SCAN_MARKERS):
                scans.append(label)
        verdict = "every query uses its indexes" if not scans else f"SCANS in {scans}"
        print(f"\nindex use over all {len(samples)} queries: {verdict}")


if __name__ == "__main__":
    main()
