"""Writes of the statistics' rollup: in step with each ledger write, and rebuilt from scratch.

Every ledger write adds its entries to its program's row of the day (``rollup_write_part``),
inside the ledger's own write statement: an upsert of the day's totals, of the card's first
visit of the day (``VisitDays``) and of a tier move. Concurrent writers of one
program queue on that day's row only for the rest of their short transaction, and nothing can
be counted twice or lost: the row's increment commits or rolls back with the entries.

``rollup_rebuild`` replaces a merchant's rollup by the same figures computed from the ledger,
the cards and the feedback in set-based SQL (``analytics.rollup_sql``). It holds a per-merchant
advisory lock that every incremental write takes shared, so no write can land between the
rebuild's read and its insert.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from analytics import rollup_sql
from cards.models import Card, LedgerEntry, ProgramKind
from cards.rules import Kind
from loyalty.models import Merchant

ZERO = Decimal("0.00")


def entry_totals(entries: Iterable[LedgerEntry]) -> dict[str, Any]:
    """What ``entries`` add to their day's ``DailyTotals`` (the Python twin of the SQL's sums)."""
    totals: dict[str, Any] = dict(rollup_sql.ZERO_TOTALS)
    for entry in entries:
        totals["purchases"] += int(rollup_sql.records_purchase(entry))
        totals["purchases"] -= int(rollup_sql.records_undone_purchase(entry))
        totals["new_cards"] += int(entry.kind == Kind.CARD_ISSUED)
        totals["rewards_redeemed"] += entry.rewards_redeemed_delta
        if rollup_sql.records_activity(entry):
            totals["revenue"] += entry.ltv_delta
            totals["visits"] += entry.visits_delta
            totals["stamps_issued"] += entry.stamps_earned_delta
            totals["rewards_issued"] += entry.rewards_earned_delta
            totals["points_issued"] += entry.points_earned_delta
        if not rollup_sql.records_clawback(entry):  # taken back (or put back), not spent
            totals["points_redeemed"] += entry.points_redeemed_delta
        totals["points_change"] += entry.points_delta
    return totals


def rollup_write_part(
    *, card: Card, entries: list[LedgerEntry], previous: Any
) -> tuple[str, list[Any]]:
    """The ledger write's share of the rollup, as expressions of the write's own statement.

    Registered in ``cards.services.ledger.LEDGER_WRITE_PARTS``: a counter's purchase adds to
    its day in the same round trip as its entries. ``previous`` is the card's ``WrittenOver``.
    """
    tz = card.merchant.tz
    day = timezone.localdate(entries[0].created_at, tz)
    first_visit_after: tuple[datetime.date | None] | None = None
    if any(entry.visits_delta > 0 for entry in entries):
        last = previous.last_visit_at
        previous_day = timezone.localdate(last, tz) if last else None
        # A second visit on the same day adds nothing: the card already counts for the day.
        if previous_day is None or previous_day < day:
            first_visit_after = (previous_day,)
    tiers = []
    if card.tier_name != previous.tier_name:
        tiers = [(previous.tier_name, -1), (card.tier_name, 1)]
    totals = entry_totals(entries)
    if first_visit_after is not None:
        # The pair (visit before, this visit): it ends today, starts on the day before (the
        # statement's rollup_later) or nowhere.
        totals["cards_visiting"] = 1
        totals["first_visits"] = int(first_visit_after[0] is None)
    params = _params(
        card=card, day=day, totals=totals, first_visit_after=first_visit_after, tiers=tiers
    )
    return rollup_sql.positional(rollup_sql.INCREMENT_CTES, params)


def rollup_record_deletion(*, card: Card) -> None:
    """A deleted card's points are no longer owed, and it leaves its tier's count."""
    assert card.deleted_at is not None
    totals = dict(rollup_sql.ZERO_TOTALS)
    if card.program.kind == ProgramKind.CASHBACK:
        totals["points_forfeited"] = card.points_balance
    _rollup_add(
        card=card,
        day=timezone.localdate(card.deleted_at, card.merchant.tz),
        totals=totals,
        tiers=[(card.tier_name, -1)],
    )


def rollup_record_rating(*, feedback: Any) -> None:
    """A rating joins its day's count and sum (the average over time is sum / count)."""
    card = feedback.card
    totals = {**rollup_sql.ZERO_TOTALS, "ratings": 1, "rating_sum": feedback.rating}
    _rollup_add(
        card=card, day=timezone.localdate(feedback.created_at, card.merchant.tz), totals=totals
    )


def _rollup_add(*, card: Card, day: datetime.date, totals: Mapping[str, Any], **more: Any) -> None:
    """The rollup's increments alone, for a change outside the ledger (a deletion, a rating)."""
    with connection.cursor() as cursor:
        cursor.execute(rollup_sql.INCREMENT_SQL, _params(card=card, day=day, totals=totals, **more))


def _params(
    *,
    card: Card,
    day: datetime.date,
    totals: Mapping[str, Any],
    first_visit_after: tuple[datetime.date | None] | None = None,
    tiers: Iterable[tuple[str, int]] = (),
) -> dict[str, Any]:
    """The values of ``rollup_sql.INCREMENT_CTES``: totals, first visit of the day, tier moves."""
    tier_moves = [(name, delta) for name, delta in tiers if name]
    return {
        "lock": rollup_sql.LOCK_CLASS,
        "merchant": card.merchant_id,
        "program": card.program_id,
        "day": day,
        "first_visit": first_visit_after is not None,
        "previous_day": first_visit_after[0] if first_visit_after else None,
        "tier_names": [name for name, _ in tier_moves],
        "tier_deltas": [delta for _, delta in tier_moves],
        **{name: totals.get(name, zero) for name, zero in rollup_sql.ZERO_TOTALS.items()},
    }


# ---------------------------------------------------------------------------------------------
# From scratch


def _version_key(merchant: Merchant) -> str:
    return f"analytics:rollup-version:{merchant.pk}"


def rollup_version(*, merchant: Merchant) -> str:
    """A token that changes whenever the merchant's rollup is rebuilt: the key of cached counts.

    A random token rather than a counter, so a lost cache entry cannot bring back an old
    version whose counts are still cached.
    """
    return str(cache.get_or_set(_version_key(merchant), lambda: uuid.uuid4().hex, None))


def rollup_rebuild(*, merchant: Merchant) -> None:
    """Replace the merchant's rollup with the figures computed from its ledger, cards, ratings.

    For a merchant whose time zone changed (its days move), after a bulk load that bypassed
    the ledger's write path, or to repair. Ledger writes of this merchant wait for it.
    """
    params = rollup_sql.scratch_params(merchant)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(rollup_sql.EXCLUSIVE_LOCK_SQL, params)
        for statement in rollup_sql.REBUILD_SQL:
            cursor.execute(statement, params)
        transaction.on_commit(
            lambda: cache.set(_version_key(merchant), uuid.uuid4().hex, None), robust=True
        )


def rollup_rebuild_all() -> int:
    """Rebuild every merchant's rollup, one transaction each; returns how many merchants."""
    merchants = list(Merchant.objects.order_by("pk"))
    for merchant in merchants:
        rollup_rebuild(merchant=merchant)
    return len(merchants)
