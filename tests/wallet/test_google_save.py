"""The card page's "Save to Google Wallet" link: a JWT signed by the service account, carrying
the card's object, that Google's save page (the stand-in) accepts."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from google.auth import jwt

from cards import services as card_services
from cards.models import Card, Device
from cards.services import LinkRotation
from pushes.models import Channel, PushSubscription
from tests.wallet.google_api import GoogleWalletStandIn, jwt_header, save_jwt_claims
from tests.wallet.google_fixtures import TEST_ISSUER, save_link_of, saved_to_google
from wallet.google.credentials import google_test_credentials_create
from wallet.google.objects import loyalty_object
from wallet.google.save_link import google_save_url
from wallet.models import GoogleClass, GoogleObject
from wallet.services import google as google_services
from wallet.views.google_save import SAVE_PER_CARD

pytestmark = pytest.mark.django_db


def _save_url(card: Card) -> str:
    return reverse("wallet_public:google_save", args=[card.install_token])


def _public_key(stand_in: GoogleWalletStandIn) -> str:
    (account,) = stand_in.accounts.values()
    return account.public_pem


def test_the_save_jwt_is_signed_by_the_service_account_and_carries_the_cards_object(
    google_api: GoogleWalletStandIn, google_credentials: Any, stamp_card: Card
) -> None:
    google_object = google_services.google_object_ensure(card=stamp_card)
    assert google_services.google_class_ensure(program=stamp_card.program)

    url = google_save_url(
        card=stamp_card, wallet_pass=google_object.wallet_pass, object_id=google_object.object_id
    )

    assert url.startswith("https://pay.google.com/gp/v/save/")
    token = url.removeprefix("https://pay.google.com/gp/v/save/")
    assert jwt_header(token)["alg"] == "RS256"
    assert jwt_header(token)["kid"] == google_credentials.credentials.signer.key_id
    claims = save_jwt_claims(token, _public_key(google_api))
    assert claims["iss"] == google_credentials.email
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == [settings.SITE_URL]
    expected = loyalty_object(stamp_card, google_object.wallet_pass, google_object.object_id)
    assert claims["payload"] == {"loyaltyObjects": [expected]}


def test_a_jwt_signed_by_another_key_does_not_verify(
    google_api: GoogleWalletStandIn, stamp_card: Card, tmp_path: Any, settings: Any
) -> None:
    google_object = google_services.google_object_ensure(card=stamp_card)
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(google_test_credentials_create(tmp_path))

    url = google_save_url(
        card=stamp_card, wallet_pass=google_object.wallet_pass, object_id=google_object.object_id
    )

    with pytest.raises(ValueError, match="signature"):
        save_jwt_claims(url.rsplit("/", 1)[1], _public_key(google_api))


def test_tapping_save_inserts_the_class_then_redirects_to_google_with_the_object(
    google_api: GoogleWalletStandIn, client: Client, stamp_card: Card
) -> None:
    card_services.card_add_stamps(card=stamp_card, value="7", actor=None)

    response = client.get(_save_url(stamp_card))

    assert response.status_code == 302
    assert "no-store" in response["Cache-Control"]
    (class_insert,) = google_api.api_requests("POST", "/loyaltyClass")
    assert class_insert.status == 200
    assert class_insert.body["id"] == f"{TEST_ISSUER}.program-{stamp_card.program_id}"
    token = response["Location"].removeprefix(settings.GOOGLE_WALLET_SAVE_URL)
    (saved,) = google_api.save(token, origin=settings.SITE_URL)
    object_id = f"{TEST_ISSUER}.{stamp_card.serial.replace('-', '')}-0"
    assert saved["id"] == object_id
    assert saved["loyaltyPoints"]["balance"] == {"string": "7/10"}
    assert saved["hasUsers"] is True


def test_saving_marks_the_card_held_in_google_wallet_with_a_message_subscription(
    google_api: GoogleWalletStandIn, client: Client, stamp_card: Card
) -> None:
    google_object = saved_to_google(client, stamp_card, google_api)

    card = Card.objects.get(pk=stamp_card.pk)
    assert card.status == "installed"
    assert card.devices == [Device.GOOGLE_WALLET]
    subscription = google_object.subscription
    assert subscription.channel == Channel.GOOGLE_WALLET
    assert subscription.endpoint == f"google-wallet:{google_object.object_id}"
    assert subscription.is_active


def test_tapping_save_again_gives_the_same_object_and_sends_the_class_once(
    google_api: GoogleWalletStandIn, client: Client, stamp_card: Card
) -> None:
    first = save_link_of(client, stamp_card)
    second = save_link_of(client, stamp_card)

    objects = [
        jwt.decode(t, verify=False)["payload"]["loyaltyObjects"][0]["id"] for t in (first, second)
    ]
    assert objects[0] == objects[1]
    assert GoogleObject.objects.count() == 1
    assert PushSubscription.objects.filter(channel=Channel.GOOGLE_WALLET).count() == 1
    assert len(google_api.api_requests("POST", "/loyaltyClass")) == 1
    assert GoogleClass.objects.get().synced_fingerprint


def test_when_google_cannot_be_reached_the_link_carries_the_class_and_still_saves(
    google_api: GoogleWalletStandIn, client: Client, stamp_card: Card, settings: Any
) -> None:
    settings.GOOGLE_WALLET_API_URL = "http://127.0.0.1:9/walletobjects/v1"  # nothing listens

    token = save_link_of(client, stamp_card)

    payload = save_jwt_claims(token, _public_key(google_api))["payload"]
    assert payload["loyaltyClasses"][0]["id"] == f"{TEST_ISSUER}.program-{stamp_card.program_id}"
    google_api.save(token)
    assert f"{TEST_ISSUER}.program-{stamp_card.program_id}" in google_api.classes


def test_a_replaced_link_answers_410_and_an_unknown_one_404(
    google_api: GoogleWalletStandIn, client: Client, stamp_card: Card
) -> None:
    old = _save_url(stamp_card)
    card_services.card_rotate_link(card=stamp_card, actor=None, reason=LinkRotation.CARD_PAGE)

    assert client.get(old).status_code == 410
    assert client.get(_save_url(stamp_card)).status_code == 302
    unknown = reverse("wallet_public:google_save", args=["no-such-token"])
    assert client.get(unknown).status_code == 404


def test_a_deleted_card_has_no_save_link(
    google_api: GoogleWalletStandIn, client: Client, stamp_card: Card
) -> None:
    card_services.card_delete(card=stamp_card, actor=None)

    assert client.get(_save_url(stamp_card)).status_code == 404
    assert not GoogleObject.objects.exists()


def test_without_google_credentials_there_is_no_save_link(
    client: Client, stamp_card: Card, settings: Any
) -> None:
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = ""
    settings.WALLET_TEST_CREDENTIALS = False

    assert client.get(_save_url(stamp_card)).status_code == 404


def test_test_credentials_are_generated_once_and_private(
    client: Client, stamp_card: Card, settings: Any, tmp_path: Any
) -> None:
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = ""
    settings.WALLET_TEST_CREDENTIALS = True
    settings.DATA_DIR = tmp_path
    settings.GOOGLE_WALLET_API_URL = "http://127.0.0.1:9/walletobjects/v1"  # offline

    first = save_link_of(client, stamp_card)
    key = tmp_path / "wallet" / "google-service-account.json"
    written = key.read_bytes()
    second = save_link_of(client, stamp_card)

    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_bytes() == written
    assert jwt.decode(first, verify=False)["payload"]["loyaltyObjects"][0]["id"].startswith(
        "3388000000000000000."
    )
    assert jwt_header(first)["kid"] == jwt_header(second)["kid"]


def test_tapping_save_too_often_is_refused(
    google_api: GoogleWalletStandIn, client: Client, stamp_card: Card
) -> None:
    for _ in range(SAVE_PER_CARD.limit):
        assert client.get(_save_url(stamp_card)).status_code == 302

    response = client.get(_save_url(stamp_card))

    assert response.status_code == 429
    assert response["Retry-After"] == str(SAVE_PER_CARD.window)
