"""Every balance change, through one path.

Staff actions (``card_apply`` and its named entry points) and the system's bonuses all go
through ``_record``: lock the card row, replay the idempotency key if it was seen, refuse
deleted and expired cards, let the pure rule validate and compute the deltas against the
*locked* values, then ``ledger_append`` inserts the entries and updates the aggregates in the
same transaction. Concurrent staff therefore queue on the row lock and no update is lost; a
double click (same key) changes things once. Which rule an action runs is the table in
``cards.actions``.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cards import rules
from cards.actions import action_for
from cards.models import BALANCE_FIELDS, Card, LedgerEntry, Source
from cards.rules import Delta, Kind, LedgerError
from cards.signals import ledger_recorded
from loyalty import clock
from loyalty.actors import Actor, user_or_none

MAX_KEY_LENGTH = 64
MAX_COMMENT_LENGTH = 500


@dataclass(frozen=True)
class LedgerResult:
    card: Card
    entries: list[LedgerEntry]
    replayed: bool = False


# ---------------------------------------------------------------------------------------------
# The one path for balance changes


def _record(
    *,
    card: Card,
    actor: Actor,
    idempotency_key: str | None,
    source: str,
    compute: Callable[[Card], list[Delta]],
    comment: str = "",
    referred_card: Card | None = None,
) -> LedgerResult:
    key = (idempotency_key or "").strip() or uuid.uuid4().hex
    if len(key) > MAX_KEY_LENGTH:
        raise LedgerError("idempotency_key", _("The form expired; reload the page and try again."))
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise LedgerError(
            "comment",
            _("Keep the comment under %(max)s characters.") % {"max": MAX_COMMENT_LENGTH},
        )
    with transaction.atomic():
        locked = (
            Card.objects.select_for_update(of=("self",))
            .select_related("program", "merchant")
            .get(pk=card.pk)
        )
        previous = list(locked.entries.filter(operation_key=key).order_by("sequence"))
        if previous:
            return LedgerResult(card=locked, entries=previous, replayed=True)
        _ensure_open(locked)
        entries = ledger_append(
            card=locked,
            deltas=compute(locked),
            key=key,
            actor=actor,
            comment=comment,
            source=source,
            referred_card=referred_card,
        )
    _copy_balances(locked, card)
    return LedgerResult(card=locked, entries=entries)


def _ensure_open(card: Card) -> None:
    if card.is_deleted:
        raise LedgerError("value", _("This card was deleted; its balances can no longer change."))
    if card.is_expired:
        assert card.expires_on is not None
        raise LedgerError(
            "value",
            _("This card expired on %(date)s. Move the expiration date to change its balances.")
            % {"date": date_format(card.expires_on, "DATE_FORMAT")},
        )


def card_check_open(*, card: Card) -> None:
    """Raise the refusal every balance change on a deleted or expired card gets.

    Read-only; lets a dialog's preview say what Apply would say.
    """
    _ensure_open(card)


def ledger_append(
    *,
    card: Card,
    deltas: list[Delta],
    key: str,
    actor: Actor,
    source: str,
    comment: str = "",
    at: datetime.datetime | None = None,
    referred_card: Card | None = None,
) -> list[LedgerEntry]:
    """Write ``deltas`` as the card's next entries and fold them into its aggregates.

    The only code that writes entries. The caller holds the card's row lock (or has just
    created the card) inside a transaction.
    """
    now = at or clock.now()
    user = user_or_none(actor)
    balances = card.balances()
    entries = []
    for sequence, delta in enumerate(deltas):
        balances = rules.apply(balances, delta)
        entries.append(
            LedgerEntry(
                merchant_id=card.merchant_id,
                card=card,
                kind=delta.kind,
                source=source,
                actor_id=user.pk if user is not None else None,
                created_at=now,
                operation_key=key,
                sequence=sequence,
                # The comment belongs to the operation; shown once, on its first row.
                comment=comment if sequence == 0 else "",
                purchase_amount=delta.purchase_amount,
                amount_delta=delta.amount,
                ltv_delta=delta.ltv,
                stamps_delta=delta.stamps,
                stamps_earned_delta=delta.stamps_earned,
                rewards_earned_delta=delta.rewards_earned,
                rewards_available_delta=delta.rewards_available,
                rewards_redeemed_delta=delta.rewards_redeemed,
                points_delta=delta.points,
                points_earned_delta=delta.points_earned,
                points_redeemed_delta=delta.points_redeemed,
                visits_delta=delta.visits,
                cashback_percentage=delta.cashback_percentage,
                tier_name=delta.tier.name if delta.tier else "",
                tier_threshold=delta.tier.threshold if delta.tier else None,
                tier_percentage=delta.tier.percentage if delta.tier else None,
                referred_card=referred_card,
            )
        )
    if not balances.is_valid():  # the rules never allow it; the CHECK constraints agree
        raise LedgerError("value", _("That change would make a balance negative."))
    try:
        LedgerEntry.objects.bulk_create(entries)
    except IntegrityError as error:
        if "ledger_one_referral_per_new_card" in str(error):
            raise LedgerError("value", _("This new card already credited a referrer.")) from None
        raise
    for name in BALANCE_FIELDS:
        setattr(card, name, getattr(balances, name))
    dates = sorted({name for delta in deltas for name in rules.dates_moved(delta)})
    for name in dates:
        setattr(card, name, now)
    card.save(update_fields=[*BALANCE_FIELDS, *dates])
    ledger_recorded.send(sender=Card, card=card, visits=sum(d.visits for d in deltas), at=now)
    return entries


def _copy_balances(source: Card, target: Card) -> None:
    """Refresh the caller's instance so it sees what was written."""
    for field in Card._meta.concrete_fields:  # the balance columns among them
        setattr(target, field.attname, getattr(source, field.attname))


