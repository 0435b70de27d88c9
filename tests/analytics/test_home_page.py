"""The merchant's home page: who sees it, the period and program filter, figures, charts, CSV.

The shop's history is built through the real services with the clock stopped on given days;
the page is then asked for "today" = 15 June 2025 (a UTC merchant), so each figure below is
worked out from the timeline of ``shop``.
"""

from __future__ import annotations

import contextlib
import datetime
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards import services
from cards.models import Card, Program
from customers.models import Segment
from customers.segments import segments_recompute
from feedback.services import feedback_leave
from loyalty import clock
from loyalty.models import Merchant, UserPreference
from tests.factories import CashbackProgramFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 6, 15, 12, 0, tzinfo=datetime.UTC)
TODAY = NOW.date()


def days_ago(days: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=days)


@contextlib.contextmanager
def at(days: int, minute: int = 0) -> Iterator[None]:
    """The clock stopped ``days`` before today, at noon (plus ``minute``)."""
    with clock.frozen_at(NOW - datetime.timedelta(days=days) + datetime.timedelta(minutes=minute)):
        yield


@pytest.fixture
def stamps(merchant: Merchant) -> Program:
    # 1 stamp per 10.00, 10 stamps a reward, which costs the shop 3.50.
    return StampProgramFactory(merchant=merchant, reward_cost=Decimal("3.50"), referral_bonus=0)


@pytest.fixture
def cashback(merchant: Merchant) -> Program:
    return CashbackProgramFactory(merchant=merchant, referral_bonus=0)


@pytest.fixture
def shop(stamps: Program, cashback: Program) -> dict[str, Card]:
    """The timeline (days before 15 June):

    - 40 (the previous 30 days): Anna's card is issued; she spends 100.00 (a reward) and
      redeems it. Revenue 100.00, reward cost 3.50.
    - 10: Ben's card is issued; he spends 50.00.
    - 5: Anna spends 200.00 (two rewards) and redeems both: reward cost 7.00.
    - 3: Cleo's cashback card is issued; she spends 40.00 (2.00 points).
    - 1: Anna is refunded 60.00: a day of revenue below zero.
    - 0: Anna rates the shop 4.

    The last 30 days: revenue 50 + 200 + 40 - 60 = 230.00; the last 7: 180.00.
    """
    with at(40):
        anna = issue_card(stamps)
    with at(40, 1):
        services.card_add_transaction_amount(card=anna, value="100.00", actor=None)
    with at(40, 2):
        services.card_redeem_rewards(card=anna, value=1, purchase_amount="0", actor=None)
    with at(10):
        ben = issue_card(stamps)
    with at(10, 1):
        services.card_add_transaction_amount(card=ben, value="50.00", actor=None)
    with at(5):
        services.card_add_transaction_amount(card=anna, value="200.00", actor=None)
    with at(5, 1):
        services.card_redeem_rewards(card=anna, value=2, purchase_amount="0", actor=None)
    with at(3):
        cleo = issue_card(cashback)
    with at(3, 1):
        services.card_add_transaction_amount(card=cleo, value="40.00", actor=None)
    with at(1):
        services.card_subtract_transaction_amount(card=anna, value="60.00", actor=None)
    with at(0):
        feedback_leave(card=anna, rating=4)
    segments_recompute(merchant=stamps.merchant, now=NOW)
    return {"anna": anna, "ben": ben, "cleo": cleo}


def get(client: Client, path: str = "/", **params: Any) -> Any:
    with clock.frozen_at(NOW):
        return client.get(path, params)


def metric(response: Any, key: str, attribute: str = "value") -> str:
    """The raw ``data-<attribute>`` of the figure ``key``."""
    html = response.content.decode()
    found = re.search(rf'<dd[^>]*data-metric="{key}"[^>]*>', html)
    assert found, f"no figure {key}"
    value = re.search(rf'data-{attribute}="([^"]*)"', found.group(0))
    assert value
    return value.group(1)


