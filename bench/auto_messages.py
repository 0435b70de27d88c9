"""The automatic messages' beat tasks at N customers: how long each kind takes to find its
due cards and record their messages, and how long the next beat takes to find nothing.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/loyalty \\
    .venv/bin/python bench/auto_messages.py [--customers 1000000] [--keep] [--reuse]

Creates a scratch database next to DATABASE_URL's (``<name>_autobench``; dropped at the end
unless ``--keep``), loads one merchant with N customers and one card each (bench/crm_data.py:
visits spread over 200 days), then gives every customer a birthday, half the cards an
expiration date within a year, and the cards installed as a PWA (three in eight) a push
subscription. With card expiring (7 days), birthday and we miss you (30 days) turned on, it
times for each kind at 12:00 UTC (the merchant's zone):

1. the query alone (``auto_messages_due``), with the number of cards it finds;
2. the beat task (``auto_messages_queue``: the query, the texts filled, the rows inserted);
3. the next beat, which must find and record nothing.

Nothing is sent: the dispatcher is not running (bench/push_throughput.py measures sending).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any

from django.db import connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import crm_data


def _prepare(merchant: object) -> None:
    """Birthdays, expiration dates, subscriptions and the three kinds turned on."""
    # Project modules load only after setup_django(): models need Django's app registry.
    from cards.models import Program
    from pushes.models import AutoMessage, PushSubscription, Trigger

    merchant_id = int(merchant.pk)  # type: ignore[attr-defined]
    program = Program.objects.get(merchant_id=merchant_id)
    subscription_values = {
        "merchant_id": "c.merchant_id",
        "card_id": "c.id",
        "channel": "'web_push'",
        "endpoint": "'https://push.example.com/' || c.id",
        "p256dh": "'key'",
        "auth": "'auth'",
        "created_at": "now()",
        "updated_at": "now()",
    }
    columns, expressions = crm_data._sql_literal_defaults(PushSubscription, subscription_values)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET birthday = date '1960-01-01' "
            "+ abs(hashtext(id::text || 'y')) %% 16000 WHERE merchant_id = %s",
            [merchant_id],
        )
        cursor.execute(
            "UPDATE cards_card SET expires_on = current_date"
            " + abs(hashtext(id::text || 'e')) %% 365"
            " WHERE merchant_id = %s AND abs(hashtext(id::text || 'h')) %% 2 = 0",
            [merchant_id],
        )
        cursor.execute(
            f"INSERT INTO pushes_pushsubscription ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(expressions)} FROM cards_card c "
            "WHERE c.merchant_id = %s AND c.devices && '{pwa}'",
            [merchant_id],
        )
        for table in ("customers_customer", "cards_card", "pushes_pushsubscription"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    for trigger, days in ((Trigger.EXPIRING, 7), (Trigger.BIRTHDAY, None), (Trigger.LAPSED, 30)):
        AutoMessage.objects.update_or_create(
            program=program,
            trigger=trigger,
            defaults={
                "merchant_id": merchant_id,
                "enabled": True,
                "body": "Hello {first_name}, you have {balance} ({expiry})",
                "days": days,
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    crm_data.add_scratch_arguments(parser)
    args = parser.parse_args()
    with crm_data.scratch_database("autobench", keep=args.keep, reuse=args.reuse) as reused:
        # Project modules load only now: models need Django's app registry.
        from pushes.models import PushMessage, PushSubscription, Trigger
        from pushes.services.automatic import auto_messages_due, auto_messages_queue

        merchant = crm_data.load(args.customers)
        if not reused:
            _prepare(merchant)
        PushMessage.objects.filter(merchant=merchant).exclude(trigger="").delete()
        today = datetime.datetime.now(datetime.UTC).date()
        now = datetime.datetime.combine(today, datetime.time(12, 0), tzinfo=datetime.UTC)
        devices = PushSubscription.objects.filter(merchant=merchant).count()
        print(f"\nautomatic messages at {args.customers:,} customers, {devices:,} with a device")
        print(
            f"{'kind':10} {'query':>8} {'found':>8} {'beat':>8} {'recorded':>9} {'next beat':>10}"
        )
        for trigger in (Trigger.EXPIRING, Trigger.BIRTHDAY, Trigger.LAPSED):
            _measure(trigger, now, auto_messages_due, auto_messages_queue)


def _measure(trigger: Any, now: datetime.datetime, due: Any, queue: Any) -> None:
    started = time.perf_counter()
    found = len(due(trigger=trigger, now=now))
    query = time.perf_counter() - started
    started = time.perf_counter()
    recorded = queue(trigger=trigger, now=now)
    beat = time.perf_counter() - started
    started = time.perf_counter()
    again = queue(trigger=trigger, now=now)
    next_beat = time.perf_counter() - started
    if again:
        raise SystemExit(f"{trigger}: the next beat recorded {again} messages again")
    figures = f"{query:7.2f}s {found:>8,} {beat:7.2f}s {recorded:>9,} {next_beat:9.2f}s"
    print(f"{trigger.value:10} {figures}")


if __name__ == "__main__":
    main()
