"""The home page's statistics in a browser: SVG charts, the period selector, the numbers table,
and a phone's width without sideways scrolling."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cards import services
from cards.models import Program
from customers.segments import segments_recompute
from loyalty import clock
from tests.factories import CashbackProgramFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db(transaction=True)


def _on(days_ago: int) -> Any:
    return clock.frozen_at(timezone.now() - datetime.timedelta(days=days_ago))


@pytest.fixture
def programs(merchant: Any) -> tuple[Program, Program]:
    """A stamp and a cashback program with purchases 20 days ago and 2 days ago: the last 30
    days take 75.00 + 40.00 + 25.00 = 140.00, the last 7 days 65.00."""
    stamps = StampProgramFactory(merchant=merchant, reward_cost=Decimal("3.00"), referral_bonus=0)
    cashback = CashbackProgramFactory(merchant=merchant, referral_bonus=0)
    with _on(20):
        early = issue_card(stamps)
        services.card_add_transaction_amount(card=early, value="75.00", actor=None)
    with _on(2):
        services.card_add_transaction_amount(card=early, value="25.00", actor=None)
        late = issue_card(cashback)
        services.card_add_transaction_amount(card=late, value="40.00", actor=None)
    segments_recompute(merchant=merchant)  # the segments chart shows the last count
    return stamps, cashback


def _revenue(page: Any) -> Any:
    return page.locator('[data-metric="revenue"]')


def test_the_charts_are_svg_with_bars(page: Any, login: Any, owner: Any, programs: Any) -> None:
    login(owner)
    page.goto("/")

    revenue = page.locator("#chart-revenue svg[data-chart-svg]")
    expect(revenue).to_be_visible()
    bars = revenue.locator("rect.bar")
    expect(bars).to_have_count(30)  # a bar per day of the last 30
    heights = bars.evaluate_all("bars => bars.map(b => b.getBoundingClientRect().height)")
    assert sum(1 for h in heights if h > 1) == 2  # the two days with purchases
    expect(page.locator("#chart-tiers svg rect.bar").first).to_be_visible()
    expect(page.locator("#chart-segments svg")).to_be_visible()
    expect(page.locator("#chart-rating [data-chart-empty]")).to_have_text(
        "No ratings in this period"
    )
    expect(_revenue(page)).to_have_attribute("data-value", "140.00")
    expect(_revenue(page)).to_contain_text("$140.00")


def test_the_period_selector_changes_the_figures(
    page: Any, login: Any, owner: Any, programs: Any
) -> None:
    login(owner)
    page.goto("/")
    expect(_revenue(page)).to_have_attribute("data-value", "140.00")

    page.get_by_role("button", name="Last 7 days").click()
    page.wait_for_url(re.compile(r"period=7d"))
    expect(_revenue(page)).to_have_attribute("data-value", "65.00")
    expect(page.get_by_role("button", name="Last 7 days")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#chart-revenue rect.bar")).to_have_count(7)

    # Custom dates: the disclosure opens, the dates go in, the button shows them.
    page.locator("[data-custom-period] summary").click()
    today = timezone.localdate()
    page.fill("input[name=start]", (today - datetime.timedelta(days=25)).isoformat())
    page.fill("input[name=end]", (today - datetime.timedelta(days=10)).isoformat())
    page.locator("[data-custom-period] button[data-period=custom]").click()
    page.wait_for_url(re.compile(r"period=custom"))
    expect(_revenue(page)).to_have_attribute("data-value", "75.00")

    # Dates the wrong way round: the error, and the last 30 days instead.
    page.fill("input[name=start]", today.isoformat())
    page.fill("input[name=end]", (today - datetime.timedelta(days=3)).isoformat())
    page.locator("input[name=end]").press("Enter")
    expect(page.locator("[data-form-error]")).to_contain_text("on or before the end date")
    expect(_revenue(page)).to_have_attribute("data-value", "140.00")


def test_choosing_a_program_applies_it_at_once(
    page: Any, login: Any, owner: Any, programs: Any
) -> None:
    stamps, _cashback = programs
    login(owner)
    page.goto("/?period=7d")

    expect(page.locator("[data-apply-program]")).to_be_hidden()  # the script submits instead
    page.select_option("select[name=program]", str(stamps.pk))
    page.wait_for_url(re.compile(rf"program={stamps.pk}"))
    assert "period=7d" in page.url  # the period stays
    expect(_revenue(page)).to_have_attribute("data-value", "25.00")
    expect(page.locator("#chart-tiers")).to_have_count(0)


def test_the_numbers_table_opens(page: Any, login: Any, owner: Any, programs: Any) -> None:
    login(owner)
    page.goto("/?period=7d")

    table = page.locator("#chart-revenue table")
    expect(table).to_be_hidden()
    page.locator("#chart-revenue [data-chart-numbers] summary").click()
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(7)
    expect(table).to_contain_text("$65.00")


def test_the_filter_works_by_keyboard_with_a_visible_focus(
    page: Any, login: Any, owner: Any, programs: Any
) -> None:
    login(owner)
    page.goto("/")
    button = page.get_by_role("button", name="Last 90 days")
    button.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # a keyboard focus, which :focus-visible shows

    assert button.evaluate("b => b.matches(':focus-visible')")
    outline = button.evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"period=90d"))


def test_no_sideways_scrolling_on_a_phone(page: Any, login: Any, owner: Any, programs: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login(owner)
    for query in ("", "?period=12m", "?period=custom&start=x"):
        page.goto(f"/{query}")
        expect(page.locator("#chart-revenue svg")).to_be_visible()
        page.locator("[data-chart-numbers] summary").first.click()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{query or '/'} is {width} px wide"
        # The charts fill the width, so their 12-unit text stays near 12 px * 0.85.
        svg_width = page.locator("#chart-revenue svg").evaluate(
            "s => s.getBoundingClientRect().width"
        )
        assert 300 <= svg_width <= 390


def test_the_page_works_without_javascript(
    login_without_javascript: Any, owner: Any, programs: Any
) -> None:
    page = login_without_javascript(owner)
    expect(_revenue(page)).to_have_attribute("data-value", "140.00")

    page.get_by_role("button", name="Last 7 days").click()
    expect(_revenue(page)).to_have_attribute("data-value", "65.00")
    stamps, _cashback = programs
    page.select_option("select[name=program]", str(stamps.pk))
    page.locator("[data-apply-program]").click()
    expect(_revenue(page)).to_have_attribute("data-value", "25.00")
    assert "period=7d" in page.url


def test_long_reasons_for_reversals_fit_a_phone(
    page: Any, login: Any, owner: Any, programs: Any
) -> None:
    stamps, _cashback = programs
    card = stamps.cards.first()
    long_reason = "Scanned the customer's card instead of " + "x" * 200
    for reason in ("Wrong card", long_reason):
        added = services.card_add_stamps(card=card, value=1, actor=None, confirm_repeat=True)
        services.entry_reverse(
            card=card, entry=added.entries[0], reason=reason, actor=owner, role="owner"
        )
    page.set_viewport_size({"width": 390, "height": 844})
    login(owner)
    page.goto("/")

    panel = page.locator("#chart-reversal_reasons")
    expect(panel.locator("[data-chart-total]")).to_have_text("2 reversals")
    expect(panel.locator("svg rect.bar")).to_have_count(2)
    panel.locator("[data-chart-numbers] summary").click()
    expect(panel.locator("table tbody tr")).to_have_count(2)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide"
