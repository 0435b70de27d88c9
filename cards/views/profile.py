"""The Profile tab of a card's profile (metrics, lifecycle, links, custom fields) and the card's
transaction history.

The frame every tab shares is ``cards.profile.profile_context``; the context is built in a fixed
number of queries whatever the length of the card's history, and the history itself is one page
at a time.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from cards import services
from cards.forms import ExpirationForm, custom_field_display
from cards.history import entry_changes, entry_who
from cards.models import Card, LedgerEntry
from cards.profile import PROFILE_PARTS, profile_context
from cards.selectors import (
    card_get,
    card_history,
    card_install_url,
    card_referral_url,
)
from loyalty.csv_export import streaming_csv
from loyalty.http import MerchantRequest, redirect_for, wants_partial
from loyalty.tenancy import manager_required, merchant_required

if TYPE_CHECKING:
    pass

HISTORY_PAGE_SIZE = 25


def _metrics_context(request: MerchantRequest, context: dict[str, Any]) -> dict[str, Any]:
    """What the Profile tab adds: links, custom fields, the parts of apps above (the rating)."""
    card: Card = context["card"]
    customer = context["customer"]
    all_deleted = all(choice.card.is_deleted for choice in context["customer_cards"])
    context.update(
        PROFILE_PARTS.context(card),
        install_url=card_install_url(card),
        referral_url=card_referral_url(card),
        custom_fields=custom_field_display(
            card.program, customer.custom_fields if customer is not None else {}
        ),
        can_remove_customer=context["can_manage"] and customer is not None and all_deleted,
    )
    return context


# ---------------------------------------------------------------------------------------------
# The Profile tab


@merchant_required
@require_GET
def profile(request: MerchantRequest, serial: str) -> HttpResponse:
    context = _metrics_context(request, profile_context(request, serial, "profile"))
    context["history"] = _history_page(request, context["card"], 1)
    return render(request, "cards/profile.html", context)


@merchant_required
@require_GET
def metrics(request: MerchantRequest, serial: str) -> HttpResponse:
    """The metrics block alone, re-fetched by the page after every ledger change."""
    context = _metrics_context(request, profile_context(request, serial, "profile"))
    return render(request, "cards/profile.html#metrics", context)


# ---------------------------------------------------------------------------------------------
# Lifecycle: delete, expiration date


@manager_required
@require_http_methods(["GET", "POST"])
def delete(request: MerchantRequest, serial: str) -> HttpResponse:
    """Confirm, then delete. GET asks (a dialog with htmx, a page without); POST deletes."""
    context = profile_context(request, serial, "profile")
    card: Card = context["card"]
    if request.method == "POST":
        if not card.is_deleted:
            services.card_delete(card=card, actor=request.user)
            messages.success(
                request,
                _("Card %(serial)s was deleted. It no longer works anywhere.")
                % {"serial": card.serial},
            )
        return redirect("cards:profile", serial=card.serial)
    template = (
        "cards/card_delete.html#dialog" if wants_partial(request) else "cards/card_delete.html"
    )
    return render(request, template, context)


@merchant_required
@require_http_methods(["GET", "POST"])
def replace_link(request: MerchantRequest, serial: str) -> HttpResponse:
    """Replace the card's install link (a lost phone, a link shared by mistake): staff too, as
    the counter meets those customers. GET asks (a dialog with htmx, a page without); POST
    replaces, then the profile shows the new link."""
    context = profile_context(request, serial, "profile")
    card: Card = context["card"]
    if card.is_deleted:
        messages.error(request, _("This card was deleted; it cannot be changed."))
        return _back_to_profile(request, card)
    if request.method == "POST":
        try:
            services.card_rotate_link(
                card=card, actor=request.user, reason=services.LinkRotation.DASHBOARD
            )
        except ValidationError as error:  # deleted meanwhile
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _(
                    "The card's link was replaced: the old one no longer opens the card on any "
                    "phone. Give the customer the new link below."
                ),
            )
        return _back_to_profile(request, card)
    template = (
        "cards/card_replace_link.html#dialog"
        if wants_partial(request)
        else "cards/card_replace_link.html"
    )
    return render(request, template, context)


@merchant_required
@require_http_methods(["GET", "POST"])
def expiration(request: MerchantRequest, serial: str) -> HttpResponse:
    """Edit the expiration date: with htmx, the metrics block with the date picker open.

    An expired card's date moves for owners and admins only (the service decides); staff see
    why instead of a date picker.
    """
    context = _metrics_context(request, profile_context(request, serial, "profile"))
    card: Card = context["card"]
    if card.is_deleted:
        messages.error(request, _("This card was deleted; it cannot be changed."))
        return _back_to_profile(request, card)
    context["expiration_locked"] = card.is_expired and not context["can_manage"]
    if request.method == "GET":
        form = ExpirationForm(initial={"expires_on": card.expires_on})
        return _expiration_response(request, context, form)
    form = ExpirationForm(request.POST)
    if form.is_valid():
        try:
            services.card_set_expiration(
                card=card,
                expires_on=form.cleaned_data["expires_on"],
                actor=request.user,
                may_move_expired=context["can_manage"],
            )
        except ValidationError as error:
            form.add_error(None, error)  # the service names the field
    if not form.is_valid():
        return _expiration_response(request, context, form, status=422)
    notice = _expiration_notice(card)
    if not wants_partial(request):
        messages.success(request, notice)
        return redirect("cards:profile", serial=card.serial)
    context.update(
        can_change_balances=not card.is_deleted and not card.is_expired,
        notice=notice,
        summary_oob=True,
    )
    return render(request, "cards/profile.html#metrics", context)


def _expiration_notice(card: Card) -> str:
    if card.expires_on is None:
        return _("Saved: the card never expires.")
    day = date_format(card.expires_on, "SHORT_DATE_FORMAT")
    if card.is_expired:
        return _(
            "Saved: the card expired on %(date)s; it refuses balance changes until you move the "
            "date."
        ) % {"date": day}
    return _("Saved: the card expires after %(date)s.") % {"date": day}


def _expiration_response(
    request: MerchantRequest, context: dict[str, Any], form: ExpirationForm, status: int = 200
) -> HttpResponse:
    context["expiration_form"] = form
    if wants_partial(request):
        return render(request, "cards/profile.html#metrics", context, status=status)
    return render(request, "cards/expiration.html", context, status=status)


def _back_to_profile(request: MerchantRequest, card: Card) -> HttpResponse:
    return redirect_for(request, reverse("cards:profile", args=[card.serial]))


# ---------------------------------------------------------------------------------------------
# History


@dataclass(frozen=True)
class HistoryRow:
    entry: LedgerEntry
    title: str
    changes: tuple[str, ...]
    who: str
    # The reversal's story: "Reversed by anna on 3/11/2026: Wrong card" on the original,
    # "Undoes Purchase of 3/11/2026" on the reversal.
    note: str = ""
    # The Reverse button's URL, where this member may reverse the entry.
    reverse_url: str = ""


def _reversal_note(entry: LedgerEntry) -> str:
    """Reads ``reverses`` and ``reversal``: select them with the entries (``card_history``)."""
    if entry.reverses_id is not None and entry.reverses is not None:
        return _("Undoes %(entry)s of %(date)s") % {
            "entry": entry.reverses.label,
            "date": date_format(timezone.localtime(entry.reverses.created_at), "SHORT_DATE_FORMAT"),
        }
    reversal = getattr(entry, "reversal", None)
    if reversal is None:
        return ""
    return _("Reversed by %(who)s on %(date)s: %(reason)s") % {
        "who": entry_who(reversal),
        "date": date_format(timezone.localtime(reversal.created_at), "SHORT_DATE_FORMAT"),
        "reason": reversal.comment,
    }


def history_rows(
    entries: Iterable[LedgerEntry], currency: str, request: MerchantRequest | None = None
) -> list[HistoryRow]:
    """The history's rows; with ``request``, each carries its Reverse URL where allowed."""
    return [
        HistoryRow(
            entry=e,
            title=e.label,
            changes=entry_changes(e, currency),
            who=entry_who(e),
            note=_reversal_note(e),
            reverse_url=_reverse_url(e, request) if request is not None else "",
        )
        for e in entries
    ]


