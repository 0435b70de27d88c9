"""The whole run: ``generate`` and the ``Summary`` it returns."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from cards.signals import ledger_bulk_loaded
from customers.generator.load import load, reserve_ids, taken_serials
from customers.generator.plan import plan_build
from customers.generator.rows import rows_write
from customers.generator.specs import GeneratorError, MerchantSpec, merchant_specs
from customers.generator.tenants import tenants_create
from customers.segments import segments_recompute
from loyalty import clock
from loyalty.models import Merchant


@dataclass
class Summary:
    merchants: int
    customers: int
    cards: int
    entries: int
    largest: MerchantSpec | None
    largest_customers: int
    big_card_serial: str
    big_card_entries: int
    fk_triggers_skipped: bool
    timings: dict[str, float]


def generate(
    *,
    customers: int,
    entries: int,
    merchants: int,
    seed: int,
    say: Callable[[str], None] = lambda text: None,
    skip_fk_triggers: bool = True,
) -> Summary:
    """Add ``merchants`` merchants with ``customers`` customers and exactly ``entries`` entries.

    Adds alongside whatever the database holds and deletes nothing (the caller decides whether
    a database with data may be used). ``skip_fk_triggers``: try ``session_replication_role =
    replica`` (superusers only); without it the foreign keys are dropped and re-added (each
    re-check is one query over the table).
    """
    if merchants < 1 or customers < 0 or entries < 0:
        raise GeneratorError("Give at least one merchant, and no negative sizes.")
    timings: dict[str, float] = {}
    clock_started = time.perf_counter()
    now = clock.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "LOCK TABLE customers_customer, cards_card, cards_ledgerentry IN ACCESS EXCLUSIVE MODE"
        )
        specs = merchant_specs(count=merchants, seed=seed, taken=_slug_taken())
        tenants = tenants_create(specs=specs, now=now)
        started = time.perf_counter()
        plan = plan_build(
            tenants=tenants,
            customers=customers,
            entries=entries,
            seed=seed,
            now=int(now.timestamp() * 1_000_000),
            taken_serials=taken_serials(cursor),
        )
        timings["plan"] = time.perf_counter() - started
        say(
            f"planned {plan.customers:,} customers and {plan.cards:,} cards "
            f"in {timings['plan']:.1f} s"
        )
        write = functools.partial(
            rows_write,
            tenants=tenants,
            plan=plan,
            now=now,
            customer_base=reserve_ids(cursor, "customers_customer", plan.customers),
            card_base=reserve_ids(cursor, "cards_card", plan.cards),
            seed=seed,
        )
        fk_skipped = load(
            cursor,
            write=write,
            plan=plan,
            say=say,
            timings=timings,
            skip_fk_triggers=skip_fk_triggers,
        )
        started = time.perf_counter()
        for tenant in tenants:
            segments_recompute(merchant=Merchant.objects.get(pk=tenant.merchant_id))
        timings["segments"] = time.perf_counter() - started
        say(f"segments computed in {timings['segments']:.1f} s")
        started = time.perf_counter()
        # The statistics' rollup (and whatever else derives from the ledger) is rebuilt.
        ledger_bulk_loaded.send(sender=None, merchants=[t.merchant_id for t in tenants])
        timings["derived"] = time.perf_counter() - started
        say(f"statistics rebuilt in {timings['derived']:.1f} s")
    started = time.perf_counter()
    _vacuum()
    timings["vacuum"] = time.perf_counter() - started
    say(f"vacuumed and analysed in {timings['vacuum']:.1f} s")
    timings["total"] = time.perf_counter() - clock_started
    big = plan.big_card
    return Summary(
        merchants=len(tenants),
        customers=plan.customers,
        cards=plan.cards,
        entries=entries,
        largest=specs[0] if specs else None,
        largest_customers=plan.merchant.count(0),
        big_card_serial=plan.serial[big] if big >= 0 else "",
        big_card_entries=plan.entries[big] if big >= 0 else 0,
        fk_triggers_skipped=fk_skipped,
        timings=timings,
    )


def _slug_taken() -> Callable[[str], bool]:
    """Whether a merchant has the slug, or a user a name the team would get from it."""
    slugs = set(Merchant.objects.values_list("slug", flat=True))
    usernames = get_user_model().objects.values_list("username", flat=True)
    prefixes = {name.rpartition("-")[0] for name in usernames}

    def taken(slug: str) -> bool:
        return slug in slugs or slug in prefixes

    return taken


def _vacuum() -> None:
    """Fresh statistics (and, outside a caller's transaction, a vacuum: the visibility map and
    hint bits a database that has been running for a while would have)."""
    tables = "cards_ledgerentry, cards_card, customers_customer, customers_segmentchange"
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute(f"VACUUM (ANALYZE) {tables}")
