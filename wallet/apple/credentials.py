"""The instance's Apple Wallet credentials: the Pass Type ID certificate and its key, and
Apple's WWDR intermediate that signed it.

Configured with ``APPLE_PASS_CERTIFICATE`` + ``APPLE_PASS_KEY`` (PEM files, the key optionally
encrypted with ``APPLE_PASS_KEY_PASSWORD``) or ``APPLE_PASS_P12`` (+ ``APPLE_PASS_P12_PASSWORD``),
with ``APPLE_WWDR_CERTIFICATE``. With none of them set and ``WALLET_TEST_CREDENTIALS`` on, a
test root CA, a test "WWDR" intermediate and a pass certificate are generated once into
``wallet.conf.test_credentials_dir()``: every step runs as in production, but an iPhone refuses
what they sign, since they do not chain to Apple's root.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from wallet import conf

# What a Pass Type ID certificate's key can be, and what PKCS#7 signing accepts.
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

TEST_PASS_TYPE_ID = "pass.local.loyalty.test"  # noqa: S105 - an identifier, not a password
TEST_TEAM_ID = "TESTTEAM01"
# The files of the test credentials, in wallet.conf.test_credentials_dir().
TEST_CA = "ca.pem"
TEST_WWDR = "apple-wwdr.pem"
TEST_CERTIFICATE = "apple-pass.pem"
TEST_KEY = "apple-pass-key.pem"
_TEST_FILES = (TEST_CA, TEST_WWDR, TEST_CERTIFICATE, TEST_KEY)
_TEST_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class AppleCredentials:
    pass_type_id: str
    team_id: str
    certificate: x509.Certificate
    private_key: PrivateKey
    wwdr: x509.Certificate


def apple_credentials() -> AppleCredentials:
    """The credentials passes are signed with, read once per process and settings (a renewed
    certificate written over the same file is read after a restart)."""
    return _load(_settings_key())


def apple_tls_client_files() -> tuple[str, str]:
    """(certificate, key): PEM files of the pass certificate and its unencrypted key, the
    client certificate of the HTTPS connection to APNs. A PKCS#12 bundle or an encrypted key
    is written once as a private PEM copy under ``DATA_DIR/wallet/runtime/``."""
    return _tls_files(_settings_key())


def apple_test_credentials_create(directory: Path) -> None:
    """Generate the test CA, WWDR intermediate and pass certificate into ``directory``,
    unless they are all there already. Safe to run from several processes at once."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(directory / ".apple-test-credentials.lock"):
        if all((directory / name).exists() for name in _TEST_FILES):
            return
        for name, data in _test_credentials_pem().items():
            _write_private(directory / name, data)


# ---------------------------------------------------------------------------------------------
# Loading


_SettingsKey = tuple[str, ...]


def _settings_key() -> _SettingsKey:
    # Everything the credentials depend on: a changed setting is a different cache entry.
    return (
        settings.APPLE_PASS_TYPE_ID or "",
        settings.APPLE_TEAM_ID or "",
        settings.APPLE_PASS_CERTIFICATE or "",
        settings.APPLE_PASS_KEY or "",
        settings.APPLE_PASS_KEY_PASSWORD or "",
        settings.APPLE_PASS_P12 or "",
        settings.APPLE_PASS_P12_PASSWORD or "",
        settings.APPLE_WWDR_CERTIFICATE or "",
        "test" if settings.WALLET_TEST_CREDENTIALS else "",
        str(conf.test_credentials_dir()),
    )


def _configured() -> bool:
    return bool(settings.APPLE_PASS_P12 or settings.APPLE_PASS_CERTIFICATE)


@functools.lru_cache(maxsize=8)
def _load(key: _SettingsKey) -> AppleCredentials:
    if _configured():
        return _from_settings()
    if settings.WALLET_TEST_CREDENTIALS:
        directory = conf.test_credentials_dir()
        apple_test_credentials_create(directory)
        return _from_test_directory(directory)
    raise ImproperlyConfigured(
        "Apple Wallet is not configured: set APPLE_PASS_TYPE_ID, APPLE_TEAM_ID, "
        "APPLE_PASS_CERTIFICATE and APPLE_PASS_KEY (or APPLE_PASS_P12) and "
        "APPLE_WWDR_CERTIFICATE, or turn on WALLET_TEST_CREDENTIALS for development."
    )


