"""Push endpoints come from browsers: the server must not be made to send requests into its
own network, follow a push service elsewhere, wait on it forever, read whatever it answers or
show its words to staff, nor send one message to any number of devices."""

from __future__ import annotations

import datetime
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.checks import Tags, run_checks
from django.core.exceptions import ValidationError

from cards.models import Card
from pushes import endpoints, services, vapid
from pushes.checks import check_private_endpoints
from pushes.devinbox import InboxSubscription
from pushes.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    MessageStatus,
    PushMessage,
    PushSubscription,
)
from tests.factories import issue_card
from tests.pushes.push_service import BODY_TEXT, PushService, Reply
from tests.pushes.support import ROOT, FakeDNS, wait_until

pytestmark = pytest.mark.django_db

PUBLIC = "142.250.74.42"  # an address of a real push service
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


@pytest.fixture
def card(stamp_program: Any) -> Card:
    return issue_card(stamp_program)


@pytest.fixture
def production(settings: Any) -> None:
    """Production's rule: https push services on public addresses only."""
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False


def _save(card: Card, endpoint: str) -> PushSubscription:
    return services.subscription_save(card=card, endpoint=endpoint, p256dh=P256DH, auth=AUTH)


def _save_fake(card: Card, fake: InboxSubscription, endpoint: str = "") -> PushSubscription:
    return services.subscription_save(
        card=card, endpoint=endpoint or fake.endpoint, p256dh=fake.p256dh, auth=fake.auth
    )


def _refusal(card: Card, endpoint: str) -> str:
    with pytest.raises(ValidationError) as refused:
        _save(card, endpoint)
    assert not PushSubscription.objects.exists()
    return " ".join(refused.value.messages)


def _send(card: Card) -> tuple[PushMessage, Delivery, DeliveryAttempt]:
    """Send one message to the card's device here, as the worker would."""
    message = services.message_create(card=card, body="Fresh bread", actor=None)
    services.messages_dispatch_due()
    delivery = Delivery.objects.get(message=message)
    services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    message.refresh_from_db()
    return message, delivery, delivery.attempt_rows.get()


# ---------------------------------------------------------------------------------------------
# When a device subscribes


@pytest.mark.parametrize(
    "endpoint",
    [
        # Through the real resolver: its reading of these forms is what gets checked.
        "https://127.1:5432/push",
        "https://2130706433/push",
        "https://0x7f.1/push",
        "https://017700000001/push",
        "https://10.1/push",
        "https://localhost:6379/push",
        "https://localhost./push",
        "https://[::1]/push",
        "https://[::ffff:127.0.0.1]/push",
        "https://0.0.0.0/push",
        "https://169.254.169.254/latest/meta-data/",
        "https://192.168.1.1/push",
    ],
)
def test_endpoints_inside_the_network_are_refused(
    production: None, card: Card, endpoint: str
) -> None:
    assert "must be a public host" in _refusal(card, endpoint)


def test_a_cloud_metadata_name_is_refused(production: None, card: Card, fake_dns: FakeDNS) -> None:
    fake_dns.set("metadata.google.internal", "169.254.169.254")

    assert "must be a public host" in _refusal(card, "https://metadata.google.internal/x")


@pytest.mark.parametrize(
    "addresses",
    [
        ("10.0.0.5",),
        (PUBLIC, "10.0.0.5"),  # every address counts, not only the first
        ("2a00:1450:4001:80b::200a", "fd00::1"),
        ("100.64.0.1",),  # shared address space (carrier NAT)
        ("224.0.0.251",),  # multicast
        ("fe80::1",),
        ("64:ff9b::a00:1",),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::1",),  # 6to4 of 127.0.0.1
    ],
)
def test_a_public_name_resolving_to_a_private_address_is_refused(
    production: None, card: Card, fake_dns: FakeDNS, addresses: tuple[str, ...]
) -> None:
    fake_dns.set("push.example.com", *addresses)

    assert "must be a public host" in _refusal(card, "https://push.example.com/x")