def figure_html(response: Any, key: str) -> str:
    html = response.content.decode()
    start = html.index(f'data-figure="{key}"')
    return html[start : html.index("</div>", start)]


def period_of(response: Any) -> tuple[str, str]:
    html = response.content.decode()
    start = re.search(r'data-period-start="([^"]*)"', html)
    end = re.search(r'data-period-end="([^"]*)"', html)
    assert start
    assert end
    return start.group(1), end.group(1)


def csv_text(response: Any) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


# ---------------------------------------------------------------------------------------------
# Who sees what


@pytest.mark.parametrize("persona", ["owner_client", "admin_client_"])
def test_owners_and_admins_see_the_statistics(
    persona: str, shop: dict[str, Card], request: pytest.FixtureRequest
) -> None:
    response = get(request.getfixturevalue(persona))

    assert response.status_code == 200
    assert next(t.name for t in response.templates) == "analytics/home.html"
    assert metric(response, "revenue") == "230.00"
    content = response.content.decode()
    assert "$230.00" in content
    assert content.count("data-chart-svg") >= 5
    assert 'data-nav="statistics"' in content
    assert 'aria-current="page"' in content


def test_staff_are_sent_to_the_customer_list_and_see_no_money(
    staff_client: Client, shop: dict[str, Card]
) -> None:
    response = get(staff_client)

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list")
    page = staff_client.get(response["Location"])
    content = page.content.decode()
    assert page.status_code == 200
    assert 'data-metric="revenue"' not in content
    assert "$" not in content  # no amount of money anywhere on the page they land on
    assert 'data-nav="statistics"' not in content


@pytest.mark.parametrize("chart", ["revenue", "visits", "new_cards", "rating", "segments", "tiers"])
def test_staff_cannot_download_the_numbers(
    staff_client: Client, shop: dict[str, Card], chart: str
) -> None:
    assert get(staff_client, reverse(f"analytics:{chart}_csv")).status_code == 403


def test_staff_keep_their_filter_out_of_the_redirect(staff_client: Client, stamps: Program) -> None:
    response = get(staff_client, period="7d", program=str(stamps.pk))

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list")


def test_anonymous_visitors_are_asked_to_sign_in(client: Client) -> None:
    response = get(client, period="7d")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=/")


def test_another_merchants_owner_sees_only_their_own_figures(
    outsider_client: Client, shop: dict[str, Card]
) -> None:
    response = get(outsider_client)

    assert response.status_code == 200
    assert metric(response, "revenue") == "0.00"
    assert "Coffee Stamp Card" not in response.content.decode()


# ---------------------------------------------------------------------------------------------
# The period


@pytest.mark.parametrize(
    ("preset", "start"),
    [
        ("today", TODAY),
        ("7d", days_ago(6)),
        ("30d", days_ago(29)),
        ("90d", days_ago(89)),
        ("12m", datetime.date(2024, 6, 16)),
    ],
)
def test_each_preset_ends_today(
    owner_client: Client, shop: dict[str, Card], preset: str, start: datetime.date
) -> None:
    response = get(owner_client, period=preset)

    assert period_of(response) == (start.isoformat(), TODAY.isoformat())
    assert re.search(rf'value="{preset}"[^>]*aria-pressed="true"', response.content.decode())


def test_the_default_period_is_the_last_30_days(owner_client: Client, shop: Any) -> None:
    for response in (get(owner_client), get(owner_client, period="nonsense")):
        assert period_of(response) == (days_ago(29).isoformat(), TODAY.isoformat())
        assert 'value="30d" data-period="30d" aria-pressed="true"' in response.content.decode()


def test_the_period_changes_the_figures(owner_client: Client, shop: dict[str, Card]) -> None:
    assert metric(get(owner_client, period="30d"), "revenue") == "230.00"
    assert metric(get(owner_client, period="7d"), "revenue") == "180.00"
    assert metric(get(owner_client, period="90d"), "revenue") == "330.00"
    assert metric(get(owner_client, period="today"), "revenue") == "0.00"


