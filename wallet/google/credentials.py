"""The Google Wallet issuer and the service account that acts for it.

From ``GOOGLE_WALLET_ISSUER_ID`` and ``GOOGLE_WALLET_SERVICE_ACCOUNT_FILE`` (the JSON key the
Google Cloud console hands out; its ``token_uri`` is where OAuth tokens come from). With
``WALLET_TEST_CREDENTIALS`` on and those unset, a test issuer id and a test key generated once
into ``DATA_DIR/wallet/`` (mode 0600) let the whole flow run; Google itself refuses them.

The key is read once per process and per settings (tests switch keys): the credentials keep
the OAuth access token, so every API call of a process reuses it until it expires.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from google.oauth2 import service_account

from wallet import conf

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address)
TEST_KEY_NAME = "google-service-account.json"
# Shaped like the ids Google's Pay & Wallet console gives issuers (19 digits).
TEST_ISSUER_ID = "3388000000000000000"
TEST_PROJECT = "loyalty-wallet-test"


@dataclass(frozen=True)
class GoogleCredentials:
    issuer_id: str
    credentials: service_account.Credentials

    @property
    def email(self) -> str:
        return str(self.credentials.service_account_email)


def google_credentials() -> GoogleCredentials:
    """The issuer and its service account, or ImproperlyConfigured."""
    issuer_id = (settings.GOOGLE_WALLET_ISSUER_ID or "").strip()
    key_file = (settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE or "").strip()
    if not (issuer_id and key_file) and settings.WALLET_TEST_CREDENTIALS:
        issuer_id = issuer_id or TEST_ISSUER_ID
        key_file = key_file or str(_test_key_file())
    if not issuer_id or not key_file:
        raise ImproperlyConfigured(
            "Google Wallet needs GOOGLE_WALLET_ISSUER_ID and GOOGLE_WALLET_SERVICE_ACCOUNT_FILE "
            "(or WALLET_TEST_CREDENTIALS in development)."
        )
    try:
        modified = os.stat(key_file).st_mtime_ns
    except OSError as error:
        raise ImproperlyConfigured(
            f"The Google service account key cannot be read: {error}"
        ) from error
    return _load(issuer_id, key_file, modified)


@functools.lru_cache(maxsize=8)
def _load(issuer_id: str, key_file: str, modified: int) -> GoogleCredentials:
    # ``modified`` is part of the cache key only: a key file replaced in place is read again.
    try:
        credentials = service_account.Credentials.from_service_account_file(
            key_file, scopes=[SCOPE]
        )
    except (OSError, ValueError, KeyError) as error:
        raise ImproperlyConfigured(
            f"The Google service account key cannot be used: {error}"
        ) from error
    return GoogleCredentials(issuer_id=issuer_id, credentials=credentials)


def _test_key_file() -> Path:
    directory = conf.test_credentials_dir()
    path = directory / TEST_KEY_NAME
    if not path.exists():
        google_test_credentials_create(directory)
    return path


def google_test_credentials_create(directory: Path, token_uri: str | None = None) -> Path:
    """A service-account key file like Google's, for tests and development: an RSA key, an
    address, and the token endpoint (``token_uri``, else ``GOOGLE_WALLET_TOKEN_URI``, else
    Google's). An existing file is kept: every process uses the first one written."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / TEST_KEY_NAME
    token_uri = token_uri or getattr(settings, "GOOGLE_WALLET_TOKEN_URI", "") or GOOGLE_TOKEN_URI
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    info = {
        "type": "service_account",
        "project_id": TEST_PROJECT,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": f"wallet@{TEST_PROJECT}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**21)).zfill(21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    _write_private(path, json.dumps(info, indent=2).encode("utf-8"))
    return path


def _write_private(path: Path, data: bytes) -> None:
    """Written to a private temporary file and hard-linked into place: never half a key, and
    when two processes race, the first key stays."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
