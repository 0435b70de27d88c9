"""Reversing an entry and confirming a double scan, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from cards import services
from cards.models import Card

pytestmark = pytest.mark.django_db(transaction=True)


def _metric(page: Any, key: str) -> Any:
    return page.locator(f'#profile-metrics [data-metric="{key}"]')


def test_a_manager_reverses_a_purchase_from_the_history(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="35", actor=owner)
    login(owner)
    page.goto(f"/cards/{stamp_card.serial}/")
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "3")

    page.click('#history [data-action="entry_reverse"]')
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Transaction amount +$35.00")
    dialog.get_by_role("button", name="Reverse").click()
    expect(dialog).to_contain_text("Say why this entry is reversed.")
    dialog.locator('input[name="reason"]').fill("Wrong card")
    dialog.get_by_role("button", name="Reverse").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "0")
    expect(_metric(page, "ltv")).to_have_attribute("data-value", "0.00")
    expect(page.locator('#history [data-entry="reversal"]')).to_contain_text("Undoes Purchase")
    expect(page.locator('#history [data-badge="reversed"]')).to_have_count(1)
    expect(page.locator('#history [data-action="entry_reverse"]')).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("Reversed: Purchase")


def test_a_double_scan_asks_and_applies_again_once_confirmed(
    page: Any, login: Any, staff: Any, stamp_card: Card
) -> None:
    program = stamp_card.program
    program.repeat_guard_seconds = 60
    program.save()
    services.card_add_stamps(card=stamp_card, value=2, actor=staff)
    login(staff)
    page.goto(f"/cards/{stamp_card.serial}/")

    page.click('#profile-metrics [data-action="stamps_add"]')
    dialog = page.locator("dialog[open]")
    dialog.locator('input[name="value"]').fill("2")
    dialog.get_by_role("button", name="Apply").click()
    expect(dialog.locator('[data-guard="repeat"]')).to_contain_text("This card got +2 stamps")
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "2")
    dialog.get_by_role("button", name="Apply again").click()

    expect(page.locator("dialog")).to_have_count(0)
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "4")
