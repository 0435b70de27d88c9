"""The customer's card page does not move under the customer's thumb once it has painted.

Chromium reports every layout shift to a ``PerformanceObserver``; the page's cumulative layout
shift (CLS) on a phone must stay below 0.1, Google's "good" threshold. The page's scripts are
held back a little, as on a slow phone connection, so that the first paint comes before them:
whatever they change after it counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from cards import services
from cards.models import Card

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
GOOD_CLS = 0.1

# Sums every shift not caused by the user's own input, and names what moved.
OBSERVE_SHIFTS = """
window.__cls = 0;
window.__shifts = [];
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (entry) {
    if (entry.hadRecentInput) return;
    window.__cls += entry.value;
    window.__shifts.push({
      value: entry.value,
      nodes: (entry.sources || []).map(function (source) {
        var node = source.node;
        if (!node || !node.tagName) return String(node);
        return node.tagName + (node.id ? "#" + node.id : "") +
          (node.className ? "." + String(node.className).replace(/ /g, ".") : "");
      })
    });
  });
}).observe({ type: "layout-shift", buffered: true });
"""


@pytest.fixture
def phone(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    context.add_init_script(OBSERVE_SHIFTS)
    page = context.new_page()
    page.set_default_timeout(10_000)

    def slow_script(route: Any) -> None:
        time.sleep(0.4)  # a phone's network: the page paints before its scripts run
        route.continue_()

    page.route("**/*.js", slow_script)
    page.route("**/jsi18n/**", slow_script)
    yield page
    context.close()


def settled_shift(page: Any) -> tuple[float, list[Any]]:
    """The cumulative layout shift once every script has run and the page is idle."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("document.readyState === 'complete'")
    # Two animation frames: shifts of the last scripts' changes are reported by then.
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page.evaluate("window.__cls"), page.evaluate("window.__shifts")


def test_the_card_page_with_the_rating_form_does_not_shift_on_a_phone(
    phone: Any, stamp_card: Card
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="12", actor=None)
    phone.goto(f"/c/{stamp_card.install_token}/")
    expect(phone.locator("[data-feedback-form]")).to_be_visible()
    cls, shifts = settled_shift(phone)
    assert cls < GOOD_CLS, shifts


def test_a_new_card_page_does_not_shift_on_a_phone(phone: Any, stamp_card: Card) -> None:
    phone.goto(f"/c/{stamp_card.install_token}/?joined=1")
    cls, shifts = settled_shift(phone)
    assert cls < GOOD_CLS, shifts
