"""Reads of the activity page: who did what on the ledger, for owners and admins.

Two sources, merged by time:
- the ledger entries members wrote (``actor`` set: what customers and the system wrote is
  nobody's doing on the team): balance changes, reversals, daily caps overridden;
- the audit events of deletions (cards deleted, customers removed).

Days are the merchant's days: a period runs from midnight to midnight in ``merchant.tz`` and the
summary groups by the local date in SQL, so an entry at 23:30 in New York counts on that day.
Every function runs a fixed number of queries whatever the size of the ledger.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import models
from django.db.models import CharField, Count, Q, QuerySet, Value
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.models import LedgerEntry
from cards.rules import Kind
from loyalty import clock
from loyalty.models import AuditAction, AuditEvent, Membership, Merchant

DEFAULT_DAYS = 7
# A period as long as the statistics' longest: the summary has a row per member and day.
MAX_DAYS = 366
DELETION_ACTIONS = (AuditAction.CARD_DELETED, AuditAction.CUSTOMER_REMOVED)

# Which of the two sources a row of the merged list comes from.
ENTRY = "entry"
DELETION = "deletion"


class ActivityType(models.TextChoices):
    """The type filter: every row, or one kind of activity."""

    ALL = "", _("All types")
    CHANGES = "changes", _("Balance changes")
    REVERSALS = "reversals", _("Reversals")
    OVERRIDES = "overrides", _("Daily cap overrides")
    DELETIONS = "deletions", _("Deletions")


@dataclass(frozen=True)
class ActivityFilters:
    """The merchant's days ``start`` to ``end`` (both included), one member (a user id) or all,
    one ``ActivityType`` or all."""

    start: datetime.date
    end: datetime.date
    member: int | None = None
    kind: str = ActivityType.ALL

    @property
    def includes_entries(self) -> bool:
        return self.kind != ActivityType.DELETIONS

    @property
    def includes_deletions(self) -> bool:
        return self.kind in (ActivityType.ALL, ActivityType.DELETIONS)


def activity_today(*, merchant: Merchant) -> datetime.date:
    return timezone.localdate(clock.now(), merchant.tz)


def activity_members(*, merchant: Merchant) -> list[Membership]:
    """The merchant's members, for the member filter, by name."""
    return list(
        Membership.objects.filter(merchant=merchant)
        .select_related("user")
        .order_by("user__username", "pk")
    )


def _bounds(merchant: Merchant, filters: ActivityFilters) -> tuple[datetime.datetime, ...]:
    """The first instant of ``start`` and of the day after ``end``, in the merchant's zone."""
    tz = merchant.tz
    first = datetime.datetime.combine(filters.start, datetime.time.min, tzinfo=tz)
    after = datetime.datetime.combine(
        filters.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
    )
    return first, after


def activity_entries(*, merchant: Merchant, filters: ActivityFilters) -> QuerySet[LedgerEntry]:
    """The ledger entries members wrote in the period that match the filters (unordered).

    ``actor`` set, as the partial index ``ledger_merchant_actor_newest`` requires.
    """
    first, after = _bounds(merchant, filters)
    entries = LedgerEntry.objects.filter(
        merchant=merchant, actor__isnull=False, created_at__gte=first, created_at__lt=after
    )
    if filters.member is not None:
        entries = entries.filter(actor_id=filters.member)
    if filters.kind == ActivityType.CHANGES:
        entries = entries.exclude(kind=Kind.REVERSAL)
    elif filters.kind == ActivityType.REVERSALS:
        entries = entries.filter(kind=Kind.REVERSAL)
    elif filters.kind == ActivityType.OVERRIDES:
        entries = entries.filter(cap_overridden=True)
    elif filters.kind == ActivityType.DELETIONS:
        entries = entries.none()
    return entries.order_by()


def activity_deletions(*, merchant: Merchant, filters: ActivityFilters) -> QuerySet[AuditEvent]:
    """Cards deleted and customers removed by members in the period (unordered)."""
    if not filters.includes_deletions:
        return AuditEvent.objects.none()
    first, after = _bounds(merchant, filters)
    events = AuditEvent.objects.filter(
        merchant=merchant,
        action__in=DELETION_ACTIONS,
        actor__isnull=False,
        created_at__gte=first,
        created_at__lt=after,
    )
    if filters.member is not None:
        events = events.filter(actor_id=filters.member)
    return events.order_by()


# ---------------------------------------------------------------------------------------------
# The summary: one row per member and local day


@dataclass
class SummaryRow:
    member_id: int
    name: str
    day: datetime.date
    changes: int = 0
    reversals: int = 0
    overrides: int = 0
    deletions: int = 0