def test_custom_dates_make_the_period(owner_client: Client, shop: dict[str, Card]) -> None:
    response = get(
        owner_client, period="custom", start=days_ago(10).isoformat(), end=days_ago(5).isoformat()
    )

    assert period_of(response) == (days_ago(10).isoformat(), days_ago(5).isoformat())
    assert metric(response, "revenue") == "250.00"  # Ben's 50 and Anna's 200
    content = response.content.decode()
    assert "data-form-error" not in content
    assert re.search(r"<details[^>]*data-custom-period[^>]*open", content)


def test_dates_typed_without_the_custom_button_are_the_period(
    owner_client: Client, shop: dict[str, Card]
) -> None:
    response = get(owner_client, start=days_ago(3).isoformat(), end=TODAY.isoformat())

    assert period_of(response) == (days_ago(3).isoformat(), TODAY.isoformat())


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-06-10", "2025-06-01", "The start date must be on or before the end date."),
        ("2025-06-10", "2025-06-20", "The period cannot end after today"),
        ("", "", "Choose a start date and an end date."),
        ("2025-13-45", "2025-06-01", "is not a date"),
        ("2023-01-01", "2025-06-01", "at most 366 days"),
    ],
)
def test_invalid_custom_dates_show_the_error_and_the_default_period(
    owner_client: Client, shop: dict[str, Card], start: str, end: str, message: str
) -> None:
    response = get(owner_client, period="custom", start=start, end=end)

    assert response.status_code == 200
    content = response.content.decode()
    error = re.search(r"data-form-error>(.*?)</p>", content, re.S)
    assert error
    assert message in error.group(1).replace("&#x27;", "'")
    assert period_of(response) == (days_ago(29).isoformat(), TODAY.isoformat())
    assert metric(response, "revenue") == "230.00"
    # What was typed stays in the form, to be corrected.
    if start:
        assert f'value="{start}"' in content


def test_a_period_compares_with_the_one_before(owner_client: Client, shop: Any) -> None:
    response = get(owner_client)

    assert metric(response, "revenue", "previous") == "100.00"
    assert metric(response, "revenue", "change") == "130.0"
    revenue = figure_html(response, "revenue")
    assert "tone-good" in revenue
    assert "▲" in revenue
    assert "+130.0 %" in revenue
    assert "vs previous 30 days" in revenue


def test_paying_more_for_rewards_is_not_shown_as_good(owner_client: Client, shop: Any) -> None:
    response = get(owner_client)

    assert metric(response, "reward_cost") == "7.00"
    assert metric(response, "reward_cost", "previous") == "3.50"
    cost = figure_html(response, "reward_cost")
    assert "tone-bad" in cost
    assert "▲" in cost
    assert "+100.0 %" in cost
    assert ">Up<" in cost  # said in words, not by colour alone


def test_a_fall_is_marked_down(owner_client: Client, shop: Any) -> None:
    # The last 5 days (40 - 60 = -20.00) against the 5 before (Anna's 200.00).
    response = get(owner_client, period="custom", start=days_ago(4).isoformat(), end=TODAY)

    assert metric(response, "revenue") == "-20.00"
    assert metric(response, "revenue", "change") == "-110.0"
    revenue = figure_html(response, "revenue")
    assert "tone-bad" in revenue
    assert "▼" in revenue
    assert ">Down<" in revenue
    assert "-110.0 %" in revenue
    assert "vs previous 5 days" in revenue


def test_no_change_is_flat(owner_client: Client, shop: Any) -> None:
    response = get(owner_client, period="7d")  # Cleo's card against Ben's

    assert metric(response, "new_cards", "change") == "0.0"
    new_cards = figure_html(response, "new_cards")
    assert "change-flat" in new_cards
    assert ">No change<" in new_cards


