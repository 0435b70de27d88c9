"""Apple's PassKit web service over HTTP, as Wallet calls it: registering and unregistering a
device, the serials updated since a tag, the latest pass with Last-Modified / 304, the log;
tokens, methods, CSRF and the rate limit. One test goes through a real HTTP server and
client."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils.http import http_date

from cards import services as card_services
from cards.models import Card, Device
from loyalty import clock
from loyalty.ratelimit import Limit
from pushes.models import Channel, PushSubscription
from tests.factories import issue_card
from tests.wallet.apns_fixtures import push_token
from tests.wallet.apple_fixtures import pkpass_files, pkpass_verify
from wallet.models import AppleDevice, AppleRegistration, WalletPass
from wallet.services import wallet_pass_ensure
from wallet.views import passkit

pytestmark = pytest.mark.django_db

DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PUSH = push_token(7)


def _registration_url(pass_type_id: str, serial: str, device: str = DEVICE) -> str:
    return reverse("passkit:registration", args=[device, pass_type_id, serial])


def _serials_url(pass_type_id: str, device: str = DEVICE) -> str:
    return reverse("passkit:updated_serials", args=[device, pass_type_id])


def _pass_url(pass_type_id: str, serial: str) -> str:
    return reverse("passkit:latest_pass", args=[pass_type_id, serial])


def _auth(wallet_pass: WalletPass | str) -> dict[str, str]:
    token = wallet_pass if isinstance(wallet_pass, str) else wallet_pass.authentication_token
    return {"Authorization": f"ApplePass {token}"}


def _register(client: Client, wallet_pass: WalletPass, pass_type_id: str, **kwargs: Any) -> Any:
    headers = kwargs.pop("headers", _auth(wallet_pass))
    body = kwargs.pop("body", {"pushToken": kwargs.pop("push", PUSH)})
    return client.post(
        _registration_url(pass_type_id, wallet_pass.card.serial, kwargs.pop("device", DEVICE)),
        json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def held(stamp_card: Card, apple_credentials: Any) -> WalletPass:
    """The card's pass, downloaded (not yet registered)."""
    return wallet_pass_ensure(card=stamp_card)


@pytest.fixture
def pass_type(apple_credentials: Any) -> str:
    return str(apple_credentials.pass_type_id)


def _not_html(response: Any) -> None:
    assert "html" not in response.get("Content-Type", "")


# ---------------------------------------------------------------------------------------------
# Registration


def test_a_device_registers_with_201_then_200_refreshing_its_push_token(
    client, held, pass_type
) -> None:
    first = _register(client, held, pass_type)
    assert first.status_code == 201
    again = _register(client, held, pass_type, push=push_token(8))
    assert again.status_code == 200
    _not_html(first)
    assert first.content == again.content == b""

    device = AppleDevice.objects.get()
    assert (device.device_library_identifier, device.push_token) == (DEVICE, push_token(8))
    registration = AppleRegistration.objects.get()
    subscription = registration.subscription
    assert (subscription.channel, subscription.endpoint) == (
        Channel.APPLE_WALLET,
        f"passkit:{DEVICE}",
    )
    assert (subscription.card_id, subscription.merchant_id) == (held.card_id, held.merchant_id)
    assert subscription.is_active
    assert (subscription.p256dh, subscription.auth) == ("", "")
    card = Card.objects.get(pk=held.card_id)
    assert Device.APPLE_WALLET in card.devices
    assert card.installed_at is not None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "ApplePass wrong-token-0123456789"},
        {"Authorization": "Bearer {token}"},
        {"Authorization": "ApplePass"},
    ],
)
def test_registering_without_the_pass_token_is_401(client, held, pass_type, headers) -> None:
    headers = {k: v.format(token=held.authentication_token) for k, v in headers.items()}
    response = _register(client, held, pass_type, headers=headers)
    assert response.status_code == 401
    assert not AppleRegistration.objects.exists()
    assert not AppleDevice.objects.exists()


def test_another_cards_token_is_401(client, held, pass_type, stamp_program) -> None:
    other = wallet_pass_ensure(card=issue_card(stamp_program))
    response = _register(client, held, pass_type, headers=_auth(other))
    assert response.status_code == 401
    assert not AppleRegistration.objects.exists()


def test_an_unknown_serial_or_pass_type_is_404(client, held, pass_type) -> None:
    unknown_serial = client.post(
        _registration_url(pass_type, "0000-0000-0000"),
        {"pushToken": PUSH},
        content_type="application/json",
        headers=_auth(held),
    )
    unknown_type = _register(client, held, "pass.com.example.other")
    assert (unknown_serial.status_code, unknown_type.status_code) == (404, 404)
    assert not AppleRegistration.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"pushToken": ""}, {"pushToken": 42}, {"pushToken": "../../x"}, "[1]", []]
)
def test_a_registration_without_a_push_token_is_400(client, held, pass_type, body) -> None:
    response = _register(client, held, pass_type, body=body)
    assert response.status_code == 400
    assert not AppleRegistration.objects.exists()


