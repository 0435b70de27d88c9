"""The profile in a browser: copy the serial, edit the expiration date, delete a card."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cards.models import Card, CardStatus

pytestmark = pytest.mark.django_db(transaction=True)


def open_profile(page: Any, login: Any, user: Any, card: Card) -> None:
    login(user)
    page.goto(f"/cards/{card.serial}/")
    page.evaluate("window.notReloaded = true")


def test_copy_the_serial_number(page: Any, login: Any, staff: Any, stamp_card: Card) -> None:
    open_profile(page, login, staff, stamp_card)
    button = page.locator('[data-action="copy_serial"]')
    button.click()
    expect(button).to_have_attribute("data-copied", "true")
    expect(page.locator("#toast")).to_contain_text(stamp_card.serial)
    assert page.evaluate("navigator.clipboard.readText()") == stamp_card.serial


def test_change_the_expiration_date_and_expire_the_card(
    page: Any, login: Any, staff: Any, stamp_card: Card
) -> None:
    open_profile(page, login, staff, stamp_card)
    expires = page.locator('[data-metric="expires_at"]')
    expect(expires).to_have_attribute("data-value", "")

    future = timezone.localdate() + datetime.timedelta(days=90)
    page.click('[data-action="expires_at_edit"]')
    page.fill("input[name=expires_on]", future.isoformat())
    page.click('[data-action="expires_at_save"]')
    expect(expires).to_have_attribute("data-value", future.isoformat())
    # Both the counter actions' button and the metric's plus.
    expect(page.locator('[data-action="stamps_add"]')).to_have_count(2)
    expect(page.locator('dl.metrics [data-action="stamps_add"]')).to_be_visible()

    past = timezone.localdate() - datetime.timedelta(days=1)
    page.click('[data-action="expires_at_edit"]')
    page.fill("input[name=expires_on]", past.isoformat())
    page.click('[data-action="expires_at_save"]')
    expect(expires).to_have_attribute("data-value", past.isoformat())
    expect(page.locator('[data-card-warning="expired"]')).to_be_visible()
    expect(page.locator("[data-card-expired]")).to_be_visible()
    expect(page.locator('[data-action="stamps_add"]')).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    assert Card.objects.get(pk=stamp_card.pk).expires_on == past


def test_an_invalid_date_keeps_the_editor_open_with_a_message(
    page: Any, login: Any, staff: Any, stamp_card: Card
) -> None:
    open_profile(page, login, staff, stamp_card)
    page.click('[data-action="expires_at_edit"]')
    page.fill("input[name=expires_on]", "1890-01-01")
    page.click('[data-action="expires_at_save"]')
    expect(page.locator("#card-expiration .error")).to_contain_text("between 2000 and 2199")
    expect(page.locator("input[name=expires_on]")).to_be_visible()
    assert Card.objects.get(pk=stamp_card.pk).expires_on is None


def test_an_admin_deletes_a_card_after_confirming(
    page: Any, login: Any, admin_user: Any, stamp_card: Card
) -> None:
    open_profile(page, login, admin_user, stamp_card)
    delete = page.locator('[data-action="card_delete"]')
    expect(delete).to_be_hidden()
    page.click('[data-action="status_edit"]')
    expect(delete).to_be_visible()
    delete.click()

    dialog = page.locator('dialog[data-dialog="card_delete"]')
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("This is final")
    # Cancelling changes nothing.
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert Card.objects.get(pk=stamp_card.pk).status != CardStatus.DELETED

    page.click('[data-action="card_delete"]')  # the status panel is still open
    page.click('[data-action="card_delete_confirm"]')
    expect(page.locator('[data-metric="status"]')).to_have_attribute("data-value", "deleted")
    expect(page.locator('[data-card-warning="deleted"]')).to_be_visible()
    expect(page.locator('[data-action="stamps_add"]')).to_have_count(0)
    expect(page.locator('[data-action="customer_remove"]')).to_be_visible()
    assert Card.objects.get(pk=stamp_card.pk).status == CardStatus.DELETED


def test_staff_see_no_delete(page: Any, login: Any, staff: Any, stamp_card: Card) -> None:
    open_profile(page, login, staff, stamp_card)
    expect(page.locator('[data-metric="status"]')).to_be_visible()
    expect(page.locator('[data-action="status_edit"]')).to_have_count(0)
    expect(page.locator('[data-action="card_delete"]')).to_have_count(0)
    response = page.request.post(f"/cards/{stamp_card.serial}/delete/")
    assert response.status == 403
    assert Card.objects.get(pk=stamp_card.pk).status != CardStatus.DELETED
