"""The card page's "Add to Apple Wallet" link: the signed .pkpass of the card."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils.http import http_date

from cards import services
from cards.models import Card
from cards.services import LinkRotation
from loyalty import ratelimit
from tests.factories import issue_card
from tests.wallet.apple_fixtures import AppleTestCredentials, pkpass_files, pkpass_verify
from wallet.models import WalletPass
from wallet.selectors import pass_http_last_modified
from wallet.views.apple_pass import PASS_PER_CARD, PASS_PER_IP

PKPASS = "application/vnd.apple.pkpass"


def _url(token: str) -> str:
    return reverse("wallet_public:apple_pass", args=[token])


def test_the_link_downloads_the_cards_signed_pass(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    response = client.get(_url(stamp_card.install_token))
    assert response.status_code == 200
    assert response["Content-Type"] == PKPASS
    assert response["Content-Disposition"] == 'attachment; filename="demo-coffee-card.pkpass"'
    wallet_pass = WalletPass.objects.get(card=stamp_card)
    assert response["Last-Modified"] == http_date(pass_http_last_modified(wallet_pass))
    files = pkpass_verify(response.content, apple_credentials.ca)
    content = json.loads(files["pass.json"])
    assert content["serialNumber"] == stamp_card.serial
    assert content["authenticationToken"] == wallet_pass.authentication_token


def test_the_pass_is_never_cached_nor_indexed(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    response = client.get(_url(stamp_card.install_token))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_downloading_again_serves_the_same_pass(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    first = pkpass_files(client.get(_url(stamp_card.install_token)).content)
    second = pkpass_files(client.get(_url(stamp_card.install_token)).content)
    assert WalletPass.objects.filter(card=stamp_card).count() == 1
    assert first["pass.json"] == second["pass.json"]


def test_a_replaced_link_answers_gone_and_the_new_one_works(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    old = stamp_card.install_token
    services.card_rotate_link(card=stamp_card, actor=None, reason=LinkRotation.DASHBOARD)
    response = client.get(_url(old))
    assert response.status_code == 410
    assert "Demo Coffee" in response.content.decode()
    assert not WalletPass.objects.filter(card=stamp_card).exists()
    assert client.get(_url(stamp_card.install_token)).status_code == 200


def test_an_unknown_link_is_not_found(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    assert client.get(_url("no-such-token")).status_code == 404
    assert client.get(_url(stamp_card.referral_token)).status_code == 404


def test_a_deleted_card_gets_no_pass(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    services.card_delete(card=stamp_card, actor=None)
    response = client.get(_url(stamp_card.install_token))
    assert response.status_code == 410
    assert response["Content-Type"].startswith("text/html")
    assert not WalletPass.objects.filter(card=stamp_card).exists()


def test_without_apple_wallet_the_link_is_not_found(
    client: Client, stamp_card: Card, settings: Any
) -> None:
    settings.APPLE_PASS_TYPE_ID = settings.APPLE_PASS_CERTIFICATE = settings.APPLE_PASS_P12 = ""
    settings.WALLET_TEST_CREDENTIALS = False
    assert client.get(_url(stamp_card.install_token)).status_code == 404
    assert not WalletPass.objects.exists()


def test_with_test_credentials_a_development_instance_signs_passes(
    client: Client, stamp_card: Card, settings: Any, tmp_path: Any
) -> None:
    for name in (
        "APPLE_PASS_TYPE_ID",
        "APPLE_PASS_CERTIFICATE",
        "APPLE_PASS_KEY",
        "APPLE_PASS_P12",
    ):
        setattr(settings, name, "")
    settings.WALLET_TEST_CREDENTIALS = True
    settings.DATA_DIR = tmp_path
    response = client.get(_url(stamp_card.install_token))
    assert response.status_code == 200
    pkpass_verify(response.content, tmp_path / "wallet" / "ca.pem")


def test_only_get_is_allowed(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    assert client.post(_url(stamp_card.install_token)).status_code == 405


def test_downloads_of_one_card_are_rate_limited(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    for _ in range(PASS_PER_CARD.limit):
        assert client.get(_url(stamp_card.install_token)).status_code == 200
    response = client.get(_url(stamp_card.install_token))
    assert response.status_code == 429
    assert response["Retry-After"] == str(PASS_PER_CARD.window)
    assert response["Content-Type"] != PKPASS
    # Another card is not held back by this one's downloads.
    other = issue_card(stamp_card.program)
    assert client.get(_url(other.install_token)).status_code == 200


def test_downloads_from_one_address_are_rate_limited(
    client: Client, apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    address = "198.51.100.4"
    # Many cards' passes already fetched from this address (counted as the view counts them).
    for _ in range(PASS_PER_IP.limit):
        assert ratelimit.hit(PASS_PER_IP, address)
    response = client.get(_url(stamp_card.install_token), REMOTE_ADDR=address)
    assert response.status_code == 429
    other_address = client.get(_url(stamp_card.install_token), REMOTE_ADDR="192.0.2.7")
    assert other_address.status_code == 200
