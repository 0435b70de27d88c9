"""Reversing one entry of a card's history, from the history's Reverse button.

GET asks (a ``<dialog>`` with htmx, a page without JavaScript): what the entry did, and a
required reason. POST reverses through ``cards.services.entry_reverse``. An entry that cannot be
reversed at all (a card's first entry, a reversal) is a 404, like an action a card does not
offer; one this member may not reverse (staff: another's entry, or their own too late) a 403.
A refusal of the ledger (reversed already, its reward redeemed since) re-renders the form
(422), and nothing changed.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from cards import services
from cards.forms import ReversalForm
from cards.history import entry_changes
from cards.models import Card, LedgerEntry
from cards.rules import LedgerError
from cards.selectors import card_get
from loyalty.http import MerchantRequest, wants_partial
from loyalty.tenancy import merchant_required


def _load(request: MerchantRequest, serial: str, entry_id: int) -> tuple[Card, LedgerEntry]:
    card = card_get(merchant=request.merchant, serial=serial)
    entry = card.entries.select_related("actor").filter(pk=entry_id).first()
    if entry is None or entry.kind in services.NOT_REVERSIBLE:
        raise Http404(_("No such entry to reverse on this card."))
    refusal = services.reversal_refusal(
        entry=entry, program=card.program, user_id=request.user.pk, role=request.membership.role
    )
    if refusal:
        raise PermissionDenied(refusal)
    return card, entry


def _render(
    request: MerchantRequest, card: Card, entry: LedgerEntry, form: ReversalForm, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "card": card,
        "entry": entry,
        "form": form,
        "changes": entry_changes(entry, card.merchant.currency),
        "reversed_by": getattr(entry, "reversal", None),
    }
    if wants_partial(request):
        template = "cards/entry_reverse.html#" + ("form" if form.is_bound else "dialog")
        return render(request, template, context, status=status)
    return render(request, "cards/entry_reverse.html", context, status=status)


@merchant_required
@require_http_methods(["GET", "POST"])
def entry_reverse(request: MerchantRequest, serial: str, entry_id: int) -> HttpResponse:
    card, entry = _load(request, serial, entry_id)
    if request.method != "POST":
        form = ReversalForm(initial={"idempotency_key": uuid.uuid4().hex})
        return _render(request, card, entry, form)
    form = ReversalForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                services.entry_reverse(
                    card=card,
                    entry=entry,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    role=request.membership.role,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
        except LedgerError as error:
            field = error.field_name if error.field_name == "reason" else None
            form.add_error(field, error.text_in(card.merchant.currency))
        else:
            return _success(request, card, entry)
    return _render(request, card, entry, form, status=422)


def _success(request: MerchantRequest, card: Card, entry: LedgerEntry) -> HttpResponse:
    # Translators: after a reversal, e.g. "Reversed: Purchase (Transaction amount +$9.50)."
    message = _("Reversed: %(entry)s (%(changes)s).") % {
        "entry": entry.label,
        "changes": ", ".join(entry_changes(entry, card.merchant.currency)),
    }
    if request.htmx:
        return trigger_client_event(
            HttpResponse(status=204), "ledger-changed", {"message": message}
        )
    messages.success(request, message)
    return redirect(card.get_absolute_url())
