"""The pass's signature, checked as Apple Wallet checks it, and the credentials it is made with."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from cards.models import Card
from tests.wallet.apple_fixtures import (
    AppleTestCredentials,
    PassRejected,
    manifest_check,
    pkpass_files,
    pkpass_verify,
    signature_check,
)
from wallet.apple import credentials as apple
from wallet.apple.credentials import apple_test_credentials_create, apple_tls_client_files
from wallet.apple.pkpass import pkpass_build
from wallet.services import wallet_pass_ensure


def _pkpass(card: Card) -> bytes:
    return pkpass_build(wallet_pass=wallet_pass_ensure(card=card))


@pytest.fixture
def other_credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, unrelated set of test credentials (another root CA)."""
    directory = tmp_path_factory.getbasetemp() / "other-apple-credentials"
    apple_test_credentials_create(directory)
    return directory


def _no_apple_settings(settings: Any) -> None:
    for name in (
        "APPLE_PASS_TYPE_ID",
        "APPLE_TEAM_ID",
        "APPLE_PASS_CERTIFICATE",
        "APPLE_PASS_KEY",
        "APPLE_PASS_KEY_PASSWORD",
        "APPLE_PASS_P12",
        "APPLE_PASS_P12_PASSWORD",
        "APPLE_WWDR_CERTIFICATE",
    ):
        setattr(settings, name, "")


# ---------------------------------------------------------------------------------------------
# The signature


