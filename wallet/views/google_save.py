"""The card page's "Save to Google Wallet" link: ``/c/<install_token>/wallet/google/``.

Found like every page under the card's link (404 for an unknown token, 410 for a replaced
one, see ``cards.middleware``), then redirected to Google's save page with a freshly signed
JWT of the card's object. Never cached: the redirect carries the card's data.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

from cards.card_page import public, too_many
from cards.selectors import card_by_install_token
from loyalty import ratelimit
from loyalty.ratelimit import Limit
from wallet import conf
from wallet.google.save_link import google_save_url
from wallet.services.google import google_class_ensure, google_object_ensure

# A holder taps it once or twice; each tap signs a JWT and may call Google.
SAVE_PER_CARD = Limit("google-save-card", limit=20, window=600)
SAVE_PER_IP = Limit("google-save-ip", limit=60, window=600)


@public
@require_GET
def save(request: HttpRequest, install_token: str) -> HttpResponse:
    card = card_by_install_token(install_token)
    if card.is_deleted or not conf.google_enabled():
        raise Http404("No Google Wallet card here.")
    if not ratelimit.allowed(
        (SAVE_PER_CARD, str(card.pk)), (SAVE_PER_IP, ratelimit.client_ip(request))
    ):
        return too_many(request, SAVE_PER_CARD.window, card.merchant)
    google_object = google_object_ensure(card=card)
    google_class_ensure(program=card.program)
    url = google_save_url(
        card=card, wallet_pass=google_object.wallet_pass, object_id=google_object.object_id
    )
    return HttpResponseRedirect(url)
