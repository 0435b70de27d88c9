"""Reads for cards: lookups scoped by merchant, the history, and the ledger fold."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, F, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cards import rules
from cards.actions import kinds_written
from cards.models import BALANCE_FIELDS, Card, LedgerEntry, Program, RetiredCardLink
from loyalty.i18n import format_money
from loyalty.models import Merchant

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

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


def foreign_entry_kinds(card: Card, entries: Iterable[LedgerEntry]) -> list[str]:
    """Entry kinds on this card that no action of its kind writes (see ``cards.actions``)."""
    return sorted({entry.kind for entry in entries} - kinds_written(card.program.kind))


def cards_with_entries(
    cards: QuerySet[Card], chunk: int = 500
) -> Iterator[tuple[Card, list[LedgerEntry]]]:
    """Every card with its entries oldest first, a chunk of cards (two queries) at a time."""
    ids = list(cards.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        batch = list(
            Card.objects.filter(pk__in=ids[start : start + chunk])
            .select_related("program")
            .order_by("pk")
        )
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
    rule_set = card.program.rule_set()
    assert isinstance(rule_set, rules.CashbackRules)  # the stamp branch returned above
    tiers = rule_set.tiers
    tier = rules.current_tier(tiers, card.balances())
    upcoming = rules.next_tier(tiers, tier.threshold)
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
        cashback_percentage=tier.percentage,
        cashback_tier=tier.name,
        to_next_tier=to_next,
        next_tier_name=upcoming.name if upcoming else "",
        next_tier_threshold=upcoming.threshold if upcoming else None,
        next_tier_progress=progress,
        referral_points=card.referral_points,
    )
    return metrics


# ---------------------------------------------------------------------------------------------
# The customer-facing pages: lookups by unguessable token, links, and the card page's history


def program_by_join_token(token: str) -> Program:
    """The program behind a join link, or 404 (archived programs are found; the page says so)."""
    return get_object_or_404(
        Program.objects.select_related("merchant").prefetch_related("custom_fields"),
        join_token=token,
    )


class CardLinkRetired(Http404):
    """A card's former install link: every page under it answers 410 with an explanation
    (``cards.middleware``). A 404 where nothing turns it into that page."""

    def __init__(self, card: Card) -> None:
        super().__init__("This card's link was replaced.")
        self.card = card


def card_by_install_token(token: str) -> Card:
    """The card behind a personalized install link, or 404. Never by serial or id.

    Every page under /c/<token>/ looks its card up here, so a replaced link is refused here
    (``CardLinkRetired``) for all of them. Its lookup runs only when the token is not live.
    """
    card = Card.objects.select_related("program", "merchant").filter(install_token=token).first()
    if card is not None:
        return card
    retired = RetiredCardLink.objects.select_related("card__merchant").filter(token=token).first()
    if retired is not None:
        raise CardLinkRetired(retired.card)
    raise Http404("No such card.")


def card_by_referral_token(token: str) -> Card:
    return get_object_or_404(Card.objects.select_related("program"), referral_token=token)


def absolute_url(path: str) -> str:
    """Links that leave the dashboard (emails, QR codes, copied links) use SITE_URL."""
    return f"{settings.SITE_URL}{path}"


def program_join_url(program: Program) -> str:
    return absolute_url(reverse("public:join", args=[program.join_token]))


def card_install_url(card: Card) -> str:
    return absolute_url(reverse("public:card", args=[card.install_token]))


def card_referral_url(card: Card) -> str:
    return absolute_url(reverse("public:referral", args=[card.referral_token]))


@dataclass(frozen=True)
class HistoryLine:
    """One ledger entry told to the customer: what happened and what it did to the card."""

    when: datetime.datetime
    title: str
    changes: tuple[str, ...]


# What the customer reads; staff comments and who did it are the merchant's business.
CUSTOMER_WORDS: dict[str, StrOrPromise] = {
    rules.Kind.CARD_ISSUED: gettext_lazy("You joined"),
    rules.Kind.PURCHASE: gettext_lazy("Purchase"),
    rules.Kind.REFUND: gettext_lazy("Purchase corrected"),
    rules.Kind.STAMPS_CLAWBACK: gettext_lazy("Stamps corrected"),
    rules.Kind.VISITS_WRITE_OFF: gettext_lazy("Visits corrected"),
    rules.Kind.STAMPS_ADDED: gettext_lazy("Stamps added"),
    rules.Kind.STAMPS_REMOVED: gettext_lazy("Stamps removed"),
    rules.Kind.REWARDS_ADDED: gettext_lazy("Reward added"),
    rules.Kind.REWARDS_REDEEMED: gettext_lazy("Reward used"),
    rules.Kind.POINTS_ADDED: gettext_lazy("Points added"),
    rules.Kind.POINTS_REMOVED: gettext_lazy("Points used"),
    rules.Kind.REFERRAL_BONUS: gettext_lazy("Thanks for inviting a friend"),
    rules.Kind.WELCOME_BONUS: gettext_lazy("Welcome gift"),
}


def _sign(number: int | Decimal) -> str:
    return "+" if number > 0 else "\u2212"


def _stamps(number: int) -> str:
    # Translators: a change of the customer's stamps; %(sign)s is "+" or "−".
    return ngettext("%(sign)s%(count)s stamp", "%(sign)s%(count)s stamps", abs(number)) % {
        "sign": _sign(number),
        "count": abs(number),
    }


def _rewards(number: int) -> str:
    return ngettext("%(sign)s%(count)s reward", "%(sign)s%(count)s rewards", abs(number)) % {
        "sign": _sign(number),
        "count": abs(number),
    }


def _entry_changes(entry: LedgerEntry, currency: str) -> tuple[str, ...]:
    changes = []
    if entry.purchase_amount and entry.kind != rules.Kind.CARD_ISSUED:
        amount = format_money(entry.purchase_amount, currency)
        if entry.amount_delta < 0:
            changes.append(_("Corrected by %(amount)s") % {"amount": amount})
        else:
            changes.append(_("Spent %(amount)s") % {"amount": amount})
    if entry.stamps_earned_delta:
        changes.append(_stamps(entry.stamps_earned_delta))
    if entry.rewards_earned_delta > 0 and entry.kind != rules.Kind.REWARDS_ADDED:
        count = entry.rewards_earned_delta
        changes.append(
            ngettext("+%(count)s reward unlocked", "+%(count)s rewards unlocked", count)
            % {"count": count}
        )
    elif entry.rewards_available_delta:
        changes.append(_rewards(entry.rewards_available_delta))
    if entry.points_delta:
        changes.append(
            _("%(sign)s%(points)s points")
            % {"sign": _sign(entry.points_delta), "points": number_format(abs(entry.points_delta))}
        )
    if entry.visits_delta < 0:
        count = abs(entry.visits_delta)
        changes.append(ngettext("−%(count)s visit", "−%(count)s visits", count) % {"count": count})
    if entry.tier_name and entry.kind == rules.Kind.PURCHASE:
        changes.append(_("You reached %(tier)s") % {"tier": entry.tier_name})
    return tuple(changes)


def card_public_history(*, card: Card, limit: int = 30) -> list[HistoryLine]:
    """The latest entries in the customer's words (one query, whatever the history's size)."""
    entries = card.entries.order_by("-created_at", "-id")[:limit]
    currency = card.merchant.currency
    return [
        HistoryLine(
            when=entry.created_at,
            title=str(CUSTOMER_WORDS.get(entry.kind, entry.label)),
            changes=_entry_changes(entry, currency),
        )
        for entry in entries
    ]


# ---------------------------------------------------------------------------------------------
# Settings: the merchant's programs


def program_settings_list(*, merchant: Merchant) -> QuerySet[Program]:
    """Every program of the merchant, active first, with how many cards each issued."""
    return (
        Program.objects.filter(merchant=merchant)
        .annotate(card_count=Count("cards"))
        .prefetch_related("tiers")
        .order_by(F("archived_at").asc(nulls_first=True), "name", "id")
    )


def program_for_settings(*, merchant: Merchant, pk: int) -> Program:
    """A program of this merchant with its tiers and join-form fields, or 404."""
    return get_object_or_404(
        Program.objects.select_related("merchant").prefetch_related("tiers", "custom_fields"),
        merchant=merchant,
        pk=pk,
    )
