"""The join page cannot be used to take someone's card, nor to learn whether someone is a
customer: a known email's card goes only to its inbox (with a new link unless the address was
proven), and every known contact gets the same page."""

from __future__ import annotations

import datetime
import re
import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards import services as card_services
from cards.models import Card, Program, RetiredCardLink
from customers import services
from customers.models import Customer
from loyalty.models import AuditAction, AuditEvent, Merchant
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.com"


def join(program: Program, address: str = "198.51.100.1", **data: str) -> Any:
    """One visitor (a browser of its own, from its own address) fills in the join form."""
    form = {"first_name": "Ada", "last_name": "Lovelace", "email": VICTIM, "phone": ""}
    form.update(data)
    return Client(REMOTE_ADDR=address).post(reverse("public:join", args=[program.join_token]), form)


def emailed_link(message: Any) -> str:
    """The card link of an email, as a path with its query (what the test client opens)."""
    match = re.search(r"https?://[^/\s]+(/c/[^\s]+)", message.body)
    assert match is not None, message.body
    return match.group(1)


# ---------------------------------------------------------------------------------------------
# Taking over a future customer's card


def test_someone_who_typed_another_persons_email_loses_the_card_when_its_owner_joins(
    stamp_program: Program,
) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    # The attacker types the victim's email and is shown the card at once (the counter flow).
    response = attacker.post(
        reverse("public:join", args=[stamp_program.join_token]),
        {"first_name": "Mallory", "last_name": "", "email": VICTIM, "phone": ""},
    )
    assert response.status_code == 302
    attackers_link = response["Location"]
    assert attacker.get(attackers_link).status_code == 200
    customer = Customer.objects.get(email=VICTIM)
    assert customer.email_verified_at is None  # typed by whoever filled the form

    # The victim joins later with their own email.
    response = join(stamp_program)

    assert response.status_code == 200
    card = Card.objects.get(program=stamp_program)
    assert reverse("public:card", args=[card.install_token]) != attackers_link.split("?")[0]
    [message] = mail.outbox
    assert message.to == [VICTIM]
    victims_link = emailed_link(message)
    assert victims_link.startswith(reverse("public:card", args=[card.install_token]) + "?")
    assert "the links it had before no longer open it" in message.body
    # The attacker's link is dead everywhere; the inbox's owner has the card.
    assert attacker.get(attackers_link).status_code == 410
    victim = Client()
    opened = victim.get(victims_link)
    assert opened.status_code == 302
    assert victim.get(opened["Location"]).status_code == 200
    customer.refresh_from_db()
    assert customer.email_verified_at is not None


def test_the_takeover_rotation_is_audited_as_the_system(stamp_program: Program) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    card = issue_card(stamp_program, customer=customer)

    join(stamp_program)

    event = AuditEvent.objects.get(action=AuditAction.CARD_LINK_ROTATED)
    assert (event.actor, event.actor_name) == (None, "System (join page)")
    assert card.serial in event.summary
    assert event.details["reason"] == "unconfirmed_email"


def test_a_verified_email_gets_its_link_again_without_a_new_one(stamp_program: Program) -> None:
    customer = CustomerFactory(
        merchant=stamp_program.merchant, email=VICTIM, email_verified_at=timezone.now()
    )
    card = issue_card(stamp_program, customer=customer)

    join(stamp_program)

    card.refresh_from_db()
    [message] = mail.outbox
    assert emailed_link(message).startswith(reverse("public:card", args=[card.install_token]))
    assert "no longer open it" not in message.body
    assert not RetiredCardLink.objects.exists()


