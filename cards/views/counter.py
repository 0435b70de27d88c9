"""The counter: staff scan the code a customer shows, then act on that card from a compact view.

``scan`` is the scanner page: the phone's camera (static/js/scanner.js) or a typed or
barcode-scanner code lands on ``/scan/?code=...``, and the server decides what the code names
(``cards.selectors.card_for_scan``): this merchant's live card opens its counter view, anything
else is said on the scanner page, ready for the next code. ``counter`` is one card, phone-first:
who holds it, its balances and big buttons for the counter's actions, which open the profile's
own plus/minus dialogs. Both only read; the dialogs write.
"""

from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from cards import actions
from cards.actions import CounterButton
from cards.models import Card
from cards.selectors import card_for_scan, card_get, card_metrics, scan_text_clean
from loyalty.http import MerchantRequest, wants_partial
from loyalty.tenancy import merchant_required

# Where the dialog goes back to without JavaScript, once applied.
FROM_COUNTER = "from=counter"


def counter_buttons(card: Card) -> list[CounterButton]:
    """The counter's buttons for this card: none on a card that refuses balance changes."""
    if card.is_deleted or card.is_expired:
        return []
    return actions.counter_buttons(card, query=FROM_COUNTER)


@merchant_required
@require_GET
def scan(request: MerchantRequest) -> HttpResponse:
    """The scanner; with ``?code=``, this merchant's live card opens, anything else is said."""
    # The field shows the code back as it was read, without a scanner's control characters.
    code = scan_text_clean(request.GET.get("code", ""))
    context: dict[str, Any] = {"nav": "scan", "code": code, "result": None}
    if code:
        result = card_for_scan(merchant=request.merchant, text=code)
        if result.found and result.card is not None:
            return redirect("cards:counter", serial=result.card.serial)
        # 200, not 404: the page is the scanner, ready for the next code, with the reason.
        context["result"] = result
    return render(request, "cards/counter/scan.html", context)


@merchant_required
@require_GET
def counter(request: MerchantRequest, serial: str) -> HttpResponse:
    """One card at the counter; for htmx (re-fetched after every change) its summary, and its
    buttons out of band (a redeem button is disabled once no reward is left)."""
    card = card_get(merchant=request.merchant, serial=serial)
    if card.program.is_cashback:
        # The tier comes from the program's tiers: one query here rather than one per use.
        prefetch_related_objects([card.program], "tiers")
    customer = card.customer
    context = {
        "nav": "scan",
        "card": card,
        "holder": customer.full_name if customer is not None else card.holder_name,
        "metrics": card_metrics(card),
        "buttons": counter_buttons(card),
    }
    if wants_partial(request):
        return render(request, "cards/counter/counter.html#refresh", context)
    return render(request, "cards/counter/counter.html", context)
