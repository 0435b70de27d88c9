"""Who did what: the team's activity for owners and admins, day by day, and its CSV.

A summary per member and local day (balance changes, reversals, daily caps overridden,
deletions), then every one of those actions newest first, fifty to a page. The filters are a
plain GET form, kept in the pagination and CSV links. The reads are ``cards.activity``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from cards.activity import (
    DEFAULT_DAYS,
    MAX_DAYS,
    ActivityFilters,
    ActivityItem,
    ActivityType,
    activity_keys,
    activity_load,
    activity_members,
    activity_stream,
    activity_summary,
    activity_today,
    activity_totals,
)
from cards.activity_services import activity_export_record
from cards.models import LedgerEntry
from cards.rules import Kind
from cards.views.profile import entry_changes, entry_who
from loyalty.csv_export import streaming_csv
from loyalty.http import MerchantRequest, wants_partial
from loyalty.models import AuditAction, AuditEvent, Membership, Merchant
from loyalty.tenancy import manager_required
from loyalty.widgets import PlainSelect

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PAGE_SIZE = 50


# ---------------------------------------------------------------------------------------------
# Filters


def _date_field(label: StrOrPromise) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class ActivityFilterForm(forms.Form):
    """The page's filters. A bad value switches its filter off rather than failing the page.

    The members to choose from are this merchant's: another merchant's member is refused like
    any bad value, and the reads are scoped to ``request.merchant`` whatever the filter says.
    """

    member = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label=gettext_lazy("Member"),
        widget=PlainSelect,
    )
    start = _date_field(gettext_lazy("From"))
    end = _date_field(gettext_lazy("To"))
    type = forms.ChoiceField(
        required=False,
        choices=ActivityType.choices,
        label=gettext_lazy("Type"),
        widget=PlainSelect,
    )
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(
        self, *args: Any, members: list[Membership], today: datetime.date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        member = cast(forms.TypedChoiceField, self.fields["member"])
        member.choices = [("", _("All members"))] + [
            (m.user_id, m.user.get_username()) for m in members
        ]

    def _default_period(self) -> tuple[datetime.date, datetime.date]:
        return self.today - datetime.timedelta(days=DEFAULT_DAYS - 1), self.today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        # A day left empty: the period runs to today, or over the seven days up to its end.
        if end is None:
            end = max(self.today, start) if start else self.today
        if start is None:
            start = end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("end", _("The last day must be on or after the first day."))
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("start", _("Choose at most %(days)s days.") % {"days": MAX_DAYS})
        else:
            data["period"] = (start, end)
        return data

    def filters(self) -> ActivityFilters:
        """The filters asked for; days refused fall back to the last seven days."""
        self.is_valid()
        data = self.cleaned_data
        start, end = data.get("period") or self._default_period()
        # Days left empty show the days the page covers (days refused stay as typed, with why).
        shown = {name: self.data.get(name) for name in self.fields}
        for name, day in (("start", start), ("end", end)):
            shown[name] = shown[name] or day.isoformat()
        self.data = shown
        return ActivityFilters(
            start=start, end=end, member=data.get("member"), kind=data.get("type") or ""
        )

    @property
    def page_number(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("page") or 1


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
    activity_export_record(
        merchant=merchant,
        actor=request.user,
        rows=activity_keys(merchant=merchant, filters=filters).count(),
        filters=filters,
    )
    items = activity_stream(merchant=merchant, filters=filters)
    rows = _csv_rows(items, merchant, translation.get_language())
    return streaming_csv(rows, f"activity-{filters.start}-{filters.end}.csv")
