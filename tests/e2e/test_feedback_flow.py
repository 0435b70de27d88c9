"""A customer rates a visit on their card; the merchant reads it in the profile's Feedback tab."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cards import services
from cards.models import Card
from feedback.models import Feedback

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rating_reaches_the_merchants_feedback_tab(
    page: Any, login: Any, owner: Any, stamp_card: Card
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="12", actor=None)
    page.goto(f"/c/{stamp_card.install_token}/")
    comment_box = page.locator("[data-comment-box]")
    expect(comment_box).to_be_hidden()  # until a rating below 5

    page.click("label[title='5 stars']")
    expect(comment_box).to_be_hidden()
    page.click("label[title='3 stars']")
    expect(comment_box).to_be_visible()
    page.fill("textarea[name=comment]", "Waited <b>twenty</b> minutes")
    page.get_by_role("button", name="Send").click()

    expect(page.locator('[data-feedback="rated"]')).to_contain_text("3 out of 5")
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == (3, "Waited <b>twenty</b> minutes")

    # An older rating without a comment, from an earlier visit.
    Feedback.objects.create(
        merchant=stamp_card.merchant,
        card=stamp_card,
        customer=stamp_card.customer,
        rating=5,
        visit_number=0,
        created_at=timezone.now() - datetime.timedelta(days=40),
    )

    login(owner)
    page.goto(f"/cards/{stamp_card.serial}/feedback/")
    entries = page.locator(".feedback-entry")
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text("Waited <b>twenty</b> minutes")
    expect(entries.first).to_have_attribute("data-rating", "3")

    # Filters update the list in place: the page is never reloaded.
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Only comments").check()
    expect(entries).to_have_count(1)
    page.get_by_label("Only comments").uncheck()
    expect(entries).to_have_count(2)
    page.get_by_label("Day", exact=True).check()
    expect(entries).to_have_count(1)
    page.get_by_label("All time").check()
    expect(entries).to_have_count(2)
    assert page.evaluate("window.notReloaded") is True
    assert "period=all" in page.url  # the filters are in the address, for a reload or a link
