"""A card's ``pass.json`` (a store card, as Apple's PassKit documents it) and the texts of its
``<lang>.lproj/pass.strings`` files.

Apple Wallet translates a pass on the phone: every label and every value that is words is a
key, looked up in the ``pass.strings`` of the phone's language. Here the key is the text's
English wording and each language's file holds what Django's gettext says in that language,
so a pass reads in Spanish on a Spanish iPhone without being fetched again. Numbers, dates
(with ``dateStyle``), names and links are values the phone shows as they are.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cards.models import Card, LedgerEntry
from cards.pwa import program_colors
from cards.selectors import (
    CUSTOMER_WORDS,
    card_install_url,
    card_referral_url,
    entry_public_changes,  # the card page's wording of an entry (see _entry_words)
)
from cards.templatetags.ledger_format import percent
from wallet import conf
from wallet.apple.credentials import apple_credentials
from wallet.apple.images import color_mix, color_rgb
from wallet.models import WalletPass

# The language of the keys: the English wording, which is gettext's msgids.
KEY_LANGUAGE = "en"
# Labels a shade towards the background, so values stand out.
LABEL_SHARE = 0.75
DATE_STYLE = {
    "dateStyle": "PKDateStyleMedium",
    "timeStyle": "PKDateStyleNone",
    # The merchant's calendar day, wherever the phone is.
    "ignoresTimeZone": True,
}

# The data detectors of back fields (Wallet applies all of them when a field names none).
PHONE_DETECTOR = "PKDataDetectorTypePhoneNumber"
# Web addresses and email addresses alike.
LINK_DETECTOR = "PKDataDetectorTypeLink"
ADDRESS_DETECTOR = "PKDataDetectorTypeAddress"

Field = dict[str, Any]


class Texts:
    """The words of one pass: ``texts(render)`` gives the key that goes into pass.json (the
    English wording) and remembers how to say it in any language for pass.strings."""

    def __init__(self) -> None:
        self._renderers: dict[str, Callable[[], str]] = {}

    def __call__(self, render: Callable[[], str]) -> str:
        with translation.override(KEY_LANGUAGE):
            key = str(render())
        self._renderers.setdefault(key, render)
        return key

    def strings(self, language: str) -> dict[str, str]:
        with translation.override(language):
            return {key: str(render()) for key, render in self._renderers.items()}


@dataclass(frozen=True)
class PassContent:
    json: dict[str, Any]
    # Language code -> {key: text}, one pass.strings per language in settings.LANGUAGES.
    strings: dict[str, dict[str, str]] = field(default_factory=dict)


def pass_json(*, wallet_pass: WalletPass, card: Card) -> dict[str, Any]:
    """The card's pass.json. Needs the card's program and merchant loaded; reads the last
    ledger entries (one query)."""
    return pass_content(wallet_pass=wallet_pass, card=card).json


def pass_content(*, wallet_pass: WalletPass, card: Card) -> PassContent:
    """pass.json with the translations of its words, built from one read of the ledger."""
    texts = Texts()
    content = _pass_dict(wallet_pass, card, texts)
    strings = {code: texts.strings(code) for code, _name in settings.LANGUAGES}
    return PassContent(json=content, strings=strings)


def strings_file(strings: dict[str, str]) -> bytes:
    """A ``pass.strings`` file: ``"key" = "value";`` lines, UTF-16 with a byte order mark
    (what Apple's tools write; Wallet also reads UTF-8)."""
    lines = [f'"{_escape(key)}" = "{_escape(value)}";' for key, value in strings.items()]
    return ("\n".join(lines) + "\n").encode("utf-16")


def _escape(text: str) -> str:
    replacements = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "".join(replacements.get(char, char) for char in text)


# ---------------------------------------------------------------------------------------------
# pass.json


def _rgb_text(color: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*color)


def _pass_dict(wallet_pass: WalletPass, card: Card, texts: Texts) -> dict[str, Any]:
    credentials = apple_credentials()
    program, merchant = card.program, card.merchant
    background, foreground = (color_rgb(color) for color in program_colors(program))
    barcode = {
        "format": "PKBarcodeFormatQR",
        "message": card.serial,
        "messageEncoding": "iso-8859-1",
        "altText": card.serial,
    }
    content: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": credentials.pass_type_id,
        "serialNumber": card.serial,
        "teamIdentifier": credentials.team_id,
        "organizationName": merchant.name,
        "description": texts(
            # Translators: how VoiceOver names a card in Apple Wallet: "Coffee Card at Demo Café".
            lambda: (
                _("%(program)s at %(merchant)s")
                % {"program": program.name, "merchant": merchant.name}
            )
        ),
        "logoText": merchant.name,
        "foregroundColor": _rgb_text(foreground),
        "backgroundColor": _rgb_text(background),
        "labelColor": _rgb_text(color_mix(foreground, background, LABEL_SHARE)),
        "storeCard": _store_card(wallet_pass, card, texts),
        "barcodes": [barcode],
        # Wallet before iOS 9 reads only this one.
        "barcode": barcode,
        "webServiceURL": conf.web_service_url(),
        "authenticationToken": wallet_pass.authentication_token,
        # The pass carries the card's token: it is the holder's, not for passing on.
        "sharingProhibited": True,
    }
    if card.expires_on is not None:
        content["expirationDate"] = _end_of_day(card, card.expires_on)
    if card.is_deleted:
        content["voided"] = True
    return content


def _end_of_day(card: Card, day: datetime.date) -> str:
    """The last second of ``day`` in the merchant's time zone, as W3C date and time."""
    moment = datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=card.merchant.tz)
    return moment.isoformat()


