"""RFM segments: the grid, the merchant's thresholds, the set-based recompute, who moved."""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers import tasks
from customers.models import Customer, Segment, SegmentChange
from customers.segments import SegmentBands, segment_snapshot, segments_recompute
from customers.services import segment_bands_update
from loyalty.celery import app as celery_app
from loyalty.models import Merchant
from tests.factories import CustomerFactory, MerchantFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 6, 30, 12, 0, tzinfo=datetime.UTC)


def visited(merchant: Merchant, *, days_ago: int | None, visits: int) -> Customer:
    last = None if days_ago is None else NOW - datetime.timedelta(days=days_ago)
    return CustomerFactory(merchant=merchant, total_visits=visits, last_visit_at=last)


def segment_of(customer: Customer) -> str:
    return Customer.objects.get(pk=customer.pk).segment


@pytest.mark.parametrize(
    ("days_ago", "visits", "expected"),
    [
        (None, 0, Segment.NO_VISITS),
        (3, 0, Segment.NO_VISITS),  # every visit was written off
        (0, 1, Segment.BEGINNERS),
        (30, 3, Segment.BEGINNERS),
        (30, 4, Segment.GROWING),
        (10, 7, Segment.GROWING),
        (10, 8, Segment.CHAMPIONS),
        (31, 3, Segment.DOUBTFUL),
        (45, 5, Segment.MEDIUM),
        (60, 8, Segment.LOYAL),
        (61, 1, Segment.SLEEPING),
        (75, 6, Segment.AT_RISK),
        (90, 20, Segment.NEEDS_ATTENTION),
        (91, 20, Segment.LOST),
        (400, 1, Segment.LOST),
    ],
)
def test_default_grid(merchant: Merchant, days_ago: int | None, visits: int, expected: str) -> None:
    customer = visited(merchant, days_ago=days_ago, visits=visits)
    segments_recompute(merchant=merchant, now=NOW)
    assert segment_of(customer) == expected


def test_merchants_thresholds_move_the_grid(merchant: Merchant) -> None:
    segment_bands_update(
        merchant=merchant, bands=SegmentBands(recency=(7, 14, 28), frequency=(1, 2)), actor=None
    )
    cases = {
        visited(merchant, days_ago=7, visits=1): Segment.BEGINNERS,
        visited(merchant, days_ago=8, visits=2): Segment.MEDIUM,
        visited(merchant, days_ago=20, visits=3): Segment.NEEDS_ATTENTION,
        visited(merchant, days_ago=29, visits=3): Segment.LOST,
    }
    segments_recompute(merchant=merchant, now=NOW)
    assert {c.pk: segment_of(c) for c in cases} == {c.pk: s for c, s in cases.items()}


def test_recency_counts_calendar_days_in_the_merchants_time_zone(merchant: Merchant) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(time_zone="America/Los_Angeles")
    merchant.refresh_from_db()
    # 30 June 01:00 UTC is still 29 June in Los Angeles; "now" is 30 June 05:00 there.
    customer = CustomerFactory(
        merchant=merchant,
        total_visits=1,
        last_visit_at=datetime.datetime(2025, 5, 31, 1, 0, tzinfo=datetime.UTC),
    )
    segments_recompute(merchant=merchant, now=NOW)
    # 30 May (local) to 30 June (local) is 31 days: past the first band.
    assert segment_of(customer) == Segment.DOUBTFUL


def test_recompute_records_who_moved_and_nothing_else(merchant: Merchant) -> None:
    mover = visited(merchant, days_ago=1, visits=1)
    stayer = visited(merchant, days_ago=None, visits=0)
    assert segments_recompute(merchant=merchant, now=NOW) == 1
    change = SegmentChange.objects.get()
    assert (change.customer_id, change.from_segment, change.to_segment) == (
        mover.pk,
        Segment.NO_VISITS,
        Segment.BEGINNERS,
    )
    assert change.changed_at == NOW
    assert Customer.objects.get(pk=mover.pk).segment_changed_at == NOW
    assert Customer.objects.get(pk=stayer.pk).segment_changed_at is None
    # Nothing changed since: a second run moves nobody.
    assert segments_recompute(merchant=merchant, now=NOW) == 0
    assert SegmentChange.objects.count() == 1
    # Time passes: the customer drifts to the next band.
    later = NOW + datetime.timedelta(days=40)
    assert segments_recompute(merchant=merchant, now=later) == 1
    assert segment_of(mover) == Segment.DOUBTFUL


