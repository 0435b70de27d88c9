"""Languages in a real browser: a customer's card on a Spanish phone, the dashboard's switch."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cards.models import Card
from loyalty.models import UserPreference

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def test_a_spanish_phone_shows_the_card_in_spanish_without_sideways_scrolling(
    browser: Any, live_server: Any, stamp_card: Card
) -> None:
    context = browser.new_context(
        base_url=live_server.url, locale="es-ES", viewport=PHONE, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(reverse("public:card", args=[stamp_card.install_token]))

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_text("0 de 10 sellos")).to_be_visible()
    # The script catalogue came in Spanish too.
    page.wait_for_function("typeof window.gettext === 'function'")
    assert page.evaluate("gettext('Copied')") == "Copiado"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    context.close()


@pytest.mark.parametrize("language", ["es", "de"])
@pytest.mark.parametrize("page_name", ["public:card", "public:join"])
def test_customer_pages_fit_a_phone_in_each_language(
    browser: Any, live_server: Any, cashback_card: Card, language: str, page_name: str
) -> None:
    """German and Spanish run longer than English: nothing may push the page sideways."""
    token = (
        cashback_card.install_token
        if page_name == "public:card"
        else cashback_card.program.join_token
    )
    context = browser.new_context(
        base_url=live_server.url, locale=language, viewport=PHONE, is_mobile=True
    )
    page = context.new_page()
    page.goto(reverse(page_name, args=[token]))
    expect(page.locator("html")).to_have_attribute("lang", language)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    context.close()


def test_the_header_switch_turns_the_dashboard_german_and_it_stays(
    page: Any, login: Any, owner: Any
) -> None:
    login(owner)
    page.goto("/customers/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.click("header details.dropdown summary")  # the menu under the user's name
    page.get_by_role("button", name="Deutsch").click()

    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("link", name="Kunden", exact=True)).to_be_visible()
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.click("header details.dropdown summary")
    expect(page.get_by_role("button", name="Deutsch")).to_have_attribute("aria-current", "true")


@pytest.mark.parametrize("path", ["/customers/", "/settings/", "profile"])
def test_the_german_dashboard_fits_a_phone(
    browser: Any, live_server: Any, owner: Any, stamp_card: Card, path: str
) -> None:
    """German is the longest of the three: the header and the pages must still fit 390 px."""
    UserPreference.objects.create(user=owner, language="de")
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.goto("/login/")
    page.fill("#id_username", owner.get_username())
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"/cards/{stamp_card.serial}/" if path == "profile" else path)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    context.close()


def test_the_language_can_be_switched_with_the_keyboard_alone(
    page: Any, login: Any, owner: Any
) -> None:
    login(owner)
    page.goto("/customers/")
    page.focus("header details.dropdown summary")
    page.keyboard.press("Enter")  # opens the menu under the user's name
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Español":
            break
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "es")