def test_a_device_unregisters_and_the_card_leaves_apple_wallet(
    client, held, pass_type, merchant
) -> None:
    _register(client, held, pass_type)
    response = client.delete(_registration_url(pass_type, held.card.serial), headers=_auth(held))
    assert response.status_code == 200
    assert response.content == b""
    assert not AppleRegistration.objects.exists()
    subscription = PushSubscription.objects.get()
    assert subscription.expired_at is not None
    assert subscription.expired_reason == "Removed from Apple Wallet on the device."
    assert Device.APPLE_WALLET not in Card.objects.get(pk=held.card_id).devices
    # Again: still 200, nothing to do.
    again = client.delete(_registration_url(pass_type, held.card.serial), headers=_auth(held))
    assert again.status_code == 200


def test_the_card_stays_in_apple_wallet_while_another_device_holds_it(
    client, held, pass_type
) -> None:
    _register(client, held, pass_type)
    _register(client, held, pass_type, device="watch0001", push=push_token(9))
    client.delete(_registration_url(pass_type, held.card.serial), headers=_auth(held))
    assert AppleRegistration.objects.count() == 1
    assert Device.APPLE_WALLET in Card.objects.get(pk=held.card_id).devices


def test_registering_again_after_leaving_revives_the_same_subscription(
    client, held, pass_type
) -> None:
    _register(client, held, pass_type)
    client.delete(_registration_url(pass_type, held.card.serial), headers=_auth(held))
    response = _register(client, held, pass_type)
    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert subscription.is_active
    assert subscription.expired_reason == ""
    assert AppleRegistration.objects.get().subscription == subscription


def test_unregistering_with_a_wrong_token_is_401_and_changes_nothing(
    client, held, pass_type, stamp_program
) -> None:
    _register(client, held, pass_type)
    other = wallet_pass_ensure(card=issue_card(stamp_program))
    url = _registration_url(pass_type, held.card.serial)
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers=_auth(other)).status_code == 401
    assert AppleRegistration.objects.exists()
    assert PushSubscription.objects.get().is_active


def test_a_replaced_card_link_makes_the_old_pass_token_401(client, held, pass_type, owner) -> None:
    _register(client, held, pass_type)
    card_services.card_rotate_link(
        card=Card.objects.get(pk=held.card_id),
        actor=owner,
        reason=card_services.LinkRotation.DASHBOARD,
    )
    assert _register(client, held, pass_type).status_code == 401
    assert (
        client.get(_pass_url(pass_type, held.card.serial), headers=_auth(held)).status_code == 401
    )


# ---------------------------------------------------------------------------------------------
# Serials updated since a tag


def test_the_serials_updated_since_a_tag_and_204_when_none(
    client, held, pass_type, stamp_program, staff
) -> None:
    other = wallet_pass_ensure(card=issue_card(stamp_program))
    _register(client, held, pass_type)
    _register(client, other, pass_type)
    # Without a tag: every pass the device holds.
    everything = client.get(_serials_url(pass_type))
    assert everything.status_code == 200
    assert everything["Content-Type"] == "application/json"
    listed = everything.json()
    assert sorted(listed["serialNumbers"]) == sorted([held.card.serial, other.card.serial])
    tag = listed["lastUpdated"]
    assert isinstance(tag, str)
    assert tag.isdigit()

    nothing = client.get(_serials_url(pass_type), {"passesUpdatedSince": tag})
    assert nothing.status_code == 204
    assert nothing.content == b""

    card_services.card_add_stamps(card=Card.objects.get(pk=other.card_id), value="1", actor=staff)
    changed = client.get(_serials_url(pass_type), {"passesUpdatedSince": tag})
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [other.card.serial]
    assert int(changed.json()["lastUpdated"]) > int(tag)
    later = client.get(
        _serials_url(pass_type), {"passesUpdatedSince": changed.json()["lastUpdated"]}
    )
    assert later.status_code == 204


def test_a_change_one_microsecond_after_the_tag_is_listed(client, held, pass_type) -> None:
    _register(client, held, pass_type)
    tag = client.get(_serials_url(pass_type)).json()["lastUpdated"]
    WalletPass.objects.filter(pk=held.pk).update(updated_at=_moment(tag, 1))
    assert client.get(_serials_url(pass_type), {"passesUpdatedSince": tag}).status_code == 200


