"""Registering a walk-in customer: person, program, the program's custom fields, a new card."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards.forms import custom_field_name, custom_fields_for, custom_values
from cards.models import Card, CustomField, FieldType, LedgerEntry, Program
from customers.models import Customer
from loyalty.models import Merchant
from tests.factories import CustomerFactory, StampProgramFactory

pytestmark = pytest.mark.django_db

ADD = reverse("customers:add")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def questions(stamp_program: Program) -> Program:
    CustomField.objects.create(
        program=stamp_program,
        key="shoe",
        label="Shoe size",
        field_type=FieldType.NUMBER,
        position=2,
    )
    CustomField.objects.create(
        program=stamp_program, key="city", label="City", required=True, position=1
    )
    CustomField.objects.create(
        program=stamp_program,
        key="since",
        label="Customer since",
        field_type=FieldType.DATE,
        position=3,
    )
    CustomField.objects.create(
        program=stamp_program,
        key="drink",
        label="Favourite drink",
        field_type=FieldType.CHOICE,
        choices=["Tea", "Coffee"],
        position=4,
    )
    return stamp_program


# ---------------------------------------------------------------------------------------------
# The helpers the join page shares


def test_custom_fields_for_builds_typed_fields_in_order(questions: Program) -> None:
    fields = custom_fields_for(questions)
    assert list(fields) == ["custom_city", "custom_shoe", "custom_since", "custom_drink"]
    assert isinstance(fields["custom_city"], forms.CharField)
    assert fields["custom_city"].required
    assert fields["custom_city"].label == "City"
    assert isinstance(fields["custom_shoe"], forms.DecimalField)
    assert isinstance(fields["custom_since"], forms.DateField)
    assert isinstance(fields["custom_drink"], forms.ChoiceField)
    assert ("Tea", "Tea") in fields["custom_drink"].choices
    assert not fields["custom_shoe"].required


def test_custom_values_are_json_strings_keyed_by_field_key(questions: Program) -> None:
    cleaned = {
        custom_field_name("city"): "  Lyon ",
        custom_field_name("shoe"): Decimal("42.50"),
        custom_field_name("since"): datetime.date(2020, 5, 1),
        custom_field_name("drink"): "",
        "email": "not a custom field",
    }
    assert custom_values(cleaned, questions) == {
        "city": "Lyon",
        "shoe": "42.5",
        "since": "2020-05-01",
    }


def test_custom_fields_validate_their_type(questions: Program) -> None:
    class Form(forms.Form):
        pass

    form = Form(data={"custom_city": "", "custom_shoe": "big", "custom_drink": "Beer"})
    form.fields.update(custom_fields_for(questions))
    assert not form.is_valid()
    assert set(form.errors) == {"custom_city", "custom_shoe", "custom_drink"}


# ---------------------------------------------------------------------------------------------
# The dashboard form


def test_add_form_shows_the_first_programs_questions(
    staff_client: Client, questions: Program
) -> None:
    html = staff_client.get(ADD).text
    for name in ("first_name", "last_name", "email", "phone", "program", "custom_city"):
        assert f'name="{name}"' in html


def test_changing_the_program_swaps_in_its_questions(
    staff_client: Client, questions: Program, cashback_program: Program
) -> None:
    CustomField.objects.create(program=cashback_program, key="team", label="Team")
    url = reverse("customers:add_fields")
    html = staff_client.get(url, {"program": cashback_program.pk}, headers=HTMX).text
    assert html.lstrip().startswith('<fieldset id="custom-fields"')
    assert 'name="custom_team"' in html
    assert 'name="custom_city"' not in html


def test_a_plain_post_registers_the_customer_and_opens_the_new_cards_profile(
    staff_client: Client, questions: Program, staff: Any
) -> None:
    response = staff_client.post(
        ADD,
        {
            "first_name": " Ann ",
            "last_name": "Lee",
            "email": "ann@example.com",
            "phone": "(415) 555-0123",
            "program": questions.pk,
            "custom_city": "Lyon",
            "custom_shoe": "42",
            "custom_since": "2020-05-01",
            "custom_drink": "Tea",
        },
    )
    card = Card.objects.get(customer__email="ann@example.com")
    assert response.status_code == 302
    assert response["Location"] == f"/cards/{card.serial}/"
    customer = card.customer
    assert (customer.first_name, customer.phone) == ("Ann", "+14155550123")
    assert customer.custom_fields == {
        "city": "Lyon",
        "shoe": "42",
        "since": "2020-05-01",
        "drink": "Tea",
    }
    assert card.program == questions
    assert card.holder_name == "Ann Lee"
    entry = LedgerEntry.objects.get(card=card)
    assert entry.actor == staff


def test_an_htmx_post_answers_with_a_redirect_to_the_profile(
    staff_client: Client, stamp_program: Program
) -> None:
    response = staff_client.post(
        ADD, {"first_name": "Bo", "program": stamp_program.pk}, headers=HTMX
    )
    card = Card.objects.get(customer__first_name="Bo")
    assert response["HX-Redirect"] == f"/cards/{card.serial}/"


def test_the_dialog_opens_with_htmx(staff_client: Client, stamp_program: Program) -> None:
    html = staff_client.get(ADD, headers=HTMX).text
    assert html.lstrip().startswith("<dialog data-modal")
    assert 'hx-post="/customers/add/"' in html


def test_missing_required_answers_and_bad_input_change_nothing(
    staff_client: Client, questions: Program
) -> None:
    response = staff_client.post(
        ADD,
        {"first_name": "", "email": "nope", "phone": "12", "program": questions.pk},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="customer-add-form"')
    html = response.text
    assert html.count('class="error" role="alert"') >= 3
    assert "This field is required." in html
    assert not Customer.objects.exists()


def test_an_invalid_phone_number_is_explained(staff_client: Client, stamp_program: Program) -> None:
    response = staff_client.post(
        ADD, {"first_name": "Ann", "phone": "+1 555", "program": stamp_program.pk}
    )
    assert response.status_code == 422
    assert "Enter a valid phone number" in response.text
    assert not Customer.objects.exists()


def test_a_taken_email_is_refused_with_a_clear_message(
    staff_client: Client, stamp_program: Program
) -> None:
    CustomerFactory(merchant=stamp_program.merchant, email="ann@example.com")
    response = staff_client.post(
        ADD, {"first_name": "Ann", "email": "ANN@example.com", "program": stamp_program.pk}
    )
    assert response.status_code == 422
    assert "already uses this email" in response.text
    assert Customer.objects.count() == 1


def test_another_merchants_or_an_archived_program_cannot_be_chosen(
    staff_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    foreign = StampProgramFactory(merchant=other_merchant)
    archived = StampProgramFactory(merchant=merchant, archived_at=timezone.now())
    html = staff_client.get(ADD).text
    assert f'value="{foreign.pk}"' not in html
    for program in (foreign, archived):
        response = staff_client.post(ADD, {"first_name": "Ann", "program": program.pk})
        assert response.status_code == 422
    assert not Customer.objects.exists()


def test_without_programs_the_form_says_to_create_one(staff_client: Client, merchant: Any) -> None:
    html = staff_client.get(ADD).text
    assert "Create a loyalty program first" in html
