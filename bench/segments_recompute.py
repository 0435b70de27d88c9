"""One merchant's RFM segment recompute at N customers.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/loyalty \\
    .venv/bin/python bench/segments_recompute.py [--customers 1000000] [--keep] [--reuse]

Creates a scratch database next to DATABASE_URL's (``<name>_crmbench``; dropped at the end
unless ``--keep``; ``--reuse`` keeps a previous ``--keep`` run's data, e.g. the search
benchmark's), loads one merchant with N customers whose visits are spread over 200 days
(bench/crm_data.py), then times ``customers.segments.segments_recompute`` three times:

1. the first run, when every customer still has the default segment (most of them move):
   what happens once, when a merchant's customers are imported or the thresholds change a lot;
2. the same day again: nothing moves (the cost of computing every customer's cell);
3. the next day: the nightly run, customers who crossed a band overnight move;
4. thirty days later: a month without recompute.

Prints the seconds and the number of customers who moved for each.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

from django.db import connections

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import crm_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/loyalty")
    admin, scratch = crm_data.scratch_urls(url, "crmbench")
    if not (args.reuse and crm_data.database_exists(admin, scratch)):
        crm_data.recreate(admin, scratch)
    try:
        crm_data.setup_django(scratch)
        # Project modules load only now: models need Django's app registry.
        from customers.models import Customer, SegmentChange
        from customers.segments import segments_recompute

        merchant = crm_data.load(args.customers)
        # Start from the state of a merchant never recomputed, whatever an earlier run did.
        Customer.objects.filter(merchant=merchant).update(segment="no_visits")
        SegmentChange.objects.filter(merchant=merchant).delete()
        now = datetime.datetime.now(datetime.UTC)
        print(f"\nsegment recompute of one merchant with {args.customers:,} customers")
        for label, moment in (
            ("first run", now),
            ("same day again", now),
            ("next day", now + datetime.timedelta(days=1)),
            ("30 days later", now + datetime.timedelta(days=31)),
        ):
            started = time.perf_counter()
            moved = segments_recompute(merchant=merchant, now=moment)
            seconds = time.perf_counter() - started
            print(f"{label:16} {seconds:7.2f} s   {moved:>9,} customers moved")
        recorded = SegmentChange.objects.filter(merchant=merchant).count()
        print(f"segment changes recorded: {recorded:,}")
    finally:
        connections.close_all()
        if not args.keep:
            crm_data.recreate(admin, scratch, drop_only=True)


if __name__ == "__main__":
    main()
