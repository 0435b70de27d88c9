"""The activity page: who on the team changed balances, reversed entries, went past a daily cap
or deleted cards and customers, per member and local day, with its list and its CSV."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards import services
from cards.activity import ActivityFilters, ActivityType, activity_summary
from cards.models import Card, LedgerEntry, Program
from customers.services import customer_remove
from loyalty import clock
from loyalty.models import AuditAction, AuditEvent, Merchant, Role, UserPreference
from tests.factories import (
    MembershipFactory,
    StampProgramFactory,
    UserFactory,
    issue_card,
)

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = datetime.date(2026, 3, 9)
TUESDAY = datetime.date(2026, 3, 10)
WEDNESDAY = datetime.date(2026, 3, 11)
ACTIVITY = reverse("activity")
ACTIVITY_CSV = reverse("activity_csv")


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """A moment of the merchant's day in New York."""
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def _stamp(card: Card, actor: Any, at: datetime.datetime, **options: Any) -> LedgerEntry:
    with clock.frozen_at(at):
        return services.card_add_stamps(card=card, value=1, actor=actor, **options).entries[0]


def _period(start: datetime.date = TUESDAY, end: datetime.date = WEDNESDAY, **more: str) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat(), **more}


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _row(summary: list[Any], member: Any, day: datetime.date) -> tuple[int, int, int, int]:
    [row] = [r for r in summary if r.member_id == member.pk and r.day == day]
    return row.changes, row.reversals, row.overrides, row.deletions


@pytest.fixture
def new_york(merchant: Merchant) -> Merchant:
    merchant.time_zone = "America/New_York"
    merchant.save()
    return merchant


@pytest.fixture
def capped(new_york: Merchant, stamp_program: Program) -> Program:
    """One stamp a day per card: owners and admins may go past it with a reason."""
    stamp_program.daily_earn_cap = 1
    stamp_program.save()
    return stamp_program


@pytest.fixture
def busy_days(capped: Program, stamp_card: Card, owner: Any, staff: Any) -> dict[str, Any]:
    """Staff stamp late on Tuesday and on Wednesday morning; on Wednesday the owner goes past
    the cap, reverses the morning's stamp, deletes the card and removes its customer."""
    late = _stamp(stamp_card, staff, _at(TUESDAY, 23, 30))
    morning = _stamp(stamp_card, staff, _at(WEDNESDAY, 9))
    overridden = _stamp(
        stamp_card,
        owner,
        _at(WEDNESDAY, 10),
        role=Role.OWNER,
        override_cap=True,
        comment="Birthday treat",
    )
    with clock.frozen_at(_at(WEDNESDAY, 11)):
        reversal = services.entry_reverse(
            card=stamp_card, entry=morning, reason="Wrong card", actor=owner, role=Role.OWNER
        ).entries[0]
    with clock.frozen_at(_at(WEDNESDAY, 12)):
        services.card_delete(card=stamp_card, actor=owner)
        customer_remove(customer=stamp_card.customer, actor=owner)
    return {
        "late": late,
        "morning": morning,
        "overridden": overridden,
        "reversal": reversal,
        "card": stamp_card,
    }


# ---------------------------------------------------------------------------------------------
# Who may see it


def test_staff_are_refused_the_page_and_the_csv(staff_client: Client) -> None:
    assert staff_client.get(ACTIVITY).status_code == 403
    assert staff_client.get(ACTIVITY_CSV).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.ACTIVITY_EXPORTED).exists()


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    for address in (ACTIVITY, ACTIVITY_CSV):
        response = client.get(address)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_owners_and_admins_open_the_page_from_the_navigation(
    owner_client: Client, admin_client_: Client
) -> None:
    for member in (owner_client, admin_client_):
        response = member.get(ACTIVITY)
        assert response.status_code == 200
        assert 'data-nav="activity"' in response.text
        assert 'aria-current="page" data-nav="activity"' in response.text


