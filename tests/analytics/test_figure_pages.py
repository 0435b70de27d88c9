"""The home page shows every figure of the worked example, as raw ``data-*`` attributes.

Each figure is an element ``data-metric="<key>" data-value data-previous data-change`` (raw
decimal strings, integers or empty). The history is docs/metrics.md's worked example
(``tests/analytics/history.py``); the numbers are worked out in ``test_figures.py``.
"""

from __future__ import annotations

import datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from loyalty import clock
from loyalty.models import Merchant
from tests.analytics.history import History, build_history

pytestmark = pytest.mark.django_db

WEEK = {"period": "custom", "start": "2025-06-09", "end": "2025-06-15"}
# Sunday June 15 2025, noon in Berlin: "today" for the presets.
SUNDAY_NOON = datetime.datetime(2025, 6, 15, 10, 0, tzinfo=datetime.UTC)

# (value, previous, change) of each figure for the week of June 9-15 against June 2-8.
ALL_PROGRAMS = {
    "revenue": ("190.50", "448.00", "-57.5"),
    "purchases": ("8", "3", "166.7"),
    "average_check": ("23.81", "149.33", "-84.1"),
    "visits": ("10", "3", "233.3"),
    "new_cards": ("2", "2", "0.0"),
    "active_customers": ("5", "3", "66.7"),
    "returning_customers": ("3", "1", "200.0"),
    "stamps_issued": ("18", "5", "260.0"),
    "rewards_issued": ("3", "0", ""),  # no change from 0
    "rewards_redeemed": ("3", "0", ""),
    "points_issued": ("15.00", "20.00", "-25.0"),
    "points_redeemed": ("6.00", "0.00", ""),
    "points_outstanding": ("10.00", "20.00", "-50.0"),
    "reward_cost": ("15.00", "0.00", ""),
    "roi": ("1170.0", "", ""),  # empty the week before: rewards cost nothing then
}


class MetricParser(HTMLParser):
    """Collects the ``data-*`` of every element that names a metric."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, tuple[str, str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        key = found.get("data-metric")
        if key is None:
            return
        assert key not in self.metrics, f"{key} is on the page twice"
        self.metrics[key] = (
            found.get("data-value", ""),
            found.get("data-previous", ""),
            found.get("data-change", ""),
        )


def metrics(client: Client, query: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.get("/", query or {})
    assert response.status_code == 200
    parser = MetricParser()
    parser.feed(response.content.decode())
    return parser.metrics


@pytest.fixture
def history(merchant: Merchant) -> History:
    return build_history(merchant)


def test_the_page_shows_every_figure_of_the_week_and_the_week_before(
    owner_client: Client, history: History
) -> None:
    assert metrics(owner_client, WEEK) == ALL_PROGRAMS


def test_an_empty_program_choice_means_all_programs(owner_client: Client, history: History) -> None:
    assert metrics(owner_client, {**WEEK, "program": ""}) == ALL_PROGRAMS


def test_the_last_7_days_are_the_same_week_on_sunday(
    owner_client: Client, history: History
) -> None:
    with clock.frozen_at(SUNDAY_NOON):
        assert metrics(owner_client, {"period": "7d"}) == ALL_PROGRAMS


def test_a_stamp_program_shows_its_own_figures_only(owner_client: Client, history: History) -> None:
    assert metrics(owner_client, {**WEEK, "program": history.coffee.pk}) == {
        # Berta 95 + 30 - 27 + 0 and Anna 60 + 4.50 this week; Anna 40 the week before.
        "revenue": ("162.50", "40.00", "306.3"),  # (162.50 - 40) / 40 x 100 = 306.25
        "purchases": ("4", "1", "300.0"),
        "average_check": ("40.63", "40.00", "1.6"),  # 162.50 / 4 = 40.625; 0.63 / 40 = 1.575 %
        "visits": ("5", "1", "400.0"),
        "new_cards": ("1", "0", ""),
        "active_customers": ("2", "1", "100.0"),  # Anna and Berta; Anna
        "returning_customers": ("1", "1", "0.0"),  # Anna both weeks (May 20, June 3)
        "stamps_issued": ("16", "4", "300.0"),
        "rewards_issued": ("2", "0", ""),
        "rewards_redeemed": ("2", "0", ""),
        "reward_cost": ("7.00", "0.00", ""),  # 2 x 3.50
        "roi": ("2221.4", "", ""),  # (162.50 - 7) / 7 x 100
    }


def test_a_cashback_program_shows_its_own_figures_only(
    owner_client: Client, history: History
) -> None:
    assert metrics(owner_client, {**WEEK, "program": history.bakery.pk}) == {
        "revenue": ("12.00", "400.00", "-97.0"),  # Carl 200 - 200, Dora 12; Carl 400
        "purchases": ("2", "1", "100.0"),
        "average_check": ("6.00", "400.00", "-98.5"),
        "visits": ("3", "1", "200.0"),
        "new_cards": ("1", "1", "0.0"),  # Dora; Carl
        "active_customers": ("2", "1", "100.0"),  # Carl and Dora; Carl
        "returning_customers": ("1", "0", ""),  # Carl
        "points_issued": ("15.00", "20.00", "-25.0"),
        "points_redeemed": ("6.00", "0.00", ""),
        "points_outstanding": ("10.00", "20.00", "-50.0"),
        "reward_cost": ("6.00", "0.00", ""),  # points at face value
        "roi": ("100.0", "", ""),  # (12 - 6) / 6 x 100
    }


def test_the_default_period_is_the_last_30_days(owner_client: Client, history: History) -> None:
    with clock.frozen_at(SUNDAY_NOON):
        found = metrics(owner_client)
    # May 17 to June 15: Anna's 25 in May, 448 the week before and 190.50 the week; nothing
    # in the 30 days before, so no change to show.
    assert found["revenue"] == ("663.50", "0.00", "")
    assert found["new_cards"] == ("5", "0", "")  # Anna, Carl, Tessa, Berta, Dora
    # Anna, Berta, Tessa, Carl, Dora; none had visited before May 17.
    assert found["active_customers"] == ("5", "0", "")
    assert found["returning_customers"] == ("0", "0", "")


def test_a_custom_period_of_one_day(owner_client: Client, history: History) -> None:
    found = metrics(owner_client, {"period": "custom", "start": "2025-06-13", "end": "2025-06-13"})
    # Friday June 13: Anna 60 + 4.50, Tessa 8 + 8; Thursday June 12: no purchase.
    assert found["revenue"] == ("80.50", "0.00", "")
    assert found["purchases"] == ("4", "0", "")
    assert found["average_check"] == ("20.13", "", "")  # 80.50 / 4 = 20.125
    assert found["visits"] == ("4", "2", "100.0")  # Anna 2, Tessa 2; Berta and Carl
    assert found["active_customers"] == ("2", "2", "0.0")


def test_dates_that_make_no_period_are_explained(owner_client: Client, history: History) -> None:
    response = owner_client.get(
        "/", {"period": "custom", "start": "2025-06-15", "end": "2025-06-09"}
    )
    assert "The start date must be on or before the end date." in response.content.decode()


def test_staff_see_no_figures(staff_client: Client, history: History) -> None:
    response = staff_client.get("/", WEEK)
    assert response.status_code == 302
    assert response.url == "/customers/"
