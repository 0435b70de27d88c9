"""What Google Wallet shows: a program as a LoyaltyClass, a card as a LoyaltyObject.

Plain dictionaries in the Google Wallet REST API's JSON (``walletobjects/v1``), built from the
rows as they are now; the services send them (insert, PATCH) and the save link carries the
object. The labels are written in the merchant's language, like the card page's default.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.defaultfilters import floatformat
from django.utils import formats, translation
from django.utils.translation import gettext as _

from cards import pwa
from cards.models import Card, CardStatus, Program
from cards.selectors import absolute_url, card_install_url, card_referral_url
from loyalty.models import Merchant
from wallet.google.credentials import google_credentials
from wallet.models import WalletPass

# The size Google asks of a program logo (at least 660 x 660 is best; the icon is square).
ICON_SIZE = 512


def class_id_for(program: Program) -> str:
    return f"{google_credentials().issuer_id}.program-{program.pk}"


def fingerprint(data: dict[str, Any]) -> str:
    """Stable over key order: the same design gives the same fingerprint in every process."""
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _localized(text: str, language: str) -> dict[str, Any]:
    """A LocalizedString: says which language the text is in."""
    return {"defaultValue": {"language": language, "value": text}}


# ---------------------------------------------------------------------------------------------
# The program's logo


def _icon_name(program: Program) -> str:
    background, foreground = pwa.program_colors(program)
    # Named by the colours it is drawn in: the name always means the same bytes (so it may be
    # cached for long), and a program whose colours change gets a new URL Google fetches again.
    digest = hashlib.sha256(f"{background}{foreground}{ICON_SIZE}".encode()).hexdigest()[:24]
    return f"wallet/{digest}.png"


def program_logo_url(program: Program) -> str:
    """Google fetches the logo itself, so it needs an absolute URL: the uploaded logo, else the
    card icon drawn in the program's colours. The icon is stored as a media file of its own
    rather than linked through a card: a class is shared by all the program's cards, and a
    card's URLs carry its private install token."""
    if program.logo:
        return _absolute(program.logo.url)
    return _absolute(default_storage.url(_icon_name(program)))


def program_icon_store(program: Program) -> None:
    """Write the program's icon where ``program_logo_url`` points, once per colour pair."""
    if program.logo:
        return
    name = _icon_name(program)
    if default_storage.exists(name):
        return
    background, foreground = pwa.program_colors(program)
    default_storage.save(name, ContentFile(pwa.icon_png(ICON_SIZE, background, foreground)))


def _absolute(url: str) -> str:
    return url if "://" in url else absolute_url(url if url.startswith("/") else f"/{url}")


# ---------------------------------------------------------------------------------------------
# The class


def loyalty_class(program: Program) -> dict[str, Any]:
    """The program's LoyaltyClass: its name, logo and colour, shared by its cards."""
    merchant = program.merchant
    language = merchant.language
    background, _foreground = pwa.program_colors(program)
    with translation.override(language):
        # Translators: the label of the holder's name on a Google Wallet card (15 characters
        # at most).
        name_label = _("Member")
        # Translators: the label of the card's serial number on a Google Wallet card (15
        # characters at most).
        id_label = _("Card number")
    return {
        "id": class_id_for(program),
        "issuerName": merchant.name,
        "programName": program.name,
        "programLogo": {
            "sourceUri": {"uri": program_logo_url(program)},
            "contentDescription": _localized(program.name, language),
        },
        "hexBackgroundColor": _six_digit(background),
        # Google reviews a class before its cards reach other people's wallets; an issuer's
        # own test accounts see it at once.
        "reviewStatus": "UNDER_REVIEW",
        "accountNameLabel": name_label,
        "localizedAccountNameLabel": _localized(name_label, language),
        "accountIdLabel": id_label,
        "localizedAccountIdLabel": _localized(id_label, language),
        # A loyalty card is one person's: every device of that Google account, nobody else.
        "multipleDevicesAndHoldersAllowedStatus": "ONE_USER_ALL_DEVICES",
        # The merchant's contact is the same on every card of the program, so it lives here.
        # Sent even when empty: a PATCH leaves alone what it does not name, and a detail the
        # merchant removed must go.
        "linksModuleData": {"uris": _contact_links(merchant)},
        "textModulesData": _contact_modules(merchant),
    }


def _contact_links(merchant: Merchant) -> list[dict[str, Any]]:
    """Links to call, write to and visit the merchant, each only when set, described in the
    merchant's language (Google Wallet shows them under the object's own links)."""
    language = merchant.language
    with translation.override(language):
        contact = [
            ("contact-phone", f"tel:{merchant.contact_phone}", merchant.contact_phone, _("Phone")),
            (
                "contact-email",
                f"mailto:{merchant.contact_email}",
                merchant.contact_email,
                _("Email"),
            ),
            ("contact-website", merchant.website, merchant.website, _("Website")),
        ]
    return [
        {
            "id": link_id,
            "uri": uri,
            "description": description,
            "localizedDescription": _localized(description, language),
        }
        for link_id, uri, value, description in contact
        if value
    ]


