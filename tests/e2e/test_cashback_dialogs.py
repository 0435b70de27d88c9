"""The cashback card's dialogs in a real browser: points, purchases across a tier, corrections."""

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


def _spent(card: Card, actor: Any, *amounts: str) -> None:
    for amount in amounts:
        services.card_add_transaction_amount(card=card, value=amount, actor=actor)


def test_adding_points(page: Any, login: Any, owner: Any, cashback_card: Card) -> None:
    _open_profile(page, login, owner, cashback_card)
    dialog = _open_dialog(page, "points_add")
    dialog.locator('input[name="value"]').fill("30")
    expect(dialog.locator('[data-preview="ok"]')).to_contain_text("balance 0.00 -> 30.00 points")
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "points_balance")).to_have_attribute("data-value", "30.00")
    expect(_metric(page, "points_earned")).to_have_attribute("data-value", "30.00")
    expect(_metric(page, "total_visits")).to_have_attribute("data-value", "1")
    expect(_metric(page, "transaction_amount")).to_have_attribute("data-value", "0.00")
    expect(page.locator("#history")).to_contain_text("Points added")


def test_a_purchase_across_a_tier_threshold(
    page: Any, login: Any, owner: Any, cashback_card: Card
) -> None:
    _spent(cashback_card, owner, "400")
    _open_profile(page, login, owner, cashback_card)
    expect(_metric(page, "to_next_tier")).to_have_attribute("data-value", "100.00")
    dialog = _open_dialog(page, "transaction_amount_add")
    expect(dialog).to_contain_text("Cashback: Bronze, 5 %")
    dialog.locator('input[name="value"]').fill("200")
    expect(dialog.locator('[data-preview="ok"]')).to_contain_text(
        "+10.00 points at 5 %, balance 20.00 -> 30.00 points, reaches Silver"
    )
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "cashback_tier")).to_have_attribute("data-value", "Silver")
    expect(_metric(page, "cashback_percentage")).to_have_attribute("data-value", "7.00")
    expect(_metric(page, "points_balance")).to_have_attribute("data-value", "30.00")
    expect(_metric(page, "to_next_tier")).to_have_attribute("data-value", "400.00")
    expect(page.locator("#profile-metrics progress.tier-progress")).to_have_attribute("value", "60")


def test_decreasing_the_transaction_amount(
    page: Any, login: Any, owner: Any, cashback_card: Card
) -> None:
    _spent(cashback_card, owner, "400", "200")
    _open_profile(page, login, owner, cashback_card)
    dialog = _open_dialog(page, "transaction_amount_subtract")
    dialog.locator('input[name="value"]').fill("200")
    expect(dialog.locator('[data-preview="ok"]')).to_contain_text("-14.00 points at 7 %")
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "transaction_amount")).to_have_attribute("data-value", "400.00")
    expect(_metric(page, "ltv")).to_have_attribute("data-value", "400.00")
    expect(_metric(page, "points_balance")).to_have_attribute("data-value", "16.00")
    expect(_metric(page, "points_redeemed")).to_have_attribute("data-value", "14.00")
    expect(_metric(page, "cashback_tier")).to_have_attribute("data-value", "Silver")
    expect(_metric(page, "to_next_tier")).to_have_attribute("data-value", "600.00")
    expect(page.locator("#history")).to_contain_text("Refund of amount spent")


def test_removing_more_points_than_the_balance_shows_the_error(
    page: Any, login: Any, staff: Any, owner: Any, cashback_card: Card
) -> None:
    _spent(cashback_card, owner, "400")
    _open_profile(page, login, staff, cashback_card)
    dialog = _open_dialog(page, "points_subtract")
    expect(dialog).to_contain_text("Balance: 20.00 points")
    dialog.locator('input[name="value"]').fill("25")
    message = "The balance is 20.00 points; you cannot remove more than 20.00."
    expect(dialog.locator('[data-preview="error"]')).to_have_text(message)
    dialog.get_by_role("button", name="Apply").click()

    expect(dialog.locator("#id_value_error")).to_have_text(message)
    expect(dialog).to_be_visible()
    expect(_metric(page, "points_balance")).to_have_attribute("data-value", "20.00")
    assert not cashback_card.entries.filter(kind="points_removed").exists()
