"""Referral links: a newcomer joining through a card's link credits that card, once."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card, LedgerEntry, Program, Source
from customers.models import Customer
from tests.factories import CustomerFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db


def referral_url(card: Card) -> str:
    return reverse("public:referral", args=[card.referral_token])


def join_through(
    client: Client, referrer: Card, program: Program | None = None, **data: str
) -> Any:
    """Follow the referral link to the join page, then send the form as a browser would."""
    program = program or referrer.program
    landing = client.get(referral_url(referrer))
    query = parse_qs(urlparse(landing["Location"]).query)
    form = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "phone": "",
        "ref": query["ref"][0],
    }
    form.update(data)
    return client.post(reverse("public:join", args=[program.join_token]), form)


def test_a_referral_link_opens_the_join_page_with_the_referrer_attached(
    client: Client, stamp_card: Card
) -> None:
    response = client.get(referral_url(stamp_card) + "?utm_source=whatsapp")

    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == reverse("public:join", args=[stamp_card.program.join_token])
    assert parse_qs(location.query) == {
        "ref": [stamp_card.referral_token],
        "utm_source": ["whatsapp"],
    }
    page = client.get(response["Location"]).content.decode()
    assert f'name="ref" value="{stamp_card.referral_token}"' in page
    assert "A friend invited you." in page
    # Nothing about the referrer is shown to the newcomer.
    assert stamp_card.holder_name not in page


def test_joining_through_a_referral_link_credits_the_referrer(
    client: Client, stamp_card: Card
) -> None:
    join_through(client, stamp_card)

    newcomer = Card.objects.exclude(pk=stamp_card.pk).get()
    stamp_card.refresh_from_db()
    assert stamp_card.referral_stamps == 2
    assert stamp_card.stamps_balance == 2
    bonus = LedgerEntry.objects.get(card=stamp_card, kind="referral_bonus")
    assert bonus.source == Source.REFERRAL
    assert bonus.referred_card == newcomer
    assert newcomer.referred_by == stamp_card


def test_a_referral_on_a_cashback_card_credits_points(client: Client, cashback_card: Card) -> None:
    join_through(client, cashback_card)

    cashback_card.refresh_from_db()
    assert cashback_card.referral_points == Decimal("5.00")
    assert cashback_card.points_balance == Decimal("5.00")


def test_referral_stamps_convert_into_rewards(client: Client, stamp_card: Card) -> None:
    services.card_add_stamps(card=stamp_card, value=9, actor=None)

    join_through(client, stamp_card)

    stamp_card.refresh_from_db()
    assert (stamp_card.stamps_balance, stamp_card.rewards_available) == (1, 1)
    assert stamp_card.referral_stamps == 2


def test_the_referral_shows_in_the_referrers_card_history(client: Client, stamp_card: Card) -> None:
    join_through(client, stamp_card)

    page = client.get(reverse("public:card", args=[stamp_card.install_token])).content.decode()
    assert "Thanks for inviting a friend" in page
    assert "+2 stamps" in page


def test_a_new_card_credits_its_referrer_only_once(client: Client, stamp_card: Card) -> None:
    join_through(client, stamp_card)
    newcomer = Card.objects.exclude(pk=stamp_card.pk).get()

    assert services.card_credit_referral(referrer=stamp_card, new_card=newcomer) is not None
    stamp_card.refresh_from_db()
    assert stamp_card.referral_stamps == 2
    assert LedgerEntry.objects.filter(kind="referral_bonus").count() == 1


def test_the_referrer_joining_through_their_own_link_credits_nothing(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email="grace@example.com")
    own = issue_card(stamp_program, customer=customer)

    response = join_through(client, own)

    assert "You already have this card" in response.content.decode()
    own.refresh_from_db()
    assert own.referral_stamps == 0
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


def test_no_credit_for_a_customer_who_already_had_a_card_of_the_program(
    client: Client, stamp_card: Card
) -> None:
    returning = CustomerFactory(merchant=stamp_card.merchant, email="grace@example.com")
    old = issue_card(stamp_card.program, customer=returning)
    services.card_delete(card=old, actor=None)

    join_through(client, stamp_card)

    new = Card.objects.exclude(pk__in=[stamp_card.pk, old.pk]).get()
    assert new.customer == returning
    assert new.referred_by is None
    stamp_card.refresh_from_db()
    assert stamp_card.referral_stamps == 0


def test_a_known_customer_new_to_the_program_credits_the_referrer(
    client: Client, stamp_card: Card, cashback_program: Program
) -> None:
    known = CustomerFactory(merchant=stamp_card.merchant, email="grace@example.com")
    issue_card(cashback_program, customer=known)

    join_through(client, stamp_card)

    stamp_card.refresh_from_db()
    assert stamp_card.referral_stamps == 2


def test_a_referral_link_of_another_program_credits_nothing(
    client: Client, stamp_card: Card, merchant: Any
) -> None:
    other_program = StampProgramFactory(merchant=merchant, name="Bakery Card")

    join_through(client, stamp_card, program=other_program)

    new = Card.objects.get(program=other_program)
    assert new.referred_by is None
    stamp_card.refresh_from_db()
    assert stamp_card.referral_stamps == 0


def test_a_deleted_referrer_is_not_credited(client: Client, stamp_card: Card) -> None:
    services.card_delete(card=stamp_card, actor=None)

    join_through(client, stamp_card)

    new = Card.objects.exclude(pk=stamp_card.pk).get()
    assert new.referred_by is None
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


def test_an_expired_referrer_is_not_credited(client: Client, stamp_card: Card) -> None:
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2020, 1, 1), actor=None)

    join_through(client, stamp_card)

    assert Card.objects.count() == 2
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


def test_no_referral_bonus_when_the_program_has_none(client: Client, merchant: Any) -> None:
    program = StampProgramFactory(merchant=merchant, referral_bonus=Decimal("0"))
    referrer = issue_card(program)

    join_through(client, referrer)

    assert Card.objects.count() == 2
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


def test_an_unknown_referral_link_is_not_found(client: Client, stamp_card: Card) -> None:
    assert client.get("/r/not-a-real-token/").status_code == 404
    # Neither the install token nor the serial open a referral.
    assert client.get(f"/r/{stamp_card.install_token}/").status_code == 404
    assert client.get(f"/r/{stamp_card.serial}/").status_code == 404


def test_joins_through_one_referral_link_are_rate_limited(client: Client, stamp_card: Card) -> None:
    for n in range(10):
        response = join_through(client, stamp_card, email=f"friend{n}@example.com")
        assert response.status_code == 302

    response = join_through(client, stamp_card, email="one-too-many@example.com")

    assert response.status_code == 429
    assert Customer.objects.filter(email="one-too-many@example.com").count() == 0
    stamp_card.refresh_from_db()
    assert stamp_card.referral_stamps == 20