def _store_card(wallet_pass: WalletPass, card: Card, texts: Texts) -> dict[str, list[Field]]:
    program = card.program
    holder: Field = {
        "key": "holder",
        "label": texts(lambda: _("Card holder")),
        "value": card.holder_name,
    }
    if program.is_stamp:
        header: Field = {
            "key": "balance",
            "label": texts(lambda: _("Stamps")),
            "value": f"{card.stamps_balance}/{program.stamps_per_reward}",
        }
        # The strip image shows the stamps where primary fields would go.
        primary: list[Field] = []
        secondary: list[Field] = [
            {
                "key": "rewards",
                "label": texts(lambda: _("Rewards available")),
                "value": card.rewards_available,
            },
            holder,
        ]
    else:
        header = {
            "key": "balance",
            "label": texts(lambda: _("Points")),
            "value": _number(card.points_balance),
            "numberStyle": "PKNumberStyleDecimal",
        }
        primary = _cashback_fields(card, texts)
        secondary = [*_tier_fields(card, texts), holder]
    return {
        "headerFields": [header],
        "primaryFields": primary,
        "secondaryFields": secondary,
        "auxiliaryFields": [_expires_field(card, texts)],
        "backFields": _back_fields(wallet_pass, card, texts),
    }


def _number(value: Decimal) -> int | float:
    # JSON has no decimals: whole points as integers, the others as floats (2 places).
    return int(value) if value == value.to_integral_value() else float(value)


def _cashback_fields(card: Card, texts: Texts) -> list[Field]:
    percentage = card.cashback_percentage
    if percentage is None:
        return []
    # Words, not a number with PKNumberStylePercent: that rounds 7.5 % to 8 %.
    return [
        {
            "key": "cashback",
            "label": texts(lambda: _("Cashback")),
            "value": texts(lambda: percent(percentage)),
        }
    ]


def _tier_fields(card: Card, texts: Texts) -> list[Field]:
    if not card.tier_name:
        return []
    return [{"key": "tier", "label": texts(lambda: _("Tier")), "value": card.tier_name}]


def _expires_field(card: Card, texts: Texts) -> Field:
    expires: Field = {"key": "expires", "label": texts(lambda: _("Expires"))}
    if card.expires_on is None:
        expires["value"] = texts(lambda: pgettext("expires", "Never"))
    else:
        expires["value"] = _end_of_day(card, card.expires_on)
        expires.update(DATE_STYLE)
    return expires


def _back_fields(wallet_pass: WalletPass, card: Card, texts: Texts) -> list[Field]:
    fields: list[Field] = []
    if wallet_pass.message:
        # A changed value with a changeMessage shows on the lock screen as a notification.
        fields.append(
            {
                "key": "message",
                "label": texts(lambda: _("Message")),
                "value": wallet_pass.message,
                "changeMessage": "%@",
            }
        )
    if card.program.reward_description:
        # The merchant's own words for a reward ("a free coffee"), shown as they are.
        fields.append(
            {
                "key": "reward",
                "label": texts(lambda: _("Reward")),
                "value": card.program.reward_description,
            }
        )
    fields.extend(_entry_fields(card, texts))
    fields.extend(
        [
            {
                "key": "card_link",
                "label": texts(lambda: _("Your card online")),
                "value": card_install_url(card),
            },
            {
                "key": "referral_link",
                "label": texts(lambda: _("Invite friends")),
                "value": card_referral_url(card),
            },
            *_contact_fields(card, texts),
            {"key": "program", "label": texts(lambda: _("Program")), "value": card.program.name},
            {"key": "serial", "label": texts(lambda: _("Serial number")), "value": card.serial},
        ]
    )
    return fields


def _contact_fields(card: Card, texts: Texts) -> list[Field]:
    """How to reach the merchant, each detail only when set. Wallet makes links of back fields
    itself; each field names the one kind of link its value is, so an address is not dialled
    and a phone number is not looked up on a map."""
    merchant = card.merchant
    contact = [
        ("contact_phone", lambda: _("Phone"), merchant.contact_phone_display, PHONE_DETECTOR),
        ("contact_email", lambda: _("Email"), merchant.contact_email, LINK_DETECTOR),
        ("website", lambda: _("Website"), merchant.website, LINK_DETECTOR),
        ("address", lambda: _("Address"), merchant.address, ADDRESS_DETECTOR),
    ]
    return [
        {"key": key, "label": texts(label), "value": value, "dataDetectorTypes": [detector]}
        for key, label, value, detector in contact
        if value
    ]


def _entry_fields(card: Card, texts: Texts) -> list[Field]:
    """The last ledger entries in the customer's words (as on the card page): the day as
    the label, what happened as the value."""
    limit = conf.get_int("WALLET_PASS_TRANSACTIONS")
    if limit <= 0:
        return []
    entries = LedgerEntry.objects.filter(card_id=card.pk).order_by("-created_at", "-id")[:limit]
    return [
        {
            "key": f"entry-{entry.pk}",
            "label": texts(_entry_day(entry, card)),
            "value": texts(_entry_words(entry, card)),
        }
        for entry in entries
    ]


def _entry_day(entry: LedgerEntry, card: Card) -> Callable[[], str]:
    day = timezone.localtime(entry.created_at, card.merchant.tz).date()
    return lambda: date_format(day, "SHORT_DATE_FORMAT")


def _entry_words(entry: LedgerEntry, card: Card) -> Callable[[], str]:
    # The card page's history line (cards.selectors.card_public_history) for one entry: the
    # entries are read once and worded in every language, where card_public_history would
    # read them again for each.
    currency = card.merchant.currency

    def render() -> str:
        title = str(CUSTOMER_WORDS.get(entry.kind, entry.label))
        return " · ".join([title, *entry_public_changes(entry, currency)])

    return render
