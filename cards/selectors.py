"""Reads for cards: lookups scoped by merchant, the history, and the ledger fold."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from cards import rules
from cards.models import BALANCE_FIELDS, Card, LedgerEntry, Program
from loyalty.models import Merchant

LAST_DATE_FIELDS = tuple(rules.LAST_DATE_RULES)


def program_list(*, merchant: Merchant) -> QuerySet[Program]:
    return Program.objects.filter(merchant=merchant).prefetch_related("tiers")


def card_get(*, merchant: Merchant, serial: str) -> Card:
    """A card of this merchant, or 404 (another merchant's serial is simply not found)."""
    return get_object_or_404(
        Card.objects.select_related("program", "customer", "merchant"),
        merchant=merchant,
        serial=serial,
    )


def card_history(*, card: Card) -> QuerySet[LedgerEntry]:
    return card.entries.select_related("actor").order_by("-created_at", "-id")


@dataclass(frozen=True)
class Recomputed:
    balances: rules.Balances
    last_dates: dict[str, datetime.datetime | None]


def fold_entries(entries: Iterable[LedgerEntry]) -> Recomputed:
    """What a card's aggregates must be, from its entries alone (oldest first)."""
    balances = rules.Balances()
    dates: dict[str, datetime.datetime | None] = dict.fromkeys(LAST_DATE_FIELDS)
    for entry in entries:
        delta = entry.delta()
        balances = rules.apply(balances, delta)
        for name in rules.dates_moved(delta):
            dates[name] = entry.created_at
    return Recomputed(balances=balances, last_dates=dates)


def ledger_differences(
    card: Card, entries: Iterable[LedgerEntry]
) -> list[tuple[str, object, object]]:
    """(field, stored, recomputed) for every aggregate that disagrees with the ledger."""
    recomputed = fold_entries(entries)
    differences = []
    for name in BALANCE_FIELDS:
        stored, expected = getattr(card, name), getattr(recomputed.balances, name)
        if stored != expected:
            differences.append((name, stored, expected))
    for name, expected_date in recomputed.last_dates.items():
        if getattr(card, name) != expected_date:
            differences.append((name, getattr(card, name), expected_date))
    return differences


def cards_with_entries(
    cards: QuerySet[Card], chunk: int = 500
) -> Iterator[tuple[Card, list[LedgerEntry]]]:
    """Every card with its entries oldest first, a chunk of cards (two queries) at a time."""
    ids = list(cards.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        batch = list(Card.objects.filter(pk__in=ids[start : start + chunk]).order_by("pk"))
        by_card: dict[int, list[LedgerEntry]] = {card.pk: [] for card in batch}
        entries = LedgerEntry.objects.filter(card_id__in=by_card).order_by("created_at", "id")
        for entry in entries.iterator(chunk_size=5000):
            by_card[entry.card_id].append(entry)
        for card in batch:
            yield card, by_card[card.pk]


def card_metrics(card: Card) -> dict[str, object]:
    """The ledger metrics of a card's profile, keyed as in the domain rules.

    Both kinds share ``ltv``, ``transaction_amount`` and ``total_visits``; the rest depends on
    the program's kind. Needs ``card.program`` (and its tiers for cashback) loaded.
    """
    metrics: dict[str, object] = {
        "ltv": card.ltv,
        "transaction_amount": card.transaction_amount,
        "total_visits": card.total_visits,
    }
    if card.program.is_stamp:
        metrics.update(
            stamps_earned=card.stamps_earned,
            stamps_balance=card.stamps_balance,
            stamps_per_reward=card.program.stamps_per_reward,
            rewards_earned=card.rewards_earned,
            rewards_available=card.rewards_available,
            rewards_redeemed=card.rewards_redeemed,
            last_stamp_earned_at=card.last_stamp_earned_at,
            last_reward_earned_at=card.last_reward_earned_at,
            last_reward_redeemed_at=card.last_reward_redeemed_at,
            referral_stamps=card.referral_stamps,
        )
        return metrics
    tiers = card.program.rule_set().tiers  # type: ignore[union-attr]
    upcoming = rules.next_tier(tiers, card.tier_threshold)
    to_next = rules.to_next_tier(tiers, card.balances())
    progress = None
    if upcoming is not None and upcoming.threshold > 0:
        progress = min(int(card.transaction_amount * 100 / upcoming.threshold), 100)
    metrics.update(
        points_balance=card.points_balance,
        points_earned=card.points_earned,
        points_redeemed=card.points_redeemed,
        last_points_earned_at=card.last_points_earned_at,
        last_points_redeemed_at=card.last_points_redeemed_at,
        cashback_percentage=card.cashback_percentage,
        cashback_tier=card.tier_name,
        to_next_tier=to_next,
        next_tier_name=upcoming.name if upcoming else "",
        next_tier_threshold=upcoming.threshold if upcoming else None,
        next_tier_progress=progress,
        referral_points=card.referral_points,
    )
    return metrics