def test_a_new_card_of_a_known_customer_keeps_the_link_it_was_emailed_with(
    stamp_program: Program, cashback_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    issue_card(cashback_program, customer=customer)

    join(stamp_program)

    # Nobody saw the new card's link before the email: nothing to replace.
    new = Card.objects.get(program=stamp_program)
    [message] = mail.outbox
    assert emailed_link(message).startswith(reverse("public:card", args=[new.install_token]))
    assert not RetiredCardLink.objects.exists()


def test_the_email_limit_also_limits_the_rotations(stamp_program: Program) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    issue_card(stamp_program, customer=customer)

    for _ in range(5):
        join(stamp_program)

    # Never a new link without an email carrying it.
    assert len(mail.outbox) == 3
    assert RetiredCardLink.objects.count() == 3


# ---------------------------------------------------------------------------------------------
# Verified emails


def test_an_email_typed_on_the_join_form_is_not_verified(stamp_program: Program) -> None:
    join(stamp_program)

    assert Customer.objects.get(email=VICTIM).email_verified_at is None


def test_an_email_typed_in_the_dashboard_is_verified(
    merchant: Merchant, stamp_program: Program, staff: Any
) -> None:
    card = services.customer_register(
        merchant=merchant, program=stamp_program, actor=staff, first_name="Ada", email=VICTIM
    )

    assert card.customer is not None
    assert card.customer.email_verified_at is not None


def test_a_customer_registered_without_an_email_has_nothing_verified(
    merchant: Merchant, stamp_program: Program, staff: Any
) -> None:
    card = services.customer_register(
        merchant=merchant, program=stamp_program, actor=staff, first_name="Ada"
    )

    assert card.customer is not None
    assert card.customer.email_verified_at is None


def test_an_email_changed_in_the_dashboard_is_verified_from_then(merchant: Merchant) -> None:
    customer = CustomerFactory(merchant=merchant, email="typed@example.com")
    before = timezone.now()

    services.customer_update(
        customer=customer,
        first_name="Ada",
        last_name="",
        email="real@example.com",
        phone="",
        birthday=None,
    )

    customer.refresh_from_db()
    assert customer.email_verified_at is not None
    assert customer.email_verified_at >= before


def test_other_changes_in_the_dashboard_do_not_vouch_for_a_typed_email(
    merchant: Merchant,
) -> None:
    customer = CustomerFactory(merchant=merchant, email="typed@example.com")

    services.customer_update(
        customer=customer,
        first_name="Renamed",
        last_name="",
        email="TYPED@example.com",
        phone="",
        birthday=None,
    )

    customer.refresh_from_db()
    assert customer.email_verified_at is None


def _sent_link(card: Card) -> str:
    mail.outbox.clear()
    card_services.card_send_link(card=card, reason=card_services.LinkReason.RESTORE)
    return emailed_link(mail.outbox[0])


def test_opening_the_emailed_link_verifies_the_address_and_drops_the_confirmation(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    card = issue_card(stamp_program, customer=customer)

    response = client.get(_sent_link(card))

    assert response.status_code == 302
    assert response["Location"] == reverse("public:card", args=[card.install_token])
    customer.refresh_from_db()
    assert customer.email_verified_at is not None


def test_a_tampered_confirmation_verifies_nothing(client: Client, stamp_program: Program) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    card = issue_card(stamp_program, customer=customer)

    response = client.get(_sent_link(card) + "x")

    assert response.status_code == 302  # still the card, without the parameter
    customer.refresh_from_db()
    assert customer.email_verified_at is None


def test_a_confirmation_of_another_card_verifies_nothing(
    client: Client, stamp_program: Program, cashback_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    card = issue_card(stamp_program, customer=customer)
    other = issue_card(cashback_program, customer=customer)
    query = _sent_link(other).split("?", 1)[1]

    client.get(reverse("public:card", args=[card.install_token]) + "?" + query)

    customer.refresh_from_db()
    assert customer.email_verified_at is None


def test_an_expired_confirmation_verifies_nothing(
    client: Client, stamp_program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    card = issue_card(stamp_program, customer=customer)
    long_ago = time.time() - datetime.timedelta(days=15).total_seconds()
    # Signed 15 days ago (only the signing module's clock moves).
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: long_ago))
    link = _sent_link(card)
    monkeypatch.undo()

    client.get(link)

    customer.refresh_from_db()
    assert customer.email_verified_at is None


def test_a_link_sent_to_an_address_changed_since_verifies_nothing(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email=VICTIM)
    card = issue_card(stamp_program, customer=customer)
    link = _sent_link(card)
    Customer.objects.filter(pk=customer.pk).update(email="someone.else@example.com")

    client.get(link)

    customer.refresh_from_db()
    assert customer.email_verified_at is None


# ---------------------------------------------------------------------------------------------
# One page for every known contact


def _known_contacts(program: Program, cashback: Program) -> dict[str, dict[str, str]]:
    """What to type to hit each way of being known, each on its own customer."""
    merchant = program.merchant
    issue_card(program, customer=CustomerFactory(merchant=merchant, email="holder@example.com"))
    issue_card(cashback, customer=CustomerFactory(merchant=merchant, email="other@example.com"))
    CustomerFactory(merchant=merchant, email="", phone="+14155550101")
    issue_card(program, customer=CustomerFactory(merchant=merchant, email="", phone="+14155550102"))
    issue_card(program, customer=CustomerFactory(merchant=merchant, email="limited@example.com"))
    return {
        "holds_a_card": {"email": "holder@example.com"},
        "has_no_card_of_this_program": {"email": "other@example.com"},
        "known_by_phone_only": {"email": "new1@example.com", "phone": "+1 415 555 0101"},
        "holds_a_card_without_an_email": {"email": "new2@example.com", "phone": "4155550102"},
        "email_rate_limited": {"email": "limited@example.com"},
    }


def test_every_known_contact_gets_the_same_page(
    stamp_program: Program, cashback_program: Program
) -> None:
    contacts = _known_contacts(stamp_program, cashback_program)
    for _ in range(3):  # the limit of emails for this card, used up
        join(stamp_program, **contacts["email_rate_limited"])

    responses = {
        case: join(stamp_program, address=f"198.51.100.{n}", **typed)
        for n, (case, typed) in enumerate(contacts.items(), start=10)
    }

    reference = responses["holds_a_card"]
    assert reference.status_code == 200
    assert "If this email address or phone number is already registered at Demo Coffee" in (
        reference.content.decode()
    )
    for case, response in responses.items():
        assert response.status_code == reference.status_code, case
        assert response.content == reference.content, case
        assert response.get("Content-Language") == reference.get("Content-Language"), case
    # Each was handled as before behind that page: links went only to the addresses on file.
    assert sorted(to for m in mail.outbox for to in m.to) == sorted(
        ["holder@example.com", "other@example.com"] + ["limited@example.com"] * 3
    )


def test_a_new_contact_still_gets_the_card_at_once(stamp_program: Program) -> None:
    response = join(stamp_program, email="brand.new@example.com")

    card = Card.objects.get(program=stamp_program)
    assert response.status_code == 302
    assert response["Location"] == reverse("public:card", args=[card.install_token]) + "?joined=1"
    assert mail.outbox == []
