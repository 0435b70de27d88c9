"""Reads for the merchant's home page: its figures, charts and shares.

Everything comes from the rollup (``analytics.models``), the stored segments and the programs
the caller passes in, not from the ledger itself; the one exception is the reasons for
reversals, read from the ledger's reversals alone through their own partial index (reversals
are few, and a reason is free text no rollup could keep). Each function runs a fixed number of
aggregate queries whatever the length of the history (docs/metrics.md defines every figure).
Money and points keep 2 decimals, percentages and rating averages 1 (ROUND_HALF_UP).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, F, Q, Sum
from django.utils.translation import gettext as _

from analytics.models import DailyTotals, TierCount, VisitDays
from analytics.periods import Bucket, Period, local_today
from analytics.rollup_sql import ZERO_TOTALS
from analytics.services import rollup_version
from cards.models import LedgerEntry, Program, Tier
from cards.rules import Kind
from customers.models import Segment
from customers.segments import segment_snapshot
from loyalty.models import Merchant

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")

Number = Decimal | int | None
Sums = dict[str, Any]  # a DailyTotals column -> its sum over some days


@dataclass(frozen=True)
class Figure:
    key: str  # the metric key (docs/metrics.md)
    value: Number  # None = empty (roi without reward cost, average_check without purchases)
    previous: Number  # the same over period.previous()
    change: Decimal | None  # in %, 1 decimal; None if either is None or previous is 0
    unit: str  # "money" | "count" | "points" | "percent" | "rating"
    group: str  # "sales" | "customers" | "stamps" | "cashback" | "costs"


@dataclass(frozen=True)
class Metric:
    key: str
    unit: str
    group: str
    kind: str = ""  # "stamp" or "cashback": shown only when such a program is selected


# The figures in the order the page shows them.
METRICS = (
    Metric("revenue", "money", "sales"),
    Metric("purchases", "count", "sales"),
    Metric("average_check", "money", "sales"),
    Metric("visits", "count", "customers"),
    Metric("new_cards", "count", "customers"),
    Metric("active_customers", "count", "customers"),
    Metric("returning_customers", "count", "customers"),
    Metric("stamps_issued", "count", "stamps", "stamp"),
    Metric("rewards_issued", "count", "stamps", "stamp"),
    Metric("rewards_redeemed", "count", "stamps", "stamp"),
    Metric("points_issued", "points", "cashback", "cashback"),
    Metric("points_redeemed", "points", "cashback", "cashback"),
    Metric("points_outstanding", "points", "cashback", "cashback"),
    Metric("reward_cost", "money", "costs"),
    Metric("roi", "percent", "costs"),
)
# The DailyTotals columns the figures sum over a period.
FIGURE_COLUMNS = (
    "revenue",
    "purchases",
    "visits",
    "new_cards",
    "stamps_issued",
    "rewards_issued",
    "rewards_redeemed",
    "points_issued",
    "points_redeemed",
)
SERIES_COLUMNS = ("revenue", "visits", "new_cards", "ratings", "rating_sum")
ZERO_SERIES = {c: ZERO_TOTALS[c] for c in SERIES_COLUMNS}


# ---------------------------------------------------------------------------------------------
# Figures


def home_figures(
    *, merchant: Merchant, programs: Sequence[Program], period: Period
) -> list[Figure]:
    """Every figure of ``programs`` over ``period``, with the previous period's beside it.

    One query for the sums of both periods, the points outstanding at both ends and the
    active customers of a period ending today; one more, cached, for a period that is over.
    """
    programs = list(programs)
    kinds = {program.kind for program in programs}
    sums = _period_sums(merchant=merchant, programs=programs, period=period)
    customers = _customers(merchant=merchant, programs=programs, period=period, sums=sums)
    values = _values(programs=programs, sums=sums.now, owed=sums.owed[0], customers=customers[0])
    previous = _values(
        programs=programs, sums=sums.before, owed=sums.owed[1], customers=customers[1]
    )
    return [
        Figure(
            key=metric.key,
            value=values[metric.key],
            previous=previous[metric.key],
            change=change_percent(value=values[metric.key], previous=previous[metric.key]),
            unit=metric.unit,
            group=metric.group,
        )
        for metric in METRICS
        if not metric.kind or metric.kind in kinds
    ]


@dataclass(frozen=True)
class PeriodSums:
    now: dict[int, Sums]  # program id -> its column sums over the period
    before: dict[int, Sums]  # ... over the previous period
    owed: tuple[Decimal, Decimal]  # points outstanding at the end of each (cashback only)
    crossing: tuple[int, int]  # (active, returning) from the per-day pair counters


# Written as SQL rather than built by the ORM: building these thirty-odd filtered sums and the
# reads they replace took a fifth of the page's time when profiled, far more than running
# them. Only column names and placeholders go in; every value is a parameter.
_NOW = "day BETWEEN %(start)s AND %(end)s"
_BEFORE = "day BETWEEN %(previous_start)s AND %(previous_end)s"
_OWED = "points_change - points_forfeited"
PERIOD_SUMS_SQL = f"""
SELECT program_id,
    {", ".join(f"SUM({c}) FILTER (WHERE {_NOW})" for c in FIGURE_COLUMNS)},
    {", ".join(f"SUM({c}) FILTER (WHERE {_BEFORE})" for c in FIGURE_COLUMNS)},
    SUM({_OWED}) FILTER (WHERE day <= %(end)s),
    SUM({_OWED}) FILTER (WHERE day <= %(previous_end)s),
    SUM(later_visits) FILTER (WHERE day < %(start)s),
    SUM(first_visits),
    SUM(cards_visiting) FILTER (WHERE day < %(start)s),
    SUM(first_visits) FILTER (WHERE day >= %(start)s)