def test_the_signature_verifies_against_the_root_through_the_carried_wwdr(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    files = pkpass_verify(_pkpass(stamp_card), apple_credentials.ca)
    ca = x509.load_pem_x509_certificate(apple_credentials.ca.read_bytes())
    signer = signature_check(files["manifest.json"], files["signature"], ca)
    assert signer == x509.load_pem_x509_certificate(apple_credentials.cert.read_bytes())
    content = json.loads(files["pass.json"])
    uid = signer.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value
    team = signer.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert content["passTypeIdentifier"] == uid == apple_credentials.pass_type_id
    assert content["teamIdentifier"] == team == apple_credentials.team_id


def test_one_changed_byte_of_pass_json_breaks_the_manifest(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    files = pkpass_files(_pkpass(stamp_card))
    manifest_check(files)
    changed = bytearray(files["pass.json"])
    changed[changed.index(stamp_card.serial.encode())] ^= 0x01
    files["pass.json"] = bytes(changed)
    with pytest.raises(PassRejected, match="pass.json does not match"):
        manifest_check(files)


def test_a_manifest_rewritten_to_match_a_changed_file_breaks_the_signature(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    files = pkpass_files(_pkpass(stamp_card))
    ca = x509.load_pem_x509_certificate(apple_credentials.ca.read_bytes())
    manifest = json.loads(files["manifest.json"])
    manifest["pass.json"] = "0" * 40
    with pytest.raises(PassRejected, match="signed digest"):
        signature_check(json.dumps(manifest).encode(), files["signature"], ca)
    # One byte more or less is a different manifest too.
    with pytest.raises(PassRejected, match="signed digest"):
        signature_check(files["manifest.json"] + b"\n", files["signature"], ca)


def test_a_tampered_signature_value_does_not_verify(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    files = pkpass_files(_pkpass(stamp_card))
    ca = x509.load_pem_x509_certificate(apple_credentials.ca.read_bytes())
    signature = bytearray(files["signature"])
    signature[-1] ^= 0x01  # the last byte of the signer's RSA signature
    with pytest.raises(InvalidSignature):
        signature_check(files["manifest.json"], bytes(signature), ca)


def test_a_pass_does_not_chain_to_another_root(
    apple_credentials: AppleTestCredentials, stamp_card: Card, other_credentials: Path
) -> None:
    with pytest.raises(InvalidSignature):
        pkpass_verify(_pkpass(stamp_card), other_credentials / apple.TEST_CA)


def test_the_signature_carries_the_wwdr_intermediate_and_the_signer(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    signature = pkpass_files(_pkpass(stamp_card))["signature"]
    carried = serialization.pkcs7.load_der_pkcs7_certificates(signature)
    wwdr = x509.load_pem_x509_certificate(apple_credentials.wwdr.read_bytes())
    signer = x509.load_pem_x509_certificate(apple_credentials.cert.read_bytes())
    assert set(carried) == {wwdr, signer}


# ---------------------------------------------------------------------------------------------
# The credentials


def test_test_credentials_are_generated_once_with_private_keys(tmp_path: Path) -> None:
    apple_test_credentials_create(tmp_path)
    first = {path.name: path.read_bytes() for path in tmp_path.glob("*.pem")}
    apple_test_credentials_create(tmp_path)
    assert {path.name: path.read_bytes() for path in tmp_path.glob("*.pem")} == first
    assert set(first) == {apple.TEST_CA, apple.TEST_WWDR, apple.TEST_CERTIFICATE, apple.TEST_KEY}
    assert stat.S_IMODE((tmp_path / apple.TEST_KEY).stat().st_mode) == 0o600
    ca, wwdr, certificate = (
        x509.load_pem_x509_certificate(first[name])
        for name in (apple.TEST_CA, apple.TEST_WWDR, apple.TEST_CERTIFICATE)
    )
    wwdr.verify_directly_issued_by(ca)
    certificate.verify_directly_issued_by(wwdr)
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "pass.local.loyalty.test"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "TESTTEAM01"
    )


def test_without_credentials_or_test_ones_apple_is_not_configured(settings: Any) -> None:
    _no_apple_settings(settings)
    settings.WALLET_TEST_CREDENTIALS = False
    with pytest.raises(ImproperlyConfigured, match="APPLE_PASS_CERTIFICATE"):
        apple.apple_credentials()


def test_test_credentials_are_generated_into_the_data_folder_when_allowed(
    settings: Any, tmp_path: Path
) -> None:
    _no_apple_settings(settings)
    settings.WALLET_TEST_CREDENTIALS = True
    settings.DATA_DIR = tmp_path
    credentials = apple.apple_credentials()
    assert credentials.pass_type_id == apple.TEST_PASS_TYPE_ID
    assert credentials.team_id == apple.TEST_TEAM_ID
    assert (tmp_path / "wallet" / apple.TEST_CA).exists()
    assert apple_tls_client_files() == (
        str(tmp_path / "wallet" / apple.TEST_CERTIFICATE),
        str(tmp_path / "wallet" / apple.TEST_KEY),
    )


def test_a_changed_setting_is_seen(
    apple_credentials: AppleTestCredentials, other_credentials: Path, settings: Any
) -> None:
    first = apple.apple_credentials()
    assert first.certificate == x509.load_pem_x509_certificate(apple_credentials.cert.read_bytes())
    settings.APPLE_PASS_CERTIFICATE = str(other_credentials / apple.TEST_CERTIFICATE)
    settings.APPLE_PASS_KEY = str(other_credentials / apple.TEST_KEY)
    settings.APPLE_WWDR_CERTIFICATE = str(other_credentials / apple.TEST_WWDR)
    second = apple.apple_credentials()
    assert second.certificate != first.certificate
    assert second.certificate == x509.load_pem_x509_certificate(
        (other_credentials / apple.TEST_CERTIFICATE).read_bytes()
    )


def test_plain_pem_files_are_the_apns_client_certificate_as_they_are(
    apple_credentials: AppleTestCredentials,
) -> None:
    assert apple_tls_client_files() == (str(apple_credentials.cert), str(apple_credentials.key))


def _written_tls_files_match(credentials: AppleTestCredentials, data_dir: Path) -> None:
    certificate_file, key_file = (Path(name) for name in apple_tls_client_files())
    assert certificate_file.parent == key_file.parent == data_dir / "wallet" / "runtime"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    original = serialization.load_pem_private_key(credentials.key.read_bytes(), password=None)
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*der) == original.public_key().public_bytes(*der)
    assert x509.load_pem_x509_certificate(certificate_file.read_bytes()) == (
        x509.load_pem_x509_certificate(credentials.cert.read_bytes())
    )


def test_a_pkcs12_bundle_signs_and_is_written_as_pem_for_apns(
    apple_credentials: AppleTestCredentials, settings: Any, tmp_path: Path, stamp_card: Card
) -> None:
    key = serialization.load_pem_private_key(apple_credentials.key.read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate(apple_credentials.cert.read_bytes())
    bundle = tmp_path / "pass.p12"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"pass",
            key,
            certificate,
            None,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    settings.APPLE_PASS_CERTIFICATE = settings.APPLE_PASS_KEY = ""
    settings.APPLE_PASS_P12 = str(bundle)
    settings.APPLE_PASS_P12_PASSWORD = "secret"
    settings.DATA_DIR = tmp_path
    assert apple.apple_credentials().certificate == certificate
    pkpass_verify(_pkpass(stamp_card), apple_credentials.ca)
    _written_tls_files_match(apple_credentials, tmp_path)


def test_a_wrong_pkcs12_password_is_a_clear_error(
    apple_credentials: AppleTestCredentials, settings: Any, tmp_path: Path
) -> None:
    key = serialization.load_pem_private_key(apple_credentials.key.read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate(apple_credentials.cert.read_bytes())
    bundle = tmp_path / "pass.p12"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"pass",
            key,
            certificate,
            None,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    settings.APPLE_PASS_CERTIFICATE = settings.APPLE_PASS_KEY = ""
    settings.APPLE_PASS_P12 = str(bundle)
    settings.APPLE_PASS_P12_PASSWORD = "wrong"
    with pytest.raises(ImproperlyConfigured, match="APPLE_PASS_P12_PASSWORD"):
        apple.apple_credentials()


def test_an_encrypted_key_is_decrypted_once_for_apns(
    apple_credentials: AppleTestCredentials, settings: Any, tmp_path: Path
) -> None:
    key = serialization.load_pem_private_key(apple_credentials.key.read_bytes(), password=None)
    encrypted = tmp_path / "pass-key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    settings.APPLE_PASS_KEY = str(encrypted)
    settings.APPLE_PASS_KEY_PASSWORD = "secret"
    settings.DATA_DIR = tmp_path
    _written_tls_files_match(apple_credentials, tmp_path)


def test_a_key_of_another_certificate_is_refused(
    apple_credentials: AppleTestCredentials, other_credentials: Path, settings: Any
) -> None:
    settings.APPLE_PASS_KEY = str(other_credentials / apple.TEST_KEY)
    with pytest.raises(ImproperlyConfigured, match="does not belong"):
        apple.apple_credentials()


def test_a_pass_type_id_the_certificate_is_not_for_is_refused(
    apple_credentials: AppleTestCredentials, settings: Any
) -> None:
    settings.APPLE_PASS_TYPE_ID = "pass.com.example.other"
    with pytest.raises(ImproperlyConfigured, match="pass.com.example.other"):
        apple.apple_credentials()


def test_a_missing_wwdr_certificate_is_a_clear_error(
    apple_credentials: AppleTestCredentials, settings: Any
) -> None:
    settings.APPLE_WWDR_CERTIFICATE = ""
    with pytest.raises(ImproperlyConfigured, match="APPLE_WWDR_CERTIFICATE"):
        apple.apple_credentials()


def test_the_command_writes_the_test_credentials_into_the_data_folder(
    settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    call_command("wallet_test_credentials", stdout=io.StringIO())
    directory = tmp_path / "wallet"
    certificate = x509.load_pem_x509_certificate((directory / apple.TEST_CERTIFICATE).read_bytes())
    wwdr = x509.load_pem_x509_certificate((directory / apple.TEST_WWDR).read_bytes())
    certificate.verify_directly_issued_by(wwdr)
    wwdr.verify_directly_issued_by(
        x509.load_pem_x509_certificate((directory / apple.TEST_CA).read_bytes())
    )
    assert stat.S_IMODE((directory / apple.TEST_KEY).stat().st_mode) == 0o600
    assert (directory / "google-service-account.json").exists()
