"""What the home page shows, written the way a merchant reads it.

Figures and series come from ``analytics.selectors`` (the rollup). Here they become tiles and
chart panels: money in the merchant's currency, counts and changes in the reader's language,
charts from ``analytics.charts``' geometry (markup in ``analytics.svg``), each with its numbers
as a table. The views (``analytics.views``) only pick the filter and put the parts together.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from babel.numbers import format_compact_currency, format_compact_decimal
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from analytics import charts
from analytics.periods import Bucket, Period
from analytics.selectors import (
    Figure,
    ReversalReasons,
    SeriesPoint,
    Share,
    segment_shares,
)
from analytics.svg import chart_svg, numbers_table
from loyalty.i18n import format_money
from loyalty.models import Merchant
from loyalty.numbers import number_writer

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

Number = Decimal | int

# ---------------------------------------------------------------------------------------------
# Numbers in the reader's language


def _locale() -> str:
    return translation.to_locale(translation.get_language() or "en")


def format_count(value: Number) -> str:
    return number_writer("#,##0", _locale())(value)


def format_points(value: Number) -> str:
    return number_writer("#,##0.00", _locale())(value)


def format_rating(value: Number) -> str:
    return number_writer("0.0", _locale())(value)


def format_percent(value: Number) -> str:
    number = number_writer("#,##0.0", _locale())(value)
    return _("%(value)s %%") % {"value": number}


def format_change(value: Decimal) -> str:
    """``+12.5 %``, ``-3.0 %``: the sign always written, as on a stock ticker."""
    if value == 0:
        return format_percent(value)
    number = number_writer("+#,##0.0;-#,##0.0", _locale())(value)
    return _("%(value)s %%") % {"value": number}


def _formatter(unit: str, currency: str) -> Callable[[Number], str]:
    """How a unit's values read; remembered per value for the chart it draws (a value is
    written in the bar's title and in the table, and zeros repeat)."""
    if unit == "money":
        return functools.cache(lambda value: format_money(value, currency))
    return functools.cache(
        {
            "count": format_count,
            "points": format_points,
            "percent": format_percent,
            "rating": format_rating,
        }[unit]
    )


def _tick_formatter(unit: str, currency: str) -> Callable[[Decimal], str]:
    """Axis labels are short: ``$1.2K`` rather than ``$1,200.00``."""
    locale = _locale()
    if unit == "money":
        return lambda value: format_compact_currency(
            value, currency, locale=locale, fraction_digits=1
        )
    if unit == "rating":
        return number_writer("0", locale)
    return lambda value: format_compact_decimal(value, locale=locale, fraction_digits=1)


def _raw(value: Number | None) -> str:
    """What ``data-value`` and friends carry: a plain decimal string, or empty."""
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True)
class FigureLabel:
    label: StrOrPromise
    note: StrOrPromise = ""  # a few words where the name alone could mislead
    empty: StrOrPromise = ""  # why the figure can be empty


FIGURE_LABELS = {
    "revenue": FigureLabel(gettext_lazy("Revenue"), gettext_lazy("Purchases minus refunds")),
    "purchases": FigureLabel(gettext_lazy("Purchases")),
    "average_check": FigureLabel(
        gettext_lazy("Average check"), empty=gettext_lazy("No purchases in this period")
    ),
    "visits": FigureLabel(gettext_lazy("Visits")),
    "new_cards": FigureLabel(gettext_lazy("New cards")),
    "active_customers": FigureLabel(
        gettext_lazy("Active customers"), gettext_lazy("Cards with a visit in the period")
    ),
    "returning_customers": FigureLabel(
        gettext_lazy("Returning customers"), gettext_lazy("Active cards that had visited before")
    ),
    "stamps_issued": FigureLabel(gettext_lazy("Stamps issued")),
    "rewards_issued": FigureLabel(gettext_lazy("Rewards earned")),
    "rewards_redeemed": FigureLabel(gettext_lazy("Rewards redeemed")),
    "points_issued": FigureLabel(gettext_lazy("Points issued")),
    "points_redeemed": FigureLabel(gettext_lazy("Points redeemed")),
    "points_outstanding": FigureLabel(
        gettext_lazy("Points outstanding"), gettext_lazy("Owed to customers at the period's end")
    ),
    "reward_cost": FigureLabel(
        gettext_lazy("Reward cost"), gettext_lazy("Rewards redeemed and points spent")
    ),
    "roi": FigureLabel(
        gettext_lazy("Return on rewards"),
        gettext_lazy("Revenue less reward cost, per unit of reward cost"),
        empty=gettext_lazy(
            "No reward cost in this period: set what a reward costs you in the program's settings"
        ),
    ),
}
# Most figures are better when they grow; paying more for rewards is not. Points owed grow
# with a busy program as much as with a forgotten one: no colour either way.
UP_IS_BAD = {"reward_cost"}
NEUTRAL = {"points_outstanding"}

