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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import crm_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    crm_data.add_scratch_arguments(parser)
    args = parser.parse_args()
    with crm_data.scratch_database("crmbench", keep=args.keep, reuse=args.reuse):
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


if __name__ == "__main__":
    main()
