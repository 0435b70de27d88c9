"""The plus/minus dialogs from the keyboard: Space opens them like Enter, the focus ring shows,
and closing a dialog (applied or cancelled) gives the focus back to the button that opened it,
even though applying re-renders the metrics around it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from cards import services
from cards.models import Card

pytestmark = pytest.mark.django_db(transaction=True)

# The metric's own plus/minus buttons (the counter actions at the top repeat some actions).
TILE = '#profile-metrics dl.metrics [data-action="{action}"]'
COUNTER = '#profile-metrics .profile-counter-actions [data-action="{action}"]'


def _open_profile(page: Any, login: Any, user: Any, card: Card) -> Any:
    login(user)
    page.goto(f"/cards/{card.serial}/")
    return page


def _focused_action(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            return {
                action: el && el.getAttribute("data-action"),
                inTile: !!(el && el.closest("dl.metrics")),
                inCounter: !!(el && el.closest(".profile-counter-actions")),
            };
        }"""
    )


def test_applying_a_dialog_gives_the_focus_back_to_its_button(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    _open_profile(page, login, owner, stamp_card)
    opener = page.locator(TILE.format(action="stamps_add"))
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    dialog.locator('input[name="value"]').fill("3")
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(page.locator('#profile-metrics [data-metric="stamps_balance"]')).to_have_attribute(
        "data-value", "3"
    )
    # The metrics were re-rendered: the focus is on the new button in the same place.
    expect(page.locator(TILE.format(action="stamps_add"))).to_be_focused()
    assert _focused_action(page) == {"action": "stamps_add", "inTile": True, "inCounter": False}


def test_cancelling_a_dialog_gives_the_focus_back_to_its_button(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    _open_profile(page, login, owner, stamp_card)
    page.click(COUNTER.format(action="transaction_amount_add"))
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(page.locator(COUNTER.format(action="transaction_amount_add"))).to_be_focused()
    assert _focused_action(page)["inCounter"] is True


def test_space_on_a_plus_minus_button_opens_its_dialog(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    services.card_add_stamps(card=stamp_card, value="2", actor=owner)
    _open_profile(page, login, owner, stamp_card)
    minus = page.locator(TILE.format(action="stamps_subtract"))
    minus.focus()
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press(" ")

    dialog = page.locator('dialog[open][data-dialog="stamps_subtract"]')
    expect(dialog).to_be_visible()
    expect(dialog.locator('input[name="value"]')).to_be_focused()
    assert page.evaluate("window.scrollY") == scrolled  # Space did not scroll the page
    dialog.get_by_role("button", name="Cancel").click()
    expect(minus).to_be_focused()


def test_a_focused_button_shows_a_clear_focus_ring(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    _open_profile(page, login, owner, stamp_card)
    page.keyboard.press("Tab")  # a keyboard user: focus rings show from here on
    button = page.locator(TILE.format(action="stamps_add"))
    button.focus()
    ring = button.evaluate(
        """el => {
            const style = getComputedStyle(el);
            return {
                visible: el.matches(":focus-visible"),
                style: style.outlineStyle,
                width: parseFloat(style.outlineWidth),
            };
        }"""
    )
    assert ring["visible"] is True
    assert ring["style"] == "solid"
    assert ring["width"] >= 2


def test_redeem_without_a_reward_is_disabled_and_says_why(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    _open_profile(page, login, owner, stamp_card)
    redeem = page.locator(COUNTER.format(action="rewards_subtract"))
    expect(redeem).to_have_attribute("aria-disabled", "true")
    expect(redeem).to_contain_text("No reward available yet")
    expect(redeem).to_be_disabled()  # aria-disabled, for assistive technology too
    redeem.click(force=True)  # clicked anyway: nothing opens
    redeem.press(" ")
    expect(page.locator("dialog")).to_have_count(0)
    assert not stamp_card.entries.filter(kind="rewards_redeemed").exists()


def test_the_counter_view_disables_redeem_until_a_reward_is_earned(
    page: Any, login: Any, staff: Any, stamp_card: Card, owner: Any
) -> None:
    services.card_add_rewards(card=stamp_card, value="1", purchase_amount="0", actor=owner)
    login(staff)
    page.goto(f"/cards/{stamp_card.serial}/counter/")
    redeem = page.locator('.counter-actions [data-action="rewards_subtract"]')
    expect(redeem).not_to_have_attribute("aria-disabled", "true")
    redeem.click()
    dialog = page.locator("dialog[open]")
    dialog.locator('input[name="value"]').fill("1")
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(page.locator("[data-counter-message]")).to_contain_text("Reward redeemed")
    # The buttons refresh with the balances: no reward left, nothing to redeem.
    redeem = page.locator('.counter-actions [data-action="rewards_subtract"]')
    expect(redeem).to_have_attribute("aria-disabled", "true")
    expect(redeem).to_contain_text("No reward available yet")
    expect(page.locator('[data-action="scan_next"]')).to_be_focused()
