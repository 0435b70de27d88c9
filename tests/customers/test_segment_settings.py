"""The segment thresholds editor: validation, the preview of counts, and saving."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from customers import services as customer_services
from customers.models import Customer, Segment, SegmentChange
from customers.segments import (
    SegmentBands,
    segment_counts,
    segment_counts_for_bands,
    segments_recompute,
)
from loyalty import clock
from loyalty.models import AuditAction, AuditEvent, Merchant
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 6, 15, 10, 30, tzinfo=datetime.UTC)
CELL = re.compile(r'data-segment="(?P<key>\w+)" data-count="(?P<count>\d+)"')


def customer(merchant: Merchant, *, visits: int, days_ago: float | None) -> Customer:
    last = None if days_ago is None else NOW - datetime.timedelta(days=days_ago)
    return CustomerFactory(merchant=merchant, total_visits=visits, last_visit_at=last)


def bands_post(r1: Any = 30, r2: Any = 60, r3: Any = 90, f1: Any = 3, f2: Any = 7) -> dict:
    return {
        "recency_band_1": r1,
        "recency_band_2": r2,
        "recency_band_3": r3,
        "frequency_band_1": f1,
        "frequency_band_2": f2,
    }


def counts_in(html: str) -> dict[str, int]:
    return {m["key"]: int(m["count"]) for m in CELL.finditer(html)}


@pytest.fixture
def frozen() -> Iterator[datetime.datetime]:
    """Pages compute recency from the clock; pin it so the fixtures' dates are exact."""
    with clock.frozen_at(NOW):
        yield NOW


@pytest.fixture
def crowd(merchant: Merchant) -> None:
    customer(merchant, visits=0, days_ago=None)  # no visits
    customer(merchant, visits=2, days_ago=10)  # beginners
    customer(merchant, visits=5, days_ago=45)  # medium
    customer(merchant, visits=9, days_ago=75)  # needs attention
    customer(merchant, visits=9, days_ago=100)  # lost


def test_the_preview_counts_customers_under_the_typed_thresholds(
    owner_client: Client, merchant, crowd, frozen
) -> None:
    response = owner_client.post(reverse("settings:segments_preview"), bands_post(7, 14, 200, 1, 4))
    counts = counts_in(response.content.decode())
    assert response.status_code == 200
    assert counts[Segment.NO_VISITS] == 1
    assert counts[Segment.MEDIUM] == 1  # 10 days, 2 visits: second band, middle column
    assert counts[Segment.NEEDS_ATTENTION] == 3  # 45, 75 and 100 days with 5+ visits
    assert counts[Segment.LOST] == 0
    assert sum(counts.values()) == 5
    # Nothing was saved.
    merchant.refresh_from_db()
    assert SegmentBands.of(merchant) == SegmentBands(recency=(30, 60, 90), frequency=(3, 7))
    assert not AuditEvent.objects.exists()


def test_the_page_shows_the_current_grid_first(owner_client: Client, crowd, frozen) -> None:
    counts = counts_in(owner_client.get(reverse("settings:segments")).content.decode())
    assert counts == {
        **dict.fromkeys(Segment.values, 0),
        Segment.NO_VISITS: 1,
        Segment.BEGINNERS: 1,
        Segment.MEDIUM: 1,
        Segment.NEEDS_ATTENTION: 1,
        Segment.LOST: 1,
    }


def test_the_preview_agrees_with_the_recompute_at_every_band_edge() -> None:
    # A time zone far from UTC, and customers on both sides of every threshold.
    merchant = Merchant.objects.create(name="Far", slug="far", time_zone="Pacific/Auckland")
    for days in (0, 0.6, 1, 29.9, 30, 30.5, 31, 59, 60, 61, 89, 90, 90.4, 91, 400):
        for visits in (0, 1, 3, 4, 7, 8, 30):
            customer(merchant, visits=visits, days_ago=days)
    customer(merchant, visits=3, days_ago=None)
    for bands in (
        SegmentBands(recency=(30, 60, 90), frequency=(3, 7)),
        SegmentBands(recency=(1, 31, 61), frequency=(1, 8)),
    ):
        preview = segment_counts_for_bands(merchant=merchant, bands=bands, now=NOW)
        Merchant.objects.filter(pk=merchant.pk).update(
            recency_band_1=bands.recency[0],
            recency_band_2=bands.recency[1],
            recency_band_3=bands.recency[2],
            frequency_band_1=bands.frequency[0],
            frequency_band_2=bands.frequency[1],
        )
        merchant.refresh_from_db()
        segments_recompute(merchant=merchant, now=NOW)
        assert preview == segment_counts(merchant=merchant)


