"""The join page speaks the visitor's language (else the merchant's), and the new customer keeps
it for what is sent to them later."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards.models import Program
from customers.models import Customer
from loyalty.models import Merchant
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db

PERSON = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": ""}


def join(client: Client, program: Program, **headers: str) -> Any:
    return client.post(reverse("public:join", args=[program.join_token]), PERSON, **headers)


def test_a_customer_joining_in_spanish_is_kept_in_spanish(
    client: Client, stamp_program: Program
) -> None:
    response = join(client, stamp_program, HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 302
    assert Customer.objects.get(email="ada@example.com").language == "es"


def test_a_regional_variant_is_kept_as_its_language(client: Client, stamp_program: Program) -> None:
    join(client, stamp_program, HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.9,en;q=0.5")

    assert Customer.objects.get(email="ada@example.com").language == "de"


@pytest.mark.parametrize("header", ["fr-FR,fr;q=0.9", ""])
def test_a_browser_language_we_do_not_speak_gets_the_merchants_default(
    client: Client, merchant: Merchant, stamp_program: Program, header: str
) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(language="de")

    join(client, stamp_program, HTTP_ACCEPT_LANGUAGE=header)

    assert Customer.objects.get(email="ada@example.com").language == "de"


def test_the_join_page_answers_in_the_browsers_language(
    client: Client, stamp_program: Program
) -> None:
    response = client.get(
        reverse("public:join", args=[stamp_program.join_token]), HTTP_ACCEPT_LANGUAGE="es"
    )

    assert response.status_code == 200
    assert response["Content-Language"] == "es"


def test_a_known_customer_keeps_their_language(
    client: Client, merchant: Merchant, stamp_program: Program
) -> None:
    CustomerFactory(merchant=merchant, email="ada@example.com", language="de")

    join(client, stamp_program, HTTP_ACCEPT_LANGUAGE="es")

    assert Customer.objects.get(email="ada@example.com").language == "de"


def test_the_link_email_is_written_in_the_customers_language(
    client: Client, merchant: Merchant, stamp_program: Program, mailoutbox: list[Any]
) -> None:
    customer = CustomerFactory(merchant=merchant, email="ada@example.com", language="de")
    issue_card(stamp_program, customer=customer)

    response = join(client, stamp_program, HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 200
    assert response["Content-Language"] == "es"  # the page: the browser's language
    [email] = mailoutbox  # the email: the language the customer joined in
    assert email.subject == f"Ihre Karte {stamp_program.name} von {merchant.name}"


def test_a_customer_without_a_language_gets_emails_in_the_merchants(
    client: Client, merchant: Merchant, stamp_program: Program, mailoutbox: list[Any]
) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(language="de")
    customer = CustomerFactory(merchant=merchant, email="ada@example.com", language="")
    issue_card(stamp_program, customer=customer)

    join(client, stamp_program, HTTP_ACCEPT_LANGUAGE="es")

    [email] = mailoutbox
    assert email.subject.startswith("Ihre Karte ")
    assert email.body.startswith("Hallo ")
