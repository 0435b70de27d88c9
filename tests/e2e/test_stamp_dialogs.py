"""The stamp card's dialogs in a real browser: open, preview, apply, see the page refresh."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from cards import services
from cards.models import Card

pytestmark = pytest.mark.django_db(transaction=True)


def _open_profile(page: Any, login: Any, user: Any, card: Card) -> Any:
    login(user)
    page.goto(f"/cards/{card.serial}/")
    return page


def _metric(page: Any, key: str) -> Any:
    return page.locator(f'#profile-metrics [data-metric="{key}"]')


def _open_dialog(page: Any, action: str) -> Any:
    page.click(f'#profile-metrics [data-action="{action}"]')
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    return dialog


def test_adding_a_transaction_amount(page: Any, login: Any, owner: Any, stamp_card: Card) -> None:
    _open_profile(page, login, owner, stamp_card)
    dialog = _open_dialog(page, "transaction_amount_add")
    dialog.locator('input[name="value"]').fill("95")
    expect(dialog.locator('[data-preview="ok"]')).to_have_text(
        "+$95.00 transaction amount, +9 stamps, balance 0 -> 9 stamps."
    )
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "9")
    expect(_metric(page, "ltv")).to_have_attribute("data-value", "95.00")
    expect(_metric(page, "total_visits")).to_have_attribute("data-value", "1")
    expect(page.locator("#profile-metrics .stamp-slots li.filled")).to_have_count(9)
    expect(page.locator("#history")).to_contain_text("Purchase")
    expect(page.locator("#toast")).to_contain_text("+9 stamps")


def test_refunding_an_amount_typed_by_mistake(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=owner)
    services.card_add_transaction_amount(card=stamp_card, value="30", actor=owner)
    _open_profile(page, login, owner, stamp_card)
    dialog = _open_dialog(page, "transaction_amount_subtract")
    expect(dialog).to_contain_text("Transaction amount: $125.00")
    dialog.locator('input[name="value"]').fill("27")
    expect(dialog.locator('[data-preview="ok"]')).to_contain_text("2 stamps taken back")
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "ltv")).to_have_attribute("data-value", "98.00")
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "0")
    expect(_metric(page, "stamps_earned")).to_have_attribute("data-value", "10")
    expect(_metric(page, "rewards_available")).to_have_attribute("data-value", "1")
    expect(page.locator("#history")).to_contain_text("Refund of amount spent")
    expect(page.locator("#history")).to_contain_text("Stamps redeemed")


def test_removing_more_stamps_than_the_balance_shows_the_error(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    services.card_add_stamps(card=stamp_card, value="2", actor=owner)
    _open_profile(page, login, owner, stamp_card)
    dialog = _open_dialog(page, "stamps_subtract")
    expect(dialog).to_contain_text("Balance: 2 stamps")
    dialog.locator('input[name="value"]').fill("5")
    message = "The card has 2 stamps; you cannot remove more than 2."
    expect(dialog.locator('[data-preview="error"]')).to_have_text(message)
    dialog.get_by_role("button", name="Apply").click()

    expect(dialog.locator("#id_value_error")).to_have_text(message)
    expect(dialog).to_be_visible()
    expect(dialog.locator('input[name="value"]')).to_have_attribute("aria-invalid", "true")
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "2")
    assert not stamp_card.entries.filter(kind="stamps_removed").exists()

    # Correcting the number in the same dialog applies it.
    dialog.locator('input[name="value"]').fill("2")
    dialog.get_by_role("button", name="Apply").click()
    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "0")


def test_redeeming_a_reward(
    page: Any, login: Any, staff: Any, stamp_card: Card, owner: Any
) -> None:
    services.card_add_rewards(card=stamp_card, value="1", purchase_amount="0", actor=owner)
    _open_profile(page, login, staff, stamp_card)
    dialog = _open_dialog(page, "rewards_subtract")
    expect(dialog).to_contain_text("Rewards available: 1")
    dialog.locator('input[name="value"]').fill("1")
    # No purchase with it: the purchase amount stays empty.
    expect(dialog.locator('[data-preview="ok"]')).to_contain_text("1 reward redeemed")
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "rewards_available")).to_have_attribute("data-value", "0")
    expect(_metric(page, "rewards_redeemed")).to_have_attribute("data-value", "1")
    expect(_metric(page, "last_reward_redeemed_at")).not_to_have_attribute("data-value", "")
    expect(page.locator("#history")).to_contain_text("Reward redeemed")


def test_a_double_click_on_apply_makes_one_entry(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    _open_profile(page, login, owner, stamp_card)
    dialog = _open_dialog(page, "stamps_add")
    dialog.locator('input[name="value"]').fill("3")
    dialog.get_by_role("button", name="Apply").dblclick()
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "3")
    assert stamp_card.entries.filter(kind="stamps_added").count() == 1


def test_the_dialogs_work_without_javascript(
    login_without_javascript: Any, owner: Any, stamp_card: Card
) -> None:
    page = login_without_javascript(owner)
    page.goto(f"/cards/{stamp_card.serial}/")
    page.click('#profile-metrics [data-action="stamps_add"]')
    page.fill('input[name="value"]', "x")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#id_value_error")).to_have_text("Enter a whole number of stamps.")
    page.fill('input[name="value"]', "4")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**/cards/{stamp_card.serial}/")
    expect(page.locator('[data-metric="stamps_balance"]')).to_have_attribute("data-value", "4")
    expect(page.locator(".messages")).to_contain_text("Stamps added: +4 stamps.")
