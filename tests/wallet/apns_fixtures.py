"""The APNs stand-in as a fixture: started for the test, with the settings pointing the APNs
client at it (``APNS_URL``) and trusting its certificate (``APNS_CA_FILE``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cards.models import Card
from tests.wallet.apns_server import APNsServer
from tests.wallet.apple_fixtures import AppleTestCredentials
from wallet.apple import apns
from wallet.apple.credentials import apple_credentials as apple_credentials_loaded
from wallet.models import WalletPass
from wallet.services import apple_device_register, wallet_pass_ensure


@pytest.fixture
def apns_server(
    apple_credentials: AppleTestCredentials, settings: Any, tmp_path: Path
) -> Iterator[APNsServer]:
    """APNs on 127.0.0.1, accepting only clients with a certificate of the test chain."""
    server = APNsServer(
        client_ca_files=[str(apple_credentials.ca), str(apple_credentials.wwdr)],
        directory=tmp_path / "apns",
    )
    with server:
        settings.APNS_URL = server.url
        settings.APNS_CA_FILE = server.ca_file
        yield server
        # The next test's stand-in is another server: no connection is kept to this one.
        apns.close()


def push_token(number: int) -> str:
    """A device token as APNs issues them: 32 bytes in hex."""
    return f"{number:064x}"


def device_register(card: Card, device_id: str, token: str) -> WalletPass:
    """A device adds the card's pass to Apple Wallet and registers for its updates (through
    the service the web service calls). Returns the pass."""
    wallet_pass = wallet_pass_ensure(card=card)
    apple_device_register(
        device_id=device_id,
        pass_type_id=apple_credentials_loaded().pass_type_id,
        serial=card.serial,
        token=wallet_pass.authentication_token,
        push_token=token,
    )
    wallet_pass.refresh_from_db()
    card.refresh_from_db()
    return wallet_pass
