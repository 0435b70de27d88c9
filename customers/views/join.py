"""A program's public join page: whoever fills it in becomes a customer (or is recognised as
one) and gets a card of the program, with the welcome and referral bonuses the rules allow.
A new customer sees the card at once; a known one's link goes only to the email on file, and
the page says the same whatever was known.

No login: the page is reached through the program's unguessable join token. Responses are
``no-store`` and ``noindex``; the form is CSRF-protected and rate limited per address and per
referring card.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from cards.card_page import JOINED_PARAMETER, public, too_many
from cards.forms import utm_from
from cards.models import Card, Program
from cards.selectors import program_by_join_token
from customers.forms import JoinForm
from customers.services import JoinOutcome, JoinResult, customer_join, customer_join_send_link
from loyalty import ratelimit
from loyalty.http import add_service_errors
from loyalty.i18n import activate_for_customer
from loyalty.ratelimit import Limit

# Generous for a shop whose customers all join over its wifi; tight for a script.
JOIN_PER_IP = Limit("join-ip", limit=20, window=600)
# Referral bonuses are worth farming: at most this many joins through one card's link.
JOIN_PER_REFERRER = Limit("join-referrer", limit=10, window=3600)
# The email behind a duplicate join is someone's inbox: never a mail cannon.
LINK_EMAIL_PER_CARD = Limit("link-email-card", limit=3, window=3600)


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
    # The page speaks the visitor's language, else the merchant's; a new customer keeps it.
    language = activate_for_customer(request, program.merchant)
    if program.archived_at is not None:
        return render(request, "cards/public/join_closed.html", {"program": program}, status=410)
    source = request.POST if request.method == "POST" else request.GET
    utm = utm_from(source)
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
                result = customer_join(
                    program=program,
                    utm=utm,
                    referrer=referrer,
                    language=language,
                    **form.service_inputs(),
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
    """Where the form leads: a new customer's card, else one page for every known contact.

    Whether the email or phone was known, already held a card, had an email on file or hit
    the email limit, the page is the same: it must not tell whoever typed them.
    """
    card = result.card
    if result.outcome == JoinOutcome.ISSUED and card is not None:
        # The card page's "card is ready" step: the phone's wallet, or the home screen.
        url = reverse("public:card", args=[card.install_token])
        return redirect(f"{url}?{JOINED_PARAMETER}=1")
    if card is not None and ratelimit.allowed((LINK_EMAIL_PER_CARD, str(card.pk))):
        # Written in the language the customer joined in (card_send_link), not the page's.
        customer_join_send_link(result=result)
    context = {"program": program, "merchant_name": program.merchant.name}
    return render(request, "cards/public/join_sent.html", context)