def _moment(tag: str, microseconds: int) -> datetime.datetime:
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return epoch + datetime.timedelta(microseconds=int(tag) + microseconds)


def test_an_unknown_device_gets_204_and_an_unknown_pass_type_404(client, held, pass_type) -> None:
    _register(client, held, pass_type)
    assert client.get(_serials_url(pass_type, device="unknown0001")).status_code == 204
    assert client.get(_serials_url("pass.com.example.other")).status_code == 404


def test_an_unreadable_tag_lists_everything(client, held, pass_type) -> None:
    _register(client, held, pass_type)
    response = client.get(_serials_url(pass_type), {"passesUpdatedSince": "2024-01-01T00:00"})
    assert response.json()["serialNumbers"] == [held.card.serial]


# ---------------------------------------------------------------------------------------------
# The latest pass


def _changed_at(wallet_pass: WalletPass, moment: datetime.datetime) -> None:
    WalletPass.objects.filter(pk=wallet_pass.pk).update(updated_at=moment)


SECOND = datetime.datetime(2024, 5, 4, 10, 0, 0, tzinfo=datetime.UTC)


def test_the_latest_pass_with_last_modified_and_304_when_not_older(
    client, held, pass_type, apple_credentials
) -> None:
    _changed_at(held, SECOND + datetime.timedelta(microseconds=250_000))
    url = _pass_url(pass_type, held.card.serial)
    response = client.get(url, headers=_auth(held))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.pkpass"
    files = pkpass_verify(response.content, apple_credentials.ca)
    content = json.loads(files["pass.json"])
    assert content["serialNumber"] == held.card.serial
    assert content["authenticationToken"] == held.authentication_token
    last_modified = response["Last-Modified"]
    assert last_modified == http_date(SECOND.timestamp())

    same = client.get(url, headers={**_auth(held), "If-Modified-Since": last_modified})
    assert same.status_code == 304
    assert same.content == b""
    assert same["Last-Modified"] == last_modified
    older = http_date(SECOND.timestamp() - 1)
    assert client.get(url, headers={**_auth(held), "If-Modified-Since": older}).status_code == 200
    _changed_at(held, SECOND + datetime.timedelta(seconds=1))
    changed = client.get(url, headers={**_auth(held), "If-Modified-Since": last_modified})
    assert changed.status_code == 200


def test_a_copy_served_within_the_second_of_its_change_is_dated_a_second_earlier(
    client, held, pass_type
) -> None:
    # Another change can still land in that second; HTTP dates could not tell the copies
    # apart, so the device must not be told its copy is current.
    url = _pass_url(pass_type, held.card.serial)
    _changed_at(held, SECOND + datetime.timedelta(microseconds=200_000))
    with clock.frozen_at(SECOND + datetime.timedelta(microseconds=300_000)):
        first = client.get(url, headers=_auth(held))
    assert first["Last-Modified"] == http_date(SECOND.timestamp() - 1)
    _changed_at(held, SECOND + datetime.timedelta(microseconds=700_000))
    copy_dated = {**_auth(held), "If-Modified-Since": first["Last-Modified"]}
    again = client.get(url, headers=copy_dated)
    assert again.status_code == 200
    assert again["Last-Modified"] == http_date(SECOND.timestamp())


def test_the_pass_needs_its_own_token(client, held, pass_type, stamp_program) -> None:
    other = wallet_pass_ensure(card=issue_card(stamp_program))
    url = _pass_url(pass_type, held.card.serial)
    assert client.get(url).status_code == 401
    assert client.get(url, headers=_auth(other)).status_code == 401
    assert client.get(url, headers=_auth("x" * 43)).status_code == 401
    assert (
        client.get(_pass_url(pass_type, "0000-0000-0000"), headers=_auth(held)).status_code == 404
    )
    assert client.get(_pass_url("pass.com.example.other", held.card.serial)).status_code == 404


def test_a_deleted_cards_pass_still_downloads_voided(client, held, pass_type, owner) -> None:
    card_services.card_delete(card=Card.objects.get(pk=held.card_id), actor=owner)
    response = client.get(_pass_url(pass_type, held.card.serial), headers=_auth(held))
    assert response.status_code == 200
    assert json.loads(pkpass_files(response.content)["pass.json"])["voided"] is True


def test_head_of_the_pass_answers_without_a_body(client, held, pass_type) -> None:
    response = client.head(_pass_url(pass_type, held.card.serial), headers=_auth(held))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.pkpass"
    assert "Last-Modified" in response


# ---------------------------------------------------------------------------------------------
# The log