FROM {DailyTotals._meta.db_table}
WHERE merchant_id = %(merchant)s AND program_id = ANY(%(programs)s)
GROUP BY program_id
"""  # noqa: S608 (column names from the constants above; every value is a parameter)


def _period_sums(*, merchant: Merchant, programs: list[Program], period: Period) -> PeriodSums:
    """Each program's sums over the period and the previous one, the points owed at both
    ends, and the visit-pair counters ``_customers`` takes for a period ending today (one
    query).

    Points owed are every change up to a day minus the balances of cards deleted up to then.
    """
    previous = period.previous()
    params: dict[str, Any] = {
        "merchant": merchant.pk,
        "programs": [program.pk for program in programs],
        "start": period.start,
        "end": period.end,
        "previous_start": previous.start,
        "previous_end": previous.end,
    }
    with connection.cursor() as cursor:
        cursor.execute(PERIOD_SUMS_SQL, params)
        rows = cursor.fetchall()
    cashback = {program.pk for program in programs if program.is_cashback}
    width = len(FIGURE_COLUMNS)
    now, before = {}, {}
    owed = [ZERO, ZERO]
    counters = [0, 0, 0, 0]  # started before, from nowhere, ended before, first ever since
    for program_id, *values in rows:
        now[program_id] = _sums(values[:width])
        before[program_id] = _sums(values[width : 2 * width])
        if program_id in cashback:
            owed = [owed[i] + (values[2 * width + i] or ZERO) for i in (0, 1)]
        counters = [c + (v or 0) for c, v in zip(counters, values[2 * width + 2 :], strict=True)]
    started, from_nowhere, ended, first_ever = counters
    active = started + from_nowhere - ended
    return PeriodSums(
        now=now,
        before=before,
        owed=(_money(owed[0]), _money(owed[1])),
        crossing=(active, active - first_ever),
    )


def _sums(values: Sequence[Any]) -> Sums:
    # A sum over no day is NULL: zero of the column's type.
    return {c: v or ZERO_TOTALS[c] for c, v in zip(FIGURE_COLUMNS, values, strict=True)}


# Counts of a period that ended before today, kept this long: its pairs never change, as every
# entry is dated when it is written (a rebuild changes the key's version instead).
CLOSED_PERIOD_SECONDS = 6 * 3600


def _customers(
    *, merchant: Merchant, programs: list[Program], period: Period, sums: PeriodSums
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(active, returning) cards in the period and in the previous one.

    A card's visit days make pairs (visit before, visit); a card is active in [a, b] when one
    of its pairs starts before a (or nowhere: a first visit ever) and ends in [a, b].

    For a period ending today, those are the pairs that cross its first day: pairs starting
    before it (or nowhere) minus pairs ending before it (which all started before it too),
    sums over the per-day counters of ``DailyTotals`` that ``_period_sums`` reads, a few
    hundred rows whatever the number of customers. Returning cards are the active ones less
    the first visits ever made in the period. The previous period always ended before today.
    """
    ids = [program.pk for program in programs]
    if period.end >= local_today(merchant=merchant):
        now = sums.crossing
    else:
        now = _closed_customers(merchant=merchant, ids=ids, period=period)
    return now, _closed_customers(merchant=merchant, ids=ids, period=period.previous())


