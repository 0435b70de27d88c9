"""The rollup's SQL: the incremental upsert and the from-scratch aggregation, side by side.

The from-scratch statements are the definition the incremental path must agree with; the
tests compare the two on random histories (``tests/analytics/test_rollup.py``). Each SELECT
yields the rows of one rollup table for one merchant (``%(merchant)s``) in its time zone
(``%(tz)s``); the rebuild inserts them as they come.
"""

from __future__ import annotations

import re
import zlib
from decimal import Decimal
from typing import Any

from cards.models import LedgerEntry, Source
from cards.rules import Kind
from loyalty.models import Merchant

# The first key of the per-merchant advisory lock (the second is the merchant's id): writers
# take it shared, a rebuild exclusive.
LOCK_CLASS = zlib.crc32(b"analytics.rollup") & 0x7FFFFFFF

ZERO_TOTALS: dict[str, Any] = {
    "revenue": Decimal("0.00"),
    "purchases": 0,
    "visits": 0,
    "new_cards": 0,
    "stamps_issued": 0,
    "rewards_issued": 0,
    "rewards_redeemed": 0,
    "points_issued": Decimal("0.00"),
    "points_redeemed": Decimal("0.00"),
    "points_change": Decimal("0.00"),
    "points_forfeited": Decimal("0.00"),
    "ratings": 0,
    "rating_sum": 0,
    "cards_visiting": 0,
    "first_visits": 0,
    "later_visits": 0,
}
TOTAL_COLUMNS = tuple(ZERO_TOTALS)


def records_purchase(entry: LedgerEntry) -> bool:
    """The test of ``cards.rules.is_purchase``, over a stored entry (mirrored in PURCHASE_SQL)."""
    return (
        entry.purchase_amount is not None
        and entry.purchase_amount > 0
        and entry.amount_delta >= 0
        and entry.ltv_delta >= 0
    )


PURCHASE_SQL = "(e.purchase_amount > 0 AND e.amount_delta >= 0 AND e.ltv_delta >= 0)"
# A reversal of a purchase carries its purchase amount negated: one purchase fewer that day.
UNDONE_SQL = "(e.purchase_amount < 0)"


# The points a refund claws back are taken back, not spent; a reversal that gives an amount
# back undoes a refund, and puts those points back without un-spending any.
CLAWBACK_SQL = (
    f"(e.kind = '{Kind.REFUND.value}' OR (e.kind = '{Kind.REVERSAL.value}' AND e.amount_delta > 0))"
)


def records_clawback(entry: LedgerEntry) -> bool:
    """The test of CLAWBACK_SQL: the entry's redeemed points are no points spent."""
    return entry.kind == Kind.REFUND or (entry.kind == Kind.REVERSAL and entry.amount_delta > 0)


def records_undone_purchase(entry: LedgerEntry) -> bool:
    """The test of UNDONE_SQL: a reversal of a purchase (``cards.rules.reversal_delta``)."""
    return entry.purchase_amount is not None and entry.purchase_amount < 0


# An imported card's opening balance is the former system's history, not activity of the day it
# is dated: it adds to the points owed (points_change) and nothing else (``records_activity``).
NOT_IMPORTED = f"e.source <> '{Source.IMPORT.value}'"


def records_activity(entry: LedgerEntry) -> bool:
    """Whether the entry's amounts are activity of its day (the Python twin of NOT_IMPORTED)."""
    return entry.source != Source.IMPORT


# ---------------------------------------------------------------------------------------------
# Incremental: one statement per ledger write, deletion or rating

