"""Reversing one ledger entry: a compensating entry for exactly what it did, linked to it.

A reversal is an entry of kind ``reversal`` whose every change is the negation of the
original's (``cards.rules.reversal_delta``), written through the ledger's one path (``_record``:
locked, idempotent, refused on deleted and expired cards). It is booked under the original's
source, so every figure that reads the source (referral balances, imported opening balances in
the statistics) takes back exactly what the original gave. ``LedgerEntry.reverses`` is
one-to-one: an entry is reversed at most once, by the database's word as well as ours.

Who may reverse (``reversal_refusal``): owners and admins any entry; staff only an entry they
wrote themselves, within the program's ``staff_reverse_minutes``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cards import rules
from cards.models import Card, LedgerEntry, Program
from cards.rules import Delta, Kind, LedgerError
from cards.services.ledger import (
    LedgerResult,
    _record,
    _request_key,
    request_fingerprint,
)
from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.models import MANAGER_ROLES

MAX_REASON_LENGTH = 500
# Entries that changed nothing a reversal could give back.
NOT_REVERSIBLE = frozenset({Kind.CARD_ISSUED, Kind.REVERSAL})


def reversal_refusal(
    *,
    entry: LedgerEntry,
    program: Program,
    user_id: int | None,
    role: str,
    now: datetime.datetime | None = None,
) -> str:
    """Why this member may not reverse ``entry`` (empty: they may).

    Pure: the history uses it to show the Reverse button, the service to enforce it. Whether
    the entry was reversed already is the service's check, under the lock.
    """
    if entry.kind == Kind.REVERSAL:
        return _("A reversal cannot be reversed.")
    if entry.kind == Kind.CARD_ISSUED:
        return _("A card's first entry cannot be reversed.")
    if role in MANAGER_ROLES:
        return ""
    if user_id is None or entry.actor_id != user_id:
        return _("Staff can reverse only their own entries; ask an owner or admin.")
    limit = datetime.timedelta(minutes=program.staff_reverse_minutes)
    if (now or clock.now()) - entry.created_at > limit:
        return _(
            "Staff can reverse their own entries for %(minutes)s minutes; ask an owner or admin."
        ) % {"minutes": program.staff_reverse_minutes}
    return ""


def _clean_reason(raw: str | None) -> str:
    reason = (raw or "").strip()
    if not reason:
        raise LedgerError("reason", _("Say why this entry is reversed."))
    if len(reason) > MAX_REASON_LENGTH:
        raise LedgerError(
            "reason",
            _("Keep the reason under %(max)s characters.") % {"max": MAX_REASON_LENGTH},
        )
    return reason


def entry_reverse(
    *,
    card: Card,
    entry: LedgerEntry,
    reason: str,
    actor: Actor,
    role: str,
    idempotency_key: str | None = None,
) -> LedgerResult:
    """Write the entry that undoes ``entry`` (one of ``card``'s), with ``reason`` as its comment.

    Refused with a ``LedgerError`` (nothing written) where the member may not reverse it, where
    it was reversed already, or where what it gave was used since (a reward redeemed, points
    spent): the message says which.
    """
    if entry.card_id != card.pk:
        raise LedgerError("entry", _("That entry belongs to another card."))
    reason = _clean_reason(reason)
    key = _request_key(idempotency_key)
    fingerprint = request_fingerprint("entry_reverse", {"entry": str(entry.pk), "reason": reason})
    user = user_or_none(actor)

    def compute(locked: Card) -> list[Delta]:
        refusal = reversal_refusal(
            entry=entry,
            program=locked.program,
            user_id=user.pk if user is not None else None,
            role=role,
        )
        if refusal:
            raise LedgerError("entry", refusal)
        _ensure_not_reversed(entry)
        without = _history_without(locked, entry)
        return [
            rules.reversal_delta(
                locked.balances(),
                locked.program.rule_set(),
                entry.delta(),
                peak=without.peak,
                tier=_tier_after(locked, entry, without),
            )
        ]

    return _record(
        card=card,
        actor=actor,
        key=key,
        fingerprint=fingerprint,
        source=entry.source,
        compute=compute,
        comment=reason,
        reverses=entry,
    )


def _ensure_not_reversed(entry: LedgerEntry) -> None:
    reversal = (
        LedgerEntry.objects.filter(reverses=entry).select_related("actor", "merchant").first()
    )
    if reversal is None:
        return
    who = reversal.actor.get_username() if reversal.actor is not None else _("someone")
    when = date_format(
        reversal.created_at.astimezone(reversal.merchant.tz), "SHORT_DATETIME_FORMAT"
    )
    raise LedgerError(
        "entry",
        _("This entry was already reversed on %(when)s by %(who)s.")
        % {
            "when": when,
            "who": who,
        },
    )


@dataclass(frozen=True)
class Without:
    """The card's history as if the original (and every entry reversed before) never was."""

    peak: Decimal
    # The tier in force just before the original was written (None: the program's first).
    tier_before: rules.Tier | None


def _history_without(card: Card, original: LedgerEntry) -> Without:
    """Read the card's history once (a reversal is rare; a card's history is short)."""
    rows = list(
        card.entries.order_by("id").values_list(
            "id",
            "kind",
            "amount_delta",
            "reverses_id",
            "tier_name",
            "tier_threshold",
            "tier_percentage",
        )
    )
    undone = {row[3] for row in rows if row[3] is not None} | {original.pk}
    running = peak = rules.ZERO
    tier_before = None
    for pk, kind, amount, _reverses, name, threshold, percentage in rows:
        if pk < original.pk and threshold is not None and percentage is not None:
            tier_before = rules.Tier(name=name, threshold=threshold, percentage=percentage)
        if pk in undone or kind == Kind.REVERSAL:
            continue
        running += amount
        peak = max(peak, running)
    return Without(peak=peak, tier_before=tier_before)


def _tier_after(card: Card, original: LedgerEntry, without: Without) -> rules.Tier | None:
    """A cashback card that the original moved up goes back down, as far as its history says.

    To the higher of the tier it held before and the one its peak without the original
    reaches (by the program's tiers now), never above the tier it holds. None: it keeps it.
    """
    if not card.program.is_cashback or original.tier_threshold is None:
        return None
    tiers = card.program.rule_set().tiers  # type: ignore[union-attr]
    reached = rules.tier_for(tiers, without.peak)
    before = tiers[0]
    if without.tier_before is not None:
        # As the program defines that tier now (its rate may have changed since).
        held = without.tier_before
        before = rules.current_tier(
            tiers,
            rules.Balances(
                tier_name=held.name,
                tier_threshold=held.threshold,
                cashback_percentage=held.percentage,
            ),
        )
    target = max(reached, before, key=lambda tier: tier.threshold)
    if card.tier_threshold is not None and target.threshold >= card.tier_threshold:
        return None
    return target
