"""A card's signed Apple Wallet pass: the ``.pkpass`` bundle.

A zip of ``pass.json``, the images, one ``<lang>.lproj/pass.strings`` per language, and
``manifest.json`` (the SHA-1 of every other file) with ``signature``: a detached PKCS#7
signature of the manifest by the Pass Type ID certificate, carrying Apple's WWDR intermediate
so the phone can chain it to Apple's root. A changed byte in any file breaks the manifest's
hash; a changed manifest breaks the signature; Wallet refuses either.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import zipfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from django.utils import timezone, translation

from cards.models import Card
from wallet.apple.credentials import apple_credentials
from wallet.apple.images import pass_images
from wallet.apple.pass_json import pass_content, strings_file
from wallet.models import WalletPass

MANIFEST = "manifest.json"
SIGNATURE = "signature"
CONTENT_TYPE = "application/vnd.apple.pkpass"


def pkpass_build(*, wallet_pass: WalletPass) -> bytes:
    """The pass of ``wallet_pass``'s card as it is now, signed. Two queries: the card with
    its program and merchant, and its last ledger entries."""
    card = Card.objects.select_related("program", "merchant").get(pk=wallet_pass.card_id)
    files = pass_files(wallet_pass=wallet_pass, card=card)
    manifest = manifest_json(files)
    files[MANIFEST] = manifest
    files[SIGNATURE] = manifest_signature(manifest)
    return _zip(files, wallet_pass.updated_at)


def pass_last_modified(wallet_pass: WalletPass) -> datetime.datetime:
    """When the pass last changed: its Last-Modified, and what "updated since" compares."""
    return wallet_pass.updated_at


def pass_files(*, wallet_pass: WalletPass, card: Card) -> dict[str, bytes]:
    """Every file of the bundle but the manifest and the signature, by name."""
    content = pass_content(wallet_pass=wallet_pass, card=card)
    files = {"pass.json": json.dumps(content.json, ensure_ascii=False, indent=2).encode("utf-8")}
    files.update(pass_images(card))
    for language, strings in content.strings.items():
        files[f"{translation.to_locale(language)}.lproj/pass.strings"] = strings_file(strings)
    return files


def manifest_json(files: dict[str, bytes]) -> bytes:
    digests = {name: hashlib.sha1(data).hexdigest() for name, data in sorted(files.items())}  # noqa: S324 - Apple's manifest format
    return json.dumps(digests, indent=2).encode("utf-8")


def manifest_signature(manifest: bytes) -> bytes:
    """The detached PKCS#7 (DER) signature of the manifest, as Apple Wallet checks it: signed
    attributes with the signing time and the manifest's digest, the signer's certificate and
    the WWDR intermediate. ``Binary``: the manifest is signed byte for byte, not as text."""
    credentials = apple_credentials()
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(credentials.certificate, credentials.private_key, hashes.SHA256())
        .add_certificate(credentials.wwdr)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


def _zip(files: dict[str, bytes], modified: datetime.datetime) -> bytes:
    stamp = timezone.localtime(modified, datetime.UTC).timetuple()[:6]
    buffer = io.BytesIO()
    # Stored, not deflated: PNGs do not shrink, and every Wallet version reads stored entries.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            bundle.writestr(info, data)
    return buffer.getvalue()
