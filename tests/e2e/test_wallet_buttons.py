"""The wallet buttons in a real browser: an iPhone gets Apple's, a desktop both and a code for
the phone's camera, a customer joining on an iPhone is offered Apple Wallet at once; the
profile lists every device a card is on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from cards import services
from cards.models import Card, Device, Program

pytestmark = pytest.mark.django_db(transaction=True)

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
BLACK, WHITE = "rgb(0, 0, 0)", "rgb(255, 255, 255)"


@pytest.fixture(autouse=True)
def wallets(settings: Any) -> None:
    settings.WALLET_TEST_CREDENTIALS = True


@pytest.fixture
def open_as(browser: Any, live_server: Any) -> Iterator[Callable[[str], Any]]:
    """``open_as(user_agent)``: a page in a browser that says it is that device, which
    records what the content security policy refused."""
    contexts = []

    def _open(user_agent: str) -> Any:
        context = browser.new_context(
            base_url=live_server.url,
            user_agent=user_agent,
            viewport={"width": 390, "height": 844} if "iPhone" in user_agent else None,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.refused = []
        page.on(
            "console",
            lambda message: (
                page.refused.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield _open
    for context in contexts:
        context.close()


def style(locator: Any, prop: str) -> str:
    return str(locator.evaluate(f"e => getComputedStyle(e).{prop}"))


def test_an_iphone_gets_the_apple_wallet_button_only(
    open_as: Callable[[str], Any], stamp_card: Card
) -> None:
    page = open_as(IPHONE)
    page.goto(f"/c/{stamp_card.install_token}/")

    apple = page.locator('[data-action="add_to_apple_wallet"]')
    expect(apple).to_be_visible()
    expect(apple).to_have_text("Add to Apple Wallet")
    expect(apple).to_have_attribute("href", f"/c/{stamp_card.install_token}/wallet/card.pkpass")
    expect(page.locator('[data-action="add_to_google_wallet"]')).to_have_count(0)
    expect(page.locator("[data-wallet-qr]")).to_have_count(0)
    # Apple's black badge, white words: the stylesheet loaded, allowed by the policy.
    assert style(apple, "backgroundColor") == BLACK
    assert style(apple, "color") == WHITE
    assert float(style(apple, "height").removesuffix("px")) >= 48
    assert page.refused == []


def test_a_desktop_gets_both_buttons_and_a_code_to_open_the_card_on_a_phone(
    open_as: Callable[[str], Any], stamp_card: Card
) -> None:
    page = open_as(DESKTOP)
    page.goto(f"/c/{stamp_card.install_token}/")

    actions = page.locator(".wallet-buttons a").evaluate_all(
        "links => links.map(a => a.dataset.action)"
    )
    assert actions == ["add_to_apple_wallet", "add_to_google_wallet"]
    google = page.locator('[data-action="add_to_google_wallet"]')
    expect(google).to_have_text("Add to Google Wallet")
    expect(google).to_have_attribute("href", f"/c/{stamp_card.install_token}/wallet/google/")
    assert style(google, "backgroundColor") == "rgb(31, 31, 31)"
    assert style(google, "color") == WHITE
    qr = page.locator("[data-wallet-qr]")
    expect(qr).to_contain_text("Open on your phone")
    code = qr.locator("svg")
    expect(code).to_be_visible()
    assert code.bounding_box()["width"] >= 100  # big enough for a phone's camera
    assert page.refused == []


def test_joining_on_an_iphone_offers_apple_wallet_on_the_ready_step(
    open_as: Callable[[str], Any], stamp_program: Program
) -> None:
    page = open_as(IPHONE)
    page.goto(f"/join/{stamp_program.join_token}/")
    page.fill("#id_first_name", "Ada")
    page.fill("#id_email", "ada@example.com")
    page.get_by_role("button", name="Get my card").click()

    page.wait_for_url(re.compile(r"/c/[\w-]+/\?joined=1$"))
    card = Card.objects.get(program=stamp_program)
    ready = page.locator("[data-card-ready]")
    expect(ready.get_by_role("heading", name="Your card is ready")).to_be_visible()
    apple = ready.locator('[data-action="add_to_apple_wallet"]')
    expect(apple).to_have_attribute("href", f"/c/{card.install_token}/wallet/card.pkpass")
    expect(page.locator('[data-action="add_to_apple_wallet"]')).to_have_count(1)
    # The home screen stays one tap away.
    ready.locator('[data-action="keep_on_page"]').click()
    expect(page.locator("#install-title")).to_be_in_viewport()


def test_the_profile_lists_both_devices_a_card_is_on(
    page: Any, login: Any, staff: Any, stamp_card: Card
) -> None:
    services.card_mark_installed(card=stamp_card, device=Device.PWA)
    services.card_mark_installed(card=stamp_card, device=Device.APPLE_WALLET)
    login(staff)
    page.goto(f"/cards/{stamp_card.serial}/")

    installed_on = page.locator('[data-metric="installed_on"]')
    expect(installed_on).to_have_attribute("data-value", "apple_wallet,pwa")
    expect(installed_on).to_have_text("Apple Wallet, PWA")
