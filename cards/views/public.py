"""What customers see: a program's join page, the referral link, and the card itself (a PWA).

These pages need no login. Each is reached only through an unguessable token (never a serial
or an id), answers 404 to anything else, and reveals nothing beyond its own program or card.
Every response is ``no-store`` and ``noindex``; the forms are CSRF-protected and rate limited
per address and per card.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cards import pwa
from cards.card_page import gone, public, render_card_page, too_many
from cards.forms import JoinForm
from cards.models import Card, Device, Program
from cards.selectors import (
    card_by_install_token,
    card_by_referral_token,
    program_by_join_token,
    program_join_url,
)
from cards.services import (
    UTM_KEYS,
    JoinOutcome,
    JoinResult,
    LinkReason,
    card_join,
    card_mark_installed,
    card_send_link,
)
from loyalty import ratelimit
from loyalty.http import add_service_errors
from loyalty.ratelimit import Limit

# Generous for a shop whose customers all join over its wifi; tight for a script.
JOIN_PER_IP = Limit("join-ip", limit=20, window=600)
# Referral bonuses are worth farming: at most this many joins through one card's link.
JOIN_PER_REFERRER = Limit("join-referrer", limit=10, window=3600)
# The email behind a duplicate join is someone's inbox: never a mail cannon.
LINK_EMAIL_PER_CARD = Limit("link-email-card", limit=3, window=3600)
INSTALLED_PER_CARD = Limit("installed-card", limit=30, window=600)


def _live_card(install_token: str) -> Card:
    card = card_by_install_token(install_token)
    if card.is_deleted:
        raise Http404("No such card.")
    return card


# ---------------------------------------------------------------------------------------------
# Joining


def _utm_from(data: Any) -> dict[str, str]:
    return {
        key: value[:100] for key in UTM_KEYS if (value := str(data.get(f"utm_{key}", "")).strip())
    }


def _referrer_for(program: Program, token: str) -> Card | None:
    """The card whose referral link brought this visitor, if it is of this program."""
    if not token:
        return None
    return (
        Card.objects.select_related("program", "merchant")
        .filter(referral_token=token[:40], program=program)
        .first()
    )


@public
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, join_token: str) -> HttpResponse:
    program = program_by_join_token(join_token)
    if program.archived_at is not None:
        return render(request, "cards/public/join_closed.html", {"program": program}, status=410)
    source = request.POST if request.method == "POST" else request.GET
    utm = _utm_from(source)
    referrer = _referrer_for(program, str(source.get("ref", "")))
    if request.method == "POST":
        checks = [(JOIN_PER_IP, ratelimit.client_ip(request))]
        if referrer is not None:
            checks.append((JOIN_PER_REFERRER, str(referrer.pk)))
        if not ratelimit.allowed(*checks):
            return too_many(request, JOIN_PER_IP.window)
        form = JoinForm(request.POST, program=program)
        if form.is_valid():
            try:
                result = card_join(
                    program=program, utm=utm, referrer=referrer, **form.service_inputs()
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return _joined(request, program, result)
    else:
        form = JoinForm(program=program)
    context = {
        "program": program,
        "merchant_name": program.merchant.name,
        "form": form,
        "utm": utm,
        "ref": referrer.referral_token if referrer else "",
        "referred": referrer is not None,
    }
    status = 422 if form.is_bound else 200
    return render(request, "cards/public/join.html", context, status=status)


def _joined(request: HttpRequest, program: Program, result: JoinResult) -> HttpResponse:
    """Where the form leads: the new card, or a page that says where its link went."""
    card = result.card
    if result.outcome == JoinOutcome.ISSUED and card is not None:
        return redirect("public:card", card.install_token, permanent=False)
    has_email = bool(card and card.customer and card.customer.email)
    sent = False
    if card is not None and has_email and ratelimit.allowed((LINK_EMAIL_PER_CARD, str(card.pk))):
        reason = (
            LinkReason.RESTORE if result.outcome == JoinOutcome.DUPLICATE else LinkReason.NEW_CARD
        )
        sent = card_send_link(card=card, reason=reason)
    context = {
        "program": program,
        "merchant_name": program.merchant.name,
        "outcome": result.outcome,
        "has_email": has_email,
        "sent": sent,
    }
    return render(request, "cards/public/join_sent.html", context)


@public
@require_GET
def join_qr(request: HttpRequest, join_token: str) -> HttpResponse:
    """A QR code of the program's absolute join link, for posters and the counter."""
    program = program_by_join_token(join_token)
    qr = segno.make(program_join_url(program), error="m")
    # A standalone SVG document (with its namespace), unlike svg_inline(): browsers only draw
    # an <img src> SVG that declares xmlns.
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=8, border=4, title=f"Join {program.name}", xmldecl=False)
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
        **{f"utm_{k}": v for k, v in _utm_from(request.GET).items()},
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
        return gone(request)
    return render_card_page(request, card)


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
    card = _live_card(install_token)
    return JsonResponse(pwa.manifest(card), content_type="application/manifest+json")


@public
@require_GET
def card_service_worker(request: HttpRequest, install_token: str) -> HttpResponse:
    card = _live_card(install_token)
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