def test_an_empty_figure_is_a_dash_with_its_reason(owner_client: Client, shop: Any) -> None:
    response = get(owner_client, period="today")

    assert metric(response, "average_check") == ""
    check = figure_html(response, "average_check")
    assert "—" in check
    assert "No purchases in this period" in check
    assert 'class="visually-hidden">No purchases in this period' in check


def test_no_comparison_without_a_previous_figure(owner_client: Client, shop: Any) -> None:
    response = get(owner_client)

    assert metric(response, "visits", "previous") == "2"  # Anna's purchase and redemption
    assert metric(response, "points_issued", "previous") == "0.00"
    assert metric(response, "points_issued", "change") == ""
    assert "vs previous 30 days: 0.00" in figure_html(response, "points_issued")


def test_money_is_written_in_the_merchants_currency_and_the_readers_language(
    owner: Any, owner_client: Client, merchant: Merchant, shop: Any
) -> None:
    merchant.currency = "EUR"
    merchant.save(update_fields=["currency"])
    UserPreference.objects.update_or_create(user=owner, defaults={"language": "de"})

    response = get(owner_client)

    assert metric(response, "revenue") == "230.00"  # raw stays raw
    assert "230,00\xa0€" in figure_html(response, "revenue")


# ---------------------------------------------------------------------------------------------
# The program filter


def test_one_program_shows_its_own_figures(
    owner_client: Client, shop: dict[str, Card], stamps: Program
) -> None:
    response = get(owner_client, program=str(stamps.pk))

    assert metric(response, "revenue") == "190.00"  # without Cleo's 40.00 of cashback
    content = response.content.decode()
    assert 'data-metric="rewards_redeemed"' in content
    assert 'data-metric="points_issued"' not in content
    assert 'data-chart="tiers"' not in content
    assert f'<option value="{stamps.pk}" selected>' in content
    # The program goes with every preset and every download.
    assert f"program={stamps.pk}" in content


def test_all_programs_show_stamps_and_cashback(owner_client: Client, shop: Any) -> None:
    content = get(owner_client, program="").content.decode()

    assert 'data-metric="stamps_issued"' in content
    assert 'data-metric="points_outstanding"' in content
    assert 'data-chart="tiers"' in content


def test_another_merchants_program_is_not_found(
    owner_client: Client, shop: Any, other_merchant: Merchant
) -> None:
    theirs = StampProgramFactory(merchant=other_merchant)

    assert get(owner_client, program=str(theirs.pk)).status_code == 404
    assert get(owner_client, reverse("analytics:revenue_csv"), program=theirs.pk).status_code == 404


@pytest.mark.parametrize("program", ["999999", "abc"])
def test_an_unknown_program_is_not_found(owner_client: Client, shop: Any, program: str) -> None:
    assert get(owner_client, program=program).status_code == 404


def test_an_archived_program_keeps_its_history_in_the_figures(
    owner_client: Client, shop: Any, stamps: Program
) -> None:
    before = get(owner_client).content.decode()
    services.program_archive(program=stamps, actor=None)

    page = get(owner_client).content.decode()
    assert f'<option value="{stamps.pk}">{stamps.name} (archived)</option>' in page
    assert get(owner_client, program=str(stamps.pk)).status_code == 200
    revenue = 'data-metric="revenue" data-value="'
    assert page.split(revenue)[1].split('"')[0] == before.split(revenue)[1].split('"')[0]


# ---------------------------------------------------------------------------------------------
# Charts


def test_every_chart_is_an_accessible_svg_with_its_numbers(owner_client: Client, shop: Any) -> None:
    content = get(owner_client).content.decode()

    for chart in ("revenue", "visits", "new_cards", "rating", "segments", "tiers"):
        start = content.index(f'data-chart="{chart}"')
        card = content[start : content.index("</article>", start)]
        assert f'aria-labelledby="chart-{chart}-title chart-{chart}-desc"' in card
        assert 'role="img"' in card
        assert f'<title id="chart-{chart}-title">' in card
        assert f'<desc id="chart-{chart}-desc">' in card
        assert "<table" in card
        assert "Show the numbers" in card
        assert f'href="/statistics/{chart.replace("_", "-")}.csv"' in card


