"""The merchant's home: statistics for owners and admins; staff go to the customer list.

Figures and series come from ``analytics.selectors`` (the rollup: a fixed number of queries
whatever the history). This module writes them the way a merchant reads them: money in the
merchant's currency, counts and changes in the reader's language, charts as inline SVG drawn
from ``analytics.charts``' geometry, each with its numbers as a table and as a CSV file.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from babel import Locale
from babel.numbers import format_compact_currency, format_compact_decimal, parse_pattern
from django.db.models import F
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET

from analytics import charts
from analytics.forms import PRESET_LABELS, HomeFilterForm
from analytics.periods import Bucket, Period, local_today
from analytics.selectors import (
    Figure,
    SeriesPoint,
    Share,
    home_figures,
    home_series,
    segment_shares,
    tier_shares,
)
from analytics.svg import chart_svg, numbers_table
from cards.models import Card, Program
from loyalty.csv_export import streaming_csv
from loyalty.http import MerchantRequest, is_manager
from loyalty.i18n import format_money
from loyalty.models import Merchant
from loyalty.tenancy import manager_required, merchant_required

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

Number = Decimal | int

# ---------------------------------------------------------------------------------------------
# Numbers in the reader's language


def _locale() -> str:
    return translation.to_locale(translation.get_language() or "en")


@functools.cache
def _number_format(pattern: str, locale: str) -> Callable[[Number], str]:
    """Babel's ``format_decimal`` with the pattern and locale parsed once, not per number.

    The page writes a few hundred numbers (tiles, chart labels, tables); parsing both for each
    was a fifth of its time when profiled.
    """
    parsed, babel_locale = parse_pattern(pattern), Locale.parse(locale)
    return lambda value: parsed.apply(value, babel_locale)


def format_count(value: Number) -> str:
    return _number_format("#,##0", _locale())(value)


def format_points(value: Number) -> str:
    return _number_format("#,##0.00", _locale())(value)


def format_rating(value: Number) -> str:
    return _number_format("0.0", _locale())(value)


def format_percent(value: Number) -> str:
    number = _number_format("#,##0.0", _locale())(value)
    return _("%(value)s %%") % {"value": number}


def format_change(value: Decimal) -> str:
    """``+12.5 %``, ``-3.0 %``: the sign always written, as on a stock ticker."""
    if value == 0:
        return format_percent(value)
    number = _number_format("+#,##0.0;-#,##0.0", _locale())(value)
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
        return _number_format("0", locale)
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


def share_chart(
    key: str, shares: Sequence[Share], *, csv_url: str, note: StrOrPromise = ""
) -> ChartPanel:
    title = CHART_TITLES[key]
    geometry = charts.bar_list(
        [(share.label, share.count) for share in shares],
        value_format=lambda count, share: (
            _("%(count)s · %(share)s")
            % {
                "count": format_count(count),
                "share": format_percent(share),
            }
        ),
    )
    description = _("No data in this period.")
    if not geometry.empty:
        description = _("%(title)s: %(list)s.") % {
            "title": title,
            "list": ", ".join(f"{row.label} {format_count(row.value)}" for row in geometry.rows),
        }
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


# ---------------------------------------------------------------------------------------------
# The page


def _filter_form(request: MerchantRequest) -> HomeFilterForm:
    """The GET filter over the merchant's programs; a program of nobody here: 404.

    Archived programs stay (last in the list): their sales are still the merchant's history.
    """
    merchant: Merchant = request.merchant
    programs = list(
        Program.objects.filter(merchant=merchant).order_by(
            F("archived_at").asc(nulls_first=True), "name", "id"
        )
    )
    form = HomeFilterForm(request.GET, programs=programs, today=local_today(merchant=merchant))
    if form.unknown_program:
        raise Http404(_("No such program."))
    return form


def _csv_url(key: str, query: str) -> str:
    url = reverse(f"analytics:{key}_csv")
    return f"{url}?{query}" if query else url


@merchant_required
@require_GET
def home(request: MerchantRequest) -> HttpResponse:
    """Owners and admins see the statistics; staff, who see no money, the customer list."""
    if not is_manager(request):
        return redirect("customers:list")
    merchant: Merchant = request.merchant
    form = _filter_form(request)
    period, programs = form.chosen_period, form.programs
    currency = merchant.currency
    query = request.GET.urlencode()
    figures = home_figures(merchant=merchant, programs=programs, period=period)
    series = home_series(merchant=merchant, programs=programs, period=period)
    panels = {
        **{
            key: series_chart(
                key, series, period=period, currency=currency, csv_url=_csv_url(key, query)
            )
            for key in SERIES_CHARTS
        },
        "rating": rating_chart(series, period=period, csv_url=_csv_url("rating", query)),
        "segments": segment_chart(merchant, csv_url=_csv_url("segments", query)),
    }
    tiers = tier_shares(merchant=merchant, programs=programs)
    if tiers:
        panels["tiers"] = share_chart("tiers", tiers, csv_url=_csv_url("tiers", query))
    context = {
        "nav": "home",
        "form": form,
        "presets": list(PRESET_LABELS.items())[:-1],  # "custom" is the dates' own button
        "current_preset": form.preset,
        "period": period,
        "comparison": comparison_text(period),
        "groups": _groups(figures, panels, currency=currency),
        "has_cards": Card.objects.filter(merchant=merchant).exists(),
        "has_programs": bool(form.all_programs),
    }
    return render(request, "analytics/home.html", context)


@dataclass(frozen=True)
class Group:
    key: str
    title: StrOrPromise
    charts: list[ChartPanel]
    figures: list[FigureTile]


# Which charts stand beside each group's figures.
GROUP_CHARTS = {
    "sales": ("revenue",),
    "customers": ("visits", "new_cards", "rating", "segments"),
    "cashback": ("tiers",),
}


def _groups(
    figures: Sequence[Figure], panels: dict[str, ChartPanel], *, currency: str
) -> list[Group]:
    groups = []
    for key, title in GROUPS.items():
        tiles = [figure_tile(f, currency=currency) for f in figures if f.group == key]
        shown = [panels[chart] for chart in GROUP_CHARTS.get(key, ()) if chart in panels]
        if tiles or shown:
            groups.append(Group(key=key, title=title, charts=shown, figures=tiles))
    return groups


# ---------------------------------------------------------------------------------------------
# CSV downloads: a chart's numbers, for the same filter as the page


# Built whole before streaming (a year of days at most), so the header is translated while
# the request's language is active. Cells are plain: ISO dates, numbers without grouping.
Rows = list[list[Any]]


def _series_rows(key: str, series: Sequence[SeriesPoint]) -> Rows:
    header: list[Any] = [_("From"), _("To"), str(SERIES_CHARTS[key][0])]
    return [header] + [
        [point.bucket.start.isoformat(), point.bucket.end.isoformat(), getattr(point, key)]
        for point in series
    ]


def _rating_rows(series: Sequence[SeriesPoint]) -> Rows:
    header: list[Any] = [_("From"), _("To"), _("Ratings"), str(CHART_TITLES["rating"])]
    return [header] + [
        [
            point.bucket.start.isoformat(),
            point.bucket.end.isoformat(),
            point.ratings,
            "" if point.rating_average is None else point.rating_average,
        ]
        for point in series
    ]


def _share_rows(key: str, shares: Sequence[Share]) -> Rows:
    if key == "segments":
        header: list[Any] = [_("Segment"), _("Name"), _("Customers")]
    else:
        header = [_("Tier"), _("Name"), _("Cards")]
    return [header] + [[share.key, share.label, share.count] for share in shares]


@manager_required
@require_GET
def chart_csv(request: MerchantRequest, chart: str) -> StreamingHttpResponse:
    """One chart's numbers as a spreadsheet opens them: UTF-8, formulas defused."""
    merchant: Merchant = request.merchant
    form = _filter_form(request)
    period, programs = form.chosen_period, form.programs
    rows: Rows
    if chart in SERIES_CHARTS or chart == "rating":
        series = home_series(merchant=merchant, programs=programs, period=period)
        rows = _rating_rows(series) if chart == "rating" else _series_rows(chart, series)
    elif chart == "segments":
        rows = _share_rows(chart, segment_shares(merchant=merchant).shares)
    else:
        rows = _share_rows(chart, tier_shares(merchant=merchant, programs=programs))
    name = chart.replace("_", "-")
    return streaming_csv(rows, f"{name}-{period.start.isoformat()}-{period.end.isoformat()}.csv")
