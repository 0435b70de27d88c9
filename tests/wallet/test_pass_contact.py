"""The merchant's contact on the back of the Apple Wallet pass: each detail only when set, with
the one data detector that makes it the right kind of link, and its label in every language."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import translation

from cards.models import Card
from loyalty.models import Merchant
from loyalty.services import merchant_update_contact
from tests.wallet.apple_fixtures import AppleTestCredentials, pass_strings, pkpass_files
from tests.wallet.test_pass_bundle import check_pass_json
from wallet.apple.pkpass import pkpass_build
from wallet.models import WalletPass
from wallet.services import wallet_pass_ensure

pytestmark = pytest.mark.django_db

CONTACT_KEYS = ("contact_phone", "contact_email", "website", "address")


def _set_contact(merchant: Merchant, **fields: str) -> None:
    blank = {"phone": "", "email": "", "website": "", "address": ""}
    merchant_update_contact(merchant=merchant, actor=None, **(blank | fields))


def _bundle(card: Card) -> dict[str, bytes]:
    card = Card.objects.select_related("merchant", "program").get(pk=card.pk)
    return pkpass_files(pkpass_build(wallet_pass=wallet_pass_ensure(card=card)))


def _back(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    content = json.loads(files["pass.json"])
    check_pass_json(content)
    return {field["key"]: field for field in content["storeCard"]["backFields"]}


def test_a_merchant_without_contact_details_adds_nothing_to_the_back(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    back = _back(_bundle(stamp_card))

    assert not set(CONTACT_KEYS) & set(back)
    assert "card_link" in back


def test_every_detail_is_on_the_back_with_its_own_kind_of_link(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    _set_contact(
        stamp_card.merchant,
        phone="+1 415 555 0123",
        email="hello@demo-coffee.example",
        website="https://demo-coffee.example",
        address="12 Market Street, San Francisco",
    )

    back = _back(_bundle(stamp_card))

    shown = {
        key: (back[key]["label"], back[key]["value"], back[key]["dataDetectorTypes"])
        for key in CONTACT_KEYS
    }
    assert shown == {
        "contact_phone": ("Phone", "+1 415-555-0123", ["PKDataDetectorTypePhoneNumber"]),
        "contact_email": ("Email", "hello@demo-coffee.example", ["PKDataDetectorTypeLink"]),
        "website": ("Website", "https://demo-coffee.example", ["PKDataDetectorTypeLink"]),
        "address": (
            "Address",
            "12 Market Street, San Francisco",
            ["PKDataDetectorTypeAddress"],
        ),
    }
    # After the card's own links, before the program and the serial number.
    keys = list(back)
    assert keys.index("referral_link") < keys.index("contact_phone")
    assert keys.index("address") < keys.index("program")


def test_only_the_details_set_are_shown(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    _set_contact(stamp_card.merchant, website="https://demo-coffee.example")

    back = _back(_bundle(stamp_card))

    assert [key for key in CONTACT_KEYS if key in back] == ["website"]


def test_the_contact_labels_are_in_every_languages_strings(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    _set_contact(stamp_card.merchant, phone="+14155550123", address="Calle Mayor 1, Madrid")

    files = _bundle(stamp_card)

    for code, _name in django_settings.LANGUAGES:
        strings = pass_strings(files[f"{code}.lproj/pass.strings"])
        with translation.override(code):
            assert strings["Phone"] == translation.gettext("Phone")
            assert strings["Address"] == translation.gettext("Address")
    assert pass_strings(files["es.lproj/pass.strings"])["Phone"] == "Teléfono"
    # What the merchant typed is a value, never a key to translate.
    assert "Calle Mayor 1, Madrid" not in pass_strings(files["es.lproj/pass.strings"])


def test_a_change_of_contact_issues_the_pass_again_with_it(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    wallet_pass = wallet_pass_ensure(card=stamp_card)

    _set_contact(stamp_card.merchant, email="new@demo-coffee.example")

    assert WalletPass.objects.get(pk=wallet_pass.pk).version == wallet_pass.version + 1
    assert _back(_bundle(stamp_card))["contact_email"]["value"] == "new@demo-coffee.example"