def test_recompute_moves_everyone_in_one_statement_and_touches_only_its_merchant(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    for _ in range(20):
        visited(merchant, days_ago=5, visits=9)
    foreign = visited(other_merchant, days_ago=5, visits=9)
    with CaptureQueriesContext(connection) as captured:
        assert segments_recompute(merchant=merchant, now=NOW) == 20
    statements = [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # The moves, then the counts kept for the home page (replaced, then counted).
    assert len(statements) == 3
    assert "UPDATE customers_customer" in statements[0]
    assert segment_of(foreign) == Segment.NO_VISITS


def test_recompute_keeps_the_counts_per_segment_as_of_then(merchant: Merchant) -> None:
    for _ in range(3):
        visited(merchant, days_ago=5, visits=9)
    visited(merchant, days_ago=200, visits=1)
    segments_recompute(merchant=merchant, now=NOW)
    CustomerFactory(merchant=merchant)  # joins the counts at the next recompute

    counts, computed_at = segment_snapshot(merchant=merchant)

    assert computed_at == NOW
    assert counts == {**counts, Segment.CHAMPIONS: 3, Segment.LOST: 1}
    assert sum(counts.values()) == 4
    segments_recompute(merchant=merchant, now=NOW)
    assert segment_snapshot(merchant=merchant)[0][Segment.NO_VISITS] == 1


@pytest.mark.parametrize(
    "bands",
    [
        {"recency_band_1": 60, "recency_band_2": 30},
        {"recency_band_3": 60},
        {"frequency_band_1": 7},
        {"frequency_band_2": 0},
    ],
)
def test_thresholds_must_increase(merchant: Merchant, bands: dict[str, int]) -> None:
    fields = {**SegmentBands.of(merchant).fields(), **bands}
    typed = SegmentBands(
        recency=(fields["recency_band_1"], fields["recency_band_2"], fields["recency_band_3"]),
        frequency=(fields["frequency_band_1"], fields["frequency_band_2"]),
    )
    with pytest.raises(ValidationError):
        segment_bands_update(merchant=merchant, bands=typed, actor=None)
    merchant.refresh_from_db()
    assert (merchant.recency_band_1, merchant.recency_band_3, merchant.frequency_band_2) == (
        30,
        90,
        7,
    )


# ---------------------------------------------------------------------------------------------
# Tasks and the pages


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run tasks in-process (Celery's own eager mode) so a test sees their effect."""
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


def test_the_daily_task_recomputes_every_merchant(eager_celery: None) -> None:
    merchants = [MerchantFactory(), MerchantFactory()]
    customers = [
        CustomerFactory(
            merchant=m, total_visits=1, last_visit_at=datetime.datetime.now(datetime.UTC)
        )
        for m in merchants
    ]
    assert tasks.recompute_all_segments() == Merchant.objects.count()
    assert all(segment_of(c) == Segment.BEGINNERS for c in customers)


def test_the_beat_schedule_names_the_task() -> None:
    schedule = celery_app.conf.beat_schedule
    assert any(e["task"] == "customers.tasks.recompute_all_segments" for e in schedule.values())
    assert tasks.recompute_all_segments.name == "customers.tasks.recompute_all_segments"


def test_owner_recomputes_now_from_the_list(
    owner_client: Client,
    merchant: Merchant,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer = CustomerFactory(
        merchant=merchant, total_visits=9, last_visit_at=datetime.datetime.now(datetime.UTC)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("customers:segments_recompute"))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list")
    assert segment_of(customer) == Segment.CHAMPIONS


def test_only_owners_can_recompute_now(
    admin_client_: Client, staff_client: Client, merchant: Merchant
) -> None:
    for client in (admin_client_, staff_client):
        assert client.post(reverse("customers:segments_recompute")).status_code == 403
    assert not SegmentChange.objects.exists()


def test_segments_page_shows_the_grid_with_counts(staff_client: Client, merchant: Merchant) -> None:
    for _ in range(3):
        visited(merchant, days_ago=2, visits=10)
    segments_recompute(merchant=merchant, now=NOW)
    html = staff_client.get(reverse("customers:segments")).text
    champions = html[html.index('data-segment="champions"') :]
    assert '<span class="badge" data-count>3</span>' in champions[:300]
    assert "0–30 days" in html
    assert "8+ visits" in html
    assert "Recency bands end at 30, 60 and 90 days" in html


def test_the_segment_is_shown_on_the_list(staff_client: Client, merchant: Merchant) -> None:
    visited(merchant, days_ago=2, visits=10)
    segments_recompute(merchant=merchant, now=NOW)
    html = staff_client.get(reverse("customers:list")).text
    assert '<span class="badge segment-champions">Champions</span>' in html


def test_the_management_command_recomputes_one_or_every_merchant(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    mine = CustomerFactory(merchant=merchant, total_visits=1, last_visit_at=now)
    theirs = CustomerFactory(merchant=other_merchant, total_visits=1, last_visit_at=now)
    out = io.StringIO()
    call_command("recompute_segments", merchant=merchant.slug, stdout=out)
    assert f"{merchant.slug}: 1 customer moved" in out.getvalue()
    assert segment_of(mine) == Segment.BEGINNERS
    assert segment_of(theirs) == Segment.NO_VISITS
    call_command("recompute_segments", stdout=io.StringIO())
    assert segment_of(theirs) == Segment.BEGINNERS
    with pytest.raises(CommandError):
        call_command("recompute_segments", merchant="nope", stdout=io.StringIO())
