"""Customers rate their last visit from the card page: 1-5 stars, an optional comment."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card
from feedback.models import Feedback
from feedback.services import feedback_leave
from tests.factories import issue_card

pytestmark = pytest.mark.django_db


def visit(card: Card) -> None:
    services.card_add_transaction_amount(card=card, value="12", actor=None)


def card_url(card: Card) -> str:
    return reverse("public:card", args=[card.install_token])


def rate(client: Client, card: Card, **data: Any) -> Any:
    return client.post(reverse("public:card_feedback", args=[card.install_token]), data)


def test_there_is_nothing_to_rate_before_the_first_visit(client: Client, stamp_card: Card) -> None:
    page = client.get(card_url(stamp_card)).content.decode()

    assert 'name="rating"' not in page
    assert "After your first visit" in page
    response = rate(client, stamp_card, rating="5")
    assert response.status_code == 422
    assert "after your first visit" in response.content.decode()
    assert not Feedback.objects.exists()


def test_after_a_visit_the_card_page_offers_stars_and_a_comment(
    client: Client, stamp_card: Card
) -> None:
    visit(stamp_card)

    page = client.get(card_url(stamp_card)).content.decode()

    for stars in range(1, 6):
        assert f'name="rating" value="{stars}"' in page
    assert 'name="comment"' in page
    # Without JavaScript the comment box is simply there; card.js hides it for 5 stars.
    assert "data-comment-box" in page


def test_a_rating_is_recorded_for_the_visit(client: Client, stamp_card: Card) -> None:
    visit(stamp_card)

    response = rate(client, stamp_card, rating="4", comment="  Music a bit loud  ")

    assert response.status_code == 302
    assert response["Location"] == card_url(stamp_card) + "#feedback"
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == (4, "Music a bit loud")
    assert feedback.visit_number == 1
    assert feedback.card == stamp_card
    assert feedback.customer == stamp_card.customer
    assert feedback.merchant == stamp_card.merchant
    page = client.get(card_url(stamp_card)).content.decode()
    assert "You rated your last visit 4 out of 5." in page
    assert 'name="rating"' not in page


def test_one_rating_per_visit(client: Client, stamp_card: Card) -> None:
    visit(stamp_card)
    rate(client, stamp_card, rating="5")

    response = rate(client, stamp_card, rating="1", comment="changed my mind")

    assert response.status_code == 422
    assert "You already rated your last visit" in response.content.decode()
    assert Feedback.objects.count() == 1


def test_a_new_visit_allows_a_new_rating(client: Client, stamp_card: Card) -> None:
    visit(stamp_card)
    rate(client, stamp_card, rating="5")
    visit(stamp_card)

    response = rate(client, stamp_card, rating="3")

    assert response.status_code == 302
    assert list(
        Feedback.objects.order_by("visit_number").values_list("visit_number", "rating")
    ) == [
        (1, 5),
        (2, 3),
    ]


def test_the_database_refuses_a_second_rating_for_one_visit(stamp_card: Card) -> None:
    visit(stamp_card)
    feedback_leave(card=stamp_card, rating=5)

    with pytest.raises(ValidationError, match="already rated"):
        feedback_leave(card=stamp_card, rating=2)


@pytest.mark.parametrize("rating", ["0", "6", "abc", "", "4.5"])
def test_only_one_to_five_stars(client: Client, stamp_card: Card, rating: str) -> None:
    visit(stamp_card)

    response = rate(client, stamp_card, rating=rating)

    assert response.status_code == 422
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("rating", [0, 6, None, "x"])
def test_the_service_checks_the_rating_too(stamp_card: Card, rating: Any) -> None:
    visit(stamp_card)

    with pytest.raises(ValidationError, match="Choose from 1 to 5 stars"):
        feedback_leave(card=stamp_card, rating=rating)


def test_a_comment_has_a_length_limit(client: Client, stamp_card: Card) -> None:
    visit(stamp_card)

    response = rate(client, stamp_card, rating="2", comment="x" * 1001)

    assert response.status_code == 422
    assert not Feedback.objects.exists()


def test_an_expired_card_takes_no_rating(stamp_card: Card) -> None:
    visit(stamp_card)
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2020, 1, 1), actor=None)

    with pytest.raises(ValidationError, match="expired"):
        feedback_leave(card=stamp_card, rating=5)


def test_a_deleted_card_takes_no_rating(client: Client, stamp_card: Card) -> None:
    visit(stamp_card)
    services.card_delete(card=stamp_card, actor=None)

    assert rate(client, stamp_card, rating="5").status_code == 410
    with pytest.raises(ValidationError, match="no longer valid"):
        feedback_leave(card=stamp_card, rating=5)
    assert not Feedback.objects.exists()


def test_feedback_needs_the_csrf_token(stamp_card: Card) -> None:
    visit(stamp_card)
    client = Client(enforce_csrf_checks=True)

    assert rate(client, stamp_card, rating="5").status_code == 403
    assert not Feedback.objects.exists()


def test_feedback_is_rate_limited_per_card(client: Client, stamp_card: Card) -> None:
    visit(stamp_card)
    for _ in range(5):
        assert rate(client, stamp_card, rating="9").status_code == 422

    response = rate(client, stamp_card, rating="5")

    assert response.status_code == 429
    assert not Feedback.objects.exists()


def test_feedback_is_rate_limited_per_address(client: Client, stamp_program: Any) -> None:
    cards = [issue_card(stamp_program) for _ in range(5)]
    for card in cards:
        visit(card)
        for _ in range(4):
            assert rate(client, card, rating="9").status_code == 422

    other_card = issue_card(stamp_program)
    visit(other_card)
    assert rate(client, other_card, rating="5").status_code == 429
    assert rate(Client(REMOTE_ADDR="198.51.100.7"), other_card, rating="5").status_code == 302
