"""The customers list: columns, newest activity first, filters, pages, fixed queries, CSV."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards import services
from cards.models import Card, CardStatus, CustomField, Device, Program
from customers.models import Customer, Segment
from customers.selectors import PAGE_SIZE
from loyalty.models import AuditAction, AuditEvent, Merchant, UserPreference
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
EXPORT = reverse("customers:export")


def rows(response: Any) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def customer_order(html: str, customers: list[Customer]) -> list[Customer]:
    present = [c for c in customers if f'data-customer="{c.pk}"' in html]
    return sorted(present, key=lambda c: html.index(f'data-customer="{c.pk}"'))


def test_list_shows_the_columns_of_each_customer(
    staff_client: Client, stamp_program: Program, staff: Any
) -> None:
    customer = CustomerFactory(
        merchant=stamp_program.merchant,
        first_name="Ann",
        last_name="Lee",
        email="ann@example.com",
        phone="+14155550123",
    )
    card = issue_card(stamp_program, customer=customer)
    services.card_add_transaction_amount(card=card, value="95", actor=staff)
    html = staff_client.get(LIST).text
    for text in (
        "Ann Lee",
        "ann@example.com",
        "+14155550123",
        card.serial,
        stamp_program.name,
        "9 stamps",
        "No visits",
        "Not installed",
    ):
        assert text in html
    assert reverse("cards:profile", args=[card.serial]) in html


def test_newest_activity_comes_first(
    staff_client: Client, stamp_program: Program, staff: Any
) -> None:
    first, second, third = (
        issue_card(stamp_program, customer=CustomerFactory(merchant=stamp_program.merchant))
        for _ in range(3)
    )
    services.card_add_stamps(card=first, value=1, actor=staff)
    html = staff_client.get(LIST).text
    customers = [c.customer for c in (first, second, third)]
    assert customer_order(html, customers) == [first.customer, third.customer, second.customer]


def test_list_is_paginated_without_counting(staff_client: Client, merchant: Merchant) -> None:
    CustomerFactory.create_batch(PAGE_SIZE + 3, merchant=merchant)
    first = staff_client.get(LIST).text
    assert first.count("data-customer=") == PAGE_SIZE
    assert 'rel="next"' in first
    second = staff_client.get(LIST, {"page": 2}).text
    assert second.count("data-customer=") == 3
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    assert staff_client.get(LIST, {"page": "nonsense"}).status_code == 200


def test_list_runs_the_same_queries_for_3_or_60_customers(
    staff_client: Client, stamp_program: Program, cashback_program: Program
) -> None:
    def make(n: int) -> None:
        for _ in range(n):
            customer = CustomerFactory(merchant=stamp_program.merchant)
            issue_card(stamp_program, customer=customer)
            issue_card(cashback_program, customer=customer)

    counts = []
    for n in (3, 57):
        make(n)
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(LIST).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_filters_by_program_status_segment_and_device(
    staff_client: Client, stamp_program: Program, cashback_program: Program, owner: Any
) -> None:
    merchant = stamp_program.merchant
    stamp = issue_card(stamp_program, customer=CustomerFactory(merchant=merchant))
    cashback = issue_card(cashback_program, customer=CustomerFactory(merchant=merchant))
    deleted = issue_card(stamp_program, customer=CustomerFactory(merchant=merchant))
    services.card_delete(card=deleted, actor=owner)
    Card.objects.filter(pk=cashback.pk).update(status=CardStatus.INSTALLED, devices=[Device.PWA])
    Customer.objects.filter(pk=stamp.customer_id).update(segment=Segment.CHAMPIONS)
    everyone = [stamp.customer, cashback.customer, deleted.customer]

    def shown(**params: Any) -> set[int]:
        html = staff_client.get(LIST, params).text
        return {c.pk for c in everyone if f'data-customer="{c.pk}"' in html}

    assert shown() == {c.pk for c in everyone}
    assert shown(program=cashback_program.pk) == {cashback.customer_id}
    assert shown(status="deleted") == {deleted.customer_id}
    assert shown(segment="champions") == {stamp.customer_id}
    assert shown(device="pwa") == {cashback.customer_id}
    assert shown(device="none") == {stamp.customer_id, deleted.customer_id}
    assert shown(program=stamp_program.pk, status="deleted") == {deleted.customer_id}
    # Unknown values switch that filter off rather than failing.
    assert shown(program="abc", segment="nope") == {c.pk for c in everyone}


@pytest.fixture
def held(stamp_program: Program, cashback_program: Program) -> dict[str, Card]:
    """Cards on no device, on each kind, on two kinds, and a customer with two cards."""
    merchant = stamp_program.merchant
    devices = {
        "none": [],
        "pwa": [Device.PWA],
        "apple": [Device.APPLE_WALLET],
        "google": [Device.GOOGLE_WALLET],
        "apple_and_pwa": [Device.APPLE_WALLET, Device.PWA],
    }
    cards = {}
    for name, kinds in devices.items():
        card = issue_card(stamp_program, customer=CustomerFactory(merchant=merchant))
        for kind in kinds:
            services.card_mark_installed(card=card, device=kind)
        cards[name] = card
    # One card in Google Wallet, the other on none: the customer matches both filters.
    both = CustomerFactory(merchant=merchant)
    cards["two_cards_google"] = issue_card(stamp_program, customer=both)
    services.card_mark_installed(card=cards["two_cards_google"], device=Device.GOOGLE_WALLET)
    cards["two_cards_none"] = issue_card(cashback_program, customer=both)
    return cards


def _customers_shown(client: Client, held: dict[str, Card], **params: Any) -> set[str]:
    html = client.get(LIST, params).text
    return {name for name, card in held.items() if f'data-customer="{card.customer_id}"' in html}


def test_device_filter_finds_the_cards_on_each_kind_of_device(
    staff_client: Client, held: dict[str, Card]
) -> None:
    def shown(device: str) -> set[str]:
        return _customers_shown(staff_client, held, device=device)

    assert shown("pwa") == {"pwa", "apple_and_pwa"}
    assert shown("apple_wallet") == {"apple", "apple_and_pwa"}
    assert shown("google_wallet") == {"google", "two_cards_google", "two_cards_none"}
    assert shown("none") == {"none", "two_cards_google", "two_cards_none"}
    assert shown("") == set(held)


def test_device_filter_combines_with_the_others(
    staff_client: Client, held: dict[str, Card], cashback_program: Program
) -> None:
    shown = _customers_shown(
        staff_client, held, device="google_wallet", program=cashback_program.pk
    )
    assert shown == set()  # the customer's Google Wallet card is of the other program
    shown = _customers_shown(staff_client, held, device="none", program=cashback_program.pk)
    assert shown == {"two_cards_google", "two_cards_none"}


def test_device_filter_offers_any_none_and_each_kind(staff_client: Client) -> None:
    html = staff_client.get(LIST).text
    select = html[
        html.index('name="device"') : html.index("</select>", html.index('name="device"'))
    ]
    options = [
        ('value=""', "Any device"),
        ('value="none"', "Not installed"),
        ('value="apple_wallet"', "Apple Wallet"),
        ('value="google_wallet"', "Google Wallet"),
        ('value="pwa"', "PWA"),
    ]
    positions = [select.index(f"<option {value}") for value, _ in options]
    assert positions == sorted(positions)
    for value, label in options:
        assert f"<option {value}" in select
        assert label in select


def test_the_list_shows_each_cards_devices(staff_client: Client, held: dict[str, Card]) -> None:
    html = staff_client.get(LIST).text
    assert '<li data-devices="apple_wallet,pwa">Apple Wallet, PWA</li>' in html
    assert '<li data-devices="google_wallet">Google Wallet</li>' in html
    assert '<li data-devices="">—</li>' in html


def test_the_export_takes_the_device_filter(owner_client: Client, held: dict[str, Card]) -> None:
    exported = rows(owner_client.get(EXPORT, {"device": "apple_wallet"}))
    serials = {row[9] for row in exported[1:]}
    assert serials == {held["apple"].serial, held["apple_and_pwa"].serial}
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMERS_EXPORTED)
    assert event.summary == "Exported 2 customers as CSV, filtered by device Apple Wallet"


def test_list_never_shows_another_merchants_customers(
    outsider_client: Client, stamp_card: Card
) -> None:
    html = outsider_client.get(LIST).text
    assert f'data-customer="{stamp_card.customer_id}"' not in html
    assert stamp_card.serial not in html


def test_names_are_escaped_in_the_list(staff_client: Client, merchant: Merchant) -> None:
    CustomerFactory(merchant=merchant, first_name="<script>x()</script>")
    html = staff_client.get(LIST).text
    assert "<script>x()" not in html
    assert "&lt;script&gt;x()" in html


def test_owner_sees_recompute_segments_now_and_others_do_not(
    owner_client: Client, admin_client_: Client, staff_client: Client, merchant: Merchant
) -> None:
    assert 'data-action="segments_recompute"' in owner_client.get(LIST).text
    for client in (admin_client_, staff_client):
        assert 'data-action="segments_recompute"' not in client.get(LIST).text


# ---------------------------------------------------------------------------------------------
# CSV export


def test_export_streams_every_matching_row_with_custom_fields(
    admin_client_: Client, stamp_program: Program, cashback_program: Program
) -> None:
    CustomField.objects.create(program=stamp_program, key="city", label="City")
    CustomField.objects.create(program=cashback_program, key="shoe", label="Shoe size")
    merchant = stamp_program.merchant
    for n in range(30):
        customer = CustomerFactory(
            merchant=merchant, first_name=f"P{n}", custom_fields={"city": f"C{n}", "shoe": "42"}
        )
        issue_card(stamp_program if n % 2 else cashback_program, customer=customer)
    response = admin_client_.get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = rows(response)
    header = table[0]
    assert header[:4] == ["First name", "Last name", "Email", "Phone"]
    assert header[-2:] == ["Shoe size", "City"] or header[-2:] == ["City", "Shoe size"]
    assert len(table) == 31
    city = header.index("City")
    assert {row[city] for row in table[1:]} == {f"C{n}" for n in range(30)}
    filtered = rows(admin_client_.get(EXPORT, {"program": cashback_program.pk}))
    assert len(filtered) == 16


def test_export_headers_follow_the_readers_language_and_cells_stay_machine_readable(
    admin_client_: Client, admin_user, merchant: Merchant
) -> None:
    UserPreference.objects.create(user=admin_user, language="es")
    customer = CustomerFactory(merchant=merchant, first_name="Lucía", total_visits=1234)
    customer.birthday = datetime.date(1990, 3, 7)
    customer.save()
    table = rows(admin_client_.get(EXPORT))
    header, row = table[0], table[1]
    assert header[0] == "Nombre"
    assert row[header.index("Cumpleaños")] == "1990-03-07"
    assert row[header.index("Visitas totales")] == "1234"


def test_export_applies_the_search_without_the_25_row_cap(
    admin_client_: Client, merchant: Merchant
) -> None:
    CustomerFactory.create_batch(30, merchant=merchant, first_name="Kim")
    CustomerFactory(merchant=merchant, first_name="Lee", last_name="Marsh")  # never a Kim
    table = rows(admin_client_.get(EXPORT, {"q": "kim"}))
    assert len(table) == 31
    assert {row[0] for row in table[1:]} == {"Kim"}


def test_export_neutralises_spreadsheet_formulas(admin_client_: Client, merchant: Merchant) -> None:
    CustomerFactory(
        merchant=merchant,
        first_name="=cmd|' /C calc'!A0",
        last_name="@SUM(1)",
        phone="+14155550123",
        custom_fields={},
    )
    CustomerFactory(merchant=merchant, first_name="-2+3", last_name="Plain")
    table = rows(admin_client_.get(EXPORT))
    cells = {cell for row in table[1:] for cell in row}
    assert "'=cmd|' /C calc'!A0" in cells
    assert "'@SUM(1)" in cells
    assert "'+14155550123" in cells
    assert "'-2+3" in cells
    assert "Plain" in cells
    assert not any(cell[:1] in "=+-@" for cell in cells if cell)


def test_export_contains_only_this_merchants_customers(
    outsider_client: Client, stamp_card: Card
) -> None:
    table = rows(outsider_client.get(EXPORT))
    assert len(table) == 1


def test_export_dates_are_in_the_merchants_time_zone(
    admin_client_: Client, merchant: Merchant
) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(time_zone="Asia/Tokyo")
    visit = datetime.datetime(2025, 1, 1, 20, 0, tzinfo=datetime.UTC)
    CustomerFactory(merchant=merchant, last_visit_at=visit, total_visits=1)
    table = rows(admin_client_.get(EXPORT))
    last_visit = table[0].index("Last visit")
    assert table[1][last_visit] == "2025-01-02T05:00:00+09:00"


def test_staff_can_neither_export_customers_nor_see_the_button(
    staff_client: Client, admin_client_: Client, stamp_card: Card
) -> None:
    assert staff_client.get(EXPORT).status_code == 403
    assert 'data-action="customer_export"' not in staff_client.get(LIST).text
    assert 'data-action="customer_export"' in admin_client_.get(LIST).text
    assert not AuditEvent.objects.filter(action=AuditAction.CUSTOMERS_EXPORTED).exists()


def test_an_export_is_audited_in_english_with_its_filters_and_row_count(
    admin_client_: Client, admin_user: Any, stamp_program: Program
) -> None:
    UserPreference.objects.create(user=admin_user, language="de")
    merchant = stamp_program.merchant
    for customer in CustomerFactory.create_batch(3, merchant=merchant, first_name="Kim"):
        issue_card(stamp_program, customer=customer)
    CustomerFactory(merchant=merchant, first_name="Lee", last_name="Marsh")  # never a Kim
    query = {"q": "kim", "program": stamp_program.pk, "status": CardStatus.NOT_INSTALLED}
    response = admin_client_.get(EXPORT, query)
    # Recorded when the download starts, before any row is sent.
    [event] = AuditEvent.objects.filter(action=AuditAction.CUSTOMERS_EXPORTED)
    assert (event.actor, event.merchant) == (admin_user, merchant)
    assert event.summary == (
        "Exported 3 customers as CSV, filtered by a search, "
        f"program {stamp_program.name}, status Not installed"
    )
    assert event.details == {
        "rows": 3,
        "search": "kim",
        "program": stamp_program.pk,
        "status": CardStatus.NOT_INSTALLED,
        "segment": "",
        "device": "",
    }
    assert len(rows(response)) == 1 + 3


def test_an_unfiltered_export_names_no_filter_and_counts_every_customer(
    owner_client: Client, merchant: Merchant
) -> None:
    CustomerFactory.create_batch(4, merchant=merchant)
    rows(owner_client.get(EXPORT))
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMERS_EXPORTED)
    assert event.summary == "Exported 4 customers as CSV"
    assert event.details["rows"] == 4


def test_a_row_lists_each_card_in_order_in_the_merchants_words(
    staff_client: Client, stamp_program: Program, cashback_program: Program, staff: Any
) -> None:
    UserPreference.objects.update_or_create(user=staff, defaults={"language": "de"})
    cashback_program.name = "<b>Cash</b>"
    cashback_program.save()
    customer = CustomerFactory(merchant=stamp_program.merchant, first_name="Ann")
    stamp = issue_card(stamp_program, customer=customer)
    cashback = issue_card(cashback_program, customer=customer)
    services.card_add_stamps(card=stamp, value=3, actor=staff)
    services.card_add_points(card=cashback, value="12.5", actor=staff)

    html = staff_client.get(LIST).text
    row = html[html.index(f'data-customer="{customer.pk}"') :].split("</tr>")[0]

    assert row.index(stamp.serial) < row.index(cashback.serial)
    assert f'href="{reverse("cards:profile", args=[stamp.serial])}" data-customer-link' in row
    assert "<li>3 Stempel · 0 Prämien</li>" in row
    assert "12,50 Punkte" in row
    assert "&lt;b&gt;Cash&lt;/b&gt;" in row
    assert "<b>Cash" not in row
    assert row.count('class="status-not_installed"') == 2
