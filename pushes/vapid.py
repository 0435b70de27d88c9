"""The site's VAPID key pair.

From ``settings.VAPID_PRIVATE_KEY`` (raw base64url, DER base64 or PEM) and, optionally,
``settings.VAPID_PUBLIC_KEY`` (base64url uncompressed point, checked against the private key).
When neither is set the pair is generated once into ``DATA_DIR/vapid/private_key.pem`` (mode
0600, outside git) and reused by every process: web, workers and tests.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid


@dataclass(frozen=True)
class VapidKeys:
    signer: Vapid
    # base64url (no padding) of the uncompressed P-256 point: the browser's applicationServerKey.
    public_key: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_key_of(signer: Vapid) -> str:
    return b64url(
        signer.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def key_file() -> Path:
    return Path(settings.DATA_DIR) / "vapid" / "private_key.pem"


def _from_settings(private: str, public: str) -> VapidKeys:
    try:
        if "-----BEGIN" in private:
            signer = Vapid.from_pem(private.encode("ascii"))
        else:
            signer = Vapid.from_string(private)
    except Exception as error:
        raise ImproperlyConfigured(f"VAPID_PRIVATE_KEY cannot be read: {error}") from error
    derived = _public_key_of(signer)
    if public and public.rstrip("=") != derived:
        raise ImproperlyConfigured("VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY.")
    return VapidKeys(signer=signer, public_key=derived)


def _from_file(path: Path) -> VapidKeys:
    if not path.exists():
        _generate(path)
    signer = Vapid.from_pem(path.read_bytes())
    return VapidKeys(signer=signer, public_key=_public_key_of(signer))


def _generate(path: Path) -> None:
    """Write a new key without ever exposing a half-written file.

    Written to a private temporary file and hard-linked into place: ``link`` fails if another
    process won the race, and then its key is the one everybody uses.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer = Vapid()
    signer.generate_keys()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(signer.private_pem())
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


@functools.cache
def keys() -> VapidKeys:
    private = (settings.VAPID_PRIVATE_KEY or "").strip()
    public = (settings.VAPID_PUBLIC_KEY or "").strip()
    if private:
        return _from_settings(private, public)
    if public:
        raise ImproperlyConfigured("VAPID_PUBLIC_KEY is set without VAPID_PRIVATE_KEY.")
    return _from_file(key_file())


def public_key() -> str:
    return keys().public_key