def _closed_customers(*, merchant: Merchant, ids: list[int], period: Period) -> tuple[int, int]:
    """For a period over: its pairs read one by one (``VisitDays``), once, then cached."""
    key = ":".join(
        [
            "analytics:customers",
            # The merchant's creation time too: a database restored or recreated next to the
            # same cache cannot meet counts cached for another merchant of the same id.
            f"{merchant.pk}-{merchant.created_at.timestamp()}",
            rollup_version(merchant=merchant),
            ",".join(map(str, ids)),
            period.start.isoformat(),
            period.end.isoformat(),
        ]
    )
    cached = cache.get(key)
    if cached is None:
        # Index-only on the (program, day, previous_day) INCLUDE (cards) index.
        sums = (
            VisitDays.objects.filter(program__in=ids, day__range=(period.start, period.end))
            .filter(Q(previous_day__lt=period.start) | Q(previous_day__isnull=True))
            .aggregate(
                active=Sum("cards"), returning=Sum("cards", filter=Q(previous_day__isnull=False))
            )
        )
        cached = (sums["active"] or 0, sums["returning"] or 0)
        cache.set(key, cached, CLOSED_PERIOD_SECONDS)
    return cached


def _values(
    *,
    programs: list[Program],
    sums: Mapping[int, Sums],
    owed: Decimal,
    customers: tuple[int, int],
) -> dict[str, Number]:
    """Every metric's value over one period, from its sums per program."""
    total = {c: sum((s[c] for s in sums.values()), start=ZERO_TOTALS[c]) for c in FIGURE_COLUMNS}
    revenue = _money(total["revenue"])
    cost = _reward_cost(programs=programs, sums=sums, points_redeemed=total["points_redeemed"])
    return {
        **{column: total[column] for column in FIGURE_COLUMNS},
        "revenue": revenue,
        "average_check": _money(revenue / total["purchases"]) if total["purchases"] else None,
        "active_customers": customers[0],
        "returning_customers": customers[1],
        "points_issued": _money(total["points_issued"]),
        "points_redeemed": _money(total["points_redeemed"]),
        "points_outstanding": owed,
        "reward_cost": cost,
        "roi": _tenth((revenue - cost) / cost * HUNDRED) if cost else None,
    }


def _reward_cost(
    *, programs: list[Program], sums: Mapping[int, Sums], points_redeemed: Decimal
) -> Decimal:
    """Rewards redeemed at each program's reward cost, plus points spent at face value."""
    rewards = sum(
        (sums[p.pk]["rewards_redeemed"] * p.reward_cost for p in programs if p.pk in sums),
        start=ZERO,
    )
    return _money(rewards + points_redeemed)


