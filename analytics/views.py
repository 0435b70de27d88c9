"""The merchant's home: statistics for owners and admins; staff go to the customer list.

Thin views: the filter (``analytics.forms``), the figures and series (``analytics.selectors``),
their tiles and chart panels (``analytics.panels``), and each chart's numbers as a CSV file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import F
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from analytics.forms import PRESET_LABELS, HomeFilterForm
from analytics.panels import (
    CHART_TITLES,
    GROUPS,
    SERIES_CHARTS,
    ChartPanel,
    FigureTile,
    comparison_text,
    figure_tile,
    rating_chart,
    reasons_chart,
    segment_chart,
    series_chart,
    share_chart,
)
from analytics.periods import local_today
from analytics.selectors import (
    Figure,
    ReversalReasons,
    SeriesPoint,
    Share,
    home_figures,
    home_series,
    reversal_reasons,
    segment_shares,
    tier_shares,
)
from cards.models import Card, Program
from loyalty.csv_export import streaming_csv
from loyalty.http import MerchantRequest, is_manager
from loyalty.models import Merchant
from loyalty.tenancy import manager_required, merchant_required

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


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
        "reversal_reasons": reasons_chart(
            reversal_reasons(merchant=merchant, program=form.chosen_program, period=period),
            csv_url=_csv_url("reversal_reasons", query),
        ),
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
    # Reversals mostly undo purchases typed wrong: they stand beside what was sold.
    "sales": ("revenue", "reversal_reasons"),
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


def _reason_rows(reversals: ReversalReasons) -> Rows:
    header: list[Any] = [_("Reason"), _("Reversals"), _("Share")]
    return [header] + [[reason.label, reason.count, reason.share] for reason in reversals.reasons]


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
    elif chart == "reversal_reasons":
        program = form.chosen_program
        rows = _reason_rows(reversal_reasons(merchant=merchant, program=program, period=period))
    else:
        rows = _share_rows(chart, tier_shares(merchant=merchant, programs=programs))
    name = chart.replace("_", "-")
    return streaming_csv(rows, f"{name}-{period.start.isoformat()}-{period.end.isoformat()}.csv")