def _contact_modules(merchant: Merchant) -> list[dict[str, Any]]:
    """The merchant's address, when set: text, since a link of its own would need a map."""
    if not merchant.address:
        return []
    language = merchant.language
    with translation.override(language):
        header = _("Address")
    return [
        {
            "id": "contact-address",
            "header": header,
            "localizedHeader": _localized(header, language),
            "body": merchant.address,
        }
    ]


def _six_digit(color: str) -> str:
    """Google takes #rrggbb; the program may keep the #rgb shorthand."""
    if len(color) == 4:
        return "#" + "".join(2 * c for c in color[1:])
    return color.lower()


# ---------------------------------------------------------------------------------------------
# The object


def object_state(card: Card) -> str:
    if card.status == CardStatus.DELETED:
        return "INACTIVE"
    if card.is_expired:
        return "EXPIRED"
    return "ACTIVE"


def loyalty_object(card: Card, wallet_pass: WalletPass, object_id: str) -> dict[str, Any]:
    """The card's LoyaltyObject as it is now: balance, rewards, barcode, links, validity.

    Everything the holder sees is sent every time (a PATCH replaces what it names), so any
    change of the card, whichever it was, leaves the object complete. Messages are added
    with ``addMessage`` and never sent here, so a PATCH keeps them; that is also why the
    pass's last message (which Apple Wallet shows as a field) is not repeated here."""
    program = card.program
    merchant = card.merchant
    with translation.override(merchant.language):
        data: dict[str, Any] = {
            "id": object_id,
            "classId": class_id_for(program),
            "state": object_state(card),
            "accountName": card.holder_name,
            "accountId": card.serial,
            "barcode": {"type": "QR_CODE", "value": card.serial, "alternateText": card.serial},
            "loyaltyPoints": _balance(card),
            "textModulesData": _text_modules(card),
            "linksModuleData": {"uris": _links(card)},
        }
        if program.is_stamp:
            # Translators: the label of the rewards a customer can use, on a Google Wallet card
            # (9 characters at most).
            rewards = _("Rewards")
            data["secondaryLoyaltyPoints"] = {
                "label": rewards,
                "localizedLabel": _localized(rewards, merchant.language),
                "balance": {"int": card.rewards_available},
            }
        if card.expires_on is not None:
            data["validTimeInterval"] = {"end": {"date": _end_of(card)}}
    return data


def _balance(card: Card) -> dict[str, Any]:
    language = card.merchant.language
    if card.program.is_stamp:
        # Translators: the label of a stamp card's balance on a Google Wallet card, shown as
        # "7/10" (9 characters at most).
        label = _("Stamps")
        balance: dict[str, Any] = {
            "string": f"{card.stamps_balance}/{card.program.stamps_per_reward}"
        }
    else:
        # Translators: the label of a cashback card's points on a Google Wallet card (9
        # characters at most).
        label = _("Points")
        balance = _points(card.points_balance)
    return {"label": label, "localizedLabel": _localized(label, language), "balance": balance}


def _points(points: Decimal) -> dict[str, Any]:
    if points == points.to_integral_value():
        return {"int": int(points)}
    # In the merchant's way of writing decimals (12,50 in es and de).
    return {"string": formats.number_format(points, decimal_pos=2)}


def _text_modules(card: Card) -> list[dict[str, str]]:
    modules: list[dict[str, str]] = []
    if card.program.reward_description:
        # The merchant's own words for a reward ("a free coffee"), as on the card page.
        modules.append(
            {"id": "reward", "header": _("Reward"), "body": card.program.reward_description}
        )
    if card.program.is_cashback:
        if card.tier_name:
            modules.append({"id": "tier", "header": _("Tier"), "body": card.tier_name})
        if card.cashback_percentage is not None:
            percentage = f"{floatformat(card.cashback_percentage, '-2')} %"
            modules.append({"id": "cashback", "header": _("Cashback"), "body": percentage})
    if card.expires_on is not None:
        modules.append(
            {
                "id": "expires",
                "header": _("Expires"),
                "body": formats.date_format(card.expires_on, "DATE_FORMAT"),
            }
        )
    return modules


def _links(card: Card) -> list[dict[str, str]]:
    return [
        {"id": "card", "uri": card_install_url(card), "description": _("Your card")},
        {"id": "referral", "uri": card_referral_url(card), "description": _("Referral link")},
    ]


def _end_of(card: Card) -> str:
    """The card is valid through its expiration date in the merchant's time zone: it ends at
    the next midnight there (ISO 8601 with the offset, as Google's DateTime wants)."""
    assert card.expires_on is not None
    next_day = card.expires_on + datetime.timedelta(days=1)
    end = datetime.datetime.combine(next_day, datetime.time(0, 0), tzinfo=card.merchant.tz)
    return end.isoformat()
