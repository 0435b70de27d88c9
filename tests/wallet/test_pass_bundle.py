"""The .pkpass bundle of a card: its files, and pass.json as Apple documents it."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone, translation
from django.utils.formats import date_format

from cards import services
from cards.models import Card
from tests.factories import CashbackProgramFactory, issue_card
from tests.wallet.apple_fixtures import (
    AppleTestCredentials,
    manifest_check,
    pass_strings,
    pkpass_files,
)
from wallet.apple.pkpass import pkpass_build
from wallet.models import WalletPass
from wallet.services import wallet_pass_ensure

# ---------------------------------------------------------------------------------------------
# What Apple's "Pass" and "PassFields" references allow (the keys this pass may use).

TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "formatVersion": int,
    "passTypeIdentifier": str,
    "serialNumber": str,
    "teamIdentifier": str,
    "organizationName": str,
    "description": str,
    "logoText": str,
    "foregroundColor": str,
    "backgroundColor": str,
    "labelColor": str,
    "storeCard": dict,
    "barcodes": list,
    "barcode": dict,
    "webServiceURL": str,
    "authenticationToken": str,
    "voided": bool,
    "expirationDate": str,
    "sharingProhibited": bool,
}
REQUIRED = {
    "formatVersion",
    "passTypeIdentifier",
    "serialNumber",
    "teamIdentifier",
    "organizationName",
    "description",
}
FIELD_KEYS: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "label": str,
    "value": (str, int, float),
    "changeMessage": str,
    "textAlignment": str,
    "dateStyle": str,
    "timeStyle": str,
    "ignoresTimeZone": bool,
    "isRelative": bool,
    "numberStyle": str,
    "currencyCode": str,
    "attributedValue": (str, int, float),
    "dataDetectorTypes": list,
}
FIELD_LISTS = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")
DATE_STYLES = {
    "PKDateStyleNone",
    "PKDateStyleShort",
    "PKDateStyleMedium",
    "PKDateStyleLong",
    "PKDateStyleFull",
}
NUMBER_STYLES = {
    "PKNumberStyleDecimal",
    "PKNumberStylePercent",
    "PKNumberStyleScientific",
    "PKNumberStyleSpellOut",
}
BARCODE_FORMATS = {
    "PKBarcodeFormatQR",
    "PKBarcodeFormatPDF417",
    "PKBarcodeFormatAztec",
    "PKBarcodeFormatCode128",
}
COLOR = re.compile(r"rgb\(\d{1,3}, \d{1,3}, \d{1,3}\)")


def _check_types(obj: dict[str, Any], allowed: dict[str, Any], where: str) -> None:
    unknown = set(obj) - set(allowed)
    assert not unknown, f"{where}: keys Apple does not document: {unknown}"
    for key, value in obj.items():
        assert isinstance(value, allowed[key]), f"{where}.{key} is {type(value).__name__}"
        assert not isinstance(value, bool) or allowed[key] is bool, f"{where}.{key} is a bool"


def _check_field(field: dict[str, Any], where: str) -> None:
    _check_types(field, FIELD_KEYS, where)
    assert {"key", "value"} <= set(field), f"{where} needs key and value"
    if "changeMessage" in field:
        assert "%@" in field["changeMessage"]
    for style in ("dateStyle", "timeStyle"):
        if style in field:
            assert field[style] in DATE_STYLES
            when = datetime.datetime.fromisoformat(field["value"])
            assert when.tzinfo is not None, f"{where}: a date needs its time zone"
    if "numberStyle" in field:
        assert field["numberStyle"] in NUMBER_STYLES
        assert isinstance(field["value"], int | float)


def _check_barcode(barcode: dict[str, Any]) -> None:
    assert set(barcode) <= {"format", "message", "messageEncoding", "altText"}
    assert barcode["format"] in BARCODE_FORMATS
    assert isinstance(barcode["message"], str)
    assert barcode["messageEncoding"] == "iso-8859-1"


def check_pass_json(content: dict[str, Any]) -> None:
    """The checks of Apple's pass format this pass must pass (a small schema)."""
    _check_types(content, TOP_LEVEL, "pass")
    assert set(content) >= REQUIRED
    assert content["formatVersion"] == 1
    for key in ("foregroundColor", "backgroundColor", "labelColor"):
        assert COLOR.fullmatch(content[key]), content[key]
        assert all(0 <= int(n) <= 255 for n in re.findall(r"\d+", content[key]))
    assert len(content["authenticationToken"]) >= 16
    if "expirationDate" in content:
        assert datetime.datetime.fromisoformat(content["expirationDate"]).tzinfo is not None
    store_card = content["storeCard"]
    assert set(store_card) <= set(FIELD_LISTS)
    keys = []
    for name in FIELD_LISTS:
        for index, field in enumerate(store_card.get(name, [])):
            _check_field(field, f"{name}[{index}]")
            keys.append(field["key"])
    assert len(keys) == len(set(keys)), "field keys must be unique in the pass"
    assert len(store_card["headerFields"]) <= 3
    assert len(store_card["primaryFields"]) <= 1
    assert len(store_card["secondaryFields"]) + len(store_card["auxiliaryFields"]) <= 4
    for barcode in content["barcodes"]:
        _check_barcode(barcode)
    _check_barcode(content["barcode"])


