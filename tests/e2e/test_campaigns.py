"""Campaigns in a real browser: write one to a segment, watch its audience size, schedule it,
then cancel it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Segment
from pushes.models import Campaign, CampaignStatus
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
