"""The Send push tab in a real browser: schedule a push, edit it, cancel it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cards import services as card_services
from cards.models import Card
from pushes import services
from pushes.models import MessageStatus, PushMessage
from tests.factories import issue_card
from tests.pushes.support import FakeDNS

pytestmark = pytest.mark.django_db(transaction=True)

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"


@pytest.fixture
def card(stamp_program: Any, monkeypatch: pytest.MonkeyPatch) -> Card:
    # No DNS here: the push service's name resolves to one of its public addresses.
    FakeDNS(monkeypatch).set("fcm.googleapis.com", "142.250.74.42")
    card = issue_card(stamp_program)
    card_services.card_mark_installed(card=card, device="pwa")
    services.subscription_save(
        card=card,
        endpoint="https://fcm.googleapis.com/fcm/send/e2e-device",
        p256dh=P256DH,
        auth="tBHItJI5svbpez7KI4CCXg",
        user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36",
    )
    return card


def test_scheduling_editing_and_cancelling_a_push(
    page: Any, login: Any, staff: Any, card: Card
) -> None:
    card.merchant.time_zone = "Europe/Paris"
    card.merchant.save()
    tomorrow = timezone.localdate(timezone=card.merchant.tz) + datetime.timedelta(days=1)
    login(staff)
    page.goto(f"/cards/{card.serial}/push/")

    expect(page.locator('a[data-tab="push"]')).to_have_attribute("aria-current", "page")
    expect(page.locator(f'input[name="card"][value="{card.serial}"]')).to_be_checked()
    page.fill("textarea[name=body]", "Happy hour at 6!")
    expect(page.locator("#body-counter")).to_have_text("16 / 500 characters")
    submit = page.locator('[data-action="push_submit"]')
    expect(submit).to_have_text("Send now")
    page.fill("input[name=send_at]", f"{tomorrow}T17:45")
    expect(submit).to_have_text("Schedule")
    submit.click()

    expect(page.locator(".messages")).to_contain_text("Message scheduled for")
    item = page.locator(".push-message").first
    expect(item).to_have_attribute("data-status", "scheduled")
    expect(item.locator('[data-field="body"]')).to_have_text("Happy hour at 6!")
    expect(item.locator('[data-field="send_at"]')).to_contain_text("17:45")
    message = PushMessage.objects.get()
    local = timezone.localtime(message.send_at, card.merchant.tz)
    assert (local.date(), local.hour, local.minute) == (tomorrow, 17, 45)

    item.locator('[data-action="push_edit"]').click()
    expect(page.locator("input[name=send_at]")).to_have_value(f"{tomorrow}T17:45")
    page.fill("textarea[name=body]", "Happy hour at 7!")
    page.locator('[data-action="push_submit"]').click()
    expect(page.locator(".push-message").first.locator('[data-field="body"]')).to_have_text(
        "Happy hour at 7!"
    )

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('.push-message [data-action="push_cancel"]').click()

    item = page.locator(".push-message").first
    expect(item).to_have_attribute("data-status", "cancelled")
    expect(item.locator('[data-action="push_cancel"]')).to_have_count(0)
    expect(page.locator(".messages")).to_contain_text("Message cancelled")
    message.refresh_from_db()
    assert (message.status, message.body, message.cancelled_by) == (
        MessageStatus.CANCELLED,
        "Happy hour at 7!",
        staff,
    )