def test_staff_get_no_link_to_the_page(staff_client: Client, owner_client: Client) -> None:
    assert 'data-nav="activity"' not in staff_client.get(reverse("customers:list")).text
    assert 'data-nav="activity"' in owner_client.get(reverse("customers:list")).text


# ---------------------------------------------------------------------------------------------
# The summary


def test_the_summary_counts_each_members_actions_per_day_of_the_merchant(
    owner_client: Client, busy_days: dict[str, Any], owner: Any, staff: Any
) -> None:
    response = owner_client.get(ACTIVITY, _period())
    summary = response.context["summary"]
    # 23:30 on Tuesday in New York is Wednesday in UTC: it counts on Tuesday.
    assert _row(summary, staff, TUESDAY) == (1, 0, 0, 0)
    assert _row(summary, staff, WEDNESDAY) == (1, 0, 0, 0)
    # The override is a balance change too; the card deleted and the customer removed are two
    # deletions.
    assert _row(summary, owner, WEDNESDAY) == (1, 1, 1, 2)
    assert len(summary) == 3
    assert [row.day for row in summary] == [WEDNESDAY, WEDNESDAY, TUESDAY]
    assert response.context["totals"] == {
        "changes": 3,
        "reversals": 1,
        "overrides": 1,
        "deletions": 2,
    }
    assert f'data-member="{staff.pk}" data-day="2026-03-10"' in response.text
    assert '<time datetime="2026-03-10">' in response.text


def test_the_summary_leaves_out_what_customers_and_the_system_wrote(
    owner_client: Client, new_york: Merchant, stamp_card: Card
) -> None:
    # The card's first entry and a change made with no one signed in belong to nobody.
    _stamp(stamp_card, None, _at(TUESDAY, 12))
    response = owner_client.get(ACTIVITY, _period())
    assert response.context["summary"] == []
    assert response.context["rows"] == []
    assert "Nobody on the team did anything that matches these filters" in response.text


def test_the_default_period_is_the_last_seven_days_of_the_merchant(
    owner_client: Client, new_york: Merchant, stamp_card: Card, staff: Any
) -> None:
    _stamp(stamp_card, staff, _at(TUESDAY - datetime.timedelta(days=7), 23, 59))  # too early
    _stamp(stamp_card, staff, _at(TUESDAY - datetime.timedelta(days=6), 0, 1))
    _stamp(stamp_card, staff, _at(TUESDAY, 23, 30))
    # Wednesday 02:00 UTC is still Tuesday evening in New York.
    with clock.frozen_at(datetime.datetime(2026, 3, 11, 2, tzinfo=datetime.UTC)):
        response = owner_client.get(ACTIVITY)
    filters = response.context["filters"]
    assert (filters.start, filters.end) == (TUESDAY - datetime.timedelta(days=6), TUESDAY)
    assert len(response.context["rows"]) == 2
    # The empty day fields show the days the page covers.
    assert 'name="start" value="2026-03-04"' in response.text
    assert 'name="end" value="2026-03-10"' in response.text
    assert "Nobody on the team changed a balance" not in response.text


# ---------------------------------------------------------------------------------------------
# The list


def test_the_list_merges_entries_and_deletions_newest_first(
    owner_client: Client, busy_days: dict[str, Any]
) -> None:
    response = owner_client.get(ACTIVITY, _period())
    rows = response.context["rows"]
    assert [row.kind for row in rows] == [
        AuditAction.CUSTOMER_REMOVED,
        AuditAction.CARD_DELETED,
        "reversal",
        "stamps_added",
        "stamps_added",
        "stamps_added",
    ]
    serial = busy_days["card"].serial
    profile = reverse("cards:profile", args=[serial])
    assert f'<a href="{profile}" data-card="{serial}">{serial}</a>' in response.text
    reversal = rows[2]
    assert (reversal.what, reversal.who, reversal.comment) == ("Reversal", "owner", "Wrong card")
    assert reversal.note.startswith("Undoes Stamps added of ")
    assert rows[3].override
    assert rows[3].comment == "Birthday treat"
    assert rows[3].changes == ("+1 stamp",)
    assert response.text.count('data-badge="override"') == 1
    assert f"Deleted card {serial}" in rows[1].note
    assert '<time datetime="2026-03-11T11:00:00-04:00">' in response.text