GROUPS = {
    "sales": gettext_lazy("Sales"),
    "customers": gettext_lazy("Customers"),
    "stamps": gettext_lazy("Stamps"),
    "cashback": gettext_lazy("Cashback"),
    "costs": gettext_lazy("Rewards and their cost"),
}


@dataclass(frozen=True)
class FigureTile:
    """One figure as the page shows it, with its raw values for ``data-*``."""

    key: str
    label: StrOrPromise
    note: StrOrPromise
    text: str  # "" for an empty figure
    empty_reason: StrOrPromise
    previous_text: str
    change_text: str
    direction: str  # "up", "down", "flat" or "" (no comparison)
    tone: str  # "good", "bad" or "neutral"
    raw: str
    raw_previous: str
    raw_change: str


def figure_tile(figure: Figure, *, currency: str) -> FigureTile:
    labels = FIGURE_LABELS[figure.key]
    write = _formatter(figure.unit, currency)
    direction = ""
    if figure.change is not None:
        direction = "up" if figure.change > 0 else "down" if figure.change < 0 else "flat"
    tone = "neutral"
    if direction in ("up", "down") and figure.key not in NEUTRAL:
        better = (direction == "up") != (figure.key in UP_IS_BAD)
        tone = "good" if better else "bad"
    return FigureTile(
        key=figure.key,
        label=labels.label,
        note=labels.note,
        text="" if figure.value is None else write(figure.value),
        empty_reason=labels.empty or gettext_lazy("No data in this period"),
        previous_text="" if figure.previous is None else write(figure.previous),
        change_text="" if figure.change is None else format_change(figure.change),
        direction=direction,
        tone=tone,
        raw=_raw(figure.value),
        raw_previous=_raw(figure.previous),
        raw_change=_raw(figure.change),
    )


def comparison_text(period: Period) -> str:
    """What a change is measured against: "vs previous 30 days"."""
    if period.preset == "12m":
        return _("vs previous 12 months")
    return ngettext("vs the day before", "vs previous %(days)s days", period.days) % {
        "days": period.days
    }


# ---------------------------------------------------------------------------------------------
# Charts


@dataclass(frozen=True)
class ChartPanel:
    key: str
    title: StrOrPromise
    kind: str  # "columns", "line" or "bars": which SVG partial draws it
    geometry: charts.ColumnChart | charts.LineChart | charts.BarList
    description: str
    headers: list[StrOrPromise]
    rows: list[list[str]]
    csv_url: str
    empty_text: StrOrPromise  # said instead of the picture when there is nothing to draw
    note: StrOrPromise = ""  # how fresh the numbers are, where they are not live
    # A count the title stands for ("12 reversals"), written beside it; raw for data-value.
    total_text: str = ""
    total_raw: str = ""

    @property
    def empty(self) -> bool:
        return self.geometry.empty

    @property
    def svg(self) -> SafeString:
        return chart_svg(self)

    @property
    def table(self) -> SafeString:
        return numbers_table(self)


