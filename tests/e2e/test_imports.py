"""Importing customers in a real browser: upload a spreadsheet, map its columns, read the
preview, apply it, then find the customers and their balances in the dashboard."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card, Program
from customers import tasks
from customers.imports import services
from customers.models import Customer, ImportJob, ImportStatus

pytestmark = pytest.mark.django_db(transaction=True)

# A German export with a header the importer knows (Vorname, E-Mail, Stempel...), one it does
# not ("Anzahl Besuche", mapped by hand) and a note column nobody wants. The fifth line's email
# is broken, so the preview must name that line.
CLIENTS_CSV = (
    "Vorname;Nachname;E-Mail;Stempel;Kartennummer;Anzahl Besuche;Notiz\n"
    "Greta;Müller;greta@example.com;4;P-1001;9;Stammkundin\n"
    "Hans;Schmidt;hans@example.com;7;P-1002;12;\n"
    "Ilse;Weber;ilse@example.com;0;P-1003;1;\n"
    "Jonas;Fischer;jonas(at)example.com;2;P-1004;3;\n"
).encode()
INVALID_LINE = 5

EXPECTED_GUESSES = {
    "Vorname": "first_name",
    "Nachname": "last_name",
    "E-Mail": "email",
    "Stempel": "stamps",
    "Kartennummer": "external_number",
    "Anzahl Besuche": "",
    "Notiz": "",
}


def _metric(page: Any, name: str) -> Any:
    return page.locator(f'dl.import-counts dd[data-metric="{name}"]')


def _upload(page: Any, program: Program) -> None:
    """From the customers list to the mapping page of ``CLIENTS_CSV``."""
    page.goto("/customers/")
    page.locator('[data-action="customers_import"]').click()
    page.wait_for_url("**/customers/import/")
    page.select_option("select[name=program]", value=str(program.pk))
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "clients.csv", "mimeType": "text/csv", "buffer": CLIENTS_CSV}],
    )
    page.locator('[data-action="import_upload"]').click()
    page.wait_for_url("**/customers/import/*/")
    expect(page.locator("section#import-status")).to_have_attribute("data-status", "mapping")


def test_importing_a_german_file_from_upload_to_the_imported_cards(
    page: Any, login: Any, owner: Any, stamp_program: Program, monkeypatch: Any
) -> None:
    # No worker runs here: record what the Apply button queues, then run the worker's body
    # from the test while the browser waits on the page.
    queued: list[int] = []
    monkeypatch.setattr(tasks.apply_import, "delay", queued.append)
    login(owner)
    _upload(page, stamp_program)

    # The recognised German headers are chosen for the merchant; the others are left out.
    mapping = page.locator("table.import-mapping")
    for index, (header, key) in enumerate(EXPECTED_GUESSES.items()):
        expect(mapping.locator(f'label[for="id_column_{index}"]')).to_have_text(header)
        expect(page.locator(f"select[name=column_{index}]")).to_have_value(key)
    page.select_option("select[name=column_5]", label="Total visits")
    page.locator('[data-action="import_check"]').click()

    # A small file is checked in the request: the preview shows at once, nothing written yet.
    status = page.locator("section#import-status")
    expect(status).to_have_attribute("data-status", "checked")
    expect(_metric(page, "new")).to_have_attribute("data-value", "3")
    expect(_metric(page, "matched")).to_have_attribute("data-value", "0")
    expect(_metric(page, "skipped")).to_have_attribute("data-value", "0")
    expect(_metric(page, "invalid")).to_have_attribute("data-value", "1")
    invalid = page.locator("table[data-problems=invalid] tbody tr")
    expect(invalid).to_have_count(1)
    expect(invalid.first).to_have_attribute("data-line", str(INVALID_LINE))
    expect(invalid.first).to_contain_text("jonas(at)example.com")
    problems = page.request.get(
        page.locator('[data-action="import_problems"]').get_attribute("href")
    )
    assert problems.ok
    assert list(csv.reader(io.StringIO(problems.text())))[1:] == [
        [
            str(INVALID_LINE),
            "Invalid",
            "E-Mail",
            "jonas(at)example.com",
            "Not a valid email address.",
        ]
    ]
    job = ImportJob.objects.get()
    assert job.mapping[5] == "visits"
    assert not Customer.objects.exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('[data-action="import_apply"]').click()
    expect(status).to_have_attribute("data-status", "applying")
    assert queued == [job.pk]
    assert not Customer.objects.exists()

    # The status part polls itself: the result must replace the progress without a reload.
    page.evaluate("window.notReloaded = true")
    assert services.import_apply(job_id=job.pk) is True
    expect(page.locator("[data-import-done]")).to_be_visible()
    expect(status).to_have_attribute("data-status", "applied")
    expect(_metric(page, "new")).to_have_attribute("data-value", "3")
    expect(_metric(page, "invalid")).to_have_attribute("data-value", "1")
    assert page.evaluate("window.notReloaded") is True
    job.refresh_from_db()
    assert job.status == ImportStatus.APPLIED
    assert sorted(Customer.objects.values_list("last_name", flat=True)) == [
        "Müller",
        "Schmidt",
        "Weber",
    ]

    page.locator("[data-import-done] a").click()
    page.wait_for_url("**/customers/")
    page.fill("input[name=q]", "Schmidt")
    rows = page.locator("#customer-results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Hans Schmidt")

    # The card starts with the file's balance: 7 stamps (below a full card of 10), 12 visits.
    card = Card.objects.get(customer__last_name="Schmidt", program=stamp_program)
    page.goto(f"/cards/{card.serial}/")
    expect(page.locator('[data-metric="stamps_balance"]')).to_have_attribute("data-value", "7")
    expect(page.locator('[data-metric="total_visits"]')).to_have_attribute("data-value", "12")


def _tab_to(page: Any, selector: str) -> None:
    """Press Tab until ``selector`` has the focus: it must be reachable in the tab order."""
    target = page.locator(selector)
    for _press in range(60):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable with the Tab key")


def test_the_import_can_be_driven_with_the_keyboard_alone(
    page: Any, login: Any, owner: Any, stamp_program: Program, monkeypatch: Any
) -> None:
    # As above: no worker, the test runs its body once the page waits for it.
    monkeypatch.setattr(tasks.apply_import, "delay", lambda job_id: None)
    login(owner)
    page.goto("/customers/import/")

    _tab_to(page, "select[name=program]")
    _tab_to(page, "input[type=file]")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(
        files=[{"name": "clients.csv", "mimeType": "text/csv", "buffer": CLIENTS_CSV}]
    )
    _tab_to(page, '[data-action="import_upload"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/customers/import/*/")

    # Typing on a closed select picks the option: "Notiz" mapped to First name twice over is
    # refused on the page, with the choices kept.
    _tab_to(page, "select[name=column_6]")
    page.keyboard.type("First")
    expect(page.locator("select[name=column_6]")).to_have_value("first_name")
    _tab_to(page, '[data-action="import_check"]')
    page.keyboard.press("Enter")
    expect(page.locator("[data-form-error]")).to_contain_text("Map each field to one column only")
    expect(page.locator("select[name=column_6]")).to_have_value("first_name")

    _tab_to(page, "select[name=column_6]")
    page.keyboard.press("Home")
    expect(page.locator("select[name=column_6]")).to_have_value("")
    _tab_to(page, '[data-action="import_check"]')
    page.keyboard.press("Enter")
    status = page.locator("section#import-status")
    expect(status).to_have_attribute("data-status", "checked")
    expect(_metric(page, "new")).to_have_attribute("data-value", "3")

    # Enter on the Import button goes through the same confirmation as a click.
    page.once("dialog", lambda dialog: dialog.accept())
    _tab_to(page, '[data-action="import_apply"]')
    page.keyboard.press("Enter")
    expect(status).to_have_attribute("data-status", "applying")
    job = ImportJob.objects.get()
    assert services.import_apply(job_id=job.pk) is True
    expect(page.locator("[data-import-done]")).to_be_visible()
    assert Customer.objects.count() == 3