def _read(setting: str) -> bytes:
    path = Path(getattr(settings, setting))
    try:
        return path.read_bytes()
    except OSError as error:
        raise ImproperlyConfigured(f"{setting}: cannot read {path}: {error}") from error


def _certificate(data: bytes, setting: str) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise ImproperlyConfigured(f"{setting} is not an X.509 certificate: {error}") from error


def _password(setting: str) -> bytes | None:
    value = getattr(settings, setting) or ""
    return value.encode() if value else None


def _signing_key(key: object, setting: str) -> PrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured(f"{setting} holds no RSA or EC private key.")
    return key


def _from_settings() -> AppleCredentials:
    extra: list[x509.Certificate] = []
    if settings.APPLE_PASS_P12:
        try:
            loaded = pkcs12.load_key_and_certificates(
                _read("APPLE_PASS_P12"), _password("APPLE_PASS_P12_PASSWORD")
            )
        except ValueError as error:
            raise ImproperlyConfigured(
                f"APPLE_PASS_P12 cannot be read (wrong APPLE_PASS_P12_PASSWORD?): {error}"
            ) from error
        key, certificate, extra = loaded[0], loaded[1], list(loaded[2])
        if certificate is None:
            raise ImproperlyConfigured("APPLE_PASS_P12 holds no certificate.")
        private_key = _signing_key(key, "APPLE_PASS_P12")
    else:
        if not settings.APPLE_PASS_KEY:
            raise ImproperlyConfigured("APPLE_PASS_CERTIFICATE is set without APPLE_PASS_KEY.")
        certificate = _certificate(_read("APPLE_PASS_CERTIFICATE"), "APPLE_PASS_CERTIFICATE")
        try:
            key = serialization.load_pem_private_key(
                _read("APPLE_PASS_KEY"), _password("APPLE_PASS_KEY_PASSWORD")
            )
        except (ValueError, TypeError) as error:
            raise ImproperlyConfigured(
                f"APPLE_PASS_KEY cannot be read (wrong APPLE_PASS_KEY_PASSWORD?): {error}"
            ) from error
        private_key = _signing_key(key, "APPLE_PASS_KEY")
    _check_pair(certificate, private_key)
    return AppleCredentials(
        pass_type_id=_pass_type_id(certificate),
        team_id=_team_id(certificate),
        certificate=certificate,
        private_key=private_key,
        wwdr=_wwdr(certificate, extra),
    )


def _wwdr(certificate: x509.Certificate, extra: list[x509.Certificate]) -> x509.Certificate:
    if settings.APPLE_WWDR_CERTIFICATE:
        return _certificate(_read("APPLE_WWDR_CERTIFICATE"), "APPLE_WWDR_CERTIFICATE")
    # A PKCS#12 export may carry the intermediate along.
    for candidate in extra:
        if candidate.subject == certificate.issuer:
            return candidate
    raise ImproperlyConfigured(
        "APPLE_WWDR_CERTIFICATE is not set: download the Apple WWDR intermediate that issued "
        "the pass certificate (https://www.apple.com/certificateauthority/)."
    )


def _check_pair(certificate: x509.Certificate, key: PrivateKey) -> None:
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(*public) != key.public_key().public_bytes(*public):
        raise ImproperlyConfigured("The Apple pass key does not belong to the pass certificate.")