def test_the_revenue_chart_draws_the_refund_below_the_axis(owner_client: Client, shop: Any) -> None:
    content = get(owner_client, period="7d").content.decode()
    start = content.index('data-chart="revenue"')
    card = content[start : content.index("</article>", start)]

    bars = re.findall(r'<rect class="bar( negative)?"[^>]*data-value="([^"]*)"', card)
    assert len(bars) == 7
    assert (" negative", "-60.00") in bars
    assert ("", "200.00") in bars
    assert "Jun 14: -$60.00" in card
    # The table has each day's figure as written for people; two columns fit a phone unstacked.
    assert '<td data-label="Revenue">-$60.00</td>' in card
    assert "<table>" in card


def test_the_rating_chart_has_points_only_where_there_are_ratings(
    owner_client: Client, shop: Any
) -> None:
    content = get(owner_client, period="7d").content.decode()
    start = content.index('data-chart="rating"')
    card = content[start : content.index("</article>", start)]

    assert card.count('<circle class="point"') == 1
    assert 'data-value="4.0"' in card
    assert card.count('<td data-label="Ratings">0</td>') == 6  # the days without a rating
    assert card.count(">—</td>") == 6


def test_segments_list_every_segment(owner_client: Client, shop: Any) -> None:
    content = get(owner_client).content.decode()
    start = content.index('data-chart="segments"')
    card = content[start : content.index("</article>", start)]

    for segment in Segment:
        assert str(segment.label) in card


def test_a_long_period_is_charted_by_month(owner_client: Client, shop: Any) -> None:
    content = get(owner_client, period="12m").content.decode()
    start = content.index('data-chart="revenue"')
    card = content[start : content.index("</article>", start)]

    assert len(re.findall(r'<rect class="bar', card)) == 13  # June 16, 2024 to June 15, 2025
    assert "June 2025" in card


# ---------------------------------------------------------------------------------------------
# The empty state


def test_a_merchant_without_cards_is_shown_where_to_start(
    owner_client: Client, stamps: Program
) -> None:
    content = get(owner_client).content.decode()

    assert "data-empty-state" in content
    assert f'href="{reverse("customers:add")}"' in content
    assert f'href="{reverse("settings:programs")}"' in content
    assert "data-chart-svg" not in content
    assert content.count("No data in this period") >= 3
    assert "No customers counted in segments yet" in content


def test_a_merchant_without_programs_is_asked_to_create_one(owner_client: Client) -> None:
    content = get(owner_client).content.decode()

    assert "data-empty-state" in content
    assert f'href="{reverse("settings:program_create")}"' in content
    assert 'data-metric="revenue" data-value="0.00"' in content


def test_the_welcome_goes_once_there_are_cards(owner_client: Client, shop: Any) -> None:
    assert "data-empty-state" not in get(owner_client).content.decode()


# ---------------------------------------------------------------------------------------------
# CSV downloads


def test_a_chart_downloads_as_csv_for_the_same_filter(
    owner_client: Client, shop: Any, stamps: Program
) -> None:
    response = get(owner_client, reverse("analytics:revenue_csv"), period="7d")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    start, end = days_ago(6).isoformat(), TODAY.isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="revenue-{start}-{end}.csv"'
    lines = csv_text(response).splitlines()
    assert lines[0] == '"From","To","Revenue"'
    assert len(lines) == 8
    assert f'"{days_ago(5).isoformat()}","{days_ago(5).isoformat()}",200.00' in lines
    assert f'"{days_ago(1).isoformat()}","{days_ago(1).isoformat()}",-60.00' in lines

    only_stamps = csv_text(
        get(owner_client, reverse("analytics:revenue_csv"), period="7d", program=stamps.pk)
    )
    assert f'"{days_ago(3).isoformat()}","{days_ago(3).isoformat()}",0.00' in only_stamps