_ADD = ", ".join(f"{c} = t.{c} + EXCLUDED.{c}" for c in TOTAL_COLUMNS)
# Common table expressions (no WITH): the ledger's own write statement takes them in (see
# ``cards.services.ledger.LEDGER_WRITE_PARTS``), and ``INCREMENT_SQL`` runs them alone for a
# deletion or a rating.
INCREMENT_CTES = f"""
rollup_guard AS (SELECT pg_advisory_xact_lock_shared(%(lock)s::int, %(merchant)s::int)),
rollup_totals AS (
    INSERT INTO analytics_dailytotals AS t
        (merchant_id, program_id, day, {", ".join(TOTAL_COLUMNS)})
    SELECT %(merchant)s, %(program)s, %(day)s, {", ".join(f"%({c})s" for c in TOTAL_COLUMNS)}
    FROM rollup_guard
    ON CONFLICT (program_id, day) DO UPDATE SET {_ADD}
    RETURNING 1
),
rollup_later AS (
    INSERT INTO analytics_dailytotals AS t
        (merchant_id, program_id, day, {", ".join(TOTAL_COLUMNS)})
    SELECT %(merchant)s, %(program)s, %(previous_day)s::date,
        {", ".join("1" if c == "later_visits" else "0" for c in TOTAL_COLUMNS)}
    FROM rollup_guard WHERE %(first_visit)s AND %(previous_day)s::date IS NOT NULL
    ON CONFLICT (program_id, day) DO UPDATE SET later_visits = t.later_visits + 1
    RETURNING 1
),
rollup_visit AS (
    INSERT INTO analytics_visitdays AS t (merchant_id, program_id, day, previous_day, cards)
    SELECT %(merchant)s, %(program)s, %(day)s, %(previous_day)s::date, 1
    FROM rollup_guard WHERE %(first_visit)s
    ON CONFLICT (program_id, day, previous_day) DO UPDATE SET cards = t.cards + 1
    RETURNING 1
),
rollup_tiers AS (
    INSERT INTO analytics_tiercount AS t (merchant_id, program_id, tier_name, cards)
    SELECT %(merchant)s, %(program)s, moved.name, moved.delta
    FROM rollup_guard, unnest(%(tier_names)s::text[], %(tier_deltas)s::int[]) AS moved(name, delta)
    ON CONFLICT (program_id, tier_name) DO UPDATE SET cards = t.cards + EXCLUDED.cards
    RETURNING 1
)"""  # noqa: S608 (column names from the constants above; every value is a parameter)

INCREMENT_SQL = f"WITH {INCREMENT_CTES} SELECT 1"

_NAMED = re.compile(r"%\((\w+)\)s")