# ---------------------------------------------------------------------------------------------


def _bundle(card: Card) -> dict[str, bytes]:
    return pkpass_files(pkpass_build(wallet_pass=wallet_pass_ensure(card=card)))


def _pass(card: Card) -> dict[str, Any]:
    return json.loads(_bundle(card)["pass.json"])


def _fields(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    store_card = content["storeCard"]
    return {field["key"]: field for name in FIELD_LISTS for field in store_card.get(name, [])}


def _field_list(content: dict[str, Any], name: str) -> list[str]:
    return [field["key"] for field in content["storeCard"][name]]


def test_a_stamp_pass_follows_apples_format_and_shows_the_balance(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    services.card_add_stamps(card=stamp_card, value=7, actor=None)
    content = _pass(stamp_card)
    check_pass_json(content)
    fields = _fields(content)
    assert _field_list(content, "headerFields") == ["balance"]
    assert fields["balance"]["value"] == "7/10"
    assert fields["rewards"]["value"] == 0
    assert fields["holder"]["value"] == stamp_card.holder_name
    assert fields["expires"]["value"] == "Never"
    assert "tier" not in fields
    assert "cashback" not in fields
    merchant = stamp_card.merchant
    assert content["organizationName"] == content["logoText"] == merchant.name == "Demo Coffee"
    assert content["backgroundColor"] == "rgb(91, 58, 41)"  # the program's #5b3a29
    assert content["foregroundColor"] == "rgb(255, 255, 255)"
    assert "voided" not in content
    assert "expirationDate" not in content


def test_a_stamp_pass_counts_rewards(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    services.card_add_stamps(card=stamp_card, value=23, actor=None)
    fields = _fields(_pass(stamp_card))
    assert fields["balance"]["value"] == "3/10"
    assert fields["rewards"]["value"] == 2


def test_a_cashback_pass_shows_points_tier_and_percentage(
    apple_credentials: AppleTestCredentials, cashback_card: Card
) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="600", actor=None)
    content = _pass(cashback_card)
    check_pass_json(content)
    fields = _fields(content)
    assert fields["balance"]["value"] == 30  # 5 % of 600, before Silver
    assert fields["balance"]["numberStyle"] == "PKNumberStyleDecimal"
    assert fields["tier"]["value"] == "Silver"
    assert fields["cashback"]["value"] == "7 %"
    assert _field_list(content, "primaryFields") == ["cashback"]


def test_fractional_points_and_percentages_keep_their_decimals(
    apple_credentials: AppleTestCredentials, merchant: Any
) -> None:
    program = CashbackProgramFactory(merchant=merchant, tiers=[("Base", "0", "7.5")])
    card = issue_card(program)
    services.card_add_transaction_amount(card=card, value="10.10", actor=None)
    fields = _fields(_pass(card))
    assert fields["balance"]["value"] == float(Decimal("0.76"))
    assert fields["cashback"]["value"] == "7.5 %"


def test_every_file_is_in_the_manifest_with_its_hash(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    files = _bundle(stamp_card)
    manifest_check(files)
    images = {
        f"{name}{suffix}.png" for name in ("icon", "logo", "strip") for suffix in ("", "@2x", "@3x")
    }
    strings = {f"{code}.lproj/pass.strings" for code, _name in django_settings.LANGUAGES}
    assert set(files) == {"pass.json", "manifest.json", "signature"} | images | strings


def test_the_pass_names_its_card_the_web_service_and_its_token(
    apple_credentials: AppleTestCredentials, stamp_card: Card, settings: Any
) -> None:
    settings.SITE_URL = "https://loyalty.example"
    content = _pass(stamp_card)
    wallet_pass = WalletPass.objects.get(card=stamp_card)
    assert content["serialNumber"] == stamp_card.serial
    assert content["passTypeIdentifier"] == apple_credentials.pass_type_id
    assert content["teamIdentifier"] == apple_credentials.team_id
    assert content["webServiceURL"] == "https://loyalty.example/wallet/apple"
    assert content["authenticationToken"] == wallet_pass.authentication_token
    barcode = {
        "format": "PKBarcodeFormatQR",
        "message": stamp_card.serial,
        "messageEncoding": "iso-8859-1",
        "altText": stamp_card.serial,
    }
    assert content["barcodes"] == [barcode]
    assert content["barcode"] == barcode


def test_a_deleted_card_makes_a_void_pass(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    services.card_delete(card=stamp_card, actor=None)
    content = _pass(stamp_card)
    check_pass_json(content)
    assert content["voided"] is True


def test_the_expiration_date_is_the_end_of_that_day_in_the_merchants_time_zone(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    merchant = stamp_card.merchant
    merchant.time_zone = "Europe/Madrid"
    merchant.save()
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2031, 6, 30), actor=None)
    content = _pass(stamp_card)
    check_pass_json(content)
    assert content["expirationDate"] == "2031-06-30T23:59:59+02:00"
    expires = _fields(content)["expires"]
    assert expires["value"] == "2031-06-30T23:59:59+02:00"
    assert expires["dateStyle"] == "PKDateStyleMedium"
    assert expires["timeStyle"] == "PKDateStyleNone"
    assert expires["ignoresTimeZone"] is True


def test_a_message_from_the_dashboard_notifies_when_it_changes(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    assert "message" not in _fields(_pass(stamp_card))
    WalletPass.objects.filter(card=stamp_card).update(message="Free croissant today")
    content = _pass(stamp_card)
    check_pass_json(content)
    message = _fields(content)["message"]
    assert message["value"] == "Free croissant today"
    assert message["changeMessage"] == "%@"


def test_the_back_shows_the_last_transactions_newest_first(
    apple_credentials: AppleTestCredentials, stamp_card: Card, settings: Any
) -> None:
    settings.WALLET_PASS_TRANSACTIONS = 2
    services.card_add_transaction_amount(card=stamp_card, value="12", actor=None)
    services.card_add_stamps(card=stamp_card, value=2, actor=None, comment="staff only")
    back = _pass(stamp_card)["storeCard"]["backFields"]
    entries = [field for field in back if field["key"].startswith("entry-")]
    assert [field["value"] for field in entries] == [
        "Stamps added · +2 stamps",
        "Purchase · Spent $12.00 · +1 stamp",
    ]
    assert "staff only" not in json.dumps(back)
    # The day the merchant saw it happen, the language's way (pass.strings translates it).
    today = timezone.localdate(timezone=stamp_card.merchant.tz)
    with translation.override("en"):
        assert entries[0]["label"] == date_format(today, "SHORT_DATE_FORMAT")


def test_the_back_links_to_the_card_page_and_the_referral_link(
    apple_credentials: AppleTestCredentials, stamp_card: Card, settings: Any
) -> None:
    settings.SITE_URL = "https://loyalty.example"
    fields = _fields(_pass(stamp_card))
    assert fields["card_link"]["value"] == (
        f"https://loyalty.example/c/{stamp_card.install_token}/"
    )
    assert fields["referral_link"]["value"] == (
        f"https://loyalty.example/r/{stamp_card.referral_token}/"
    )
    assert fields["serial"]["value"] == stamp_card.serial


def _words(content: dict[str, Any]) -> set[str]:
    """Every text of the pass that is a key of pass.strings: labels and worded values."""
    words = {content["description"]}
    for key, field in _fields(content).items():
        words.add(field["label"])
        if key.startswith("entry-") or key == "cashback" or field["value"] == "Never":
            words.add(field["value"])
    return words


def test_labels_and_words_are_translated_for_every_language(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="12", actor=None)
    files = _bundle(stamp_card)
    content = json.loads(files["pass.json"])
    for code, _name in django_settings.LANGUAGES:
        strings = pass_strings(files[f"{code}.lproj/pass.strings"])
        missing = _words(content) - set(strings)
        assert not missing, f"{code} has no translation for {missing}"
        with translation.override(code):
            assert strings["Card holder"] == translation.gettext("Card holder")
    spanish = pass_strings(files["es.lproj/pass.strings"])
    german = pass_strings(files["de.lproj/pass.strings"])
    assert spanish["Card holder"] == "Titular"
    assert german["Card holder"] == "Karteninhaber"
    assert spanish["Never"] == "Nunca"
    # The ledger in the customer's words, money the language's way.
    assert spanish["Purchase · Spent $12.00 · +1 stamp"] == (
        "Compra · Gasto de 12,00\xa0US$ · +1 sello"
    )


def test_strings_files_escape_what_the_merchant_typed(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    program = stamp_card.program
    program.name = 'The "Best"\\Coffee'
    program.save()
    files = _bundle(stamp_card)
    description = json.loads(files["pass.json"])["description"]
    assert description == 'The "Best"\\Coffee at Demo Coffee'
    german = 'The "Best"\\Coffee bei Demo Coffee'
    assert pass_strings(files["de.lproj/pass.strings"])[description] == german


def test_building_a_pass_runs_two_queries_whatever_the_history(
    apple_credentials: AppleTestCredentials,
    stamp_card: Card,
    django_assert_num_queries: Any,
) -> None:
    for _ in range(12):
        services.card_add_stamps(card=stamp_card, value=1, actor=None)
    wallet_pass = wallet_pass_ensure(card=stamp_card)
    with django_assert_num_queries(2):
        pkpass_build(wallet_pass=wallet_pass)


@pytest.mark.parametrize("limit", [0, 3])
def test_the_number_of_transactions_follows_the_setting(
    apple_credentials: AppleTestCredentials, stamp_card: Card, settings: Any, limit: int
) -> None:
    settings.WALLET_PASS_TRANSACTIONS = limit
    for _ in range(5):
        services.card_add_stamps(card=stamp_card, value=1, actor=None)
    back = _pass(stamp_card)["storeCard"]["backFields"]
    assert len([field for field in back if field["key"].startswith("entry-")]) == limit
