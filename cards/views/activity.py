"""Who did what: the team's activity for owners and admins, day by day, and its CSV.

A summary per member and local day (balance changes, reversals, daily caps overridden,
deletions), then every one of those actions newest first, fifty to a page. The filters are a
plain GET form, kept in the pagination and CSV links. The reads are ``cards.activity``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from cards import services
from cards.activity import (
    ActivityFilters,
    ActivityItem,
    activity_keys,
    activity_load,
    activity_members,
    activity_stream,
    activity_summary,
    activity_today,
    activity_totals,
)
from cards.forms import ActivityFilterForm
from cards.history import entry_changes, entry_who
from cards.models import LedgerEntry
from cards.rules import Kind
from loyalty.csv_export import streaming_csv
from loyalty.http import MerchantRequest, wants_partial
from loyalty.models import AuditAction, AuditEvent, Merchant
from loyalty.tenancy import manager_required

if TYPE_CHECKING:
    pass

PAGE_SIZE = 50


def _filters(request: MerchantRequest) -> tuple[ActivityFilterForm, ActivityFilters]:
    merchant = request.merchant
    form = ActivityFilterForm(
        request.GET,
        members=activity_members(merchant=merchant),
        today=activity_today(merchant=merchant),
    )
    return form, form.filters()


def _params(request: MerchantRequest) -> str:
    """The filters as a query string, for the pagination and CSV links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class ActivityRow:
    at: datetime.datetime
    who: str
    what: str
    # The card the row is about (a link to its profile), if any.
    serial: str
    changes: tuple[str, ...]
    # The reversed entry ("Undoes Purchase of 3/11/2026"), or a deletion's audit summary.
    note: str
    comment: str
    override: bool
    # For data attributes: the entry's kind or the audit action.
    kind: str


def _reversed_note(entry: LedgerEntry, tz: datetime.tzinfo) -> str:
    original = entry.reverses
    if entry.kind != Kind.REVERSAL or original is None:
        return ""
    return _("Undoes %(entry)s of %(date)s") % {
        "entry": original.label,
        "date": date_format(timezone.localtime(original.created_at, tz), "SHORT_DATE_FORMAT"),
    }


def _entry_row(entry: LedgerEntry, currency: str, tz: datetime.tzinfo) -> ActivityRow:
    return ActivityRow(
        at=entry.created_at,
        who=entry_who(entry),
        what=entry.label,
        serial=entry.card.serial,
        changes=entry_changes(entry, currency),
        note=_reversed_note(entry, tz),
        comment=entry.comment,
        override=entry.cap_overridden,
        kind=entry.kind,
    )


def _event_row(event: AuditEvent) -> ActivityRow:
    serial = event.details.get("serial", "") if isinstance(event.details, dict) else ""
    return ActivityRow(
        at=event.created_at,
        who=event.actor_name,
        what=str(AuditAction(event.action).label),
        serial=serial if isinstance(serial, str) else "",
        changes=(),
        note=event.summary,
        comment="",
        override=False,
        kind=event.action,
    )


def _activity_rows(items: Iterable[ActivityItem], merchant: Merchant) -> Iterator[ActivityRow]:
    tz = merchant.tz
    for item in items:
        if item.entry is not None:
            yield _entry_row(item.entry, merchant.currency, tz)
        elif item.event is not None:
            yield _event_row(item.event)


# ---------------------------------------------------------------------------------------------
# The page


@manager_required
@require_GET
def activity(request: MerchantRequest) -> HttpResponse:
    """The summary and the list; with htmx (the pagination), the list alone."""
    merchant = request.merchant
    form, filters = _filters(request)
    keys = activity_keys(merchant=merchant, filters=filters)
    page = Paginator(keys, PAGE_SIZE).get_page(form.page_number)
    rows = list(_activity_rows(activity_load(list(page.object_list)), merchant))
    context: dict[str, Any] = {
        "form": form,
        "filters": filters,
        "page": page,
        "rows": rows,
        "params": _params(request),
        "filtered": any(request.GET.get(name) for name in ("member", "start", "end", "type")),
        "nav": "activity",
    }
    if wants_partial(request):
        return render(request, "cards/activity/page.html#list", context)
    summary = activity_summary(merchant=merchant, filters=filters)
    context.update(summary=summary, totals=activity_totals(summary))
    return render(request, "cards/activity/page.html", context)


# ---------------------------------------------------------------------------------------------
# CSV


# The header is in the reader's language; the cells stay machine-readable.
ACTIVITY_CSV_HEADER = (
    gettext_lazy("Date"),
    gettext_lazy("Who"),
    gettext_lazy("What happened"),
    gettext_lazy("Card"),
    gettext_lazy("Changes"),
    gettext_lazy("Comment"),
    gettext_lazy("Daily cap overridden"),
)


def _csv_rows(
    items: Iterator[ActivityItem], merchant: Merchant, language: str
) -> Iterator[tuple[Any, ...]]:
    # Written as the response streams, after the view returned: the reader's language is set
    # again here, and times are converted to the merchant's zone explicitly.
    with translation.override(language):
        yield tuple(str(title) for title in ACTIVITY_CSV_HEADER)
        tz = merchant.tz
        for row in _activity_rows(items, merchant):
            yield (
                timezone.localtime(row.at, tz).isoformat(),
                row.who,
                row.what,
                row.serial,
                "; ".join(filter(None, (*row.changes, row.note))),
                row.comment,
                int(row.override),
            )


@manager_required
@require_GET
def activity_csv(request: MerchantRequest) -> StreamingHttpResponse:
    """The filtered list, every page of it; audited before the first row, then streamed."""
    merchant = request.merchant
    _form, filters = _filters(request)
    services.activity_export_record(
        merchant=merchant,
        actor=request.user,
        rows=activity_keys(merchant=merchant, filters=filters).count(),
        filters=filters,
    )
    items = activity_stream(merchant=merchant, filters=filters)
    rows = _csv_rows(items, merchant, translation.get_language())
    return streaming_csv(rows, f"activity-{filters.start}-{filters.end}.csv")
