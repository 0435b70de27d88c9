"""What customers see: a program's join QR code, the referral link, and the card itself (a PWA).
The join form itself registers a customer, so it lives in the CRM (``customers.views.join``).

These pages need no login. Each is reached only through an unguessable token (never a serial
or an id), answers 404 to anything else (410 to a card's replaced link, see
``cards.middleware``), and reveals nothing beyond its own program or card.
Every response is ``no-store`` and ``noindex``; the forms are CSRF-protected and rate limited
per address and per card.
"""

from __future__ import annotations

import io

import segno
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cards import pwa
from cards.card_page import JOINED_PARAMETER, gone, public, render_card_page, too_many
from cards.forms import utm_from
from cards.models import Card, Device
from cards.selectors import (
    card_by_install_token,
    card_by_referral_token,
    program_by_join_token,
    program_join_url,
)
from cards.services import (
    CONFIRM_PARAMETER,
    LinkRotation,
    card_confirm_email,
    card_mark_installed,
    card_rotate_link,
)
from loyalty import ratelimit
from loyalty.i18n import activate_for_customer
from loyalty.ratelimit import Limit

INSTALLED_PER_CARD = Limit("installed-card", limit=30, window=600)
# Replacing a link logs out every other device of the card: a few times an hour is plenty.
REPLACE_LINK_PER_CARD = Limit("replace-link-card", limit=3, window=3600)
REPLACE_LINK_PER_IP = Limit("replace-link-ip", limit=10, window=3600)


def _live_card(install_token: str) -> Card:
    card = card_by_install_token(install_token)
    if card.is_deleted:
        raise Http404("No such card.")
    return card


def _live_card_for(request: HttpRequest, install_token: str) -> Card:
    """A live card, with the request switched to its customer's language."""
    card = _live_card(install_token)
    activate_for_customer(request, card.merchant)
    return card


# ---------------------------------------------------------------------------------------------
# A program's join link and a card's referral link


@public
@require_GET
def join_qr(request: HttpRequest, join_token: str) -> HttpResponse:
    """A QR code of the program's absolute join link, for posters and the counter."""
    program = program_by_join_token(join_token)
    qr = segno.make(program_join_url(program), error="m")
    # A standalone SVG document (with its namespace), unlike svg_inline(): browsers only draw
    # an <img src> SVG that declares xmlns.
    buffer = io.BytesIO()
    title = _("Join %(program)s") % {"program": program.name}
    qr.save(buffer, kind="svg", scale=8, border=4, title=title, xmldecl=False)
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")


@public
@require_GET
def join_theme(request: HttpRequest, join_token: str) -> HttpResponse:
    program = program_by_join_token(join_token)
    return HttpResponse(pwa.theme_css(program), content_type="text/css")


@public
@require_GET
def referral(request: HttpRequest, referral_token: str) -> HttpResponse:
    """A card's referral link: the program's join page with the referrer attached."""
    card = card_by_referral_token(referral_token)
    query = {
        "ref": card.referral_token,
        **{f"utm_{k}": v for k, v in utm_from(request.GET).items()},
    }
    url = reverse("public:join", args=[card.program.join_token])
    return redirect(f"{url}?{urlencode(query)}")


# ---------------------------------------------------------------------------------------------
# The card


@public
@require_GET
def card_page(request: HttpRequest, install_token: str) -> HttpResponse:
    card = card_by_install_token(install_token)
    if card.is_deleted:
        return gone(request, card.merchant)
    if CONFIRM_PARAMETER in request.GET:
        # Opened from the email: the address is the holder's. Then the plain link, so the
        # confirmation stays out of the address bar, the history and the installed app.
        card_confirm_email(card=card, token=request.GET[CONFIRM_PARAMETER])
        return redirect("public:card", card.install_token)
    return render_card_page(request, card, joined=JOINED_PARAMETER in request.GET)


@public
@require_POST
def card_replace_link(request: HttpRequest, install_token: str) -> HttpResponse:
    """The customer replaces their card's link (shared by mistake, a phone lost): the old one
    stops opening the card anywhere, and this browser moves to the new one."""
    card = card_by_install_token(install_token)
    if card.is_deleted:
        return gone(request, card.merchant)
    if not ratelimit.allowed(
        (REPLACE_LINK_PER_CARD, str(card.pk)), (REPLACE_LINK_PER_IP, ratelimit.client_ip(request))
    ):
        return too_many(request, REPLACE_LINK_PER_CARD.window, card.merchant)
    card_rotate_link(card=card, actor=None, reason=LinkRotation.CARD_PAGE)
    return redirect("public:card", card.install_token)


@public
@require_POST
def card_installed(request: HttpRequest, install_token: str) -> HttpResponse:
    """Called by the card page once it runs as an installed app (or on ``appinstalled``)."""
    card = card_by_install_token(install_token)
    if card.is_deleted:
        return HttpResponse(status=410)
    if not ratelimit.allowed((INSTALLED_PER_CARD, str(card.pk))):
        return HttpResponse(status=429)
    card_mark_installed(card=card, device=Device.PWA)
    return HttpResponse(status=204)


@public
@require_GET
def card_manifest(request: HttpRequest, install_token: str) -> HttpResponse:
    card = _live_card_for(request, install_token)
    return JsonResponse(pwa.manifest(card), content_type="application/manifest+json")


@public
@require_GET
def card_service_worker(request: HttpRequest, install_token: str) -> HttpResponse:
    card = _live_card_for(request, install_token)
    context = {
        "card_url": reverse("public:card", args=[card.install_token]),
        "version": card.program_id,
    }
    return render(request, "cards/public/sw.js", context, content_type="text/javascript")


@public
@require_GET
def card_icon_png(request: HttpRequest, install_token: str, size: int) -> HttpResponse:
    if size not in pwa.ICON_SIZES:
        raise Http404("No such icon.")
    card = _live_card(install_token)
    background, foreground = pwa.program_colors(card.program)
    return HttpResponse(pwa.icon_png(size, background, foreground), content_type="image/png")


@public
@require_GET
def card_icon_svg(request: HttpRequest, install_token: str) -> HttpResponse:
    card = _live_card(install_token)
    return HttpResponse(
        pwa.icon_svg(*pwa.program_colors(card.program)), content_type="image/svg+xml"
    )


@public
@require_GET
def card_theme(request: HttpRequest, install_token: str) -> HttpResponse:
    card = _live_card(install_token)
    return HttpResponse(pwa.theme_css(card.program), content_type="text/css")
