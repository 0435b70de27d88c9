"""The Information tab: personal details, validated, without touching the name on the card."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card
from customers.models import Customer, Segment, SegmentChange
from customers.services import customer_remove
from loyalty.models import AuditAction, AuditEvent
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def info_url(card: Card) -> str:
    return reverse("customers:information", args=[card.serial])


def details(**overrides: Any) -> dict[str, str]:
    data = {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "phone": "+1 415-555-0123",
        "birthday": "1990-04-01",
    }
    data.update(overrides)
    return data


def test_the_tab_shows_the_details_and_says_the_card_keeps_its_name(
    staff_client: Client, stamp_card: Card
) -> None:
    html = staff_client.get(info_url(stamp_card)).text
    customer = stamp_card.customer
    assert f'value="{customer.first_name}"' in html
    assert f'value="{customer.email}"' in html
    assert "data-holder-note" in html
    assert "stays as it was" in html


def test_saving_updates_the_customer_and_not_the_holder_name(
    staff_client: Client, stamp_card: Card
) -> None:
    holder = stamp_card.holder_name
    response = staff_client.post(info_url(stamp_card), details())
    assert response.status_code == 302
    customer = Customer.objects.get(pk=stamp_card.customer_id)
    assert (customer.first_name, customer.last_name) == ("Ann", "Lee")
    assert customer.phone == "+14155550123"
    assert customer.birthday == datetime.date(1990, 4, 1)
    assert Card.objects.get(pk=stamp_card.pk).holder_name == holder
    followed = staff_client.get(response["Location"]).text
    assert "The name printed on the card is unchanged" in followed


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address."),
        ("phone", "12345", "Enter a valid phone number"),
        ("first_name", "", "This field is required."),
        ("birthday", "2999-01-01", "between 1900 and today"),
    ],
)
def test_invalid_details_are_explained_and_nothing_changes(
    staff_client: Client, stamp_card: Card, field: str, value: str, message: str
) -> None:
    before = Customer.objects.get(pk=stamp_card.customer_id)
    response = staff_client.post(info_url(stamp_card), details(**{field: value}))
    assert response.status_code == 422
    assert message in response.text
    after = Customer.objects.get(pk=stamp_card.customer_id)
    assert (after.first_name, after.email, after.phone) == (
        before.first_name,
        before.email,
        before.phone,
    )


def test_an_email_must_be_unique_per_merchant(
    staff_client: Client, stamp_card: Card, other_merchant: Any
) -> None:
    CustomerFactory(merchant=stamp_card.merchant, email="taken@example.com")
    CustomerFactory(merchant=other_merchant, email="elsewhere@example.com")
    response = staff_client.post(info_url(stamp_card), details(email="TAKEN@example.com"))
    assert response.status_code == 422
    assert "Another customer of yours already uses this email address." in response.text
    ok = staff_client.post(info_url(stamp_card), details(email="elsewhere@example.com"))
    assert ok.status_code == 302


def test_the_tab_lists_the_customers_segment_moves(staff_client: Client, stamp_card: Card) -> None:
    SegmentChange.objects.create(
        merchant=stamp_card.merchant,
        customer=stamp_card.customer,
        changed_at=datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC),
        from_segment=Segment.NO_VISITS,
        to_segment=Segment.BEGINNERS,
    )
    html = staff_client.get(info_url(stamp_card)).text
    assert "No visits → Beginners" in html


def test_a_removed_customers_tab_has_nothing_to_edit(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    customer_remove(customer=stamp_card.customer)
    html = owner_client.get(info_url(stamp_card)).text
    assert "was removed" in html
    assert 'name="first_name"' not in html
    assert owner_client.post(info_url(stamp_card), details()).status_code == 422
    assert not Customer.objects.filter(first_name="Ann").exists()


def test_an_edit_is_audited_with_the_changed_field_names_and_no_personal_data(
    staff_client: Client, staff: Any, stamp_card: Card
) -> None:
    customer = stamp_card.customer
    data = details(
        first_name=customer.first_name,
        last_name=customer.last_name,
        email="new.address@example.com",
        phone="+1 415-555-0199",
        birthday="",
    )
    assert staff_client.post(info_url(stamp_card), data).status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMER_UPDATED)
    assert (event.actor, event.merchant_id) == (staff, stamp_card.merchant_id)
    assert event.summary == (
        f"Edited the personal information of customer #{customer.pk}: email, phone"
    )
    assert event.details == {"customer_id": customer.pk, "fields": ["email", "phone"]}
    logged = event.summary + str(event.details)
    for value in ("new.address", "0199", customer.first_name, customer.last_name):
        assert value not in logged


def test_saving_unchanged_details_records_nothing(staff_client: Client, stamp_card: Card) -> None:
    customer = stamp_card.customer
    data = details(
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        birthday=customer.birthday.isoformat() if customer.birthday else "",
    )
    assert staff_client.post(info_url(stamp_card), data).status_code == 302
    assert not AuditEvent.objects.filter(action=AuditAction.CUSTOMER_UPDATED).exists()


def test_the_audit_log_lists_personal_information_edits(
    owner_client: Client, stamp_card: Card
) -> None:
    owner_client.post(info_url(stamp_card), details())
    html = owner_client.get(reverse("settings:audit")).text
    assert f'data-audit-action="{AuditAction.CUSTOMER_UPDATED}"' in html
    assert f"customer #{stamp_card.customer_id}" in html