def test_the_list_pages_fifty_at_a_time_and_keeps_the_filters(
    owner_client: Client, new_york: Merchant, stamp_card: Card, staff: Any, owner: Any
) -> None:
    for minute in range(55):
        _stamp(stamp_card, staff, _at(TUESDAY, 8, minute))
    _stamp(stamp_card, owner, _at(TUESDAY, 9))
    period = _period(member=str(staff.pk))
    first = owner_client.get(ACTIVITY, period)
    assert len(first.context["rows"]) == 50
    assert first.context["rows"][0].at == _at(TUESDAY, 8, 54)
    assert f"member={staff.pk}&amp;page=2" in first.text
    assert "start=2026-03-10&amp;end=2026-03-11" in first.text
    second = owner_client.get(ACTIVITY, {**period, "page": "2"})
    assert [row.at for row in second.context["rows"]] == [
        _at(TUESDAY, 8, minute) for minute in (4, 3, 2, 1, 0)
    ]
    # The next page fetched by htmx: the list alone.
    partial = owner_client.get(ACTIVITY, {**period, "page": "2"}, headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<section id="activity-list"')
    assert "<html" not in partial.text


# ---------------------------------------------------------------------------------------------
# Filters


def test_the_member_filter_shows_one_members_actions(
    owner_client: Client, busy_days: dict[str, Any], staff: Any
) -> None:
    response = owner_client.get(ACTIVITY, _period(member=str(staff.pk)))
    assert {row.who for row in response.context["rows"]} == {"staff"}
    assert len(response.context["rows"]) == 2
    assert {row.member_id for row in response.context["summary"]} == {staff.pk}
    assert f'<option value="{staff.pk}" selected>staff</option>' in response.text


def test_the_days_filter_keeps_to_the_merchants_days(
    owner_client: Client, busy_days: dict[str, Any]
) -> None:
    tuesday = owner_client.get(ACTIVITY, _period(TUESDAY, TUESDAY))
    assert [row.at for row in tuesday.context["rows"]] == [busy_days["late"].created_at]
    assert owner_client.get(ACTIVITY, _period(MONDAY, MONDAY)).context["rows"] == []


@pytest.mark.parametrize(
    ("kind", "expected", "totals"),
    [
        (ActivityType.CHANGES, ["stamps_added"] * 3, (3, 0, 1, 0)),
        (ActivityType.REVERSALS, ["reversal"], (0, 1, 0, 0)),
        # An override is a balance change too.
        (ActivityType.OVERRIDES, ["stamps_added"], (1, 0, 1, 0)),
        (
            ActivityType.DELETIONS,
            [AuditAction.CUSTOMER_REMOVED, AuditAction.CARD_DELETED],
            (0, 0, 0, 2),
        ),
    ],
)
def test_the_type_filter_shows_one_kind_of_action(
    owner_client: Client,
    busy_days: dict[str, Any],
    kind: str,
    expected: list[str],
    totals: tuple[int, ...],
) -> None:
    response = owner_client.get(ACTIVITY, _period(type=kind))
    assert [row.kind for row in response.context["rows"]] == expected
    assert tuple(response.context["totals"].values()) == totals
    assert f'<option value="{kind}" selected>' in response.text


def test_days_in_the_wrong_order_say_so_and_show_the_last_seven_days(
    owner_client: Client, new_york: Merchant
) -> None:
    with clock.frozen_at(_at(WEDNESDAY, 12)):
        response = owner_client.get(ACTIVITY, _period(WEDNESDAY, TUESDAY))
    assert "The last day must be on or after the first day." in response.text
    filters = response.context["filters"]
    assert (filters.start, filters.end) == (WEDNESDAY - datetime.timedelta(days=6), WEDNESDAY)


def test_bad_filter_values_are_ignored(owner_client: Client, busy_days: dict[str, Any]) -> None:
    response = owner_client.get(ACTIVITY, _period(member="nobody", type="everything", page="last"))
    assert response.status_code == 200
    assert len(response.context["rows"]) == 6


# ---------------------------------------------------------------------------------------------
# Other merchants


@pytest.fixture
def other_merchants_day(outsider: Any, other_merchant: Merchant) -> Card:
    other_merchant.time_zone = "America/New_York"
    other_merchant.save()
    card = issue_card(StampProgramFactory(merchant=other_merchant, name="Bakery Stamp Card"))
    _stamp(card, outsider, _at(TUESDAY, 15))
    with clock.frozen_at(_at(TUESDAY, 16)):
        services.card_delete(card=card, actor=outsider)
    return card


def test_another_merchants_actions_never_appear(
    owner_client: Client,
    busy_days: dict[str, Any],
    other_merchants_day: Card,
    outsider: Any,
) -> None:
    # Their member named in the filter is no choice here: the filter is off, on our data only.
    response = owner_client.get(ACTIVITY, _period(member=str(outsider.pk)))
    assert response.status_code == 200
    assert "outsider" not in {row.who for row in response.context["rows"]}
    assert len(response.context["rows"]) == 6
    assert outsider.pk not in {row.member_id for row in response.context["summary"]}
    assert other_merchants_day.serial not in response.text
    csv_rows = _csv(owner_client.get(ACTIVITY_CSV, _period(member=str(outsider.pk))))
    assert other_merchants_day.serial not in {row[3] for row in csv_rows}


def test_another_merchant_sees_only_their_own_actions(
    outsider_client: Client, busy_days: dict[str, Any], other_merchants_day: Card
) -> None:
    response = outsider_client.get(ACTIVITY, _period())
    assert {row.who for row in response.context["rows"]} == {"outsider"}
    assert busy_days["card"].serial not in response.text


# ---------------------------------------------------------------------------------------------
# CSV


def test_the_csv_has_the_filtered_rows_and_is_audited_once(
    owner_client: Client, busy_days: dict[str, Any], owner: Any, merchant: Merchant
) -> None:
    response = owner_client.get(ACTIVITY_CSV, _period(type=ActivityType.ALL))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="activity-2026-03-10-2026-03-11.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == [
        "Date",
        "Who",
        "What happened",
        "Card",
        "Changes",
        "Comment",
        "Daily cap overridden",
    ]
    assert [row[2] for row in rows[1:]] == [
        "Customer removed",
        "Card deleted",
        "Reversal",
        "Stamps added",
        "Stamps added",
        "Stamps added",
    ]
    serial = busy_days["card"].serial
    assert rows[3][:4] == ["2026-03-11T11:00:00-04:00", "owner", "Reversal", serial]
    assert rows[3][5] == "Wrong card"
    assert rows[4][5:] == ["Birthday treat", "1"]
    assert rows[6][0] == "2026-03-10T23:30:00-04:00"
    [event] = AuditEvent.objects.filter(action=AuditAction.ACTIVITY_EXPORTED)
    assert (event.merchant, event.actor) == (merchant, owner)
    assert event.details == {
        "rows": 6,
        "start": "2026-03-10",
        "end": "2026-03-11",
        "type": "all",
        "one_member": False,
    }
    assert "6 rows" in event.summary