def _name_value(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = certificate.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _pass_type_id(certificate: x509.Certificate) -> str:
    in_certificate = _name_value(certificate, NameOID.USER_ID)
    configured = settings.APPLE_PASS_TYPE_ID or ""
    if configured and in_certificate and configured != in_certificate:
        raise ImproperlyConfigured(
            f"APPLE_PASS_TYPE_ID is {configured} but the certificate is for {in_certificate}."
        )
    pass_type_id = configured or in_certificate
    if not pass_type_id:
        raise ImproperlyConfigured("Set APPLE_PASS_TYPE_ID (the certificate names none).")
    return pass_type_id


def _team_id(certificate: x509.Certificate) -> str:
    team_id = settings.APPLE_TEAM_ID or _name_value(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not team_id:
        raise ImproperlyConfigured("Set APPLE_TEAM_ID (the certificate names none).")
    return team_id


def _from_test_directory(directory: Path) -> AppleCredentials:
    certificate = x509.load_pem_x509_certificate((directory / TEST_CERTIFICATE).read_bytes())
    key = serialization.load_pem_private_key((directory / TEST_KEY).read_bytes(), None)
    return AppleCredentials(
        pass_type_id=_name_value(certificate, NameOID.USER_ID),
        team_id=_name_value(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME),
        certificate=certificate,
        private_key=_signing_key(key, TEST_KEY),
        wwdr=x509.load_pem_x509_certificate((directory / TEST_WWDR).read_bytes()),
    )


# ---------------------------------------------------------------------------------------------
# The client certificate for APNs


@functools.lru_cache(maxsize=8)
def _tls_files(key: _SettingsKey) -> tuple[str, str]:
    credentials = _load(key)
    if not _configured():
        directory = conf.test_credentials_dir()
        return str(directory / TEST_CERTIFICATE), str(directory / TEST_KEY)
    if _plain_pem_files():
        return settings.APPLE_PASS_CERTIFICATE, settings.APPLE_PASS_KEY
    # Named after the certificate: a new certificate gets new files, the old ones stay unused.
    fingerprint = _certificate_digest(credentials.certificate)
    runtime = conf.test_credentials_dir() / "runtime"
    certificate_path = runtime / f"apple-pass-{fingerprint}.pem"
    key_path = runtime / f"apple-pass-{fingerprint}-key.pem"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    certificate_pem = credentials.certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = _key_pem(credentials.private_key)
    if not (key_path.exists() and key_path.read_bytes() == key_pem):
        _write_private(key_path, key_pem)
    if not (certificate_path.exists() and certificate_path.read_bytes() == certificate_pem):
        _write_private(certificate_path, certificate_pem)
    return str(certificate_path), str(key_path)


def _certificate_digest(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()[:16]


def _plain_pem_files() -> bool:
    """The configured certificate and key are usable as they are: PEM, key not encrypted."""
    if settings.APPLE_PASS_P12 or settings.APPLE_PASS_KEY_PASSWORD:
        return False
    return b"-----BEGIN" in _read("APPLE_PASS_CERTIFICATE")


# ---------------------------------------------------------------------------------------------
# Test credentials


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, *extra: x509.NameAttribute) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Loyalty test credentials"),
            *extra,
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    *,
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    ca: bool,
    path_length: int | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    issuer_public = issuer_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + _TEST_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
    )
    if not ca:
        # A pass certificate is also the APNs client certificate.
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _test_credentials_pem() -> dict[str, bytes]:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wwdr_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pass_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = _name("Loyalty Test Root CA")
    wwdr_name = _name(
        "Test Worldwide Developer Relations Certification Authority",
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"),
    )
    pass_name = _name(
        f"Pass Type ID: {TEST_PASS_TYPE_ID}",
        x509.NameAttribute(NameOID.USER_ID, TEST_PASS_TYPE_ID),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_TEAM_ID),
    )
    root = _issue(subject=root_name, key=root_key, issuer=root_name, issuer_key=root_key, ca=True)
    wwdr = _issue(
        subject=wwdr_name,
        key=wwdr_key,
        issuer=root_name,
        issuer_key=root_key,
        ca=True,
        path_length=0,
    )
    certificate = _issue(
        subject=pass_name, key=pass_key, issuer=wwdr_name, issuer_key=wwdr_key, ca=False
    )
    pem = serialization.Encoding.PEM
    # The key last: the files are checked for together, under the lock.
    return {
        TEST_CA: root.public_bytes(pem),
        TEST_WWDR: wwdr.public_bytes(pem),
        TEST_CERTIFICATE: certificate.public_bytes(pem),
        TEST_KEY: _key_pem(pass_key),
    }


# ---------------------------------------------------------------------------------------------
# Files


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) without ever exposing a half-written file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