def test_device_logs_are_logged_one_line_each_truncated(client, caplog) -> None:
    lines = ["Web service error for pass.x: <b>boom</b>\nsecond line", "y" * 5000, {"a": 1}]
    with caplog.at_level(logging.WARNING, logger="wallet.views.passkit"):
        response = client.post(
            reverse("passkit:log"), {"logs": lines}, content_type="application/json"
        )
    assert response.status_code == 200
    assert response.content == b""
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert all("\n" not in message for message in messages)
    assert "<b>boom</b>" in messages[0]
    assert len(messages[1]) < 1100
    assert '{"a": 1}' in messages[2]


def test_a_log_that_is_not_a_list_of_logs_is_400_and_a_huge_one_413(client) -> None:
    url = reverse("passkit:log")
    assert client.post(url, "not json", content_type="application/json").status_code == 400
    assert client.post(url, {"logs": "x"}, content_type="application/json").status_code == 400
    huge = {"logs": ["x" * 1000] * 100}
    assert client.post(url, huge, content_type="application/json").status_code == 413


# ---------------------------------------------------------------------------------------------
# Protocol details: methods, CSRF, rate limit


def test_each_endpoint_allows_only_its_methods(client, held, pass_type) -> None:
    registration = _registration_url(pass_type, held.card.serial)
    refused = [
        client.get(registration, headers=_auth(held)),
        client.put(registration, headers=_auth(held)),
        client.post(_serials_url(pass_type)),
        client.delete(_pass_url(pass_type, held.card.serial), headers=_auth(held)),
        client.get(reverse("passkit:log")),
    ]
    assert [response.status_code for response in refused] == [405] * 5
    for response in refused:
        _not_html(response)


def test_registration_and_log_need_no_csrf_token(held, pass_type) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert _register(strict, held, pass_type).status_code == 201
    deleted = strict.delete(_registration_url(pass_type, held.card.serial), headers=_auth(held))
    assert deleted.status_code == 200
    logged = strict.post(reverse("passkit:log"), {"logs": []}, content_type="application/json")
    assert logged.status_code == 200


def test_requests_are_rate_limited_per_address(client, held, pass_type, monkeypatch) -> None:
    monkeypatch.setattr(passkit, "PASSKIT_PER_IP", Limit("passkit-ip", limit=3, window=60))
    answers = [
        _register(client, held, pass_type).status_code,
        client.get(_serials_url(pass_type)).status_code,
        client.get(_pass_url(pass_type, held.card.serial), headers=_auth(held)).status_code,
        _register(client, held, pass_type).status_code,
    ]
    assert answers == [201, 200, 200, 429]
    limited = client.get(_serials_url(pass_type))
    assert limited.status_code == 429
    assert limited["Retry-After"] == "60"
    _not_html(limited)
    # Another address is counted apart.
    assert client.get(_serials_url(pass_type), REMOTE_ADDR="192.0.2.9").status_code == 200


# ---------------------------------------------------------------------------------------------
# Through a real HTTP server and client


@pytest.mark.django_db(transaction=True)
def test_the_protocol_through_a_real_http_server(live_server, apple_credentials) -> None:
    from tests.factories import StampProgramFactory

    card = issue_card(StampProgramFactory())
    wallet_pass = wallet_pass_ensure(card=card)
    # Changed in a second that is over: a copy of it is current (see the tests above).
    _changed_at(wallet_pass, SECOND)
    pass_type = apple_credentials.pass_type_id
    base = live_server.url
    with httpx.Client(base_url=base, timeout=10) as http:
        url = _registration_url(pass_type, card.serial)
        body = {"pushToken": PUSH}
        assert http.post(url, json=body, headers=_auth(wallet_pass)).status_code == 201
        assert http.post(url, json=body, headers=_auth(wallet_pass)).status_code == 200
        assert http.post(url, json=body).status_code == 401

        listed = http.get(_serials_url(pass_type))
        assert listed.json()["serialNumbers"] == [card.serial]
        tag = listed.json()["lastUpdated"]
        assert (
            http.get(_serials_url(pass_type), params={"passesUpdatedSince": tag}).status_code == 204
        )

        latest = http.get(_pass_url(pass_type, card.serial), headers=_auth(wallet_pass))
        assert latest.status_code == 200
        pkpass_verify(latest.content, apple_credentials.ca)
        not_modified = http.get(
            _pass_url(pass_type, card.serial),
            headers={**_auth(wallet_pass), "If-Modified-Since": latest.headers["Last-Modified"]},
        )
        assert not_modified.status_code == 304

        assert http.delete(url, headers=_auth(wallet_pass)).status_code == 200
        logged = http.post(reverse("passkit:log"), json={"logs": ["Hello"]})
        assert logged.status_code == 200
    assert not AppleRegistration.objects.exists()