@pytest.mark.parametrize(
    "addresses", [(PUBLIC,), ("2a00:1450:4001:80b::200a",), ("64:ff9b::8efa:4a2a",)]
)
def test_a_name_resolving_to_public_addresses_is_accepted(
    production: None, card: Card, fake_dns: FakeDNS, addresses: tuple[str, ...]
) -> None:
    fake_dns.set("fcm.googleapis.com", *addresses)

    subscription = _save(card, "https://fcm.googleapis.com/fcm/send/abc")

    assert subscription.is_active


def test_a_name_that_does_not_resolve_is_refused_with_a_clear_message(
    production: None, card: Card, fake_dns: FakeDNS
) -> None:
    fake_dns.set("nowhere.example")

    assert "host cannot be found" in _refusal(card, "https://nowhere.example/x")


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/x",
        "ftp://fcm.googleapis.com/x",
        "https://user@fcm.googleapis.com/x",
        "https://fcm.googleapis.com/x y",
        "https://fcm.googleapis.com/café",
        "https://fcm.googleapis.com:99999/x",
    ],
)
def test_only_plain_https_urls_are_accepted(
    production: None, card: Card, fake_dns: FakeDNS, endpoint: str
) -> None:
    fake_dns.set("fcm.googleapis.com", PUBLIC)

    assert "must be an https URL" in _refusal(card, endpoint)


@pytest.mark.parametrize(
    ("host", "accepted"),
    [
        ("fcm.googleapis.com", True),
        ("googleapis.com", True),
        ("updates.push.services.mozilla.com", True),
        ("evilgoogleapis.com", False),
        ("googleapis.com.evil.example", False),
        ("push.services.mozilla.com.example", False),
    ],
)
def test_the_allow_list_admits_its_hosts_and_their_subdomains_only(
    production: None, card: Card, fake_dns: FakeDNS, settings: Any, host: str, accepted: bool
) -> None:
    settings.PUSH_ENDPOINT_HOSTS = ["googleapis.com", "push.services.mozilla.com."]
    fake_dns.set(host, PUBLIC)

    if accepted:
        assert _save(card, f"https://{host}/x").is_active
    else:
        assert "not a known push service" in _refusal(card, f"https://{host}/x")


def test_without_an_allow_list_any_public_host_is_accepted(
    production: None, card: Card, fake_dns: FakeDNS
) -> None:
    fake_dns.set("web.push.apple.com", PUBLIC)

    assert _save(card, "https://web.push.apple.com/x").is_active


def test_development_allows_the_local_push_service(
    card: Card, push_service: PushService, settings: Any
) -> None:
    fake = push_service.subscribe()
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False
    with pytest.raises(ValidationError):
        _save_fake(card, fake)

    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True

    assert _save_fake(card, fake).is_active


# ---------------------------------------------------------------------------------------------
# When a push is sent


def test_a_host_that_now_resolves_inside_the_network_is_not_connected_to(
    production: None, card: Card, fake_dns: FakeDNS, push_service: PushService
) -> None:
    fake = push_service.subscribe()
    port = push_service.origin.rsplit(":", 1)[1]
    fake_dns.set("push.example.com", PUBLIC)
    _save_fake(card, fake, f"https://push.example.com:{port}/push/{fake.id}")
    fake_dns.set("push.example.com", "127.0.0.1")  # DNS changed since

    message, delivery, attempt = _send(card)

    assert delivery.status == DeliveryStatus.FAILED
    assert "must be a public host" in delivery.reason
    assert "must be a public host" in attempt.detail
    assert message.status == MessageStatus.FAILED
    assert push_service.connections == 0


def test_a_name_that_stops_resolving_is_retried_later(
    production: None, card: Card, fake_dns: FakeDNS
) -> None:
    fake_dns.set("push.example.com", PUBLIC)
    _save(card, "https://push.example.com/x")
    fake_dns.set("push.example.com")

    _message, delivery, _attempt = _send(card)

    assert delivery.status == DeliveryStatus.PENDING
    assert "host cannot be found" in delivery.reason


