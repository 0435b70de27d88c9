"""What Google Wallet is told about a program (its LoyaltyClass) and a card (its
LoyaltyObject), built from the rows as the ledger left them."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from cards import services as card_services
from cards.models import Card, Program
from tests.factories import CashbackProgramFactory, MerchantFactory, StampProgramFactory, issue_card
from tests.wallet.google_fixtures import TEST_ISSUER
from wallet.google.objects import (
    loyalty_class,
    loyalty_object,
    program_icon_store,
    program_logo_url,
)
from wallet.services import wallet_pass_ensure

pytestmark = pytest.mark.django_db


def _object(card: Card) -> dict[str, Any]:
    card = Card.objects.select_related("program", "merchant").get(pk=card.pk)
    return loyalty_object(card, wallet_pass_ensure(card=card), f"{TEST_ISSUER}.x-0")


def test_a_program_becomes_a_class_named_after_it_and_its_merchant(
    google_credentials: Any, stamp_program: Program
) -> None:
    data = loyalty_class(stamp_program)

    assert data["id"] == f"{TEST_ISSUER}.program-{stamp_program.pk}"
    assert data["issuerName"] == "Demo Coffee"
    assert data["programName"] == "Coffee Stamp Card"
    assert data["hexBackgroundColor"] == "#5b3a29"
    assert data["reviewStatus"] == "UNDER_REVIEW"
    assert data["accountIdLabel"] == "Card number"
    assert data["localizedAccountIdLabel"] == {
        "defaultValue": {"language": "en", "value": "Card number"}
    }


def test_a_program_without_a_logo_shows_its_icon_from_a_public_url_without_any_card_token(
    google_api: Any, client: Client, stamp_card: Card
) -> None:
    program = stamp_card.program
    url = program_logo_url(program)
    assert url.startswith(f"{settings.SITE_URL}/media/wallet/")
    assert stamp_card.install_token not in url

    program_icon_store(program)
    response = client.get(url.removeprefix(settings.SITE_URL))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG\r\n\x1a\n")


def test_new_colours_give_the_icon_a_new_address(google_credentials: Any, merchant: Any) -> None:
    brown = StampProgramFactory(merchant=merchant, background_color="#5b3a29")
    green = StampProgramFactory(merchant=merchant, background_color="#1c6b3a")

    assert program_logo_url(brown) != program_logo_url(green)
    assert program_logo_url(brown) == program_logo_url(StampProgramFactory(merchant=merchant))


def test_a_stamp_card_shows_its_stamps_out_of_the_reward_and_its_rewards(
    google_credentials: Any, stamp_card: Card
) -> None:
    card_services.card_add_transaction_amount(card=stamp_card, value="95", actor=None)
    card_services.card_add_transaction_amount(card=stamp_card, value="30", actor=None)

    data = _object(stamp_card)

    assert data["classId"] == f"{TEST_ISSUER}.program-{stamp_card.program_id}"
    assert data["state"] == "ACTIVE"
    assert data["accountName"] == stamp_card.holder_name
    assert data["accountId"] == stamp_card.serial
    assert data["loyaltyPoints"]["label"] == "Stamps"
    assert data["loyaltyPoints"]["balance"] == {"string": "2/10"}
    assert data["secondaryLoyaltyPoints"]["label"] == "Rewards"
    assert data["secondaryLoyaltyPoints"]["balance"] == {"int": 1}
    assert data["barcode"] == {
        "type": "QR_CODE",
        "value": stamp_card.serial,
        "alternateText": stamp_card.serial,
    }
    assert "validTimeInterval" not in data


def test_the_links_are_the_holders_card_page_and_referral_link(
    google_credentials: Any, stamp_card: Card
) -> None:
    uris = {link["id"]: link["uri"] for link in _object(stamp_card)["linksModuleData"]["uris"]}

    assert uris == {
        "card": f"{settings.SITE_URL}/c/{stamp_card.install_token}/",
        "referral": f"{settings.SITE_URL}/r/{stamp_card.referral_token}/",
    }


def test_a_cashback_card_shows_points_tier_and_percentage(
    google_credentials: Any, cashback_card: Card
) -> None:
    card_services.card_add_transaction_amount(card=cashback_card, value="600", actor=None)

    data = _object(cashback_card)

    assert data["loyaltyPoints"]["label"] == "Points"
    assert data["loyaltyPoints"]["balance"] == {"int": 30}
    assert "secondaryLoyaltyPoints" not in data
    modules = {m["id"]: (m["header"], m["body"]) for m in data["textModulesData"]}
    assert modules == {"tier": ("Tier", "Silver"), "cashback": ("Cashback", "7 %")}


def test_fractional_points_are_written_the_merchants_way(google_credentials: Any) -> None:
    merchant = MerchantFactory(language="es")
    card = issue_card(CashbackProgramFactory(merchant=merchant))
    card_services.card_add_transaction_amount(card=card, value="10.50", actor=None)

    assert _object(card)["loyaltyPoints"]["balance"] == {"string": "0,53"}


def test_labels_are_in_the_merchants_language(google_credentials: Any) -> None:
    merchant = MerchantFactory(language="es")
    card = issue_card(StampProgramFactory(merchant=merchant))

    data = _object(card)
    design = loyalty_class(card.program)

    assert design["accountNameLabel"] == "Miembro"
    assert design["localizedAccountNameLabel"]["defaultValue"]["language"] == "es"
    assert data["linksModuleData"]["uris"][0]["description"] == "Tu tarjeta"


def test_an_expiration_date_ends_the_validity_at_midnight_in_the_merchants_time_zone(
    google_credentials: Any, stamp_card: Card
) -> None:
    merchant = stamp_card.merchant
    merchant.time_zone = "Europe/Madrid"
    merchant.save()
    card_services.card_set_expiration(
        card=stamp_card, expires_on=datetime.date(2099, 7, 31), actor=None
    )

    data = _object(stamp_card)

    assert data["validTimeInterval"] == {"end": {"date": "2099-08-01T00:00:00+02:00"}}
    assert {"id": "expires", "header": "Expires", "body": "July 31, 2099"} in data[
        "textModulesData"
    ]


def test_an_expired_card_is_expired_and_a_deleted_one_inactive(
    google_credentials: Any, stamp_program: Program
) -> None:
    expired = issue_card(stamp_program)
    yesterday = timezone.localdate() - datetime.timedelta(days=2)
    Card.objects.filter(pk=expired.pk).update(expires_on=yesterday)
    deleted = issue_card(stamp_program)
    card_services.card_delete(card=deleted, actor=None)

    assert _object(expired)["state"] == "EXPIRED"
    assert _object(deleted)["state"] == "INACTIVE"
    assert _object(issue_card(stamp_program))["state"] == "ACTIVE"