def _reverse_url(entry: LedgerEntry, request: MerchantRequest) -> str:
    if entry.kind in services.NOT_REVERSIBLE or getattr(entry, "reversal", None) is not None:
        return ""
    refusal = services.reversal_refusal(
        entry=entry,
        program=entry.card.program,
        user_id=request.user.pk,
        role=request.membership.role,
    )
    if refusal:
        return ""
    return reverse("cards:entry_reverse", args=[entry.card.serial, entry.pk])


def _history_page(request: MerchantRequest, card: Card, number: Any) -> Page:
    page = Paginator(card_history(card=card), HISTORY_PAGE_SIZE).get_page(number)
    for entry in page.object_list:
        entry.card = card  # the card already loaded: no query per row for its program
    page.rows = history_rows(page.object_list, card.merchant.currency, request)  # type: ignore[attr-defined]
    return page


@merchant_required
@require_GET
def history(request: MerchantRequest, serial: str) -> HttpResponse:
    """The history block (htmx) or the history as its own page (without JavaScript)."""
    context = profile_context(request, serial, "profile")
    context["history"] = _history_page(request, context["card"], request.GET.get("page"))
    if wants_partial(request):
        return render(request, "cards/profile.html#history", context)
    return render(request, "cards/history.html", context)


# ---------------------------------------------------------------------------------------------
# CSV


