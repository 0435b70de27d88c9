"""A merchant searches the CRM as they type and opens a customer's profile."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card, CustomField, Program
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db(transaction=True)


def test_live_search_then_open_the_profile(
    page: Any, login: Any, staff: Any, stamp_program: Program
) -> None:
    merchant = stamp_program.merchant
    ann = CustomerFactory(
        merchant=merchant, first_name="Ann", last_name="Lee", phone="+14155550123"
    )
    card = issue_card(stamp_program, customer=ann)
    for name in ("Bob", "Carla", "Dmitri"):
        issue_card(stamp_program, customer=CustomerFactory(merchant=merchant, first_name=name))

    login(staff)
    page.goto("/customers/")
    rows = page.locator("#customer-results tbody tr")
    expect(rows).to_have_count(4)
    page.evaluate("window.notReloaded = true")

    # Typing a phone number the way it is written on a napkin narrows the list in place.
    page.fill("input[name=q]", "(415) 555-01")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ann Lee")
    assert page.evaluate("window.notReloaded") is True
    expect(page).to_have_url(re.compile(r"/customers/\?q=.*555-01"))  # the URL follows

    # The serial without dashes finds the same customer.
    page.fill("input[name=q]", card.serial.replace("-", ""))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(card.serial)

    page.locator("[data-customer-link]").first.click()
    page.wait_for_url(f"**/cards/{card.serial}/")
    expect(page.locator("h1[data-customer-name]")).to_have_text("Ann Lee")
    expect(page.locator('[data-metric="serial_number"]')).to_have_attribute(
        "data-value", card.serial
    )


def test_search_works_without_javascript(
    login_without_javascript: Any, staff: Any, stamp_program: Program
) -> None:
    ann = CustomerFactory(merchant=stamp_program.merchant, first_name="Ann", last_name="Lee")
    issue_card(stamp_program, customer=ann)
    # A fixed last name: a random one can itself contain "lee" (Lee, Steele, Keeler).
    CustomerFactory(merchant=stamp_program.merchant, first_name="Bob", last_name="Marsh")
    page = login_without_javascript(staff)
    page.goto("/customers/")
    page.fill("input[name=q]", "lee")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/customers/?q=lee*")
    rows = page.locator("#customer-results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ann Lee")


def test_add_a_walk_in_customer_and_land_on_the_new_card(
    page: Any, login: Any, staff: Any, stamp_program: Program, cashback_program: Program
) -> None:
    CustomField.objects.create(
        program=stamp_program, key="city", label="City", required=True, position=0
    )
    CustomField.objects.create(program=cashback_program, key="team", label="Team")
    login(staff)
    page.goto("/customers/")
    page.click('[data-action="customer_add"]')
    dialog = page.locator('dialog[data-dialog="customer_add"]')
    expect(dialog).to_be_visible()
    # The first program (by name) is the cashback one: its question shows.
    expect(dialog.locator("input[name=custom_team]")).to_be_visible()
    dialog.locator("select[name=program]").select_option(str(stamp_program.pk))
    expect(dialog.locator("input[name=custom_city]")).to_be_visible()
    expect(dialog.locator("input[name=custom_team]")).to_have_count(0)

    dialog.locator("input[name=first_name]").fill("Ann")
    dialog.locator("input[name=phone]").fill("415 555 0123")
    dialog.get_by_role("button", name="Add customer").click()
    # A required answer is missing: the dialog stays open with the message.
    expect(dialog.locator(".error")).to_contain_text("This field is required.")
    dialog.locator("input[name=custom_city]").fill("Lyon")
    dialog.get_by_role("button", name="Add customer").click()

    page.wait_for_url("**/cards/*/")
    card = Card.objects.get(customer__first_name="Ann")
    assert page.url.endswith(f"/cards/{card.serial}/")
    assert card.program == stamp_program
    assert card.customer.phone == "+14155550123"
    assert card.customer.custom_fields == {"city": "Lyon"}
    expect(page.locator("h1[data-customer-name]")).to_have_text("Ann")