SERIES_CHARTS: dict[str, tuple[StrOrPromise, str]] = {
    "revenue": (gettext_lazy("Revenue"), "money"),
    "visits": (gettext_lazy("Visits"), "count"),
    "new_cards": (gettext_lazy("New cards"), "count"),
}
CHART_TITLES: dict[str, StrOrPromise] = {
    **{key: title for key, (title, _unit) in SERIES_CHARTS.items()},
    "rating": gettext_lazy("Average rating"),
    "segments": gettext_lazy("Customers by segment"),
    "tiers": gettext_lazy("Cards by tier"),
    "reversal_reasons": gettext_lazy("Top reasons for reversals"),
}
GRANULARITY = {
    "day": gettext_lazy("day"),
    "week": gettext_lazy("week"),
    "month": gettext_lazy("month"),
}
RATING_SCALE = (0, 5)


def bucket_text(bucket: Bucket) -> str:
    """A bucket in a table: a day or a whole month by its label, else its first and last day
    (a week, or a month cut short by the period)."""
    if bucket.start == bucket.end or _whole_month(bucket):
        return bucket.label
    start = date_format(bucket.start, "MONTH_DAY_FORMAT")
    end = date_format(bucket.end, "MONTH_DAY_FORMAT")
    return _("%(start)s – %(end)s") % {"start": start, "end": end}


def _whole_month(bucket: Bucket) -> bool:
    return bucket.start.day == 1 and (bucket.end + datetime.timedelta(days=1)).day == 1


def _period_span(period: Period) -> dict[str, str]:
    return {
        "start": date_format(period.start, "DATE_FORMAT"),
        "end": date_format(period.end, "DATE_FORMAT"),
        "unit": str(GRANULARITY[period.granularity]),
    }


def series_chart(
    key: str, series: Sequence[SeriesPoint], *, period: Period, currency: str, csv_url: str
) -> ChartPanel:
    title, unit = SERIES_CHARTS[key]
    write = _formatter(unit, currency)
    values: list[tuple[str, Number]] = [(p.bucket.label, getattr(p, key)) for p in series]
    geometry = charts.column_chart(
        values,
        value_format=write,
        tick_format=_tick_formatter(unit, currency),
        integers=unit == "count",
    )
    description = _("No data in this period.")
    if not geometry.empty:
        peak = max(series, key=lambda p: getattr(p, key))
        total = sum((getattr(p, key) for p in series), start=Decimal(0) if unit == "money" else 0)
        description = _(
            "%(title)s by %(unit)s from %(start)s to %(end)s: %(total)s in all, "
            "the most %(peak)s (%(when)s)."
        ) % {
            "title": title,
            **_period_span(period),
            "total": write(total),
            "peak": write(getattr(peak, key)),
            "when": bucket_text(peak.bucket),
        }
    return ChartPanel(
        key=key,
        title=title,
        kind="columns",
        geometry=geometry,
        description=description,
        headers=[gettext_lazy("Period"), title],
        rows=[[bucket_text(p.bucket), write(getattr(p, key))] for p in series],
        csv_url=csv_url,
        empty_text=gettext_lazy("No data in this period"),
    )


def rating_chart(series: Sequence[SeriesPoint], *, period: Period, csv_url: str) -> ChartPanel:
    title = CHART_TITLES["rating"]
    values = [(p.bucket.label, p.rating_average) for p in series]
    geometry = charts.line_chart(
        values,
        domain=RATING_SCALE,
        value_format=format_rating,
        tick_format=_tick_formatter("rating", ""),
    )
    description = _("No ratings in this period.")
    rated = [p.rating_average for p in series if p.rating_average is not None]
    if rated:
        count = sum(p.ratings for p in series)
        description = ngettext(
            "Average rating by %(unit)s from %(start)s to %(end)s, between %(low)s and "
            "%(high)s out of 5; %(count)s rating in all.",
            "Average rating by %(unit)s from %(start)s to %(end)s, between %(low)s and "
            "%(high)s out of 5; %(count)s ratings in all.",
            count,
        ) % {
            **_period_span(period),
            "low": format_rating(min(rated)),
            "high": format_rating(max(rated)),
            "count": format_count(count),
        }
    return ChartPanel(
        key="rating",
        title=title,
        kind="line",
        geometry=geometry,
        description=description,
        headers=[gettext_lazy("Period"), gettext_lazy("Ratings"), title],
        empty_text=gettext_lazy("No ratings in this period"),
        rows=[
            [
                bucket_text(p.bucket),
                format_count(p.ratings),
                "—" if p.rating_average is None else format_rating(p.rating_average),
            ]
            for p in series
        ],
        csv_url=csv_url,
    )


