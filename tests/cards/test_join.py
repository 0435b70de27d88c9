"""The public join page: a customer fills the form and gets a card, once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards import services
from cards.models import Card, CardStatus, CustomField, FieldType, LedgerEntry, Program, Source
from customers.models import Customer
from tests.factories import CustomerFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db


def join_url(program: Program) -> str:
    return reverse("public:join", args=[program.join_token])


def person(**overrides: str) -> dict[str, str]:
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "",
    }
    data.update(overrides)
    return data


def join(client: Client, program: Program, **data: Any) -> Any:
    return client.post(join_url(program), person(**data))


def test_join_page_shows_the_program_and_its_form(client: Client, stamp_program: Program) -> None:
    response = client.get(join_url(stamp_program))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Demo Coffee" in page
    assert stamp_program.name in page
    for name in ("first_name", "last_name", "email", "phone"):
        assert f'name="{name}"' in page


def test_joining_creates_the_customer_and_opens_their_new_card(
    client: Client, stamp_program: Program
) -> None:
    response = join(client, stamp_program, phone="+1 415 555 0123")

    card = Card.objects.get(program=stamp_program)
    assert response.status_code == 302
    assert response["Location"] == reverse("public:card", args=[card.install_token]) + "?joined=1"
    customer = card.customer
    assert customer is not None
    assert (customer.first_name, customer.last_name) == ("Ada", "Lovelace")
    assert customer.email == "ada@example.com"
    assert customer.phone == "+14155550123"
    assert card.holder_name == "Ada Lovelace"
    assert card.status == CardStatus.NOT_INSTALLED
    issued = LedgerEntry.objects.get(card=card)
    assert issued.source == Source.CARD_PAGE


def test_join_without_utm_leaves_the_card_without_a_source(
    client: Client, stamp_program: Program
) -> None:
    join(client, stamp_program)

    card = Card.objects.get(program=stamp_program)
    assert (card.utm_source, card.utm_medium, card.utm_campaign) == ("", "", "")
    assert (card.utm_term, card.utm_content) == ("", "")


def test_utm_parameters_of_the_join_link_are_stored_on_the_card(
    client: Client, stamp_program: Program
) -> None:
    query = (
        "?utm_source=instagram&utm_medium=social&utm_campaign=spring"
        "&utm_term=coffee&utm_content=story&utm_other=ignored"
    )
    page = client.get(join_url(stamp_program) + query).content.decode()
    # The link's parameters ride along with the form.
    assert 'name="utm_source" value="instagram"' in page
    assert "utm_other" not in page

    form = person(
        utm_source="instagram",
        utm_medium="social",
        utm_campaign="spring",
        utm_term="coffee",
        utm_content="story",
    )
    client.post(join_url(stamp_program), form)

    card = Card.objects.get(program=stamp_program)
    assert card.utm_source == "instagram"
    assert card.utm_medium == "social"
    assert card.utm_campaign == "spring"
    assert card.utm_term == "coffee"
    assert card.utm_content == "story"


def test_an_overlong_utm_value_is_cut_to_fit(client: Client, stamp_program: Program) -> None:
    client.post(join_url(stamp_program), person(utm_source="x" * 500))

    assert Card.objects.get(program=stamp_program).utm_source == "x" * 100


@pytest.fixture
def program_with_fields(stamp_program: Program) -> Program:
    CustomField.objects.create(
        program=stamp_program, key="favourite", label="Favourite drink", required=True
    )
    CustomField.objects.create(
        program=stamp_program, key="cups", label="Cups a day", field_type=FieldType.NUMBER
    )
    CustomField.objects.create(
        program=stamp_program,
        key="size",
        label="Usual size",
        field_type=FieldType.CHOICE,
        choices=["Small", "Large"],
    )
    CustomField.objects.create(
        program=stamp_program, key="since", label="Customer since", field_type=FieldType.DATE
    )
    return stamp_program


def test_the_join_form_asks_the_programs_custom_fields(
    client: Client, program_with_fields: Program
) -> None:
    page = client.get(join_url(program_with_fields)).content.decode()

    for label in ("Favourite drink", "Cups a day", "Usual size", "Customer since"):
        assert label in page


def test_a_required_custom_field_must_be_answered(
    client: Client, program_with_fields: Program
) -> None:
    response = join(client, program_with_fields)

    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert not Customer.objects.exists()
    assert not Card.objects.exists()


def test_custom_field_answers_are_stored_on_the_customer(
    client: Client, program_with_fields: Program
) -> None:
    response = join(
        client,
        program_with_fields,
        custom_favourite="Flat white",
        custom_cups="2",
        custom_size="Large",
        custom_since="2024-05-01",
    )

    assert response.status_code == 302
    customer = Customer.objects.get()
    assert customer.custom_fields == {
        "favourite": "Flat white",
        "cups": "2",
        "size": "Large",
        "since": "2024-05-01",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("custom_cups", "many"), ("custom_size", "Huge"), ("custom_since", "yesterday")],
)
def test_each_custom_field_type_is_validated(
    client: Client, program_with_fields: Program, field: str, value: str
) -> None:
    response = join(client, program_with_fields, custom_favourite="Tea", **{field: value})

    assert response.status_code == 422
    assert not Card.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first_name": ""}, "This field is required."),
        ({"email": ""}, "This field is required."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"phone": "12"}, "Enter a valid phone number"),
    ],
)
def test_the_person_is_validated(
    client: Client, stamp_program: Program, data: dict[str, str], message: str
) -> None:
    response = join(client, stamp_program, **data)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Card.objects.exists()


def test_the_welcome_bonus_is_credited_to_a_newcomer(client: Client, merchant: Any) -> None:
    program = StampProgramFactory(merchant=merchant, welcome_bonus=Decimal("3"))

    join(client, program)

    card = Card.objects.get(program=program)
    assert card.stamps_balance == 3
    assert card.entries.filter(kind="welcome_bonus").count() == 1


KNOWN_CONTACT = "we sent the card's link to the email address on file"


def test_a_duplicate_email_gets_no_second_card_and_a_restore_link(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(
        merchant=stamp_program.merchant, email="ada@example.com", email_verified_at=timezone.now()
    )
    held = issue_card(stamp_program, customer=customer)

    response = join(client, stamp_program, email="ADA@example.com", first_name="Someone")

    assert response.status_code == 200
    page = response.content.decode()
    assert KNOWN_CONTACT in page
    assert Card.objects.filter(program=stamp_program).count() == 1
    assert Customer.objects.count() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert reverse("public:card", args=[held.install_token]) in message.body
    # The page itself never shows the card or its link.
    assert held.install_token not in page
    assert held.serial not in page


def test_a_duplicate_phone_gets_no_second_card_and_the_link_goes_to_the_email_on_file(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(
        merchant=stamp_program.merchant, email="owner@example.com", phone="+14155550123"
    )
    issue_card(stamp_program, customer=customer)

    response = join(client, stamp_program, email="other@example.com", phone="(415) 555-0123")

    assert KNOWN_CONTACT in response.content.decode()
    assert Card.objects.filter(program=stamp_program).count() == 1
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]


def test_a_duplicate_without_an_email_on_file_is_told_to_ask_at_the_counter(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email="", phone="+14155550123")
    issue_card(stamp_program, customer=customer)

    response = join(client, stamp_program, email="new@example.com", phone="+1 415 555 0123")

    page = response.content.decode()
    assert "ask the staff at the counter" in page
    assert Card.objects.filter(program=stamp_program).count() == 1
    assert mail.outbox == []


def test_restore_emails_for_one_card_are_limited(client: Client, stamp_program: Program) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email="ada@example.com")
    issue_card(stamp_program, customer=customer)

    for _ in range(5):
        assert join(client, stamp_program).status_code == 200

    assert len(mail.outbox) == 3


def test_a_known_customer_gets_a_card_of_another_program_by_email(
    client: Client, stamp_program: Program, cashback_program: Program
) -> None:
    customer = CustomerFactory(
        merchant=stamp_program.merchant,
        first_name="Ada",
        last_name="Byron",
        email="ada@example.com",
    )
    issue_card(cashback_program, customer=customer)

    response = join(client, stamp_program, first_name="Mallory", last_name="Evil")

    card = Card.objects.get(program=stamp_program)
    assert card.customer == customer
    # What was typed does not rename the CRM record or the card.
    assert card.holder_name == "Ada Byron"
    customer.refresh_from_db()
    assert customer.first_name == "Ada"
    assert Customer.objects.count() == 1
    # Whoever typed the email sees no card: its link went to the address on file.
    assert response.status_code == 200
    assert card.install_token not in response.content.decode()
    assert "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1
    assert reverse("public:card", args=[card.install_token]) in mail.outbox[0].body


def test_a_deleted_card_does_not_block_joining_again(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email="ada@example.com", phone="")
    old = issue_card(stamp_program, customer=customer)
    services.card_delete(card=old, actor=None)
    stamp_program.welcome_bonus = Decimal("3")
    stamp_program.save()

    join(client, stamp_program)

    new = Card.objects.exclude(pk=old.pk).get(program=stamp_program)
    assert new.customer == customer
    # Not a newcomer: the welcome bonus was for their first card of this program.
    assert new.stamps_balance == 0


def test_an_archived_program_takes_no_new_members(client: Client, stamp_program: Program) -> None:
    stamp_program.archived_at = timezone.now()
    stamp_program.save()

    assert client.get(join_url(stamp_program)).status_code == 410
    response = join(client, stamp_program)

    assert response.status_code == 410
    assert "no longer offered" in response.content.decode()
    assert not Card.objects.exists()


def test_an_unknown_join_link_is_not_found(client: Client, stamp_program: Program) -> None:
    assert client.get("/join/not-a-real-token-at-all/").status_code == 404
    assert client.get(f"/join/{stamp_program.pk}/").status_code == 404


def test_the_join_form_needs_its_csrf_token(stamp_program: Program) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(join_url(stamp_program), person())

    assert response.status_code == 403
    assert not Card.objects.exists()


def test_joining_is_rate_limited_per_address(client: Client, stamp_program: Program) -> None:
    for _ in range(20):
        assert join(client, stamp_program, email="bad").status_code == 422

    response = join(client, stamp_program)

    assert response.status_code == 429
    assert response["Retry-After"]
    assert not Card.objects.exists()
    # Another address is not affected.
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert other.post(join_url(stamp_program), person()).status_code == 302


def test_what_a_customer_types_is_escaped(client: Client, stamp_program: Program) -> None:
    response = join(client, stamp_program, first_name="<script>alert(1)</script>", last_name="")

    page = client.get(response["Location"]).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_the_join_page_is_not_cached_or_indexed(client: Client, stamp_program: Program) -> None:
    response = client.get(join_url(stamp_program))

    assert "no-store" in response["Cache-Control"]
    assert "noindex" in response["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()


def test_the_join_qr_code_is_an_svg_of_the_join_link(
    client: Client, stamp_program: Program
) -> None:
    response = client.get(reverse("public:join_qr", args=[stamp_program.join_token]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert client.get("/join/unknown-token/qr.svg").status_code == 404


def test_a_phone_known_without_an_email_on_file_is_sent_to_the_counter(
    client: Client, stamp_program: Program, cashback_program: Program
) -> None:
    known = CustomerFactory(
        merchant=stamp_program.merchant, first_name="Secret", email="", phone="+14155550123"
    )
    issue_card(cashback_program, customer=known)

    response = join(client, stamp_program, email="someone@example.com", phone="415 555 0123")

    page = response.content.decode()
    assert response.status_code == 200
    assert "ask the staff at the counter" in page
    # Typing a phone number reveals nothing about its owner, and makes nothing.
    assert "Secret" not in page
    assert not Card.objects.filter(program=stamp_program).exists()
    assert Customer.objects.count() == 1
    assert mail.outbox == []
