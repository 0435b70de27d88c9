"""Every dashboard page on a phone (390x844): nothing scrolls sideways, table links are tappable.

The pages are those of the permission matrix that a signed-in member opens with GET, for a
stamp card and for a cashback card (each with a history, feedback and a scheduled push), so a
new page is checked without a line here. A failure names each page, how wide it is, and the
widest element that sticks out, so the culprit is found without opening a browser.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from cards import services as card_services
from cards.models import Card
from customers.models import Customer
from feedback.models import Feedback
from pushes.models import PushMessage
from tests.factories import CashbackProgramFactory, CustomerFactory, issue_card
from tests.test_permission_matrix import ACCESS, PUBLIC, URLS, _url
from tests.test_translated_pages import NOT_PAGES

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
# WCAG 2.2's minimum target size (2.5.8), for the links and buttons in a table's cells.
MIN_TARGET = 24

# Addresses a page POSTs to (no page of their own on a phone), and development-only pages (DEBUG).
NOT_PHONE_PAGES = NOT_PAGES | {"logout", "merchant_switch", "language_update", "push_dev_inbox"}

# The width of the page, and the widest elements reaching past the right edge of the screen.
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    if (el.classList.length) name += '.' + [...el.classList].join('.');
    return name;
  };
  // An element inside a box that scrolls or clips sideways does not widen the page.
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement)
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (clipped(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 0.5) wide.push([box.right, describe(el)]);
  }
  wide.sort((a, b) => b[0] - a[0]);
  return {
    scroll: document.documentElement.scrollWidth,
    width: width,
    widest: wide.slice(0, 3).map(([right, name]) => `${name} (right edge ${Math.round(right)}px)`),
  };
}"""

# Visible links and buttons inside table cells smaller than the minimum target.
SMALL_TARGETS_JS = """(min) => {
  const small = [];
  for (const el of document.querySelectorAll(
      'td a, td button, td [role=button], th a, th button')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    if (box.width < min || box.height < min)
      small.push(`${el.textContent.trim().slice(0, 30) || el.outerHTML.slice(0, 60)} ` +
                 `(${Math.round(box.width)}x${Math.round(box.height)})`);
  }
  return small.slice(0, 3);
}"""


def _cashback_world(world: dict[str, Any]) -> dict[str, Any]:
    """The world's pages again for a cashback card with tiers, feedback and a scheduled push."""
    program = CashbackProgramFactory(merchant=world["merchant"], name="Coffee Cashback Club")
    customer = CustomerFactory(
        merchant=world["merchant"],
        first_name="Maximiliana-Josefina",
        last_name="Wolfeschlegelsteinhausen",
        email="maximiliana.josefina.wolfeschlegelsteinhausen@example.com",
    )
    card = issue_card(program, customer)
    for amount in ("12.50", "480.00", "35.10"):
        card_services.card_add_transaction_amount(card=card, value=amount, actor=None)
    entry = card.entries.order_by("-pk").first()
    PushMessage.objects.create(
        merchant=world["merchant"],
        card=card,
        body="Your cashback is waiting: " + "come by for a coffee " * 6,
        send_at=timezone.now() + datetime.timedelta(days=1),
        scheduled=True,
    )
    _rate(card)
    return {
        **world,
        "serial": card.serial,
        "action": "transaction_amount_add",
        "entry_id": entry.pk,
        "message_id": PushMessage.objects.filter(card=card).get().pk,
        "program_pk": program.pk,
        "pk": {**world["pk"], "customers:remove": customer.pk},
    }


def _rate(card: Card) -> None:
    Feedback.objects.create(
        merchant=card.merchant,
        card=card,
        customer=card.customer,
        rating=3,
        comment="The queue was long but the " + "flat white was lovely " * 5,
        visit_number=1,
    )


def _stamp_history(world: dict[str, Any]) -> None:
    card = world["card"]
    card_services.card_add_stamps(card=card, value=9, actor=None)
    card_services.card_add_transaction_amount(card=card, value=Decimal("24.00"), actor=None)
    _rate(card)
    for index in range(3):
        customer = CustomerFactory(merchant=world["merchant"], email=f"regular{index}@example.com")
        issue_card(world["program"], customer)
    assert Customer.objects.filter(merchant=world["merchant"]).count() > 3


def _phone_pages(world: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, URL) of every dashboard page, for the stamp card and then the cashback card."""
    pages = [
        (name, arguments)
        for name, arguments in URLS
        if ACCESS[name].method == "get"
        and ACCESS[name].access != PUBLIC
        and name not in NOT_PHONE_PAGES
    ]
    urls = [(name, _url(name, arguments, world)) for name, arguments in pages]
    cashback = _cashback_world(world)
    urls += [
        (f"{name} (cashback)", _url(name, arguments, cashback))
        for name, arguments in pages
        if {"serial", "program_pk", "entry_id", "message_id"} & set(arguments)
        or name in ("settings:program_edit", "settings:program_issue_card")
    ]
    # The new-program form of each kind, and a customer list that found someone.
    urls += [
        (
            "settings:program_create (cashback)",
            reverse("settings:program_create") + "?kind=cashback",
        ),
        ("customers:list (search)", reverse("customers:list") + "?q=regular"),
    ]
    return urls


def test_no_dashboard_page_scrolls_sideways_on_a_phone(
    browser: Any, live_server: Any, login: Any, page: Any, owner: Any, world: dict[str, Any]
) -> None:
    _stamp_history(world)
    urls = _phone_pages(world)
    page.set_viewport_size(PHONE)
    login(owner)
    overflowing, small = [], []
    for name, url in urls:
        response = page.goto(url)
        assert response is not None, f"{name}: {url} gave no answer"
        assert response.ok, f"{name}: {url} answered {response.status}"
        if not page.evaluate("document.doctype !== null"):
            continue  # a partial that htmx swaps into its page, not a page
        measure = page.evaluate(OVERFLOW_JS)
        if measure["scroll"] > measure["width"]:
            widest = "; ".join(measure["widest"])
            overflowing.append(f"{name} {url}: {measure['scroll']}px wide; widest: {widest}")
        if targets := page.evaluate(SMALL_TARGETS_JS, MIN_TARGET):
            small.append(f"{name} {url}: {'; '.join(targets)}")
    assert not overflowing, "Pages wider than a 390px phone:\n" + "\n".join(overflowing)
    assert not small, f"Table links under {MIN_TARGET}x{MIN_TARGET}px:\n" + "\n".join(small)
