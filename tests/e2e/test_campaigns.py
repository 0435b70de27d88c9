"""Campaigns in a real browser: write one to a segment, watch its audience size, schedule it,
then cancel it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Segment
from pushes.models import AutoMessage, Campaign, CampaignStatus, Trigger
from tests.factories import CustomerFactory, issue_card, subscribe_device

pytestmark = pytest.mark.django_db(transaction=True)


def test_writing_scheduling_and_cancelling_a_campaign(
    page: Any, login: Any, owner: Any, stamp_program: Any
) -> None:
    merchant = stamp_program.merchant
    for segment in (Segment.CHAMPIONS, Segment.CHAMPIONS, Segment.LOST):
        card = issue_card(stamp_program, CustomerFactory(merchant=merchant, segment=segment))
        subscribe_device(card, card.serial)
    tomorrow = timezone.localdate(timezone=merchant.tz) + datetime.timedelta(days=1)
    login(owner)

    page.goto("/campaigns/")
    expect(page.locator("[data-empty-state]")).to_be_visible()
    page.locator('[data-action="campaign_new"]').first.click()

    # Only the chosen audience's details show; the size follows the choices.
    segments = page.locator('[data-audience-detail="segments"]')
    expect(segments).to_be_hidden()
    page.get_by_label("Customers in some segments").check()
    expect(segments).to_be_visible()
    expect(page.locator('[data-audience-detail="filter"]')).to_be_hidden()
    page.get_by_role("checkbox", name="Champions").check()
    expect(page.locator("[data-audience-cards]")).to_have_attribute("data-audience-cards", "2")
    expect(page.locator("[data-audience-reachable]")).to_have_attribute(
        "data-audience-reachable", "2"
    )

    page.fill("textarea[name=body]", "Double stamps on Saturday!")
    submit = page.locator('[data-action="campaign_submit"]')
    expect(submit).to_have_text("Send now")
    page.fill("input[name=send_at]", f"{tomorrow}T10:30")
    expect(submit).to_have_text("Schedule")
    submit.click()

    expect(page.locator(".messages")).to_contain_text("Campaign saved.")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "scheduled")
    campaign = Campaign.objects.get()
    local = timezone.localtime(campaign.send_at, merchant.tz)
    assert (local.date(), local.hour, local.minute) == (tomorrow, 10, 30)
    assert (campaign.audience, campaign.segments) == ("segments", [Segment.CHAMPIONS])

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('[data-action="campaign_cancel"]').click()
    expect(page.locator(".messages")).to_contain_text("Campaign cancelled.")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "cancelled")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.cancelled_by) == (CampaignStatus.CANCELLED, owner)


def test_turning_on_a_birthday_message_with_its_live_preview(
    page: Any, login: Any, owner: Any, stamp_program: Any
) -> None:
    login(owner)
    page.goto("/campaigns/")
    page.locator('[data-action="auto_messages"]').click()
    birthday = page.locator('[data-trigger="birthday"]')
    expect(birthday).to_have_attribute("data-enabled", "false")
    page.locator('[data-action="auto_messages_edit"]').click()

    kind = page.locator('fieldset[data-trigger="birthday"]')
    kind.get_by_label("On").check()
    kind.locator("textarea").fill("Happy birthday {first_name}! You have {balance}.")
    # The preview follows the typing (htmx), filled with sample values.
    expect(kind.locator("[data-preview-text]")).to_have_text(
        "Happy birthday Alex! You have 8 stamps."
    )
    kind.locator("textarea").fill("Happy birthday {frist_name}")
    expect(kind.locator("[data-preview]")).to_contain_text("Unknown placeholder {frist_name}")
    kind.locator("textarea").fill("Happy birthday {first_name}!")
    page.locator('[data-action="auto_messages_save"]').click()

    expect(page.locator(".messages")).to_contain_text("Automatic messages saved.")
    expect(page.locator('[data-trigger="birthday"]')).to_have_attribute("data-enabled", "true")
    saved = AutoMessage.objects.get(program=stamp_program, trigger=Trigger.BIRTHDAY)
    assert (saved.enabled, saved.body) == (True, "Happy birthday {first_name}!")
