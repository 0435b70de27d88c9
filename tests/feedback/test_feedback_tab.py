"""The profile's Feedback tab: the customer's ratings, newest first, filtered by period."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards.models import Card
from feedback.models import Feedback
from feedback.selectors import customer_rating
from loyalty import clock
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
# A Wednesday, three days after the clocks went forward (March 8, 2026): the month began in
# winter time (UTC-8), the week in summer time (UTC-7).
NOW = datetime.datetime(2026, 3, 11, 10, 0, tzinfo=LA)


def local(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=LA)


# Each one a second either side of a boundary of the merchant's calendar.
MOMENTS = {
    "last_year": local(2025, 12, 31, 23, 59, 59),
    "new_year": local(2026, 1, 1, 0, 0, 0),
    "end_of_february": local(2026, 2, 28, 23, 59, 59),
    "first_of_march": local(2026, 3, 1, 0, 0, 0),
    "last_sunday": local(2026, 3, 8, 23, 59, 59),
    "monday": local(2026, 3, 9, 0, 0, 0),
    "yesterday_late": local(2026, 3, 10, 23, 59, 59),
    "midnight": local(2026, 3, 11, 0, 0, 0),
    "this_morning": local(2026, 3, 11, 9, 0, 0),
}


def tab_url(card: Card) -> str:
    return reverse("feedback:tab", args=[card.serial])


def leave(card: Card, at: datetime.datetime, rating: int = 4, comment: str = "") -> Feedback:
    visit = Feedback.objects.filter(card=card).count() + 1
    return Feedback.objects.create(
        merchant=card.merchant,
        card=card,
        customer=card.customer,
        rating=rating,
        comment=comment,
        visit_number=visit,
        created_at=at,
    )


def shown(response: Any) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-feedback-id="(\d+)"', response.content.decode())]


@pytest.fixture
def la_card(merchant: Any, stamp_card: Card) -> Card:
    merchant.time_zone = "America/Los_Angeles"
    merchant.save()
    stamp_card.merchant.refresh_from_db()
    return stamp_card


@pytest.fixture
def moments(la_card: Card) -> dict[str, int]:
    return {name: leave(la_card, at).pk for name, at in MOMENTS.items()}


def ids(moments: dict[str, int], *names: str) -> set[int]:
    return {moments[name] for name in names}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"period": "day"}, ("midnight", "this_morning")),
        ({"period": "week"}, ("monday", "yesterday_late", "midnight", "this_morning")),
        (
            {"period": "month"},
            (
                "first_of_march",
                "last_sunday",
                "monday",
                "yesterday_late",
                "midnight",
                "this_morning",
            ),
        ),
        ({"period": "year"}, tuple(name for name in MOMENTS if name != "last_year")),
        ({"period": "all"}, tuple(MOMENTS)),
        ({}, tuple(MOMENTS)),
        (
            {"period": "custom", "start": "2026-02-28", "end": "2026-03-01"},
            ("end_of_february", "first_of_march"),
        ),
        ({"period": "custom", "end": "2025-12-31"}, ("last_year",)),
        ({"start": "2026-03-09"}, ("monday", "yesterday_late", "midnight", "this_morning")),
    ],
)
def test_periods_are_whole_days_in_the_merchants_time_zone(
    owner_client: Client,
    la_card: Card,
    moments: dict[str, int],
    query: dict[str, str],
    expected: tuple[str, ...],
) -> None:
    with clock.frozen_at(NOW):
        response = owner_client.get(tab_url(la_card), query)

    assert response.status_code == 200
    assert set(shown(response)) == ids(moments, *expected)


def test_the_list_is_newest_first_with_rating_comment_and_date(
    owner_client: Client, la_card: Card
) -> None:
    older = leave(la_card, local(2026, 3, 1, 12, 0), rating=2, comment="Cold coffee")
    newer = leave(la_card, local(2026, 3, 2, 12, 0), rating=5)

    response = owner_client.get(tab_url(la_card))

    assert shown(response) == [newer.pk, older.pk]
    page = response.content.decode()
    assert 'data-rating="2"' in page
    assert "Cold coffee" in page
    assert "Mar 1, 2026, 12:00" in page  # in the merchant's time zone
    assert 'aria-current="page"' in page


def test_a_period_end_before_its_start_is_explained(owner_client: Client, la_card: Card) -> None:
    leave(la_card, local(2026, 3, 1, 12, 0))

    response = owner_client.get(
        tab_url(la_card), {"period": "custom", "start": "2026-03-05", "end": "2026-03-01"}
    )

    assert "The end date is before the start date." in response.content.decode()
    assert len(shown(response)) == 1


def test_only_comments(owner_client: Client, la_card: Card) -> None:
    with_comment = leave(la_card, local(2026, 3, 1, 12, 0), comment="Lovely staff")
    leave(la_card, local(2026, 3, 2, 12, 0))

    response = owner_client.get(tab_url(la_card), {"comments": "on"})

    assert shown(response) == [with_comment.pk]


def test_htmx_gets_only_the_list(owner_client: Client, la_card: Card) -> None:
    item = leave(la_card, local(2026, 3, 1, 12, 0))

    response = owner_client.get(tab_url(la_card), {"period": "all"}, headers={"HX-Request": "true"})

    page = response.content.decode()
    assert page.lstrip().startswith('<div id="feedback-list"')
    assert "<html" not in page
    assert shown(response) == [item.pk]


def test_the_tab_lists_every_card_of_the_customer_and_no_one_else(
    owner_client: Client, stamp_card: Card, cashback_program: Any
) -> None:
    assert stamp_card.customer is not None
    other_card = issue_card(cashback_program, customer=stamp_card.customer)
    stranger = issue_card(cashback_program, customer=CustomerFactory(merchant=stamp_card.merchant))
    mine = leave(stamp_card, local(2026, 3, 1, 12, 0))
    also_mine = leave(other_card, local(2026, 3, 2, 12, 0))
    leave(stranger, local(2026, 3, 3, 12, 0))

    response = owner_client.get(tab_url(stamp_card))

    assert shown(response) == [also_mine.pk, mine.pk]


def test_comments_are_escaped(owner_client: Client, stamp_card: Card) -> None:
    leave(stamp_card, local(2026, 3, 1, 12, 0), comment="<img src=x onerror=alert(1)>")

    page = owner_client.get(tab_url(stamp_card)).content.decode()

    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def test_staff_see_the_tab_and_other_merchants_get_a_404(
    staff_client: Client, outsider_client: Client, client: Client, stamp_card: Card
) -> None:
    assert staff_client.get(tab_url(stamp_card)).status_code == 200
    assert outsider_client.get(tab_url(stamp_card)).status_code == 404
    anonymous = client.get(tab_url(stamp_card))
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]


def test_the_tab_runs_a_fixed_number_of_queries(owner_client: Client, la_card: Card) -> None:
    leave(la_card, local(2026, 3, 1, 12, 0))
    with CaptureQueriesContext(connection) as few:
        owner_client.get(tab_url(la_card))
    for day in range(2, 28):
        leave(la_card, local(2026, 2, day, 12, 0), comment=f"Day {day}")

    with CaptureQueriesContext(connection) as many:
        owner_client.get(tab_url(la_card))

    assert len(many) == len(few)


@pytest.mark.parametrize(
    ("ratings", "expected"),
    [
        ([], (None, 0)),
        ([5], (Decimal("5.0"), 1)),
        ([4, 4, 5], (Decimal("4.3"), 3)),
        ([4, 5], (Decimal("4.5"), 2)),
        ([3, 4, 4, 4], (Decimal("3.8"), 4)),  # 3.75 rounds half up
        ([1, 2], (Decimal("1.5"), 2)),
    ],
)
def test_the_feedback_rating_is_the_average_to_one_decimal_and_the_count(
    stamp_card: Card, ratings: list[int], expected: tuple[Decimal | None, int]
) -> None:
    for n, rating in enumerate(ratings):
        leave(stamp_card, local(2026, 3, 1 + n, 12, 0), rating=rating)

    assert stamp_card.customer is not None
    assert customer_rating(stamp_card.customer) == expected


def test_the_summary_follows_the_filters(owner_client: Client, la_card: Card) -> None:
    leave(la_card, local(2026, 3, 11, 8, 0), rating=2)
    leave(la_card, local(2026, 1, 5, 8, 0), rating=5)

    with clock.frozen_at(NOW):
        response = owner_client.get(tab_url(la_card), {"period": "day"})

    page = response.content.decode()
    assert 'data-summary-average="2.0" data-summary-count="1"' in page
    assert "Mar 11, 2026" in page


def test_the_filters_offer_every_period_and_only_comments(
    owner_client: Client, stamp_card: Card
) -> None:
    page = owner_client.get(tab_url(stamp_card)).content.decode()

    for value, label in [
        ("day", "Day"),
        ("week", "Week"),
        ("month", "Month"),
        ("year", "Year"),
        ("all", "All time"),
        ("custom", "Period"),
    ]:
        assert re.search(
            rf'<input type="radio" name="period" value="{value}"[^>]*>\s*{label}', page
        )
    assert re.search(r'<input type="radio" name="period" value="all"[^>]*checked', page)
    assert 'type="date" name="start"' in page
    assert 'type="date" name="end"' in page
    assert 'name="comments"' in page
    assert "Only comments" in page
