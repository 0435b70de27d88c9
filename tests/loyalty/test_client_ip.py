"""Who is asking: the client's address for the public forms' rate limits and the login
throttling, read from X-Forwarded-For only when a trusted proxy sent it."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from django.urls import reverse

from cards.models import Card, Program
from loyalty.ratelimit import client_ip
from tests.factories import PASSWORD

PROXY = "10.0.0.2"


def ip_of(remote: str, forwarded: str | None = None) -> str:
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **headers))


def test_without_trusted_proxies_the_forwarded_header_is_ignored(settings: Any) -> None:
    settings.TRUSTED_PROXIES = []

    assert ip_of("203.0.113.5", "198.51.100.1") == "203.0.113.5"
    assert ip_of("127.0.0.1", "198.51.100.1") == "127.0.0.1"


def test_the_header_counts_only_when_the_connection_comes_from_a_trusted_proxy(
    settings: Any,
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert ip_of(PROXY, "198.51.100.1") == "198.51.100.1"
    # A client that connects directly and forges the header is still itself.
    assert ip_of("203.0.113.5", "198.51.100.1") == "203.0.113.5"


def test_the_client_is_the_rightmost_address_no_trusted_proxy_wrote(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.7"]

    # What the client wrote itself sits on the left; the proxies append on the right.
    assert ip_of(PROXY, "1.1.1.1, 198.51.100.1, 192.0.2.7, 10.0.0.9") == "198.51.100.1"
    assert ip_of(PROXY, "1.1.1.1,198.51.100.1") == "198.51.100.1"


def test_a_header_that_is_not_addresses_falls_back_to_the_connection(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert ip_of(PROXY, "not-an-ip") == PROXY
    assert ip_of(PROXY, "198.51.100.1, 10.0.0.9, <script>") == PROXY
    assert ip_of(PROXY, "") == PROXY
    assert ip_of(PROXY) == PROXY
    # Garbage to the left of the client is the client's own doing and is never reached.
    assert ip_of(PROXY, "garbage, 198.51.100.1") == "198.51.100.1"


def test_when_every_hop_is_trusted_the_leftmost_is_the_client(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert ip_of(PROXY, "10.1.2.3, 10.0.0.9") == "10.1.2.3"


def test_addresses_are_written_one_way_whatever_the_proxy_wrote(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]

    assert ip_of(PROXY, " 2001:DB8:0:0::1 ") == "2001:db8::1"
    assert ip_of("::ffff:10.0.0.2", "::ffff:198.51.100.1") == "198.51.100.1"
    assert ip_of("fd00::1", "198.51.100.1") == "198.51.100.1"


def _settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BEHIND_PROXY", "TRUSTED_PROXIES", "DJANGO_SETTINGS_MODULE"}
    }
    environ.update(env, DJANGO_SETTINGS_MODULE="loyalty.settings_test")
    code = "from django.conf import settings; print(settings.TRUSTED_PROXIES)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_settings_trust_no_proxy_unless_told() -> None:
    assert _settings_in_a_fresh_process().stdout.strip() == "[]"
    # BEHIND_PROXY alone: a proxy on the same host, as gunicorn's own default.
    assert _settings_in_a_fresh_process(BEHIND_PROXY="1").stdout.strip() == "['127.0.0.1', '::1']"
    listed = _settings_in_a_fresh_process(BEHIND_PROXY="1", TRUSTED_PROXIES="10.0.0.0/8, ::1")
    assert listed.stdout.strip() == "['10.0.0.0/8', '::1']"


def test_a_mistyped_trusted_proxy_stops_the_start() -> None:
    result = _settings_in_a_fresh_process(TRUSTED_PROXIES="10.0.0.0/8,proxy.internal")

    assert result.returncode != 0
    assert "proxy.internal" in result.stderr


# --------------------------------------------------------------------------------------------
# Through the real views


def join_url(program: Program) -> str:
    return reverse("public:join", args=[program.join_token])


def bad_join(client: Client, program: Program, **extra: str) -> Any:
    """A join that fails validation: counted by the limiter, creates nothing."""
    data = {"first_name": "Ada", "last_name": "Lovelace", "email": "bad", "phone": ""}
    return client.post(join_url(program), data, **extra)


def good_join(client: Client, program: Program, **extra: str) -> Any:
    data = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": ""}
    return client.post(join_url(program), data, **extra)


@pytest.mark.django_db
def test_a_forged_forwarded_header_does_not_escape_the_join_limit(
    settings: Any, client: Client, stamp_program: Program
) -> None:
    settings.TRUSTED_PROXIES = []
    for n in range(20):
        response = bad_join(client, stamp_program, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert response.status_code == 422

    response = good_join(client, stamp_program, HTTP_X_FORWARDED_FOR="198.51.100.200")

    assert response.status_code == 429
    assert not Card.objects.exists()


@pytest.mark.django_db
def test_visitors_behind_a_trusted_proxy_are_limited_one_by_one(
    settings: Any, stamp_program: Program
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    via_proxy = Client(REMOTE_ADDR=PROXY)
    first = {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    for _ in range(20):
        assert bad_join(via_proxy, stamp_program, **first).status_code == 422
    assert bad_join(via_proxy, stamp_program, **first).status_code == 429

    # Another visitor through the same proxy still joins.
    response = good_join(via_proxy, stamp_program, HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert response.status_code == 302
    assert Card.objects.count() == 1


def login(client: Client, password: str, forwarded: str) -> Any:
    return client.post(
        reverse("login"),
        {"username": "owner", "password": password},
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.mark.django_db
def test_a_locked_out_visitor_behind_the_proxy_does_not_lock_out_another(
    settings: Any, owner: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    attacker, member = Client(REMOTE_ADDR=PROXY), Client(REMOTE_ADDR=PROXY)
    for _ in range(5):
        login(attacker, "nope", "203.0.113.66")
    assert login(attacker, PASSWORD, "203.0.113.66").status_code == 429

    response = login(member, PASSWORD, "198.51.100.7")

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


@pytest.mark.django_db
def test_a_forged_forwarded_header_does_not_escape_the_login_lockout(
    settings: Any, client: Client, owner: Any
) -> None:
    settings.TRUSTED_PROXIES = []
    for n in range(5):
        login(client, "nope", f"198.51.100.{n}")

    assert login(client, PASSWORD, "198.51.100.99").status_code == 429
