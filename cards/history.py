"""A ledger entry in words, wherever the history is shown: the card's history, the dialog that
reverses an entry, the team's activity page.

Plain functions over one entry (no queries): what it changed ("Transaction amount +$95.00",
"+9 stamps") and who wrote it; ``entries_summary`` says the entries of one operation in those
words, so the message after a dialog's Apply is the history it wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cards import rules
from cards.models import LedgerEntry, Source
from cards.templatetags.ledger_format import percent
from loyalty.i18n import format_money

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _sign(value: Decimal | int) -> str:
    return "+" if value > 0 else "\u2212"


def _signed_money(value: Decimal, currency: str) -> str:
    return f"{_sign(value)}{format_money(abs(value), currency)}"


def _purchase_kept_aside(entry: LedgerEntry) -> bool:
    """A purchase amount the entry records without counting it (points used with a purchase):
    neither the transaction amount nor the LTV says it, so the changes name it."""
    return bool(
        entry.purchase_amount
        and entry.purchase_amount > 0
        and not entry.amount_delta
        and not entry.ltv_delta
    )


def entry_changes(entry: LedgerEntry, currency: str) -> tuple[str, ...]:
    """What an entry did to the card, in words: "Transaction amount +$95.00", "+9 stamps"."""
    changes = []
    if entry.amount_delta:
        changes.append(
            _("Transaction amount %(amount)s")
            % {"amount": _signed_money(entry.amount_delta, currency)}
        )
    if entry.ltv_delta and entry.ltv_delta != entry.amount_delta:
        changes.append(_("LTV %(amount)s") % {"amount": _signed_money(entry.ltv_delta, currency)})
    if _purchase_kept_aside(entry):
        # Translators: the amount of a purchase an entry records without counting it (points
        # used at that purchase, for example).
        changes.append(
            _("Purchase of %(amount)s") % {"amount": format_money(entry.purchase_amount, currency)}
        )
    if entry.stamps_earned_delta:
        n = entry.stamps_earned_delta
        # Translators: a change of the card's stamps; %(sign)s is "+" or "−".
        changes.append(
            ngettext("%(sign)s%(count)s stamp", "%(sign)s%(count)s stamps", abs(n))
            % {"sign": _sign(n), "count": abs(n)}
        )
    if entry.rewards_earned_delta > 0 and entry.kind != rules.Kind.REWARDS_ADDED:
        n = entry.rewards_earned_delta
        changes.append(
            ngettext("+%(count)s reward unlocked", "+%(count)s rewards unlocked", n) % {"count": n}
        )
    elif entry.rewards_available_delta:
        n = entry.rewards_available_delta
        changes.append(
            ngettext("%(sign)s%(count)s reward", "%(sign)s%(count)s rewards", abs(n))
            % {"sign": _sign(n), "count": abs(n)}
        )
    if entry.points_delta and entry.cashback_percentage is not None:
        # Points a purchase earned (or a correction clawed back) at the card's percentage.
        changes.append(
            _("%(sign)s%(points)s points at %(percentage)s")
            % {
                "sign": _sign(entry.points_delta),
                "points": number_format(abs(entry.points_delta)),
                "percentage": percent(entry.cashback_percentage),
            }
        )
    elif entry.points_delta:
        changes.append(
            _("%(sign)s%(points)s points")
            % {"sign": _sign(entry.points_delta), "points": number_format(abs(entry.points_delta))}
        )
    if entry.visits_delta:
        n = entry.visits_delta
        changes.append(
            ngettext("%(sign)s%(count)s visit", "%(sign)s%(count)s visits", abs(n))
            % {"sign": _sign(n), "count": abs(n)}
        )
    if entry.kind == rules.Kind.CARD_ISSUED and entry.tier_name:
        changes.append(_("Tier %(tier)s") % {"tier": entry.tier_name})
    elif entry.tier_name and entry.tier_percentage is not None:
        # A purchase that reached a tier: it earned at the old rate, the new one is next.
        changes.append(
            _("reaches %(tier)s (%(percentage)s from the next purchase)")
            % {"tier": entry.tier_name, "percentage": percent(entry.tier_percentage)}
        )
    return tuple(changes)


def entry_summary(entry: LedgerEntry, currency: str) -> str:
    """The entry as its history row reads: "Stamps redeemed: −2 stamps"."""
    changes = entry_changes(entry, currency)
    if not changes:
        return entry.label
    # Translators: a history row in one line: what happened, then what it changed.
    return _("%(title)s: %(changes)s") % {"title": entry.label, "changes": ", ".join(changes)}


def entries_summary(entries: Iterable[LedgerEntry], currency: str) -> str:
    """What one operation wrote, entry by entry, in the history's words (the message after
    Apply): "Refund of amount spent: Transaction amount −$27.00. Stamps redeemed: −2 stamps."."""
    return " ".join(f"{entry_summary(entry, currency)}." for entry in entries)


SOURCE_WHO: dict[str, StrOrPromise] = {
    Source.CARD_PAGE: gettext_lazy("Customer (card page)"),
    Source.IMPORT: gettext_lazy("Import"),
    Source.REFERRAL: gettext_lazy("Referral program"),
    Source.SYSTEM: gettext_lazy("System"),
    Source.DASHBOARD: gettext_lazy("Dashboard"),
}


def entry_who(entry: LedgerEntry) -> str:
    """The member who wrote the entry, else where it came from ("Referral program")."""
    if entry.actor is not None:
        return entry.actor.get_username()
    return str(SOURCE_WHO.get(entry.source, entry.source))
