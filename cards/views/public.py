"""What customers see: a program's join page, the referral link, and the card itself (a PWA).

These pages need no login. Each is reached only through an unguessable token (never a serial
or an id), answers 404 to anything else, and reveals nothing beyond its own program or card.
Every response is ``no-store`` and ``noindex``; the forms are CSRF-protected and rate limited
per address and per card.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import wraps
from typing import Any

import segno
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cards import pwa
from cards.forms import JoinForm
from cards.models import Card, Device, Program
from cards.selectors import (
    card_by_install_token,
    card_by_referral_token,
    card_install_url,
    card_public_history,
    card_referral_url,
    program_by_join_token,
    program_join_url,
    pushes_last_message_for,
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
from feedback.forms import FeedbackForm
from feedback.selectors import card_feedback_for_visit
from feedback.services import feedback_leave
from loyalty import clock, ratelimit
from loyalty.ratelimit import Limit

# Generous for a shop whose customers all join over its wifi; tight for a script.
JOIN_PER_IP = Limit("join-ip", limit=20, window=600)
# Referral bonuses are worth farming: at most this many joins through one card's link.
JOIN_PER_REFERRER = Limit("join-referrer", limit=10, window=3600)
# The email behind a duplicate join is someone's inbox: never a mail cannon.
LINK_EMAIL_PER_CARD = Limit("link-email-card", limit=3, window=3600)
FEEDBACK_PER_IP = Limit("feedback-ip", limit=20, window=600)
FEEDBACK_PER_CARD = Limit("feedback-card", limit=5, window=600)
INSTALLED_PER_CARD = Limit("installed-card", limit=30, window=600)
PUSH_SNIPPET = "pushes/card_push.html"

View = Callable[..., HttpResponse]


def public(view: View) -> View:
    """No caching anywhere (the pages carry a personal token) and no search-engine indexing."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return never_cache(wrapper)


def _too_many(request: HttpRequest, window: int) -> HttpResponse:
    response = render(request, "cards/public/too_many.html", status=429)
    response["Retry-After"] = str(window)
    return response


def _gone(request: HttpRequest) -> HttpResponse:
    """A deleted card: it says so and offers nothing else."""
    return render(request, "cards/public/card_gone.html", status=410)


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
            return _too_many(request, JOIN_PER_IP.window)
        form = JoinForm(request.POST, program=program)
        if form.is_valid():
            try:
                result = card_join(
                    program=program, utm=utm, referrer=referrer, **form.service_inputs()
                )
            except ValidationError as error:
                _add_errors(form, error)
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


def _add_errors(form: JoinForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


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


def _serial_qr(card: Card) -> SafeString:
    # Our own markup around the serial's digits: nothing a customer typed.
    svg = segno.make(card.serial, error="m").svg_inline(
        scale=5, border=2, title=f"Card {card.serial}"
    )
    return mark_safe(svg)  # noqa: S308


def _card_context(card: Card, feedback_form: FeedbackForm) -> dict[str, Any]:
    program = card.program
    rated = card_feedback_for_visit(card=card)
    expired = card.is_expired
    return {
        "card": card,
        "program": program,
        "merchant_name": card.merchant.name,
        "expired": expired,
        "slots": [n < card.stamps_balance for n in range(program.stamps_per_reward)],
        "serial_qr": _serial_qr(card),
        "last_message": pushes_last_message_for(card),
        "history": card_public_history(card=card),
        "rated": rated,
        "can_rate": not expired and card.total_visits >= 1 and rated is None,
        "feedback_form": feedback_form,
        "referral_url": card_referral_url(card),
        "install_url": card_install_url(card),
        "rendered_at": clock.now(),
        "push_snippet": _push_snippet(),
    }


def _push_snippet() -> str | None:
    """The push feature's part of the card page (its "turn on notifications" control), when
    that feature provides one; the card page never depends on it."""
    try:
        get_template(PUSH_SNIPPET)
    except TemplateDoesNotExist:
        return None
    return PUSH_SNIPPET


def _render_card(
    request: HttpRequest, card: Card, feedback_form: FeedbackForm, status: int = 200
) -> HttpResponse:
    with timezone.override(card.merchant.tz):  # dates as the shop sees them
        return render(
            request, "cards/public/card.html", _card_context(card, feedback_form), status=status
        )


@public
@require_GET
def card_page(request: HttpRequest, install_token: str) -> HttpResponse:
    card = card_by_install_token(install_token)
    if card.is_deleted:
        return _gone(request)
    return _render_card(request, card, FeedbackForm())


@public
@require_POST
def card_feedback(request: HttpRequest, install_token: str) -> HttpResponse:
    card = card_by_install_token(install_token)
    if card.is_deleted:
        return _gone(request)
    if not ratelimit.allowed(
        (FEEDBACK_PER_IP, ratelimit.client_ip(request)), (FEEDBACK_PER_CARD, str(card.pk))
    ):
        return _too_many(request, FEEDBACK_PER_CARD.window)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            feedback_leave(
                card=card, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return redirect(reverse("public:card", args=[card.install_token]) + "#feedback")
    return _render_card(request, card, form, status=422)


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