# The header is in the reader's language; the cells stay machine-readable.
HISTORY_CSV_HEADER = (
    gettext_lazy("Date"),
    gettext_lazy("What happened"),
    gettext_lazy("Transaction amount change"),
    gettext_lazy("LTV change"),
    gettext_lazy("Purchase amount"),
    gettext_lazy("Stamps earned change"),
    gettext_lazy("Stamps balance change"),
    gettext_lazy("Rewards available change"),
    gettext_lazy("Rewards earned change"),
    gettext_lazy("Rewards redeemed change"),
    gettext_lazy("Points change"),
    gettext_lazy("Points earned change"),
    gettext_lazy("Points redeemed change"),
    gettext_lazy("Visits change"),
    gettext_lazy("Who"),
    gettext_lazy("Source"),
    gettext_lazy("Comment"),
)


def _history_csv_rows(card: Card, tz: datetime.tzinfo) -> Iterator[tuple[Any, ...]]:
    yield tuple(str(title) for title in HISTORY_CSV_HEADER)
    for e in card_history(card=card).iterator(chunk_size=2000):
        yield (
            timezone.localtime(e.created_at, tz).isoformat(),
            e.label,
            e.amount_delta,
            e.ltv_delta,
            "" if e.purchase_amount is None else e.purchase_amount,
            e.stamps_earned_delta,
            e.stamps_delta,
            e.rewards_available_delta,
            e.rewards_earned_delta,
            e.rewards_redeemed_delta,
            e.points_delta,
            e.points_earned_delta,
            e.points_redeemed_delta,
            e.visits_delta,
            entry_who(e),
            e.get_source_display(),
            e.comment,
        )


@manager_required
@require_GET
def history_csv(request: MerchantRequest, serial: str) -> StreamingHttpResponse:
    """Owners and admins only, audited; streamed, so a long history holds no memory."""
    card = card_get(merchant=request.merchant, serial=serial)
    services.card_history_export_record(
        card=card, actor=request.user, rows=card_history(card=card).count()
    )
    rows = _history_csv_rows(card, request.merchant.tz)
    return streaming_csv(rows, f"card-{card.serial}-history.csv")