def segment_chart(merchant: Merchant, *, csv_url: str) -> ChartPanel:
    """Customers by segment, as the last recompute counted them (the note says when)."""
    counted = segment_shares(merchant=merchant)
    note = ""
    if counted.counted_at is not None:
        when = timezone.localtime(counted.counted_at, merchant.tz)
        note = _("Counted when segments were last updated, %(when)s.") % {
            "when": date_format(when, "SHORT_DATETIME_FORMAT")
        }
    return share_chart("segments", counted.shares, csv_url=csv_url, note=note)


def _count_and_share(count: int, share: Decimal) -> str:
    return _("%(count)s · %(share)s") % {
        "count": format_count(count),
        "share": format_percent(share),
    }


def _bars_description(title: StrOrPromise, geometry: charts.BarList) -> str:
    return _("%(title)s: %(list)s.") % {
        "title": title,
        "list": ", ".join(f"{row.label} {format_count(row.value)}" for row in geometry.rows),
    }


def share_chart(
    key: str, shares: Sequence[Share], *, csv_url: str, note: StrOrPromise = ""
) -> ChartPanel:
    title = CHART_TITLES[key]
    geometry = charts.bar_list(
        [(share.label, share.count) for share in shares], value_format=_count_and_share
    )
    description = _("No data in this period.")
    if not geometry.empty:
        description = _bars_description(title, geometry)
    count_header = gettext_lazy("Customers") if key == "segments" else gettext_lazy("Cards")
    return ChartPanel(
        key=key,
        title=title,
        kind="bars",
        geometry=geometry,
        description=description,
        headers=[
            gettext_lazy("Segment") if key == "segments" else gettext_lazy("Tier"),
            count_header,
            gettext_lazy("Share"),
        ],
        # Segments are counted when they are recomputed (nightly, or on demand).
        empty_text=gettext_lazy("No customers counted in segments yet")
        if key == "segments"
        else gettext_lazy("No cards yet"),
        rows=[
            [share.label, format_count(share.count), format_percent(row.share)]
            for share, row in zip(shares, geometry.rows, strict=True)
        ],
        csv_url=csv_url,
        note=note,
    )


def reasons_chart(reversals: ReversalReasons, *, csv_url: str) -> ChartPanel:
    """The reasons members gave for reversals in the period, the most common first.

    The reasons are free text typed at the counter: ``analytics.svg`` escapes them like every
    label, and the CSV defuses those that start like a formula.
    """
    title = CHART_TITLES["reversal_reasons"]
    reasons = reversals.reasons
    geometry = charts.bar_list(
        [(reason.label, reason.count) for reason in reasons], value_format=_count_and_share
    )
    description = _("No reversals in this period.")
    if not geometry.empty:
        description = _bars_description(title, geometry)
    return ChartPanel(
        key="reversal_reasons",
        title=title,
        kind="bars",
        geometry=geometry,
        description=description,
        headers=[
            gettext_lazy("Reason"),
            gettext_lazy("Reversals"),
            gettext_lazy("Share"),
            gettext_lazy("Of purchases"),
        ],
        rows=[
            [
                reason.label,
                format_count(reason.count),
                format_percent(reason.share),
                format_count(reason.purchases),
            ]
            for reason in reasons
        ],
        csv_url=csv_url,
        empty_text=gettext_lazy("No reversals in this period."),
        total_text=ngettext("%(count)s reversal", "%(count)s reversals", reversals.total)
        % {"count": format_count(reversals.total)},
        total_raw=str(reversals.total),
    )