def test_weeks_download_with_their_first_and_last_day(owner_client: Client, shop: Any) -> None:
    response = get(owner_client, reverse("analytics:new_cards_csv"), period="90d")
    lines = csv_text(response).splitlines()

    assert lines[0] == '"From","To","New cards"'
    # 17 March (a Monday) to 15 June: 13 weeks, the first starting on the period's first day.
    assert lines[1].startswith(f'"{days_ago(89).isoformat()}","2025-03-23",')
    assert lines[-1] == '"2025-06-09","2025-06-15",1'


def test_ratings_download_with_empty_averages(owner_client: Client, shop: Any) -> None:
    lines = csv_text(get(owner_client, reverse("analytics:rating_csv"), period="7d")).splitlines()

    assert lines[0] == '"From","To","Ratings","Average rating"'
    assert lines[-1] == f'"{TODAY.isoformat()}","{TODAY.isoformat()}",1,4.0'
    assert lines[1] == f'"{days_ago(6).isoformat()}","{days_ago(6).isoformat()}",0,""'


def test_segments_and_tiers_download(owner_client: Client, shop: Any) -> None:
    segments = csv_text(get(owner_client, reverse("analytics:segments_csv"))).splitlines()
    tiers = csv_text(get(owner_client, reverse("analytics:tiers_csv"))).splitlines()

    assert segments[0] == '"Segment","Name","Customers"'
    assert len(segments) == len(Segment) + 1
    assert tiers[0] == '"Tier","Name","Cards"'
    assert '"Bronze","Bronze (Coffee Cashback)",1' in tiers


def test_text_cells_cannot_run_as_formulas(
    owner_client: Client, merchant: Merchant, shop: Any
) -> None:
    CashbackProgramFactory(
        merchant=merchant, name="=HYPERLINK(evil)", tiers=[("@SUM(A1)", "0", "5")]
    )

    lines = csv_text(get(owner_client, reverse("analytics:tiers_csv"))).splitlines()

    assert '"\'@SUM(A1)","\'@SUM(A1) (=HYPERLINK(evil))",0' in lines


def test_a_download_with_invalid_dates_has_the_default_period(
    owner_client: Client, shop: Any
) -> None:
    response = get(owner_client, reverse("analytics:visits_csv"), period="custom", start="x")

    start, end = days_ago(29).isoformat(), TODAY.isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="visits-{start}-{end}.csv"'


# ---------------------------------------------------------------------------------------------
# Queries


def _more_history(stamps: Program, cashback: Program) -> None:
    for day in range(2, 60, 3):
        with at(day, 5):
            card = issue_card(stamps if day % 2 else cashback)
        with at(day, 6):
            services.card_add_transaction_amount(card=card, value="20.00", actor=None)
        with at(day, 7):
            feedback_leave(card=card, rating=day % 5 + 1)
        if day % 2:  # a stamp card: stamps added by mistake, then reversed
            with at(day, 8):
                added = services.card_add_stamps(card=card, value=1, actor=None)
                services.entry_reverse(
                    card=card,
                    entry=added.entries[0],
                    reason=f"Reason {day}",
                    actor=None,
                    role="owner",
                )


@pytest.mark.parametrize("period", ["30d", "12m"])
def test_the_page_runs_a_fixed_number_of_queries(
    owner_client: Client,
    shop: Any,
    stamps: Program,
    cashback: Program,
    period: str,
    django_assert_num_queries: Any,
) -> None:
    get(owner_client, period=period)  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as first:
        assert get(owner_client, period=period).status_code == 200
    # One more than the charts from the rollup need: the reasons for reversals, read from the
    # ledger's reversals in one query.
    assert len(first) <= 13

    _more_history(stamps, cashback)

    with django_assert_num_queries(len(first)):
        response = get(owner_client, period=period)
    assert Decimal(metric(response, "revenue")) > Decimal("230.00")
    assert re.search(r'data-chart-total data-value="[1-9]', response.content.decode())