def test_the_csv_keeps_to_the_filters(
    owner_client: Client, busy_days: dict[str, Any], staff: Any
) -> None:
    rows = _csv(owner_client.get(ACTIVITY_CSV, _period(member=str(staff.pk))))
    assert [row[1] for row in rows[1:]] == ["staff", "staff"]
    [event] = AuditEvent.objects.filter(action=AuditAction.ACTIVITY_EXPORTED)
    assert event.details["rows"] == 2
    assert event.details["one_member"] is True
    assert "staff" not in str(event.details)


def test_the_csv_header_is_in_the_readers_language(
    owner_client: Client, busy_days: dict[str, Any], owner: Any
) -> None:
    UserPreference.objects.create(user=owner, language="es")
    rows = _csv(owner_client.get(ACTIVITY_CSV, _period()))
    assert rows[0][:2] == ["Fecha", "Quién"]


def test_the_csv_neutralises_formulas_in_comments(
    owner_client: Client, capped: Program, stamp_card: Card, owner: Any
) -> None:
    _stamp(stamp_card, owner, _at(TUESDAY, 9), comment="=HYPERLINK(1)")
    rows = _csv(owner_client.get(ACTIVITY_CSV, _period()))
    assert rows[1][5] == "'=HYPERLINK(1)"


# ---------------------------------------------------------------------------------------------
# Queries and escaping


