"""Joining from a program's public page in a real browser, and the card that comes out of it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card, CardStatus, Device, Program

pytestmark = pytest.mark.django_db(transaction=True)

# The scope of the active service worker; fails (rather than waits forever) if none activates.
SERVICE_WORKER_SCOPE = """
Promise.race([
  navigator.serviceWorker.ready.then((registration) => registration.scope),
  new Promise((_, reject) => setTimeout(() => reject(new Error("no service worker")), 10000)),
])
"""


def test_a_customer_joins_and_sees_their_card(page: Any, stamp_program: Program) -> None:
    page.goto(f"/join/{stamp_program.join_token}/?utm_source=poster&utm_campaign=opening")
    expect(page.get_by_role("heading", name=stamp_program.name)).to_be_visible()
    page.fill("#id_first_name", "Ada")
    page.fill("#id_last_name", "Lovelace")
    page.fill("#id_email", "ada@example.com")
    page.fill("#id_phone", "+1 415 555 0123")
    page.get_by_role("button", name="Get my card").click()

    page.wait_for_url(re.compile(r"/c/[\w-]+/\?joined=1$"))
    card = Card.objects.get(program=stamp_program)
    assert (card.utm_source, card.utm_campaign) == ("poster", "opening")
    expect(page.locator('[data-field="holder_name"]')).to_have_text("Ada Lovelace")
    expect(page.locator('[data-field="serial"]')).to_have_text(card.serial)
    expect(page.locator(".card-qr svg")).to_be_visible()
    expect(page.locator(".card-slots li")).to_have_count(stamp_program.stamps_per_reward)
    expect(page.locator(".card-history")).to_contain_text("You joined")
    expect(page.get_by_role("heading", name="Your card is ready")).to_be_visible()
    card.refresh_from_db()
    assert card.status == CardStatus.NOT_INSTALLED  # a visit is not an installation


def test_the_card_keeps_working_offline(page: Any, stamp_card: Card) -> None:
    page.goto(f"/c/{stamp_card.install_token}/")
    scope = page.evaluate(SERVICE_WORKER_SCOPE)
    assert scope.endswith(f"/c/{stamp_card.install_token}/")
    page.reload()  # now served through the service worker, which keeps a copy

    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("#offline-banner")).to_be_visible()
        expect(page.locator('[data-field="serial"]')).to_have_text(stamp_card.serial)
    finally:
        page.context.set_offline(False)


def test_installing_the_card_as_an_app_marks_it_installed(page: Any, stamp_card: Card) -> None:
    page.goto(f"/c/{stamp_card.install_token}/")
    expect(page.locator("[data-installed-note]")).to_be_hidden()

    with page.expect_response(lambda r: r.url.endswith("/installed/")) as answer:
        page.evaluate("window.dispatchEvent(new Event('appinstalled'))")

    assert answer.value.status == 204
    expect(page.locator("[data-installed-note]")).to_be_visible()
    stamp_card.refresh_from_db()
    assert (stamp_card.status, stamp_card.devices) == (CardStatus.INSTALLED, [Device.PWA])


def test_a_known_email_is_told_only_to_check_the_inbox(page: Any, stamp_card: Card) -> None:
    customer = stamp_card.customer
    assert customer is not None
    page.goto(f"/join/{stamp_card.program.join_token}/")
    page.fill("#id_first_name", "Someone")
    page.fill("#id_email", customer.email)
    page.get_by_role("button", name="Get my card").click()

    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.locator(".join-sent")).to_contain_text("If this email address or phone number")
    expect(page.locator(".join-sent")).not_to_contain_text(customer.first_name)
    old_link = stamp_card.install_token
    stamp_card.refresh_from_db()
    assert stamp_card.install_token != old_link  # never confirmed: replaced, then emailed


def test_a_customer_replaces_the_cards_link_from_the_card_page(page: Any, stamp_card: Card) -> None:
    old = stamp_card.install_token
    page.goto(f"/c/{old}/")
    page.get_by_text("Replace this card's link").click()
    page.get_by_role("button", name="Replace the link").click()

    page.wait_for_url(re.compile(r"/c/[\w-]+/$"))
    stamp_card.refresh_from_db()
    assert page.url.endswith(f"/c/{stamp_card.install_token}/")
    expect(page.locator('[data-field="serial"]')).to_have_text(stamp_card.serial)
    response = page.goto(f"/c/{old}/")
    assert response is not None
    assert response.status == 410
    expect(page.get_by_role("heading", name="This card's link was replaced")).to_be_visible()
