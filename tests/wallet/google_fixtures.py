"""Google Wallet fixtures: the local stand-in for Google's token endpoint and Wallet API, and
a test service-account key configured as a real one would be (issuer id and key file in
settings), whose ``token_uri`` is the stand-in's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from cards.models import Card
from tests.wallet.google_api import GoogleWalletStandIn
from wallet.google import credentials as google
from wallet.google.credentials import google_test_credentials_create
from wallet.models import GoogleObject

TEST_ISSUER = "3388000000012345678"


@pytest.fixture
def google_stand_in() -> Iterator[GoogleWalletStandIn]:
    with GoogleWalletStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def google_credentials(
    google_stand_in: GoogleWalletStandIn, settings: Any, tmp_path: Path
) -> google.GoogleCredentials:
    key_file = google_test_credentials_create(
        tmp_path / "google", token_uri=google_stand_in.token_uri
    )
    settings.GOOGLE_WALLET_ISSUER_ID = TEST_ISSUER
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(key_file)
    settings.WALLET_TEST_CREDENTIALS = False
    google_stand_in.trust(key_file, TEST_ISSUER)
    return google.google_credentials()


@pytest.fixture
def google_api(
    google_stand_in: GoogleWalletStandIn,
    google_credentials: google.GoogleCredentials,
    settings: Any,
    tmp_path: Path,
) -> GoogleWalletStandIn:
    settings.GOOGLE_WALLET_API_URL = google_stand_in.api_url
    # The program icons drawn for Google land in the test's own folder.
    settings.MEDIA_ROOT = tmp_path / "media"
    return google_stand_in


def save_link_of(client: Client, card: Card) -> str:
    """Tap "Save to Google Wallet" on the card page: the JWT of Google's save link."""
    response = client.get(reverse("wallet_public:google_save", args=[card.install_token]))
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert location.startswith(django_settings.GOOGLE_WALLET_SAVE_URL)
    return str(location.removeprefix(django_settings.GOOGLE_WALLET_SAVE_URL))


def saved_to_google(client: Client, card: Card, stand_in: GoogleWalletStandIn) -> GoogleObject:
    """The holder taps the link and saves the card at Google: its object, held."""
    stand_in.save(save_link_of(client, card), origin=django_settings.SITE_URL)
    return GoogleObject.objects.select_related("wallet_pass").get(
        wallet_pass__card=card, retired_at__isnull=True
    )
