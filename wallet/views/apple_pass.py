"""The card page's "Add to Apple Wallet" link: the card's signed ``.pkpass``.

Reached like every page under ``/c/<token>/``: through the card's unguessable install token
(a replaced link answers 410 through ``cards.middleware``, an unknown one 404), never cached,
and rate limited per card and per address, since every download signs a pass.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import http_date
from django.views.decorators.http import require_GET

from cards.card_page import gone, public, too_many
from cards.selectors import card_by_install_token
from loyalty import ratelimit
from loyalty.ratelimit import Limit
from wallet import conf
from wallet.apple.pkpass import CONTENT_TYPE, pkpass_build
from wallet.selectors import pass_http_last_modified
from wallet.services import wallet_pass_ensure

PASS_PER_CARD = Limit("apple-pass-card", limit=20, window=600)
PASS_PER_IP = Limit("apple-pass-ip", limit=60, window=600)


@public
@require_GET
def download(request: HttpRequest, install_token: str) -> HttpResponse:
    # The card first: a replaced link answers 410 like every page under it.
    card = card_by_install_token(install_token)
    if not conf.apple_enabled():
        raise Http404("Apple Wallet is not available.")
    if card.is_deleted:
        return gone(request, card.merchant)
    if not ratelimit.allowed(
        (PASS_PER_CARD, str(card.pk)), (PASS_PER_IP, ratelimit.client_ip(request))
    ):
        return too_many(request, PASS_PER_CARD.window, card.merchant)
    wallet_pass = wallet_pass_ensure(card=card)
    response = HttpResponse(pkpass_build(wallet_pass=wallet_pass), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{card.merchant.slug}-card.pkpass"'
    response["Last-Modified"] = http_date(pass_http_last_modified(wallet_pass))
    return response
