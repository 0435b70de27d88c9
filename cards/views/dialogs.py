"""The plus/minus dialogs that change a card's balances.

One view serves every dialog, from the table of actions in ``cards.actions``: which rule
previews and applies it, which fields the form has and how they read. An action the card's
profile does not offer (stamps on a cashback card, a refund on a card that earns stamps per
visit, where writing off visits replaces it) is a 404, like an unknown one.

With htmx the dialog is a ``<dialog>`` partial: a validation error re-renders its form (422) and
a success answers 204 with ``HX-Trigger: ledger-changed`` (the profile refreshes its metrics and
history; app.js closes the dialog and toasts the message). Without JavaScript the same URL is a
page with the form: a success redirects to the profile with a message. The message names the
entries written, in the words of the history rows (``cards.history.entries_summary``).

An action the card cannot take now (redeeming with no reward available) has its button
disabled, saying why; its dialog, asked for anyway, says the same and has no form (409). Apply
stays the service's to refuse, so a resent request still replays.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from cards import services
from cards.actions import ACTIONS, Action
from cards.forms import LedgerDialogForm
from cards.history import entries_summary
from cards.models import Card
from cards.rules import LedgerError
from cards.selectors import card_get
from loyalty.http import MerchantRequest
from loyalty.tenancy import merchant_required

VISIBLE_FIELDS = frozenset({"value", "purchase_amount", "comment"})


def _load(request: MerchantRequest, serial: str, name: str) -> tuple[Card, Action]:
    """The card and the action, or 404 where the card's profile does not offer it."""
    return _offered(card_get(merchant=request.merchant, serial=serial), name)


def _offered(card: Card, name: str) -> tuple[Card, Action]:
    action = ACTIONS.get((card.program.kind, name))
    if action is None or not action.offered_on(card):
        raise Http404(_("No such action on this card."))
    if card.program.is_cashback:
        # The rules need the tiers: one query here rather than one per use.
        prefetch_related_objects([card.program], "tiers")
    return card, action


def _form(action: Action, data: Any = None, key: str | None = None) -> LedgerDialogForm:
    initial = {"idempotency_key": key} if key else None
    return LedgerDialogForm(
        data,
        initial=initial,
        value_label=str(action.value_label),
        value_is_count=action.value_is_count,
        purchase=action.purchase,
        purchase_help=str(action.purchase_help),
    )


@dataclass(frozen=True)
class Preview:
    """Either the text of what Apply would do, or the error it would give (with its field).

    ``said``: the error is already shown beside its field (a failed Apply), so not again here.
    """

    text: str = ""
    error: str = ""
    field: str = ""
    said: bool = False


def _closed_reason(card: Card) -> str:
    try:
        services.card_check_open(card=card)
    except LedgerError as error:
        return error.text
    return ""


def compute_preview(card: Card, action: Action, data: Mapping[str, Any]) -> Preview:
    """What Apply would do, from the same pure rule the service runs; writes nothing."""
    closed = _closed_reason(card)
    if closed:
        return Preview(error=closed, field="value")
    if not str(data.get("value") or "").strip():
        return Preview()
    before = card.balances()
    rule_set = card.program.rule_set()
    try:
        deltas = action.compute(before, rule_set, data)
    except LedgerError as error:
        return Preview(error=error.text_in(card.merchant.currency), field=error.field_name)
    what = action.describe(deltas, before, rule_set, card.merchant.currency)
    # Translators: the live preview as a sentence, e.g. "+3 stamps, balance 7 -> 10 stamps.".
    return Preview(text=_("%(what)s.") % {"what": capfirst(what)})


def _errors_shown(form: LedgerDialogForm) -> set[str]:
    """Every message the rendered form shows (beside its field or at the top)."""
    if not form.is_bound:
        return set()
    return {str(message) for messages in form.errors.values() for message in messages}


def _from_counter(request: MerchantRequest) -> bool:
    """Opened from the counter view (``?from=counter``): a plain form goes back there."""
    return request.GET.get("from") == "counter"


def _back_url(request: MerchantRequest, card: Card) -> str:
    if _from_counter(request):
        return reverse("cards:counter", args=[card.serial])
    return card.get_absolute_url()


def _context(
    request: MerchantRequest, card: Card, action: Action, form: LedgerDialogForm
) -> dict[str, Any]:
    data = form.data if form.is_bound else {}
    dialog_url = reverse("cards:dialog", args=[card.serial, action.name])
    closed = _closed_reason(card)
    # Each message once: a closed card's reason shows on top (and the preview is off), a failed
    # Apply's error beside its field.
    preview = Preview() if closed else compute_preview(card, action, data)
    if preview.error and preview.error in _errors_shown(form):
        preview = Preview(said=True)
    return {
        "card": card,
        "action": action,
        "form": form,
        "balances": action.balances(card),
        "closed_reason": closed,
        "preview": preview,
        "dialog_url": dialog_url + ("?from=counter" if _from_counter(request) else ""),
        "preview_url": reverse("cards:dialog_preview", args=[card.serial, action.name]),
        "profile_url": _back_url(request, card),
        # Set by ``_apply`` when a guard stopped Apply: the warning to confirm, or a cap's
        # override to offer.
        "repeat": getattr(form, "repeat", ""),
        "offer_override": getattr(form, "offer_override", False),
    }


