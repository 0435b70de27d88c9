"""RFM segments: the grid, its bands, where each customer sits in it, and the preview.

A customer's cell comes from two aggregates the ledger keeps on the customer row: the days since
their last visit (calendar days in the merchant's time zone) and their total visits. ``GRID``
names the cells once; the one SQL ``CASE`` built from it places customers both when they are
recomputed (``segments_recompute``, one statement per merchant) and in the Settings preview
under other bands (``segment_counts_for_bands``), so the two always agree.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy, ngettext

from customers.models import Customer, Segment, SegmentChange, SegmentCount
from loyalty import clock
from loyalty.models import Merchant

# Rows: visited within the first, second, third recency band. Columns: few, some, many visits.
# Customers who never visited sit in NO_VISITS, those past the last band in LOST.
GRID: tuple[tuple[Segment, Segment, Segment], ...] = (
    (Segment.BEGINNERS, Segment.GROWING, Segment.CHAMPIONS),
    (Segment.DOUBTFUL, Segment.MEDIUM, Segment.LOYAL),
    (Segment.SLEEPING, Segment.AT_RISK, Segment.NEEDS_ATTENTION),
)

BAND_FIELDS = (
    "recency_band_1",
    "recency_band_2",
    "recency_band_3",
    "frequency_band_1",
    "frequency_band_2",
)
MAX_RECENCY_DAYS = 3650
MAX_FREQUENCY_VISITS = 3650

# The bands' units, and the messages of a value that is not a whole number (also the form's).
DAYS, VISITS = "days", "visits"
WHOLE_DAYS = gettext_lazy("Enter a whole number of days.")
WHOLE_VISITS = gettext_lazy("Enter a whole number of visits.")


@dataclass(frozen=True)
class SegmentBands:
    """Where the grid's bands end: recency in days since the last visit, frequency in visits.

    ``recency=(30, 60, 90)`` means 0-30, 31-60 and 61-90 days, then Lost; ``frequency=(3, 7)``
    means 1-3, 4-7 and 8+ visits.
    """

    recency: tuple[int, int, int]
    frequency: tuple[int, int]

    @classmethod
    def of(cls, merchant: Merchant) -> SegmentBands:
        return cls(
            recency=(merchant.recency_band_1, merchant.recency_band_2, merchant.recency_band_3),
            frequency=(merchant.frequency_band_1, merchant.frequency_band_2),
        )

    def fields(self) -> dict[str, int]:
        """The bands as the merchant's columns (and the settings form's fields)."""
        return dict(zip(BAND_FIELDS, (*self.recency, *self.frequency), strict=True))

    @property
    def recency_labels(self) -> tuple[str, str, str]:
        r1, r2, r3 = self.recency
        # Translators: a band of the segment grid, e.g. "31–60 days" since the last visit.
        days = gettext("%(low)s–%(high)s days")
        return (
            days % {"low": 0, "high": r1},
            days % {"low": r1 + 1, "high": r2},
            days % {"low": r2 + 1, "high": r3},
        )

    @property
    def frequency_labels(self) -> tuple[str, str, str]:
        f1, f2 = self.frequency
        # Translators: a band of the segment grid, e.g. "4–7 visits" in all.
        visits = gettext("%(low)s–%(high)s visits")
        return (
            visits % {"low": 1, "high": f1},
            visits % {"low": f1 + 1, "high": f2},
            # Translators: the last band of the segment grid, e.g. "8+ visits" in all.
            gettext("%(low)s+ visits") % {"low": f2 + 1},
        )


@dataclass(frozen=True)
class SegmentGrid:
    """The grid as a page draws it: column and row headers, and the segment of each cell."""

    frequency: tuple[str, str, str]  # the column headers, "1–3 visits"
    rows: tuple[tuple[str, tuple[Segment, Segment, Segment]], ...]  # ("0–30 days", its cells)
    lost_after: int  # days: past the last recency band


def segment_grid(bands: SegmentBands) -> SegmentGrid:
    """The grid under ``bands``: the one source of the bands' labels, so the Segments page and
    the Settings preview read the same (a customer with no visit sits in "No visits", so the
    first visit band starts at 1)."""
    return SegmentGrid(
        frequency=bands.frequency_labels,
        rows=tuple(zip(bands.recency_labels, GRID, strict=True)),
        lost_after=bands.recency[2],
    )


# ---------------------------------------------------------------------------------------------
# Validation: the one place that says what bands are acceptable


def segment_bands_clean(*, recency: Iterable[Any], frequency: Iterable[Any]) -> SegmentBands:
    """Whole numbers in range, each band ending after the one before it; every error at once."""
    errors: dict[str, list[str]] = {}
    days = _whole_numbers(tuple(recency), "recency_band", DAYS, MAX_RECENCY_DAYS, errors)
    visits = _whole_numbers(
        tuple(frequency), "frequency_band", VISITS, MAX_FREQUENCY_VISITS, errors
    )
    _increasing(days, "recency_band", DAYS, errors)
    _increasing(visits, "frequency_band", VISITS, errors)
    if errors:
        raise ValidationError(errors)
    r1, r2, r3 = (int(d or 0) for d in days)
    f1, f2 = (int(v or 0) for v in visits)
    return SegmentBands(recency=(r1, r2, r3), frequency=(f1, f2))


def _whole_numbers(
    raw: tuple[Any, ...], prefix: str, unit: str, high: int, errors: dict[str, list[str]]
) -> list[int | None]:
    values: list[int | None] = []
    for index, value in enumerate(raw, start=1):
        name = f"{prefix}_{index}"
        number = None
        if value is None or value == "":
            errors[name] = [gettext("Enter a number.")]
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                errors[name] = [str(WHOLE_DAYS if unit == DAYS else WHOLE_VISITS)]
            else:
                if not 1 <= number <= high:
                    errors[name] = [_out_of_range(unit, high)]
                    number = None
        values.append(number)
    return values


def _increasing(
    values: list[int | None], prefix: str, unit: str, errors: dict[str, list[str]]
) -> None:
    for index in range(1, len(values)):
        before, current = values[index - 1], values[index]
        if before is not None and current is not None and current <= before:
            errors.setdefault(f"{prefix}_{index + 1}", []).append(_not_increasing(unit, before))


def _out_of_range(unit: str, high: int) -> str:
    limit = {"high": number_format(high, force_grouping=True)}
    if unit == DAYS:
        return gettext("Enter between 1 and %(high)s days.") % limit
    return gettext("Enter between 1 and %(high)s visits.") % limit


def _not_increasing(unit: str, before: int) -> str:
    if unit == DAYS:
        return ngettext(
            "Must be more than the band before it (%(before)s day): bands must increase.",
            "Must be more than the band before it (%(before)s days): bands must increase.",
            before,
        ) % {"before": before}
    return ngettext(
        "Must be more than the band before it (%(before)s visit): bands must increase.",
        "Must be more than the band before it (%(before)s visits): bands must increase.",
        before,
    ) % {"before": before}


# ---------------------------------------------------------------------------------------------
# The grid in SQL


def _grid_case_sql() -> str:
    """The cell of customer ``c`` whose last visit was ``d.days`` ago, from ``GRID``."""
    rows = []
    for band, (few, some, many) in enumerate(GRID, start=1):
        rows.append(
            f"WHEN d.days <= %(r{band})s THEN CASE "
            f"WHEN c.total_visits <= %(f1)s THEN '{few.value}' "
            f"WHEN c.total_visits <= %(f2)s THEN '{some.value}' ELSE '{many.value}' END"
        )
    never = "c.total_visits <= 0 OR c.last_visit_at IS NULL"
    return (
        f"CASE WHEN {never} THEN '{Segment.NO_VISITS.value}' "
        + " ".join(rows)
        + f" ELSE '{Segment.LOST.value}' END"
    )


# Recency counts calendar days in the merchant's time zone: "at most N days ago" means "on or
# after local midnight N days before today".
_CUSTOMERS_SQL = f"""
SELECT c.id, c.segment AS old_segment, {_grid_case_sql()} AS cell
FROM customers_customer c
CROSS JOIN LATERAL (
    SELECT (%(now)s AT TIME ZONE %(tz)s)::date
         - (c.last_visit_at AT TIME ZONE %(tz)s)::date AS days
) d
WHERE c.merchant_id = %(merchant)s
"""  # noqa: S608 (built from the Segment constants only; every value is a parameter)

# One statement per merchant: compute every customer's cell, update only the customers whose
# segment changed, and record each move.
_RECOMPUTE_SQL = f"""
WITH computed AS ({_CUSTOMERS_SQL}),
moved AS (
    UPDATE customers_customer t
    SET segment = computed.cell, segment_changed_at = %(now)s
    FROM computed
    WHERE t.id = computed.id AND computed.cell <> computed.old_segment
    RETURNING t.id, computed.old_segment, computed.cell
)
INSERT INTO customers_segmentchange (merchant_id, customer_id, changed_at, from_segment, to_segment)
SELECT %(merchant)s, moved.id, %(now)s, moved.old_segment, moved.cell FROM moved
"""  # noqa: S608

_COUNTS_SQL = f"SELECT cell, count(*) FROM ({_CUSTOMERS_SQL}) AS placed GROUP BY cell"  # noqa: S608


def _params(merchant: Merchant, bands: SegmentBands, now: datetime.datetime) -> dict[str, Any]:
    (r1, r2, r3), (f1, f2) = bands.recency, bands.frequency
    return {
        "merchant": merchant.pk,
        "now": now,
        "tz": merchant.time_zone,
        "r1": r1,
        "r2": r2,
        "r3": r3,
        "f1": f1,
        "f2": f2,
    }


# The counts the recompute leaves, replacing the previous ones (read by the home page's chart).
_SNAPSHOT_SQL = [
    "DELETE FROM customers_segmentcount WHERE merchant_id = %(merchant)s",
    """INSERT INTO customers_segmentcount (merchant_id, segment, customers, computed_at)
    SELECT %(merchant)s, segment, count(*), %(now)s FROM customers_customer
    WHERE merchant_id = %(merchant)s GROUP BY segment
    ON CONFLICT (merchant_id, segment) DO UPDATE
    SET customers = EXCLUDED.customers, computed_at = EXCLUDED.computed_at""",
]


def segments_recompute(*, merchant: Merchant, now: datetime.datetime | None = None) -> int:
    """Move every customer of ``merchant`` to their cell under its bands; returns how many moved.

    The counts per segment are kept as of this moment (``SegmentCount``).
    """
    params = _params(merchant, SegmentBands.of(merchant), now or clock.now())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RECOMPUTE_SQL, params)
        moved = cursor.rowcount
        for statement in _SNAPSHOT_SQL:
            cursor.execute(statement, params)
        return moved


def segment_counts_for_bands(
    *, merchant: Merchant, bands: SegmentBands, now: datetime.datetime | None = None
) -> dict[str, int]:
    """Customers per segment if the grid had ``bands`` (one aggregate query, nothing saved)."""
    counts = dict.fromkeys(Segment.values, 0)
    with connection.cursor() as cursor:
        cursor.execute(_COUNTS_SQL, _params(merchant, bands, now or clock.now()))
        counts.update(dict(cursor.fetchall()))
    return counts


# ---------------------------------------------------------------------------------------------
# Reads of the stored segments


def segment_counts(*, merchant: Merchant) -> dict[str, int]:
    """Customers per stored segment (every segment present, zero where empty)."""
    counts = dict.fromkeys(Segment.values, 0)
    rows = (
        Customer.objects.filter(merchant=merchant)
        .values("segment")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["segment"]] = row["n"]
    return counts


def segment_snapshot(*, merchant: Merchant) -> tuple[dict[str, int], datetime.datetime | None]:
    """Customers per segment as the last recompute counted them, and when (None: never).

    A few rows, whatever the number of customers: for pages that must not count them all.
    """
    counts = dict.fromkeys(Segment.values, 0)
    computed_at = None
    for row in SegmentCount.objects.filter(merchant=merchant):
        counts[row.segment] = row.customers
        computed_at = row.computed_at
    return counts, computed_at


def segment_moves(*, merchant: Merchant, limit: int = 50) -> QuerySet[SegmentChange]:
    """The latest segment changes, newest first (who moved, from where, to where)."""
    return (
        SegmentChange.objects.filter(merchant=merchant)
        .select_related("customer")
        .order_by("-changed_at", "-id")[:limit]
    )