def change_percent(*, value: Number, previous: Number) -> Decimal | None:
    """How much ``value`` moved from ``previous``, in % of it; None when there is no base.

    Divided by the size of the previous value, so a rise reads positive even from below zero
    (revenue can be negative in a period of refunds).
    """
    if value is None or previous is None or previous == 0:
        return None
    return _tenth((Decimal(value) - Decimal(previous)) / abs(Decimal(previous)) * HUNDRED)


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _tenth(value: Decimal) -> Decimal:
    return Decimal(value).quantize(TENTH, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------
# Charts


@dataclass(frozen=True)
class SeriesPoint:
    bucket: Bucket
    revenue: Decimal
    visits: int
    new_cards: int
    ratings: int
    rating_average: Decimal | None  # rating_sum / ratings, 1 decimal; None without ratings


# Each day's bucket is found by PostgreSQL (the buckets' first days, in order), so a year
# comes back as 12 rows rather than 365.
SERIES_SQL = f"""
SELECT width_bucket(day, %(starts)s::date[]),
    {", ".join(f"SUM({c})" for c in SERIES_COLUMNS)}
FROM {DailyTotals._meta.db_table}
WHERE merchant_id = %(merchant)s AND program_id = ANY(%(programs)s)
    AND day BETWEEN %(start)s AND %(end)s
GROUP BY 1
"""  # noqa: S608


def home_series(
    *, merchant: Merchant, programs: Sequence[Program], period: Period
) -> list[SeriesPoint]:
    """One point per bucket of the period (zeros where nothing happened); one query."""
    buckets = period.buckets()
    totals: list[Sums] = [dict(ZERO_SERIES) for _ in buckets]
    params: dict[str, Any] = {
        "merchant": merchant.pk,
        "programs": [program.pk for program in programs],
        "starts": [bucket.start for bucket in buckets],
        "start": period.start,
        "end": period.end,
    }
    with connection.cursor() as cursor:
        cursor.execute(SERIES_SQL, params)
        for number, *values in cursor.fetchall():
            totals[number - 1] = dict(zip(SERIES_COLUMNS, values, strict=True))
    return [_point(bucket, sums) for bucket, sums in zip(buckets, totals, strict=True)]


def _point(bucket: Bucket, sums: Sums) -> SeriesPoint:
    ratings = sums["ratings"]
    return SeriesPoint(
        bucket=bucket,
        revenue=_money(sums["revenue"]),
        visits=sums["visits"],
        new_cards=sums["new_cards"],
        ratings=ratings,
        rating_average=_tenth(Decimal(sums["rating_sum"]) / ratings) if ratings else None,
    )


# ---------------------------------------------------------------------------------------------
# Shares


@dataclass(frozen=True)
class Share:
    key: str  # segment value or tier name
    label: str  # what the merchant reads (segment label, "Tier (Program)")
    count: int


@dataclass(frozen=True)
class SegmentShares:
    shares: list[Share]
    counted_at: datetime.datetime | None  # when the segments were last recomputed; None: never


def segment_shares(*, merchant: Merchant) -> SegmentShares:
    """Customers in each RFM segment as last recomputed, in the grid's order (one query).

    Segments move when they are recomputed (nightly, or when the thresholds change), so the
    counts are those of that moment, and the page says when it was.
    """
    counts, counted_at = segment_snapshot(merchant=merchant)
    shares = [
        Share(key=segment.value, label=str(segment.label), count=counts.get(segment.value, 0))
        for segment in Segment
    ]
    return SegmentShares(shares=shares, counted_at=counted_at)


def tier_shares(*, merchant: Merchant, programs: Sequence[Program]) -> list[Share]:
    """Live cards in each tier of the cashback ``programs``, program by program, by threshold.

    A card keeps the name of the tier it reached; cards still holding a tier since renamed or
    removed follow their program's current tiers under that name (two queries).
    """
    cashback = [program for program in programs if program.is_cashback]
    if not cashback:
        return []
    ids = [program.pk for program in cashback]
    tiers: dict[int, list[str]] = {pk: [] for pk in ids}
    for program_id, name in (
        Tier.objects.filter(program__in=ids)
        .order_by("program_id", "threshold")
        .values_list("program_id", "name")
    ):
        tiers[program_id].append(name)
    counts = {
        (program_id, name): cards
        for program_id, name, cards in TierCount.objects.filter(
            merchant=merchant, program__in=ids
        ).values_list("program_id", "tier_name", "cards")
    }
    return [share for program in cashback for share in _program_tiers(program, tiers, counts)]


def _program_tiers(
    program: Program, tiers: Mapping[int, list[str]], counts: Mapping[tuple[int, str], int]
) -> list[Share]:
    current = tiers[program.pk]
    # Names cards still hold though the program no longer has such a tier.
    former = sorted(
        name
        for (pk, name), cards in counts.items()
        if pk == program.pk and cards and name not in current
    )
    return [
        Share(
            key=name,
            # Translators: a cashback tier and its program on the home page, e.g. "Gold (Coffee)".
            label=_("%(tier)s (%(program)s)") % {"tier": name, "program": program.name},
            count=counts.get((program.pk, name), 0),
        )
        for name in [*current, *former]
    ]


# ---------------------------------------------------------------------------------------------
# Reasons for reversals


TOP_REASONS = 5


@dataclass(frozen=True)
class ReasonCount:
    label: str  # the reason as it was most often typed; "Other" for the rest together
    count: int
    share: Decimal  # in % of every reversal of the period, 1 decimal
    purchases: int  # how many of them undid a purchase
    other: bool = False


@dataclass(frozen=True)
class ReversalReasons:
    reasons: list[ReasonCount]  # the most common first, "Other" last
    total: int


# Built on the ORM's query of the period's reversals (the tenant and program filters, the
# join to the reversed entry), so that grouping and ranking happen in the database and at
# most TOP_REASONS + 1 rows come back however varied the reasons typed. A spelling is the
# reason trimmed with every run of whitespace made one space; a reason is its spelling in
# lower case. Ties rank alphabetically so that the top five do not change between requests.
REASONS_SQL = r"""
WITH reversals AS ({reversals}),
spellings AS (
    SELECT btrim(regexp_replace(reason, '\s+', ' ', 'g')) AS spelling, COUNT(*) AS entries,
        MIN(entry) AS first_entry, COUNT(*) FILTER (WHERE purchase) AS purchases
    FROM reversals
    GROUP BY 1
),
reasons AS (
    -- Shown as most often typed; of spellings typed as often, the first one.
    SELECT lower(spelling) AS reason,
        (array_agg(spelling ORDER BY entries DESC, first_entry))[1] AS label,
        SUM(entries) AS entries, SUM(purchases) AS purchases
    FROM spellings
    GROUP BY 1
),
ranked AS (
    SELECT label, entries, purchases, row_number() OVER (ORDER BY entries DESC, reason) AS place
    FROM reasons
)
SELECT LEAST(place, %s), MIN(label), SUM(entries), SUM(purchases)
FROM ranked
GROUP BY 1
ORDER BY 1
"""


def reversal_reasons(
    *, merchant: Merchant, program: Program | None, period: Period
) -> ReversalReasons:
    """The period's reversals (of ``program``, or of every program) counted by reason: the
    ``TOP_REASONS`` most common, then "Other" for the rest (one query).

    The period is of the merchant's local days; the filter on merchant, kind and time is the
    partial index ``ledger_merchant_reversals``'s own.
    """
    start, until = period.instants(merchant.tz)
    entries = LedgerEntry.objects.filter(
        merchant=merchant, kind=Kind.REVERSAL, created_at__gte=start, created_at__lt=until
    )
    if program is not None:
        entries = entries.filter(card__program=program)
    reversals = entries.order_by().values(
        entry=F("pk"),
        reason=F("comment"),
        purchase=ExpressionWrapper(Q(reverses__kind=Kind.PURCHASE), output_field=BooleanField()),
    )
    sql, params = reversals.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(REASONS_SQL.format(reversals=sql), [*params, TOP_REASONS + 1])
        rows = cursor.fetchall()
    total = sum(count for _place, _label, count, _purchases in rows)
    return ReversalReasons(
        reasons=[
            ReasonCount(
                # Translators: the reasons for reversals beyond the five most common, together.
                label=_("Other") if place > TOP_REASONS else label,
                count=int(count),
                share=_tenth(Decimal(count) * HUNDRED / total),
                purchases=int(purchases),
                other=place > TOP_REASONS,
            )
            for place, label, count, purchases in rows
        ],
        total=int(total),
    )