def _render(
    request: MerchantRequest,
    card: Card,
    action: Action,
    form: LedgerDialogForm,
    *,
    status: int = 200,
) -> HttpResponse:
    context = _context(request, card, action, form)
    if not request.htmx:
        context["as_page"] = True
        return render(request, "cards/dialogs/page.html", context, status=status)
    # A failed Apply swaps only the form, so the open dialog stays where it is.
    template = "cards/dialogs/dialog.html" + ("#form" if form.is_bound else "")
    return render(request, template, context, status=status)


def _refused(request: MerchantRequest, card: Card, action: Action, refusal: str) -> HttpResponse:
    """The dialog of an action the card cannot take now: why, and no form (409)."""
    context = {
        "card": card,
        "action": action,
        "refusal": refusal,
        "profile_url": _back_url(request, card),
        "as_page": not request.htmx,
    }
    template = "cards/dialogs/dialog.html" if request.htmx else "cards/dialogs/page.html"
    return render(request, template, context, status=409)


def _apply(
    request: MerchantRequest, card: Card, action: Action, form: LedgerDialogForm
) -> services.LedgerResult | None:
    """The service's result, or None after putting its refusal on the form."""
    try:
        return services.card_apply(
            card=card,
            action=action.name,
            actor=request.user,
            idempotency_key=form.cleaned_data["idempotency_key"],
            role=request.membership.role,
            confirm_repeat=form.cleaned_data["confirm"],
            override_cap=form.cleaned_data["override"],
            **form.service_inputs(),
        )
    except services.RepeatSuspected as warning:
        # Not an error: the same form again, asking to confirm (the fields keep their values).
        form.repeat = warning.text  # type: ignore[attr-defined]
    except services.CapReached as error:
        form.add_error(None, error.text)
        form.offer_override = error.can_override  # type: ignore[attr-defined]
    except LedgerError as error:
        # Anything but a visible field (say, an expired idempotency key) goes on top.
        field = error.field_name if error.field_name in VISIBLE_FIELDS else None
        form.add_error(field, error.text_in(card.merchant.currency))
    except ValidationError as error:
        form.add_error(None, error)
    return None


def _success(request: MerchantRequest, card: Card, result: services.LedgerResult) -> HttpResponse:
    # What the ledger wrote, as the history's rows say it: "Stamps added: +3 stamps.".
    message = entries_summary(result.entries, card.merchant.currency)
    if request.htmx:
        response = HttpResponse(status=204)
        return trigger_client_event(response, "ledger-changed", {"message": message})
    messages.success(request, message)
    return redirect(_back_url(request, card))


@merchant_required
@require_http_methods(["GET", "POST"])
def dialog(request: MerchantRequest, serial: str, action: str) -> HttpResponse:
    """A plus/minus dialog: GET renders it with a fresh idempotency key, POST applies it."""
    if request.method == "POST":
        return _post(request, serial, action)
    card, spec = _load(request, serial, action)
    refusal = spec.refusal(card)
    if refusal:
        return _refused(request, card, spec, refusal)
    return _render(request, card, spec, _form(spec, key=uuid.uuid4().hex))


def _post(request: MerchantRequest, serial: str, name: str) -> HttpResponse:
    """Apply: the card is read once, by the query that locks it for the ledger.

    The counter's hot path. A refusal rolls the transaction back (nothing was written) and the
    form is rendered after it, with the card as it was read.
    """
    result = None
    with transaction.atomic():
        try:
            card = services.card_lock(
                merchant=request.merchant,
                serial=serial,
                idempotency_key=request.POST.get("idempotency_key"),
            )
        except Card.DoesNotExist:
            raise Http404("No such card.") from None
        card, spec = _offered(card, name)
        form = _form(spec, request.POST)
        if form.is_valid():
            result = _apply(request, card, spec, form)
    if result is not None:
        return _success(request, card, result)
    return _render(request, card, spec, form, status=422)


@merchant_required
@require_POST
def dialog_preview(request: MerchantRequest, serial: str, action: str) -> HttpResponse:
    """The live preview of a dialog as it is typed: computed, never written."""
    card, spec = _load(request, serial, action)
    context = {
        "card": card,
        "action": spec,
        "balances": spec.balances(card),
        "preview": compute_preview(card, spec, request.POST.dict()),
    }
    return render(request, "cards/dialogs/dialog.html#preview", context)
