"""Settings in a real browser: a cashback program with three tiers, then a card of it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card, Program

pytestmark = pytest.mark.django_db(transaction=True)


def _fill_tier(page: Any, index: int, name: str, threshold: str, percentage: str) -> None:
    page.fill(f'input[name="tiers-{index}-name"]', name)
    page.fill(f'input[name="tiers-{index}-threshold"]', threshold)
    page.fill(f'input[name="tiers-{index}-percentage"]', percentage)


def test_creating_a_cashback_program_with_three_tiers_and_issuing_a_card(
    page: Any, login: Any, owner: Any
) -> None:
    login(owner)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Programs").click()
    page.get_by_role("button", name="New cashback card").click()

    # Only the cashback rules show for a cashback card.
    expect(page.locator('[data-show-when="kind=cashback"]')).to_be_visible()
    expect(page.locator('[data-show-when="kind=stamp"]')).to_be_hidden()
    page.fill('input[name="name"]', "Bean Club")
    _fill_tier(page, 0, "Bronze", "0", "5")
    _fill_tier(page, 1, "Silver", "500", "7.5")
    page.get_by_role("button", name="Add a tier").click()
    _fill_tier(page, 2, "Gold", "1000", "10")
    page.fill('input[name="welcome_bonus"]', "2.50")
    page.get_by_role("button", name="Create program").click()

    expect(page.locator(".messages")).to_contain_text("Bean Club is ready to issue cards.")
    program = Program.objects.get(name="Bean Club")
    assert list(program.tiers.values_list("name", "threshold", "percentage")) == [
        ("Bronze", Decimal("0.00"), Decimal("5.00")),
        ("Silver", Decimal("500.00"), Decimal("7.50")),
        ("Gold", Decimal("1000.00"), Decimal("10.00")),
    ]
    # The join link and its copy button.
    expect(page.locator("[data-join-url]")).to_have_value(
        f"http://127.0.0.1:8000/join/{program.join_token}/"
    )
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#toast")).to_contain_text("Copied")

    page.get_by_role("button", name="Issue a card").click()
    page.fill('input[name="first_name"]', "Ada")
    page.fill('input[name="last_name"]', "Lovelace")
    page.get_by_role("button", name="Issue the card").click()

    card = Card.objects.get(program=program)
    page.wait_for_url(f"**/cards/{card.serial}/")
    expect(page.locator('[data-metric="cashback_tier"]')).to_have_attribute("data-value", "Bronze")
    expect(page.locator('[data-metric="cashback_percentage"]')).to_have_attribute(
        "data-value", "5.00"
    )
    assert card.holder_name == "Ada Lovelace"


def test_a_tier_error_is_shown_and_the_rows_are_kept(page: Any, login: Any, owner: Any) -> None:
    login(owner)
    page.goto("/settings/programs/new/?kind=cashback")
    page.fill('input[name="name"]', "Broken tiers")
    _fill_tier(page, 0, "Bronze", "0", "5")
    _fill_tier(page, 1, "Silver", "0", "7")
    page.get_by_role("button", name="Create program").click()

    expect(page.locator("[data-tier-errors]")).to_contain_text(
        "Tier 2: the threshold ($0.00) must be higher than the tier before it ($0.00)"
    )
    expect(page.locator('input[name="tiers-1-name"]')).to_have_value("Silver")
    assert not Program.objects.filter(name="Broken tiers").exists()


def test_staff_see_no_settings_link(page: Any, login: Any, staff: Any) -> None:
    login(staff)
    expect(page.get_by_role("link", name="Customers")).to_be_visible()
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    response = page.goto("/settings/programs/")
    assert response.status == 403


def test_the_join_qr_code_shows_on_the_program_page(
    page: Any, login: Any, owner: Any, stamp_program: Program
) -> None:
    login(owner)
    page.goto(f"/settings/programs/{stamp_program.pk}/")
    qr = page.locator("[data-join-qr]")
    expect(qr).to_have_attribute("src", f"/join/{stamp_program.join_token}/qr.svg")
    page.wait_for_load_state("load")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR image is broken"


def test_a_visit_stamp_program_shows_only_the_fields_that_apply(
    page: Any, login: Any, owner: Any
) -> None:
    login(owner)
    page.goto("/settings/programs/new/?kind=stamp")
    expect(page.locator('[data-show-when="kind=cashback"]')).to_be_hidden()
    expect(page.locator('input[name="spend_per_stamp"]')).to_be_visible()
    page.get_by_label("Stamps per visit").first.check()
    expect(page.locator('input[name="spend_per_stamp"]')).to_be_hidden()
    page.fill('input[name="name"]', "Visits")
    page.fill('input[name="stamps_per_visit"]', "2")
    page.get_by_label("Expires N days after issue").check()
    page.fill('input[name="valid_days"]', "365")
    page.get_by_role("button", name="Create program").click()

    expect(page.locator(".messages")).to_contain_text("Visits is ready to issue cards.")
    program = Program.objects.get(name="Visits")
    assert (program.mechanism, program.stamps_per_visit, program.valid_days) == ("visit", 2, 365)


def test_changing_a_role_from_the_team_page(page: Any, login: Any, owner: Any, staff: Any) -> None:
    login(owner)
    page.goto("/settings/team/")
    page.get_by_label("Role of staff").select_option("admin")
    expect(page.locator(".messages")).to_contain_text("staff is now Admin.")
    expect(page.locator('[data-member="staff"]')).to_have_attribute("data-role", "admin")


def test_setting_the_counter_guards_on_the_program_page(
    page: Any, login: Any, owner: Any, stamp_program: Program
) -> None:
    login(owner)
    page.goto(f"/settings/programs/{stamp_program.pk}/")
    counter = page.get_by_role("group", name="At the counter")
    expect(counter).to_be_visible()
    counter.get_by_label("Ask before applying the same action twice within (seconds)").fill("90")
    counter.get_by_label("Most stamps or points a card can earn per day (empty: no cap)").fill("12")
    counter.get_by_label("Most purchases per card per day (empty: no cap)").fill("0")
    counter.get_by_label("Staff may reverse their own entries for (minutes)").fill("30")
    page.get_by_role("button", name="Save changes").click()

    # A cap of 0 is refused next to its field; what was typed stays in the form.
    expect(page.locator("[data-form-errors]")).to_contain_text("nothing was saved")
    purchases = page.get_by_label("Most purchases per card per day (empty: no cap)")
    expect(purchases).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-counter-settings]")).to_contain_text(
        "Enter between 1 and 1,000 purchases a day, or leave the field empty for no cap."
    )
    expect(
        page.get_by_label("Most stamps or points a card can earn per day (empty: no cap)")
    ).to_have_value("12")
    stamp_program.refresh_from_db()
    assert stamp_program.daily_earn_cap is None

    purchases.fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".messages")).to_contain_text("Saved.")
    stamp_program.refresh_from_db()
    assert (
        stamp_program.repeat_guard_seconds,
        stamp_program.daily_earn_cap,
        stamp_program.daily_purchase_cap,
        stamp_program.staff_reverse_minutes,
    ) == (90, 12, None, 30)
    expect(page.get_by_label("Staff may reverse their own entries for (minutes)")).to_have_value(
        "30"
    )
