"""Every balance change, through one path.

Balance changes all go through ``_record``: lock the card row, replay the idempotency key if it
was seen, refuse deleted and expired cards, let the pure rule in ``cards.rules`` validate and
compute the deltas against the *locked* values, then insert the entries and update the
aggregates in the same transaction. Concurrent staff therefore queue on the row lock and no
update is lost; a double click (same key) changes things once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from cards import rules
from cards.models import (
    BALANCE_FIELDS,
    Card,
    LedgerEntry,
    Source,
)
from cards.rules import Delta, Kind, LedgerError
from cards.signals import ledger_recorded
from loyalty import clock
from loyalty.actors import Actor, user_or_none


@dataclass(frozen=True)
class LedgerResult:
    card: Card
    entries: list[LedgerEntry]
    replayed: bool = False


logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The one path for balance changes


def _record(
    *,
    card: Card,
    actor: Actor,
    idempotency_key: str | None,
    comment: str,
    source: str,
    compute: Callable[[rules.Balances, Any], list[Delta]],
    referred_card: Card | None = None,
) -> LedgerResult:
    key = (idempotency_key or "").strip() or uuid.uuid4().hex
    if len(key) > 64:
        raise LedgerError("idempotency_key", "The form expired; reload the page and try again.")
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise LedgerError("comment", "Keep the comment under 500 characters.")
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
        deltas = compute(locked.balances(), locked.program.rule_set())
        entries = _write(
            locked,
            deltas,
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
        raise LedgerError("value", "This card was deleted; its balances can no longer change.")
    if card.is_expired:
        assert card.expires_on is not None
        raise LedgerError(
            "value",
            f"This card expired on {card.expires_on:%B %-d, %Y}. "
            "Move the expiration date to change its balances.",
        )


def card_check_open(*, card: Card) -> None:
    """Raise the refusal every balance change on a deleted or expired card gets.

    Read-only; lets a dialog's preview say what Apply would say.
    """
    _ensure_open(card)


def _write(
    card: Card,
    deltas: list[Delta],
    *,
    key: str,
    actor: Actor,
    comment: str,
    source: str,
    referred_card: Card | None,
) -> list[LedgerEntry]:
    now = clock.now()
    user = user_or_none(actor)
    entries = []
    balances = card.balances()
    for sequence, delta in enumerate(deltas):
        balances = rules.apply(balances, delta)
        entries.append(
            LedgerEntry(
                merchant_id=card.merchant_id,
                card=card,
                kind=delta.kind,
                source=Source.REFERRAL if delta.is_referral else source,
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
        raise LedgerError("value", "That change would make a balance negative.")
    try:
        LedgerEntry.objects.bulk_create(entries)
    except IntegrityError as error:
        if "ledger_one_referral_per_new_card" in str(error):
            raise LedgerError("value", "This new card already credited a referrer.") from None
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
# Transaction amount (both kinds of card)


def card_add_transaction_amount(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_add_transaction_amount(
                balances, rule_set, value=value, purchase_amount=purchase_amount
            )
        return rules.cashback_add_transaction_amount(
            balances, rule_set, value=value, purchase_amount=purchase_amount
        )

    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


def card_subtract_transaction_amount(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    """The refund of amount spent (a correction of a mistyped purchase)."""

    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_refund_transaction_amount(
                balances, rule_set, value=value, purchase_amount=purchase_amount
            )
        return rules.cashback_subtract_transaction_amount(
            balances, rule_set, value=value, purchase_amount=purchase_amount
        )

    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


# ---------------------------------------------------------------------------------------------
# Stamp cards


def _only_for(
    kind: type[rules.StampRules] | type[rules.CashbackRules],
    rule: Callable[..., list[Delta]],
    **inputs: Any,
) -> Callable[[rules.Balances, Any], list[Delta]]:
    """``rule`` with its inputs, refused with a clear message on the other kind of card."""
    noun = "stamp" if kind is rules.StampRules else "cashback"

    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if not isinstance(rule_set, kind):
            raise LedgerError("value", f"This action is for {noun} cards only.")
        return rule(balances, rule_set, **inputs)

    return compute


def card_write_off_visits(
    *,
    card: Card,
    value: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=_only_for(rules.StampRules, rules.stamp_write_off_visits, value=value),
    )


def card_add_stamps(
    *,
    card: Card,
    value: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=_only_for(rules.StampRules, rules.stamp_add_stamps, value=value),
    )


def card_remove_stamps(
    *,
    card: Card,
    value: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=_only_for(rules.StampRules, rules.stamp_remove_stamps, value=value),
    )


def card_add_rewards(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _only_for(
        rules.StampRules, rules.stamp_add_rewards, value=value, purchase_amount=purchase_amount
    )
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


def card_redeem_rewards(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _only_for(
        rules.StampRules, rules.stamp_redeem_rewards, value=value, purchase_amount=purchase_amount
    )
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


# ---------------------------------------------------------------------------------------------
# Cashback cards


def card_add_points(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _only_for(
        rules.CashbackRules, rules.cashback_add_points, value=value, purchase_amount=purchase_amount
    )
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


def card_remove_points(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _only_for(
        rules.CashbackRules,
        rules.cashback_remove_points,
        value=value,
        purchase_amount=purchase_amount,
    )
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


# ---------------------------------------------------------------------------------------------
# Referral and welcome bonuses


def _bonus_compute(amount: Decimal, kind: str) -> Callable[[rules.Balances, Any], list[Delta]]:
    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_bonus(balances, rule_set, stamps=int(amount), kind=kind)
        return rules.cashback_bonus(balances, rule_set, points=rules.money(amount), kind=kind)

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
        compute=_bonus_compute(bonus, Kind.REFERRAL_BONUS),
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
        comment="",
        source=Source.SYSTEM,
        compute=_bonus_compute(bonus, Kind.WELCOME_BONUS),
    )
