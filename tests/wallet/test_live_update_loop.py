"""The whole live-update loop of an Apple Wallet pass, with nothing faked but Apple's gateway:
a device holding the pass registers through the web service; staff add stamps through the
dashboard's dialog; a real Celery worker sends one APNs notification to the stand-in (HTTP/2,
the pass certificate as client certificate, the pass type as topic); the device asks what
changed and fetches the pass, whose pass.json shows the new balance."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.celery import app as celery_app
from tests.cards.dialog_support import apply_dialog, trigger_message
from tests.factories import issue_card
from tests.pushes.support import Worker, wait_for_empty_queue, wait_until
from tests.wallet.apns_fixtures import push_token
from tests.wallet.apns_server import APNsServer
from tests.wallet.apple_fixtures import AppleTestCredentials
from wallet.models import ApplePush, UpdateStatus

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DEVICE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PUSH = push_token(42)


@pytest.fixture
def wallet_worker(
    apns_server: APNsServer,
    apple_credentials: AppleTestCredentials,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    django_db_setup: Any,
) -> Iterator[Worker]:
    """A real worker whose settings (read from its environment, as in production) name the
    same pass certificate and the APNs stand-in."""
    environment = {
        "APPLE_PASS_TYPE_ID": apple_credentials.pass_type_id,
        "APPLE_TEAM_ID": apple_credentials.team_id,
        "APPLE_PASS_CERTIFICATE": str(apple_credentials.cert),
        "APPLE_PASS_KEY": str(apple_credentials.key),
        "APPLE_WWDR_CERTIFICATE": str(apple_credentials.wwdr),
        "APNS_URL": apns_server.url,
        "APNS_CA_FILE": apns_server.ca_file,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    celery_app.control.purge()
    worker = Worker(tmp_path, pool="solo", concurrency=1)
    yield worker
    worker.stop()


class PhoneWallet:
    """Apple Wallet on a phone, as far as the web service sees it: what the pass says
    (webServiceURL, authenticationToken, serialNumber, passTypeIdentifier) and the protocol."""

    def __init__(self, pkpass: bytes) -> None:
        content = _pass_json(pkpass)
        self.base = urlsplit(content["webServiceURL"]).path
        self.token = content["authenticationToken"]
        self.serial = content["serialNumber"]
        self.pass_type = content["passTypeIdentifier"]
        self.http = Client()
        self.tag = ""
        self.last_modified = ""

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"ApplePass {self.token}"}

    def register(self) -> int:
        url = f"{self.base}/v1/devices/{DEVICE}/registrations/{self.pass_type}/{self.serial}"
        body = json.dumps({"pushToken": PUSH})
        response = self.http.post(url, body, content_type="application/json", headers=self._auth())
        return response.status_code

    def what_changed(self) -> list[str]:
        url = f"{self.base}/v1/devices/{DEVICE}/registrations/{self.pass_type}"
        query = {"passesUpdatedSince": self.tag} if self.tag else {}
        response = self.http.get(url, query)
        if response.status_code == 204:
            return []
        assert response.status_code == 200
        self.tag = response.json()["lastUpdated"]
        return list(response.json()["serialNumbers"])

    def fetch(self) -> tuple[int, dict[str, Any] | None]:
        headers = self._auth()
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        url = f"{self.base}/v1/passes/{self.pass_type}/{self.serial}"
        response = self.http.get(url, headers=headers)
        if response.status_code != 200:
            return response.status_code, None
        self.last_modified = response["Last-Modified"]
        return 200, _pass_json(response.content)


def _pass_json(pkpass: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as bundle:
        content: dict[str, Any] = json.loads(bundle.read("pass.json"))
    return content


def _balance(content: dict[str, Any]) -> str:
    (header,) = content["storeCard"]["headerFields"]
    assert header["key"] == "balance"
    return str(header["value"])


def test_stamps_added_by_staff_reach_the_device_through_one_apns_push(
    wallet_worker, apns_server, apple_credentials, stamp_program, staff_client, settings
) -> None:
    settings.WALLET_COALESCE_SECONDS = 0.2
    card = issue_card(stamp_program)
    # The customer adds the card to Apple Wallet from the card page; Wallet registers it and,
    # as it does after registering, asks what changed and takes the current pass.
    download = Client().get(reverse("wallet_public:apple_pass", args=[card.install_token]))
    assert download.status_code == 200
    device = PhoneWallet(download.content)
    assert device.register() == 201
    assert device.what_changed() == [card.serial]
    status, content = device.fetch()
    assert status == 200
    assert content is not None
    assert _balance(content) == f"0/{stamp_program.stamps_per_reward}"

    response = apply_dialog(staff_client, card, "stamps_add", value="2")
    assert trigger_message(response)

    def pushed() -> bool:
        """the worker recorded the APNs answer"""
        return ApplePush.objects.filter(status=UpdateStatus.SENT).exists()

    wait_until(pushed)
    wait_for_empty_queue()
    (request,) = apns_server.received()
    assert request.protocol == "h2"
    assert request.path == f"/3/device/{PUSH}"
    assert request.headers["apns-topic"] == apple_credentials.pass_type_id
    assert request.client_subject["userId"] == apple_credentials.pass_type_id
    assert request.body == b"{}"

    assert device.what_changed() == [card.serial]
    status, content = device.fetch()
    assert status == 200
    assert content is not None
    assert _balance(content) == f"2/{stamp_program.stamps_per_reward}"
    # Nothing changed since.
    assert device.what_changed() == []
    assert len(apns_server.received()) == 1