def positional(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """``sql`` with ``%(name)s`` placeholders as ``%s`` and its values in their order."""
    values: list[Any] = []

    def take(match: re.Match[str]) -> str:
        values.append(params[match.group(1)])
        return "%s"

    return _NAMED.sub(take, sql), values


# ---------------------------------------------------------------------------------------------
# From scratch

_LOCAL_DAY = "(({column}) AT TIME ZONE %(tz)s)::date"

_ENTRY_SUMS = {
    "revenue": f"coalesce(sum(e.ltv_delta) FILTER (WHERE {NOT_IMPORTED}), 0)",
    "purchases": f"count(*) FILTER (WHERE {PURCHASE_SQL}) - count(*) FILTER (WHERE {UNDONE_SQL})",
    "visits": f"coalesce(sum(e.visits_delta) FILTER (WHERE {NOT_IMPORTED}), 0)",
    "new_cards": f"count(*) FILTER (WHERE e.kind = '{Kind.CARD_ISSUED.value}')",
    "stamps_issued": f"coalesce(sum(e.stamps_earned_delta) FILTER (WHERE {NOT_IMPORTED}), 0)",
    "rewards_issued": f"coalesce(sum(e.rewards_earned_delta) FILTER (WHERE {NOT_IMPORTED}), 0)",
    "rewards_redeemed": "sum(e.rewards_redeemed_delta)",
    "points_issued": f"coalesce(sum(e.points_earned_delta) FILTER (WHERE {NOT_IMPORTED}), 0)",
    "points_redeemed": (
        f"coalesce(sum(e.points_redeemed_delta) FILTER (WHERE NOT {CLAWBACK_SQL}), 0)"
    ),
    "points_change": "sum(e.points_delta)",
}


def _select(sums: dict[str, str]) -> str:
    return ", ".join(f"{sums.get(c, '0')} AS {c}" for c in TOTAL_COLUMNS)


_TOTALS_PARTS = [
    f"""
    SELECT c.program_id, {_LOCAL_DAY.format(column="e.created_at")} AS day, {_select(_ENTRY_SUMS)}
    FROM cards_ledgerentry e JOIN cards_card c ON c.id = e.card_id
    WHERE e.merchant_id = %(merchant)s
    GROUP BY 1, 2""",  # noqa: S608
    # Points still on a card when it was deleted are no longer owed.
    f"""
    SELECT c.program_id, {_LOCAL_DAY.format(column="c.deleted_at")} AS day,
        {_select({"points_forfeited": "sum(c.points_balance)"})}
    FROM cards_card c JOIN cards_program p ON p.id = c.program_id
    WHERE c.merchant_id = %(merchant)s AND c.deleted_at IS NOT NULL AND p.kind = 'cashback'
    GROUP BY 1, 2""",  # noqa: S608
    f"""
    SELECT c.program_id, {_LOCAL_DAY.format(column="f.created_at")} AS day,
        {_select({"ratings": "count(*)", "rating_sum": "sum(f.rating)"})}
    FROM feedback_feedback f JOIN cards_card c ON c.id = f.card_id
    WHERE f.merchant_id = %(merchant)s
    GROUP BY 1, 2""",  # noqa: S608
]

# Each card's distinct visit days, each with the card's visit day before it.
_PAIRS_SQL = f"""
SELECT program_id, day, lag(day) OVER (PARTITION BY card_id ORDER BY day) AS previous_day
FROM (
    SELECT DISTINCT e.card_id, c.program_id, {_LOCAL_DAY.format(column="e.created_at")} AS day
    FROM cards_ledgerentry e JOIN cards_card c ON c.id = e.card_id
    WHERE e.merchant_id = %(merchant)s AND e.visits_delta > 0
) AS visit_days
"""  # noqa: S608

_VISITING = {
    "cards_visiting": "count(*)",
    "first_visits": "count(*) FILTER (WHERE previous_day IS NULL)",
}
_TOTALS_PARTS += [
    f"""
    SELECT program_id, day, {_select(_VISITING)}
    FROM ({_PAIRS_SQL}) AS pairs GROUP BY 1, 2""",  # noqa: S608
    f"""
    SELECT program_id, previous_day, {_select({"later_visits": "count(*)"})}
    FROM ({_PAIRS_SQL}) AS pairs WHERE previous_day IS NOT NULL GROUP BY 1, 2""",  # noqa: S608
]

TOTALS_SQL = f"""
SELECT %(merchant)s AS merchant_id, program_id, day,
    {", ".join(f"sum({c}) AS {c}" for c in TOTAL_COLUMNS)}
FROM ({" UNION ALL ".join(_TOTALS_PARTS)}) AS parts
GROUP BY program_id, day
"""  # noqa: S608

VISIT_DAYS_SQL = f"""
SELECT %(merchant)s AS merchant_id, program_id, day, previous_day, count(*) AS cards
FROM ({_PAIRS_SQL}) AS paired
GROUP BY program_id, day, previous_day
"""  # noqa: S608

TIERS_SQL = """
SELECT %(merchant)s AS merchant_id, program_id, tier_name, count(*) AS cards
FROM cards_card
WHERE merchant_id = %(merchant)s AND status <> 'deleted' AND tier_name <> ''
GROUP BY program_id, tier_name
"""

SCRATCH_SQL = {
    "analytics_dailytotals": (("program_id", "day"), TOTALS_SQL),
    "analytics_visitdays": (("program_id", "day", "previous_day"), VISIT_DAYS_SQL),
    "analytics_tiercount": (("program_id", "tier_name"), TIERS_SQL),
}

_COLUMNS = {
    "analytics_dailytotals": ("merchant_id", "program_id", "day", *TOTAL_COLUMNS),
    "analytics_visitdays": ("merchant_id", "program_id", "day", "previous_day", "cards"),
    "analytics_tiercount": ("merchant_id", "program_id", "tier_name", "cards"),
}

EXCLUSIVE_LOCK_SQL = "SELECT pg_advisory_xact_lock(%(lock)s::int, %(merchant)s::int)"
REBUILD_SQL = [
    statement
    for table, (_, select) in SCRATCH_SQL.items()
    for statement in (
        f"DELETE FROM {table} WHERE merchant_id = %(merchant)s",  # noqa: S608
        f"INSERT INTO {table} ({', '.join(_COLUMNS[table])}) {select}",
    )
]


def columns_of(table: str) -> tuple[str, ...]:
    return _COLUMNS[table]


def scratch_params(merchant: Merchant) -> dict[str, Any]:
    return {"merchant": merchant.pk, "tz": merchant.time_zone, "lock": LOCK_CLASS}