# ---------------------------------------------------------------------------------------------
# Staff actions


def card_apply(
    *,
    card: Card,
    action: str,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    """Apply the action ``action`` of ``cards.actions`` (e.g. "stamps_add") to the card.

    ``value`` and ``purchase_amount`` may be raw text: the action's rule parses them and
    refuses bad input with a ``LedgerError`` naming the field, and nothing is written.
    """
    inputs: Mapping[str, Any] = {"value": value, "purchase_amount": purchase_amount}

    def compute(locked: Card) -> list[Delta]:
        spec = action_for(locked.program.kind, action)
        if not spec.purchase and purchase_amount not in (None, ""):
            raise TypeError(f"{spec.title} takes no purchase amount.")
        return spec.compute(locked.balances(), locked.program.rule_set(), inputs)

    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


# The names callers outside the dialogs use: card_apply with the action fixed.
card_add_transaction_amount = partial(card_apply, action="transaction_amount_add")
card_subtract_transaction_amount = partial(card_apply, action="transaction_amount_subtract")
card_write_off_visits = partial(card_apply, action="visits_write_off")
card_add_stamps = partial(card_apply, action="stamps_add")
card_remove_stamps = partial(card_apply, action="stamps_subtract")
card_add_rewards = partial(card_apply, action="rewards_add")
card_redeem_rewards = partial(card_apply, action="rewards_subtract")
card_add_points = partial(card_apply, action="points_add")
card_remove_points = partial(card_apply, action="points_subtract")


# ---------------------------------------------------------------------------------------------
# Referral and welcome bonuses


def _bonus(amount: Decimal, kind: str) -> Callable[[Card], list[Delta]]:
    def compute(locked: Card) -> list[Delta]:
        rule_set = locked.program.rule_set()
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_bonus(locked.balances(), rule_set, stamps=int(amount), kind=kind)
        return rules.cashback_bonus(
            locked.balances(), rule_set, points=rules.money(amount), kind=kind
        )

    return compute


def card_credit_referral(*, referrer: Card, new_card: Card) -> LedgerResult | None:
    """Credit the referrer once for a newcomer's card; None where nothing is due.

    Never for self-referral, never across programs, never twice for the same new card (the
    database's partial unique index is the last word on "twice").
    """
    program = referrer.program
    bonus = program.referral_bonus
    if (
        bonus <= 0
        or referrer.pk == new_card.pk
        or referrer.program_id != new_card.program_id
        or (referrer.customer_id is not None and referrer.customer_id == new_card.customer_id)
        or referrer.is_deleted
        or referrer.is_expired
    ):
        return None
    return _record(
        card=referrer,
        actor=None,
        idempotency_key=f"referral:{new_card.pk}",
        comment=f"Referred card {new_card.serial}",
        source=Source.REFERRAL,
        compute=_bonus(bonus, Kind.REFERRAL_BONUS),
        referred_card=new_card,
    )


def card_credit_welcome_bonus(*, card: Card) -> LedgerResult | None:
    bonus = card.program.welcome_bonus
    if bonus <= 0:
        return None
    return _record(
        card=card,
        actor=None,
        idempotency_key=f"welcome:{card.pk}",
        source=Source.SYSTEM,
        compute=_bonus(bonus, Kind.WELCOME_BONUS),
    )