def activity_summary(*, merchant: Merchant, filters: ActivityFilters) -> list[SummaryRow]:
    """Counts per member and local day, newest day first, then by name: two grouped queries."""
    tz = merchant.tz
    rows: dict[tuple[int, datetime.date], SummaryRow] = {}

    def row(values: Mapping[str, Any]) -> SummaryRow:
        key = (values["actor_id"], values["day"])
        if key not in rows:
            rows[key] = SummaryRow(
                member_id=values["actor_id"], name=values["actor__username"], day=values["day"]
            )
        return rows[key]

    if filters.includes_entries:
        reversal = Q(kind=Kind.REVERSAL)
        grouped = (
            activity_entries(merchant=merchant, filters=filters)
            .annotate(day=TruncDate("created_at", tzinfo=tz))
            .values("actor_id", "actor__username", "day")
            .annotate(
                changes=Count("pk", filter=~reversal),
                reversals=Count("pk", filter=reversal),
                overrides=Count("pk", filter=Q(cap_overridden=True)),
            )
        )
        for counted in grouped:
            summary = row(counted)
            summary.changes = counted["changes"]
            summary.reversals = counted["reversals"]
            summary.overrides = counted["overrides"]
    if filters.includes_deletions:
        deleted = (
            activity_deletions(merchant=merchant, filters=filters)
            .annotate(day=TruncDate("created_at", tzinfo=tz))
            .values("actor_id", "actor__username", "day")
            .annotate(deletions=Count("pk"))
        )
        for removed in deleted:
            row(removed).deletions = removed["deletions"]
    by_name = sorted(rows.values(), key=lambda r: (r.name.casefold(), r.member_id))
    return sorted(by_name, key=lambda r: r.day, reverse=True)


def activity_totals(rows: Iterable[SummaryRow]) -> dict[str, int]:
    totals = dict.fromkeys(("changes", "reversals", "overrides", "deletions"), 0)
    for summary in rows:
        for name in totals:
            totals[name] += getattr(summary, name)
    return totals


# ---------------------------------------------------------------------------------------------
# The list: entries and deletions merged by time, newest first

# A row of the merged list before its object is loaded: (created_at, id, source).
ItemKey = tuple[datetime.datetime, int, str]


def activity_keys(*, merchant: Merchant, filters: ActivityFilters) -> QuerySet[Any]:
    """Both sources as one SQL query (UNION ALL) of ``(created_at, id, source)``, newest first.

    Paginate it (a page costs one query whatever the ledger's size), then ``activity_load``
    the page's objects.
    """
    source = "source_table"  # not "source": a ledger entry has a field of that name

    def keys(queryset: QuerySet[Any], name: str) -> QuerySet[Any]:
        return queryset.annotate(**{source: Value(name, output_field=CharField())}).values_list(
            "created_at", "id", source
        )

    entries = keys(activity_entries(merchant=merchant, filters=filters), ENTRY)
    deletions = keys(activity_deletions(merchant=merchant, filters=filters), DELETION)
    if not filters.includes_deletions:
        merged = entries
    elif not filters.includes_entries:
        merged = deletions
    else:
        merged = entries.union(deletions, all=True)
    return merged.order_by("-created_at", "-id", source)


@dataclass(frozen=True)
class ActivityItem:
    """One row of the list: a ledger entry or a deletion's audit event."""

    at: datetime.datetime
    entry: LedgerEntry | None = None
    event: AuditEvent | None = None


def activity_load(keys: Sequence[ItemKey]) -> list[ActivityItem]:
    """The objects behind ``keys``, in their order: at most two queries.

    Entries come with their member, card and the entry a reversal undoes (for its wording).
    """
    entry_ids = [pk for _at, pk, source in keys if source == ENTRY]
    event_ids = [pk for _at, pk, source in keys if source == DELETION]
    entries = (
        LedgerEntry.objects.select_related("actor", "card", "reverses").in_bulk(entry_ids)
        if entry_ids
        else {}
    )
    events = AuditEvent.objects.in_bulk(event_ids) if event_ids else {}
    items = []
    for at, pk, source in keys:
        if source == ENTRY and pk in entries:
            items.append(ActivityItem(at=at, entry=entries[pk]))
        elif source == DELETION and pk in events:
            items.append(ActivityItem(at=at, event=events[pk]))
    return items


def activity_stream(
    *, merchant: Merchant, filters: ActivityFilters, chunk_size: int = 500
) -> Iterator[ActivityItem]:
    """Every row of the list, newest first, for the CSV: three queries per ``chunk_size`` rows
    at most, and never the whole list in memory."""
    keys = iter(activity_keys(merchant=merchant, filters=filters).iterator(chunk_size=chunk_size))
    while chunk := list(islice(keys, chunk_size)):
        yield from activity_load(chunk)
