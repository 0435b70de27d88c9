"""The rating's "Send" waits for a star; without scripts it always sends and the server asks
for a star, so the form works everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from cards import services
from cards.models import Card
from feedback.models import Feedback

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rated_card(stamp_card: Card) -> Card:
    services.card_add_transaction_amount(card=stamp_card, value="12", actor=None)
    return stamp_card


@pytest.fixture
def page_without_javascript(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_send_is_disabled_until_a_star_is_chosen(page: Any, rated_card: Card) -> None:
    page.goto(f"/c/{rated_card.install_token}/")
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_disabled()
    page.click("label[title='4 stars']")
    expect(send).to_be_enabled()
    send.click()
    expect(page.locator('[data-feedback="rated"]')).to_contain_text("4 out of 5")


def test_without_scripts_send_works_and_the_server_asks_for_a_star(
    page_without_javascript: Any, rated_card: Card
) -> None:
    page = page_without_javascript
    page.goto(f"/c/{rated_card.install_token}/")
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_enabled()
    send.click()
    expect(page.locator("#feedback [role=alert]")).to_contain_text("Choose from 1 to 5 stars.")
    assert not Feedback.objects.exists()
    page.click("label[title='2 stars']")
    page.get_by_role("button", name="Send").click()
    expect(page.locator('[data-feedback="rated"]')).to_contain_text("2 out of 5")