def test_the_request_goes_to_the_checked_address_under_the_hosts_name(
    card: Card, fake_dns: FakeDNS
) -> None:
    """The name is resolved and checked once per send, and that address is connected to. A
    DNS server answering differently to a second question (rebinding: a checked address,
    then another) gets no second question."""
    fake_dns.set("push.test", "127.0.0.1")
    with PushService(vapid.public_key(), host="push.test") as service:
        fake = service.subscribe()
        _save_fake(card, fake)
        # Nothing listens on 127.0.0.2: a connection made after asking again would fail.
        fake_dns.answer_in_turn("push.test", ["127.0.0.1"], ["127.0.0.2"])

        _message, delivery, _attempt = _send(card)

        assert delivery.status == DeliveryStatus.DELIVERED
        (received,) = service.received_for(fake)
        assert received.errors == []
        assert received.headers["host"] == service.origin.split("://")[1]


def _certificate(
    name: str, issuer: x509.Name, issuer_key: Any, key: Any, *, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if not ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip
        builder = builder.add_extension(usage, critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def tls_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``tls_for(name)``: a server context with a certificate for ``name`` from a test
    authority, which the sender is made to trust (in place of the public ones)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Test push CA", x509.Name([]), ca_key, ca_key, ca=True)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    monkeypatch.setattr("certifi.where", lambda: str(ca_file))

    def _context(name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _certificate(name, ca.subject, ca_key, key, ca=False)
        chain = tmp_path / f"{name}.pem"
        chain.write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain)
        return context

    return _context


def test_over_tls_the_pinned_address_is_verified_under_the_hosts_name(
    card: Card, fake_dns: FakeDNS, tls_for: Any
) -> None:
    fake_dns.set("push.test", "127.0.0.1")
    with PushService(vapid.public_key(), host="push.test", tls=tls_for("push.test")) as service:
        fake = service.subscribe()
        _save_fake(card, fake)

        _message, delivery, _attempt = _send(card)

        assert delivery.status == DeliveryStatus.DELIVERED
        assert service.server_names == ["push.test"]
        (received,) = service.received_for(fake)
        assert received.errors == []


def test_over_tls_a_certificate_for_another_name_is_refused(
    card: Card, fake_dns: FakeDNS, tls_for: Any
) -> None:
    fake_dns.set("push.test", "127.0.0.1")
    with PushService(vapid.public_key(), host="push.test", tls=tls_for("other.test")) as service:
        fake = service.subscribe()
        _save_fake(card, fake)

        _message, delivery, _attempt = _send(card)

        assert delivery.status != DeliveryStatus.DELIVERED
        assert service.received == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_failure_and_is_not_followed(
    card: Card, push_service: PushService, status: int
) -> None:
    with PushService(vapid.public_key()) as elsewhere:
        target = elsewhere.subscribe()
        fake = push_service.subscribe(Reply(status, headers={"Location": target.endpoint}))
        _save_fake(card, fake)

        message, delivery, attempt = _send(card)

        assert (delivery.status, delivery.status_code) == (DeliveryStatus.FAILED, status)
        assert "redirect" in delivery.reason
        assert attempt.status_code == status
        assert message.status == MessageStatus.FAILED
        assert len(push_service.received_for(fake)) == 1
        assert elsewhere.connections == 0


@pytest.mark.parametrize(
    ("reply", "status", "status_code"),
    [
        # The status line itself comes a byte at a time: no answer by the deadline.
        (Reply(201, trickle=0.25), DeliveryStatus.UNKNOWN, None),
        # The status arrives, then the body crawls: the status counts, the rest is dropped.
        (
            Reply(201, body_size=200, trickle=0.25, trickle_body=True),
            DeliveryStatus.DELIVERED,
            201,
        ),
    ],
)
def test_a_server_trickling_its_answer_is_abandoned_at_the_deadline(
    card: Card,
    push_service: PushService,
    settings: Any,
    reply: Reply,
    status: DeliveryStatus,
    status_code: int | None,
) -> None:
    # Every byte comes well within the read timeout: only the deadline can end the wait.
    settings.PUSH_READ_TIMEOUT = 1.5
    settings.PUSH_SEND_DEADLINE = 1.0
    _save_fake(card, push_service.subscribe(reply))

    _message, delivery, _attempt = _send(card)

    assert (delivery.status, delivery.status_code) == (status, status_code)
    if status == DeliveryStatus.UNKNOWN:
        assert "did not answer within" in delivery.reason
    (answered,) = push_service.answered
    wait_until(lambda: answered.cut, timeout=15)
    assert answered.written < answered.total


@pytest.mark.parametrize("size", [300, 100 * 1024 * 1024])
def test_the_answers_body_is_read_only_up_to_a_cap_and_never_shown(
    card: Card, push_service: PushService, size: int
) -> None:
    _save_fake(card, push_service.subscribe(Reply(400, body_size=size)))

    message, delivery, attempt = _send(card)

    assert (delivery.status, delivery.status_code) == (DeliveryStatus.FAILED, 400)
    assert delivery.reason == attempt.detail == "The push service refused it (400)."
    secret = BODY_TEXT.split()[0].decode()
    assert secret not in delivery.reason + attempt.detail + message.failure_reason
    if size > endpoints.ANSWER_LIMIT:
        (answered,) = push_service.answered
        wait_until(lambda: answered.cut, timeout=15)
        assert answered.written < answered.total


# ---------------------------------------------------------------------------------------------
# Devices per card


def test_the_eleventh_device_ends_the_oldest(card: Card, push_service: PushService) -> None:
    fakes = [push_service.subscribe() for _ in range(11)]
    rows = [_save_fake(card, fake) for fake in fakes[:10]]
    assert card.push_subscriptions.filter(expired_at__isnull=True).count() == 10

    newest = _save_fake(card, fakes[10])

    live = card.push_subscriptions.filter(expired_at__isnull=True)
    assert set(live.values_list("pk", flat=True)) == {row.pk for row in rows[1:]} | {newest.pk}
    oldest = PushSubscription.objects.get(pk=rows[0].pk)
    assert oldest.expired_reason == (
        "Replaced by a newer device (a card keeps at most 10 devices)."
    )


def test_a_device_seen_again_is_kept_over_one_not_seen_since(
    card: Card, push_service: PushService, settings: Any
) -> None:
    settings.PUSH_MAX_DEVICES_PER_CARD = 2
    first, second, third = (push_service.subscribe() for _ in range(3))
    _save_fake(card, first)
    _save_fake(card, second)
    _save_fake(card, first)  # the card page refreshes its device on every visit

    _save_fake(card, third)

    live = card.push_subscriptions.filter(expired_at__isnull=True)
    assert sorted(live.values_list("endpoint", flat=True)) == sorted(
        [first.endpoint, third.endpoint]
    )


def test_the_cap_is_per_card(card: Card, stamp_program: Any, push_service: PushService) -> None:
    other = issue_card(stamp_program)
    for _ in range(10):
        _save_fake(card, push_service.subscribe())

    _save_fake(other, push_service.subscribe())

    assert card.push_subscriptions.filter(expired_at__isnull=True).count() == 10


# ---------------------------------------------------------------------------------------------
# The deploy check


def test_the_deploy_check_refuses_private_endpoints(settings: Any) -> None:
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True

    errors = run_checks(include_deployment_checks=True, tags=[Tags.security])

    assert "pushes.E001" in [error.id for error in errors]
    assert [error.id for error in check_private_endpoints()] == ["pushes.E001"]


def test_the_deploy_check_is_silent_when_off(settings: Any) -> None:
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False

    errors = run_checks(include_deployment_checks=True, tags=[Tags.security])

    assert "pushes.E001" not in [error.id for error in errors]
    assert check_private_endpoints() == []


def test_the_setting_is_read_from_the_environment_and_check_deploy_fails_on_it() -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"TESTING", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="loyalty.settings",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-key-1234567890",
        ALLOWED_HOSTS="loyalty.example.com",
        SITE_URL="https://loyalty.example.com",
        PUSH_ALLOW_PRIVATE_ENDPOINTS="1",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )

    assert result.returncode != 0
    assert "pushes.E001" in result.stdout + result.stderr
