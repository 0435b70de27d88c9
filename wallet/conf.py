"""Wallet settings, read through functions so tests and workers see their own values.

Apple Wallet needs a Pass Type ID certificate (and Apple's WWDR intermediate); Google Wallet
an issuer id and a service-account key. With ``WALLET_TEST_CREDENTIALS`` on and those unset
(``python3 dev.py run``), a test CA, pass certificate and service-account key are generated
once into ``DATA_DIR/wallet/``: the whole flow runs, but a real iPhone refuses such a pass.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

DEFAULTS: dict[str, float] = {
    # Changes within this window make one APNs push and one PATCH per pass.
    "WALLET_COALESCE_SECONDS": 1.0,
    # Google API calls answered 429/5xx are retried up to this many attempts in all ...
    "WALLET_MAX_ATTEMPTS": 5,
    # ... backing off exponentially from this base.
    "WALLET_BACKOFF_BASE": 30.0,
    # (connect, read) timeouts of one request to APNs or the Google Wallet API.
    "WALLET_CONNECT_TIMEOUT": 5.0,
    "WALLET_READ_TIMEOUT": 10.0,
    # Apple Wallet devices one pass keeps; a new one past it ends the oldest registration.
    "WALLET_MAX_DEVICES_PER_PASS": 10,
    # The last transactions shown on the back of a pass.
    "WALLET_PASS_TRANSACTIONS": 5,
}


def get(name: str) -> float:
    return float(getattr(settings, name, DEFAULTS[name]))


def get_int(name: str) -> int:
    return int(get(name))


def test_credentials_dir() -> Path:
    return Path(settings.DATA_DIR) / "wallet"


def web_service_url() -> str:
    """The pass's ``webServiceURL``: Apple Wallet appends ``/v1/...`` to it."""
    return f"{settings.SITE_URL}/wallet/apple"


def apple_enabled() -> bool:
    """Passes can be signed: a certificate is configured, or test ones may be generated."""
    has_certificate = bool(settings.APPLE_PASS_P12 or settings.APPLE_PASS_CERTIFICATE)
    return bool(settings.APPLE_PASS_TYPE_ID and has_certificate) or settings.WALLET_TEST_CREDENTIALS


def google_enabled() -> bool:
    """Save links can be signed: an issuer and its key are configured, or test ones may be."""
    configured = settings.GOOGLE_WALLET_ISSUER_ID and settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE
    return bool(configured) or settings.WALLET_TEST_CREDENTIALS
