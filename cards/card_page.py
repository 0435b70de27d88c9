"""The customer's card page (a PWA), for the public views of any app that adds to it.

Apps above cards add their part through ``CARD_PAGE_PARTS`` (feedback: the rating form; pushes:
the last message and the "turn on notifications" control); a view that re-renders the page
with its own bound form passes it as an override.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import segno
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from cards.models import Card
from cards.selectors import card_install_url, card_public_history, card_referral_url
from loyalty import clock
from loyalty.i18n import activate_for_customer
from loyalty.models import Merchant
from loyalty.parts import PageParts

# What apps above cards show on the card page; each part takes the card.
CARD_PAGE_PARTS: PageParts[Card] = PageParts("card page")

# The query parameter of the card page opened right after joining: it offers where to keep
# the card (the phone's wallet first) at the top.
JOINED_PARAMETER = "joined"

View = Callable[..., HttpResponse]


def public(view: View) -> View:
    """No caching anywhere (the pages carry a personal token) and no search-engine indexing."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return never_cache(wrapper)


def too_many(request: HttpRequest, window: int, merchant: Merchant | None = None) -> HttpResponse:
    """Rate limited; in the customer's language when the merchant is known."""
    if merchant is not None:
        activate_for_customer(request, merchant)
    response = render(request, "cards/public/too_many.html", status=429)
    response["Retry-After"] = str(window)
    return response


def gone(request: HttpRequest, merchant: Merchant | None = None) -> HttpResponse:
    """A deleted card: it says so and offers nothing else."""
    if merchant is not None:
        activate_for_customer(request, merchant)
    return render(request, "cards/public/card_gone.html", status=410)


def link_replaced(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """A card's former link: where the customer finds the current one, and nothing else."""
    activate_for_customer(request, merchant)
    response = render(
        request, "cards/public/card_replaced.html", {"merchant_name": merchant.name}, status=410
    )
    # Raised out of the view (see cards.middleware), so the public decorator did not run.
    add_never_cache_headers(response)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _serial_qr(card: Card) -> SafeString:
    # A full QR code: for a text this short segno.make would choose a Micro QR code, which the
    # counter's scanner (the browser's BarcodeDetector, jsQR) and phone cameras do not read.
    # Our own markup around the serial's digits: nothing a customer typed.
    svg = segno.make_qr(card.serial, error="m").svg_inline(
        scale=5, border=2, title=_("Card %(serial)s") % {"serial": card.serial}
    )
    return mark_safe(svg)  # noqa: S308


def _metric(tag: str, name: str, value: object, shown: str, css: str = "") -> SafeString:
    # The number as the page shows it (1.234,5 in es/de), the plain one for scripts and tests.
    return format_html(
        '<{tag}{css} data-metric="{name}" data-value="{value}">{shown}</{tag}>',
        tag=mark_safe(tag),  # noqa: S308 - our own tag names
        css=format_html(' class="{}"', css) if css else "",
        name=name,
        value=value,
        shown=shown,
    )


def _balance_parts(card: Card) -> dict[str, Any]:
    """The balance's highlighted numbers, ready to sit inside a translated sentence."""
    program = card.program
    if program.is_stamp:
        return {
            "balance_html": _metric(
                "span",
                "stamps_balance",
                card.stamps_balance,
                localize(card.stamps_balance),
                "card-big",
            ),
            "rewards_html": _metric(
                "strong",
                "rewards_available",
                card.rewards_available,
                localize(card.rewards_available),
            ),
            "referral_stamps": int(program.referral_bonus),
        }
    percentage = card.cashback_percentage
    return {
        "balance_html": _metric(
            "span",
            "points_balance",
            card.points_balance,
            localize(card.points_balance),
            "card-big",
        ),
        "percentage_html": _metric(
            "span", "cashback_percentage", percentage, f"{floatformat(percentage, '-2')} %"
        )
        if percentage is not None
        else "",
    }


class Platform(StrEnum):
    """What kind of device opened the card page, as far as its User-Agent tells: the page
    offers the wallet of that phone first (or only), and a desktop a code to open it on one."""

    IOS = "ios"
    ANDROID = "android"
    DESKTOP = "desktop"
    # Not recognised (no User-Agent, a bot, a rare browser): everything is offered.
    OTHER = "other"


# iPadOS Safari asks for the desktop site by default and says "Macintosh": it is a desktop here.
_IOS = re.compile(r"\b(?:iPhone|iPad|iPod)\b")
_DESKTOP = re.compile(r"\b(?:Windows NT|Macintosh|X11|CrOS)\b")


def client_platform(request: HttpRequest) -> Platform:
    user_agent = request.headers.get("User-Agent", "")
    if _IOS.search(user_agent):
        return Platform.IOS
    if "Android" in user_agent:
        return Platform.ANDROID
    if _DESKTOP.search(user_agent):
        return Platform.DESKTOP
    return Platform.OTHER


@dataclass(frozen=True)
class Contact:
    """How the customer reaches the merchant; empty strings for what the merchant left out."""

    phone: str  # E.164, for the tel: link
    phone_display: str
    email: str
    website: str
    address: str


def merchant_contact(merchant: Merchant) -> Contact | None:
    """The merchant's contact details for the card page, or None when none is set."""
    if not merchant.has_contact:
        return None
    website = merchant.website
    # Saved through a check of its own; a link customers tap is only ever a web page.
    if urlsplit(website).scheme not in ("https", "http"):
        website = ""
    return Contact(
        phone=merchant.contact_phone,
        phone_display=merchant.contact_phone_display,
        email=merchant.contact_email,
        website=website,
        address=merchant.address,
    )


def card_page_context(card: Card) -> dict[str, Any]:
    program = card.program
    return {
        "card": card,
        "program": program,
        "merchant_name": card.merchant.name,
        "expired": card.is_expired,
        "slots": [n < card.stamps_balance for n in range(program.stamps_per_reward)],
        "serial_qr": _serial_qr(card),
        "history": card_public_history(card=card),
        "referral_url": card_referral_url(card),
        "install_url": card_install_url(card),
        "contact": merchant_contact(card.merchant),
        "rendered_at": clock.now(),
        **_balance_parts(card),
        **CARD_PAGE_PARTS.context(card),
    }


def render_card_page(
    request: HttpRequest, card: Card, *, status: int = 200, **overrides: Any
) -> HttpResponse:
    activate_for_customer(request, card.merchant)
    with timezone.override(card.merchant.tz):  # dates as the shop sees them
        context = card_page_context(card) | {"platform": client_platform(request)} | overrides
        return render(request, "cards/public/card.html", context, status=status)
