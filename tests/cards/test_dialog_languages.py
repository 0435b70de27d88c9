"""The plus/minus dialogs and the profile in the user's language: refusals, amounts, money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card
from loyalty.models import UserPreference
from tests.cards.dialog_support import apply_dialog, field_errors, snapshot, text, trigger_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def spanish_owner(owner_client: Client, owner: Any) -> Client:
    UserPreference.objects.create(user=owner, language="es")
    return owner_client


@pytest.fixture
def german_owner(owner_client: Client, owner: Any) -> Client:
    UserPreference.objects.create(user=owner, language="de")
    return owner_client


def test_a_ledger_refusal_arrives_in_spanish_and_changes_nothing(
    spanish_owner: Client, stamp_card: Card
) -> None:
    before = snapshot(stamp_card)
    response = apply_dialog(spanish_owner, stamp_card, "transaction_amount_add", value="doce")
    assert response.status_code == 422
    assert field_errors(response, "value") == [
        "Introduce el importe como número, por ejemplo 12,50."
    ]
    assert snapshot(stamp_card) == before


def test_a_ledger_refusal_arrives_in_german(german_owner: Client, stamp_card: Card) -> None:
    response = apply_dialog(german_owner, stamp_card, "transaction_amount_add", value="zwölf")
    assert field_errors(response, "value") == [
        "Geben Sie den Betrag als Zahl ein, zum Beispiel 12,50."
    ]


def test_an_amount_typed_with_a_decimal_comma_is_read_in_spanish(
    spanish_owner: Client, stamp_card: Card
) -> None:
    response = apply_dialog(spanish_owner, stamp_card, "transaction_amount_add", value="12,50")
    trigger_message(response)  # 204: applied
    stamp_card.refresh_from_db()
    assert stamp_card.transaction_amount == Decimal("12.50")


def test_a_decimal_comma_is_refused_in_english(owner_client: Client, stamp_card: Card) -> None:
    response = apply_dialog(owner_client, stamp_card, "transaction_amount_add", value="12,50")
    assert response.status_code == 422
    stamp_card.refresh_from_db()
    assert stamp_card.transaction_amount == Decimal("0")


def test_the_profile_writes_money_the_german_way_and_keeps_raw_values(
    german_owner: Client, owner: Any, stamp_card: Card, merchant
) -> None:
    merchant.currency = "EUR"
    merchant.save()
    services.card_add_transaction_amount(card=stamp_card, value="1234.5", actor=owner)
    response = german_owner.get(reverse("cards:profile", args=[stamp_card.serial]))
    page = response.content.decode()
    assert 'data-metric="ltv" data-value="1234.50"' in page
    assert "1.234,50 €" in text(response)  # text() folds the no-break space


def test_the_profile_writes_money_the_english_way(owner_client, owner, stamp_card) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="1234.5", actor=owner)
    response = owner_client.get(reverse("cards:profile", args=[stamp_card.serial]))
    assert "$1,234.50" in text(response)