def _busy(card: Card, members: list[Any], count: int) -> None:
    for n in range(count):
        _stamp(card, members[n % len(members)], _at(TUESDAY, 8 + n // 60, n % 60))


def test_the_page_runs_a_fixed_number_of_queries_whatever_the_activity(
    owner_client: Client,
    new_york: Merchant,
    stamp_program: Program,
    owner: Any,
    staff: Any,
    admin_user: Any,
    django_assert_max_num_queries: Any,
) -> None:
    card = issue_card(stamp_program)
    _busy(card, [staff], 2)
    with clock.frozen_at(_at(TUESDAY, 20)):
        services.card_delete(card=card, actor=owner)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(ACTIVITY, _period())

    more = issue_card(stamp_program)
    _busy(more, [staff, admin_user, owner], 120)
    with clock.frozen_at(_at(WEDNESDAY, 20)):
        services.card_delete(card=more, actor=admin_user)
        customer_remove(customer=more.customer, actor=admin_user)
    with django_assert_max_num_queries(len(few)):
        response = owner_client.get(ACTIVITY, _period())
    assert len(response.context["rows"]) == 50
    with django_assert_max_num_queries(len(few)):
        owner_client.get(ACTIVITY, _period(page="3"))


def test_hostile_names_and_comments_are_shown_as_text(
    owner_client: Client, capped: Program, stamp_card: Card, merchant: Merchant
) -> None:
    mallory = UserFactory(username="<script>alert(1)</script>")
    MembershipFactory(user=mallory, merchant=merchant, role=Role.STAFF)
    _stamp(stamp_card, mallory, _at(TUESDAY, 9), comment='<img src=x onerror="alert(2)">')
    response = owner_client.get(ACTIVITY, _period())
    assert "<script>alert(1)</script>" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in response.text


# ---------------------------------------------------------------------------------------------
# The audit behind the deletions


def test_removing_a_customer_is_audited_without_their_personal_data(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    customer = stamp_card.customer
    services.card_delete(card=stamp_card, actor=owner)
    response = owner_client.post(reverse("customers:remove", args=[customer.pk]))
    assert response.status_code == 302
    [event] = AuditEvent.objects.filter(action=AuditAction.CUSTOMER_REMOVED)
    assert event.actor == owner
    assert event.details == {"customer_id": customer.pk, "serials": [stamp_card.serial]}
    for personal in (customer.first_name, customer.last_name, customer.email):
        assert personal not in event.summary
        assert personal not in str(event.details)


def test_the_summary_selector_groups_in_the_merchants_time_zone(
    busy_days: dict[str, Any], new_york: Merchant, staff: Any
) -> None:
    filters = ActivityFilters(start=TUESDAY, end=TUESDAY, member=staff.pk)
    [row] = activity_summary(merchant=new_york, filters=filters)
    assert (row.day, row.name, row.changes) == (TUESDAY, "staff", 1)