def test_saving_moves_every_customer_and_records_the_change(
    owner_client: Client, merchant, owner, crowd, frozen
) -> None:
    segments_recompute(merchant=merchant, now=NOW)
    earlier = list(SegmentChange.objects.values_list("pk", flat=True))
    response = owner_client.post(
        reverse("settings:segments"), {**bands_post(7, 14, 200, 1, 4), "save": "1"}
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert SegmentBands.of(merchant) == SegmentBands(recency=(7, 14, 200), frequency=(1, 4))
    assert segment_counts(merchant=merchant)[Segment.NEEDS_ATTENTION] == 3
    moved = SegmentChange.objects.filter(merchant=merchant).exclude(pk__in=earlier)
    assert {(c.from_segment, c.to_segment) for c in moved} == {
        (Segment.BEGINNERS, Segment.MEDIUM),
        (Segment.MEDIUM, Segment.NEEDS_ATTENTION),
        (Segment.LOST, Segment.NEEDS_ATTENTION),
    }
    event = AuditEvent.objects.get(merchant=merchant)
    assert event.action == AuditAction.SEGMENTS_CHANGED
    assert event.actor == owner
    assert "recency 30/60/90 to 7/14/200 days" in event.summary
    message = owner_client.get(reverse("settings:segments")).content.decode()
    assert "3 customers changed segment" in message


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (bands_post(r2=30), "recency_band_2", "Must be more than the band before it (30 days)"),
        (bands_post(r3=50), "recency_band_3", "Must be more than the band before it (60 days)"),
        (bands_post(f2=3), "frequency_band_2", "Must be more than the band before it (3 visits)"),
        (bands_post(r1=0), "recency_band_1", "Enter between 1 and 3,650 days."),
        (bands_post(r3=4000), "recency_band_3", "Enter between 1 and 3,650 days."),
        (bands_post(f1=0), "frequency_band_1", "Enter between 1 and 3,650 visits."),
        (bands_post(r1="ten"), "recency_band_1", "Enter a whole number of days."),
        (bands_post(f1="2.5"), "frequency_band_1", "Enter a whole number of visits."),
        (bands_post(r1=""), "recency_band_1", "Enter a number."),
    ],
)
def test_thresholds_are_whole_increasing_numbers(
    owner_client: Client, merchant, data, field, message
) -> None:
    response = owner_client.post(reverse("settings:segments"), {**data, "save": "1"})
    assert response.status_code == 422
    body = response.content.decode()
    assert message in body
    assert f'id="id_{field}"' in body
    assert "data-preview-invalid" in body
    merchant.refresh_from_db()
    assert SegmentBands.of(merchant) == SegmentBands(recency=(30, 60, 90), frequency=(3, 7))
    assert not AuditEvent.objects.exists()
    preview = owner_client.post(reverse("settings:segments_preview"), data)
    assert "Correct the thresholds above" in preview.content.decode()


def test_the_preview_runs_a_fixed_number_of_queries(
    owner_client: Client, merchant, django_assert_max_num_queries
) -> None:
    for index in range(60):
        customer(merchant, visits=index % 10, days_ago=index * 2)
    with django_assert_max_num_queries(5):
        response = owner_client.post(reverse("settings:segments_preview"), bands_post())
    assert sum(counts_in(response.content.decode()).values()) == 60


def test_a_large_merchants_recompute_goes_to_the_worker(
    owner_client: Client,
    merchant,
    owner,
    crowd,
    frozen,
    monkeypatch,
    django_capture_on_commit_callbacks,
) -> None:
    monkeypatch.setattr(customer_services, "INLINE_SEGMENT_RECOMPUTE_LIMIT", 0)
    segments_recompute(merchant=merchant, now=NOW)
    earlier = set(SegmentChange.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner_client.post(
            reverse("settings:segments"), {**bands_post(7, 14, 200, 1, 4), "save": "1"}
        )
    assert response.status_code == 302
    # Nothing moved in the request; the queued task (run here in-process) moves them.
    assert set(SegmentChange.objects.values_list("pk", flat=True)) == earlier
    assert len(callbacks) == 1
    from loyalty.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    try:
        callbacks[0]()
    finally:
        celery_app.conf.task_always_eager = False
    assert SegmentChange.objects.exclude(pk__in=earlier).count() == 3
    message = owner_client.get(reverse("settings:segments")).content.decode()
    assert "being moved to their new segments" in message
