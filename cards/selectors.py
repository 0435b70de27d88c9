"""Reads for cards: lookups scoped by merchant, the history, and the ledger fold."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Upper
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cards import rules
from cards.actions import kinds_written
from cards.models import (
    BALANCE_FIELDS,
    Card,
    LedgerEntry,
    Program,
    ProgramKind,
    RetiredCardLink,
    Source,
)
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


SERIAL_CODE = re.compile(r"^\d{4}-?\d{4}-?\d{4}$")


def card_for_code(*, merchant: Merchant, code: str) -> Card | None:
    """The merchant's card a code names: its serial (with or without dashes) or the number of
    the card it replaced (``Card.external_number``, kept by an import), in any letter case.

    For whatever reads codes at the counter; another merchant's code is simply not found.
    """
    code = code.strip()
    if not code:
        return None
    cards = Card.objects.select_related("program", "customer").filter(merchant=merchant)
    if SERIAL_CODE.match(code):
        digits = code.replace("-", "")
        serial = f"{digits[0:4]}-{digits[4:8]}-{digits[8:12]}"
        card = cards.filter(serial=serial).first()
        if card is not None:
            return card
    return (
        cards.annotate(number=Upper("external_number"))
        .filter(number=code.upper())
        .exclude(external_number="")
        .first()
    )


def card_history(*, card: Card) -> QuerySet[LedgerEntry]:
    # With each entry, the entry it reverses and its own reversal: the history marks both.
    return card.entries.select_related("actor", "reverses", "reversal__actor").order_by(
        "-created_at", "-id"
    )


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


# ---------------------------------------------------------------------------------------------
# verify_ledger, set-based: one statement per range of cards finds those whose aggregates
# disagree with their ledger; ``ledger_differences`` then explains just those.

# Balances that are the plain sum of one entry column (``rules.apply``, ``LedgerEntry.delta``).
SUMMED_BALANCES = {
    "transaction_amount": "amount_delta",
    "ltv": "ltv_delta",
    "stamps_earned": "stamps_earned_delta",
    "stamps_balance": "stamps_delta",
    "rewards_earned": "rewards_earned_delta",
    "rewards_available": "rewards_available_delta",
    "rewards_redeemed": "rewards_redeemed_delta",
    "points_balance": "points_delta",
    "points_earned": "points_earned_delta",
    "points_redeemed": "points_redeemed_delta",
    "total_visits": "visits_delta",
}
# An entry carries a tier (``LedgerEntry.delta``) only with both its threshold and percentage;
# the latest such entry sets the card's tier. ``tiers_since`` counts them newest first.
_HAS_TIER = "tier_threshold IS NOT NULL AND tier_percentage IS NOT NULL"
_LATEST_TIER = f"tiers_since = 1 AND {_HAS_TIER}"
# A reversal sets the peak (``Delta.peak``); ``resets_since`` counts such entries newest first.
_LATEST_RESET = "resets_since = 1 AND peak_transaction_amount IS NOT NULL"
# The fold of one card's entries, one SQL aggregate per balance (``rules.apply``). NULL where
# the fold keeps the empty balances' value (no entries, no referral, no tier).
FOLDED_BALANCES = {
    **{name: f"SUM({column})" for name, column in SUMMED_BALANCES.items()},
    # Entries are read newest first (the order of the ledger_card_newest index), so the running
    # amount after an entry, oldest first, is the total minus what the newer ones added:
    # SUM - (amount_since - amount_delta). The peak starts at 0, as in ``rules.Balances``, or
    # at the value the latest reversal set, and is the running maximum from there on.
    "peak_transaction_amount": (
        f"GREATEST(COALESCE(MAX(peak_transaction_amount) FILTER (WHERE {_LATEST_RESET}), 0), "
        "SUM(amount_delta) + MAX(amount_delta - amount_since) "
        f"FILTER (WHERE resets_since = 0 OR {_LATEST_RESET}))"
    ),
    "referral_stamps": "SUM(stamps_earned_delta) FILTER (WHERE source = %(referral)s)",
    "referral_points": "SUM(points_earned_delta) FILTER (WHERE source = %(referral)s)",
    "tier_name": f"MAX(tier_name) FILTER (WHERE {_LATEST_TIER})",
    "tier_threshold": f"MAX(tier_threshold) FILTER (WHERE {_LATEST_TIER})",
    "cashback_percentage": f"MAX(tier_percentage) FILTER (WHERE {_LATEST_TIER})",
}
# Which entries move each "last ... at" date (``rules.LAST_DATE_RULES``, in SQL). The last such
# entry in (created_at, id) order is one with the greatest created_at: MAX(created_at) is its date.
LAST_DATE_CONDITIONS = {
    "last_visit_at": "visits_delta > 0",
    "last_stamp_earned_at": "stamps_earned_delta > 0",
    "last_reward_earned_at": "rewards_earned_delta > 0",
    "last_reward_redeemed_at": "rewards_redeemed_delta > 0",
    "last_points_earned_at": "points_earned_delta > 0",
    "last_points_redeemed_at": "points_redeemed_delta > 0",
}
_ENTRY_COLUMNS = (
    "card_id, created_at, kind, source, tier_name, tier_threshold, tier_percentage, "
    "peak_transaction_amount, " + ", ".join(SUMMED_BALANCES.values())
)


def _folded_columns() -> dict[str, str]:
    """Every aggregate ``verify_ledger`` checks (balances, then dates), as SQL over one card's
    entries. Refuses to build a check that would silently skip a balance or a date added later.
    """
    missing = set(BALANCE_FIELDS) - set(FOLDED_BALANCES)
    missing |= set(LAST_DATE_FIELDS) - set(LAST_DATE_CONDITIONS)
    if missing:
        raise ImproperlyConfigured(f"verify_ledger has no SQL for {', '.join(sorted(missing))}.")
    dates = {
        name: f"MAX(created_at) FILTER (WHERE {LAST_DATE_CONDITIONS[name]})"
        for name in LAST_DATE_FIELDS
    }
    return {**{name: FOLDED_BALANCES[name] for name in BALANCE_FIELDS}, **dates}


def _kind_list(program_kind: str) -> list[str]:
    # Plain strings: the database gets the values, whatever the driver makes of an enum.
    return sorted(str(kind) for kind in kinds_written(program_kind))


def _foreign_kinds_sql() -> tuple[str, str, dict[str, Any]]:
    """(aggregates, the card's flag, params): whether a card holds an entry kind that no action
    of its program's kind writes (``foreign_entry_kinds``)."""
    aggregates, cases = [], []
    params: dict[str, Any] = {"unknown_kind_writes": _kind_list("")}
    for number, kind in enumerate(ProgramKind.values):
        aggregates.append(f"BOOL_OR(kind <> ALL(%(writes_{number})s)) AS foreign_{number}")
        cases.append(f"WHEN %(kind_{number})s THEN folded.foreign_{number}")
        params[f"kind_{number}"] = kind
        params[f"writes_{number}"] = _kind_list(kind)
    aggregates.append("BOOL_OR(kind <> ALL(%(unknown_kind_writes)s)) AS foreign_unknown")
    flag = f"COALESCE(CASE program.kind {' '.join(cases)} ELSE folded.foreign_unknown END, FALSE)"
    return ", ".join(aggregates), flag, params


@dataclass(frozen=True)
class _FoldSql:
    """The fold of every card in a range of ids, in SQL: ``select(columns)`` selects over the
    range's cards (``card``); ``expected`` maps each aggregate to what it must be, and
    ``foreign`` says whether the card holds entry kinds foreign to its program."""

    ctes: str
    cards: str
    expected: dict[str, str]
    foreign: str
    params: dict[str, Any]

    def select(self, columns: str) -> str:
        return f"{self.ctes} SELECT {columns} {self.cards}"


def _fold_sql(*, merchant_id: int | None) -> _FoldSql:
    folded = _folded_columns()
    foreign_aggregates, foreign, params = _foreign_kinds_sql()
    params["referral"] = Source.REFERRAL.value
    # A card without entries (or without a referral, or a tier) keeps the empty balances.
    empty = rules.Balances()
    expected = {}
    for name in folded:
        params[f"empty_{name}"] = getattr(empty, name, None)
        expected[name] = f"COALESCE(folded.{name}, %(empty_{name})s)"
    card_table = Card._meta.db_table
    entries_of_merchant = cards_of_merchant = ""
    if merchant_id is not None:
        params["merchant"] = merchant_id
        cards_of_merchant = "AND card.merchant_id = %(merchant)s"
        entries_of_merchant = (
            f"AND card_id IN (SELECT id FROM {card_table} WHERE merchant_id = %(merchant)s"  # noqa: S608
            " AND id BETWEEN %(low)s AND %(high)s)"
        )
    aggregates = ", ".join(f"{expression} AS {name}" for name, expression in folded.items())
    ctes = f"""
        WITH entries AS (
            SELECT {_ENTRY_COLUMNS},
                SUM(amount_delta) OVER newest_first AS amount_since,
                COUNT(*) FILTER (WHERE {_HAS_TIER}) OVER newest_first AS tiers_since,
                COUNT(peak_transaction_amount) OVER newest_first AS resets_since
            FROM {LedgerEntry._meta.db_table}
            WHERE card_id BETWEEN %(low)s AND %(high)s {entries_of_merchant}
            WINDOW newest_first AS (
                PARTITION BY card_id ORDER BY created_at DESC, id DESC ROWS UNBOUNDED PRECEDING
            )
        ), folded AS (
            SELECT card_id, {aggregates}, {foreign_aggregates}
            FROM entries
            GROUP BY card_id
        )
    """  # noqa: S608 (built from this module's constants and model metadata; values are params)
    cards = f"""
        FROM {card_table} card
        JOIN {Program._meta.db_table} program ON program.id = card.program_id
        LEFT JOIN folded ON folded.card_id = card.id
        WHERE card.id BETWEEN %(low)s AND %(high)s {cards_of_merchant}
    """
    return _FoldSql(ctes, cards, expected=expected, foreign=foreign, params=params)


def ledger_disagreeing_card_ids(
    *, low: int, high: int, merchant_id: int | None = None
) -> list[int]:
    """Ids of the cards with ``low <= id <= high`` (of one merchant if given) whose aggregates
    differ from the fold of their ledger, or that hold an entry kind foreign to their program.

    One statement, whatever the number of cards: the cards for which ``ledger_differences``
    or ``foreign_entry_kinds`` has something to say, found by the database.
    """
    fold = _fold_sql(merchant_id=merchant_id)
    differs = [f"card.{name} IS DISTINCT FROM {sql}" for name, sql in fold.expected.items()]
    sql = fold.select("card.id") + f"AND ({' OR '.join([*differs, fold.foreign])}) ORDER BY card.id"
    with connection.cursor() as cursor:
        cursor.execute(sql, {**fold.params, "low": low, "high": high})
        return [card_id for (card_id,) in cursor.fetchall()]


@dataclass(frozen=True)
class SqlFold:
    """What the set-based check computes for one card: ``recomputed`` matches ``fold_entries``
    and ``holds_foreign_kinds`` whether ``foreign_entry_kinds`` is not empty."""

    recomputed: Recomputed
    holds_foreign_kinds: bool


def ledger_sql_folds(*, low: int, high: int, merchant_id: int | None = None) -> dict[int, SqlFold]:
    """The set-based fold of every card with ``low <= id <= high``, by card id.

    What ``ledger_disagreeing_card_ids`` compares the cards with, as values: to check it
    against ``fold_entries``, or to look at one range by hand.
    """
    fold = _fold_sql(merchant_id=merchant_id)
    columns = ", ".join(["card.id", *fold.expected.values(), fold.foreign])
    folds = {}
    with connection.cursor() as cursor:
        cursor.execute(fold.select(columns), {**fold.params, "low": low, "high": high})
        for card_id, *values, foreign in cursor.fetchall():
            by_name = dict(zip(fold.expected, values, strict=True))
            balances = rules.Balances(**{name: by_name[name] for name in BALANCE_FIELDS})
            dates = {name: by_name[name] for name in LAST_DATE_FIELDS}
            folds[card_id] = SqlFold(Recomputed(balances, dates), holds_foreign_kinds=foreign)
    return folds


@dataclass(frozen=True)
class CardRange:
    """A run of consecutive card ids (``low`` to ``high``) holding ``count`` cards."""

    low: int
    high: int
    count: int


def card_ranges(cards: QuerySet[Card], size: int = 50_000) -> Iterator[CardRange]:
    """The cards' ids in ascending runs of ``size`` cards (the last one shorter), one query each."""
    after = 0
    while True:
        ids = list(cards.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield CardRange(low=ids[0], high=ids[-1], count=len(ids))
        after = ids[-1]


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


def entry_public_changes(entry: LedgerEntry, currency: str) -> tuple[str, ...]:
    """What an entry changed, in the customer's words (the card page; the wallet pass's back)."""
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
            changes=entry_public_changes(entry, currency),
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


# ---------------------------------------------------------------------------------------------
# The counter's scanner: what a scanned or typed code names


class ScanOutcome(StrEnum):
    FOUND = "found"
    UNKNOWN = "unknown"
    OTHER_MERCHANT = "other_merchant"
    DELETED = "deleted"
    LINK_REPLACED = "link_replaced"


@dataclass(frozen=True)
class ScanResult:
    """What a code at the counter names, for the merchant who scanned it.

    ``card`` is this merchant's card (live when FOUND, deleted when DELETED, the card whose
    link was replaced when LINK_REPLACED), never another merchant's: for those the result says
    only that the code belongs to another business.
    """

    outcome: ScanOutcome
    card: Card | None = None

    @property
    def found(self) -> bool:
        return self.outcome == ScanOutcome.FOUND

    @property
    def message(self) -> str:
        """What the scanner page tells staff; empty when the card was found."""
        card = self.card
        if self.outcome == ScanOutcome.FOUND:
            return ""
        if self.outcome == ScanOutcome.OTHER_MERCHANT:
            return _(
                "This card belongs to another business: it cannot be used here. Ask the "
                "customer for a card of ours."
            )
        if self.outcome == ScanOutcome.DELETED and card is not None:
            # The database refuses the deleted status without a date (card_deleted_has_date).
            assert card.deleted_at is not None
            return _(
                "Card %(serial)s was deleted on %(date)s: it no longer works and its balances "
                "cannot change."
            ) % {
                "serial": card.serial,
                "date": date_format(timezone.localtime(card.deleted_at), "SHORT_DATE_FORMAT"),
            }
        if self.outcome == ScanOutcome.LINK_REPLACED and card is not None:
            return _(
                "This is an old link of card %(serial)s: it was replaced and no longer opens "
                "the card. Ask the customer to show the card's current code, or type its serial."
            ) % {"serial": card.serial}
        return _("No card matches this code. Check it and try again, or search the customers list.")


# Longer than any serial, former number or install link; anything longer is not a card's code.
SCAN_MAX_LENGTH = 500
# The install link's path, wherever the site is mounted: /c/<install_token>/...
INSTALL_PATH = re.compile(r"(?:^|/)c/([A-Za-z0-9_-]+)(?:/|$)")
# Barcode scanners add control characters (a tab, a carriage return, a group separator) around
# what they read, and PostgreSQL refuses a NUL in a text parameter.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def scan_text_clean(text: str) -> str:
    """The code as staff meant it: no control characters, no surrounding spaces."""
    return CONTROL_CHARACTERS.sub("", text).strip()


def _install_token(text: str) -> str | None:
    """The token of an install link, any host (the QR code of the card page's link)."""
    if "/" not in text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("", "http", "https"):
        return None
    match = INSTALL_PATH.search(parts.path)
    return match.group(1) if match else None


def _scan_result(card: Card, merchant: Merchant) -> ScanResult:
    if card.merchant_id != merchant.pk:
        return ScanResult(ScanOutcome.OTHER_MERCHANT)
    if card.is_deleted:
        return ScanResult(ScanOutcome.DELETED, card)
    return ScanResult(ScanOutcome.FOUND, card)


def card_for_scan(*, merchant: Merchant, text: str) -> ScanResult:
    """What a code read at the counter names: a card's serial (with or without dashes: what the
    card page and the wallet passes show as a QR code), its install link (the QR code of the
    card's page, any host), or the number of the card it replaced (``Card.external_number``).

    Serials and install tokens are unique across merchants, so another business's card is
    recognised as such (and nothing of it is returned); a former card number is looked up among
    this merchant's cards only, since two businesses may each have used the same one. At most
    two queries, whatever the code.
    """
    text = scan_text_clean(text)
    if not text or len(text) > SCAN_MAX_LENGTH:
        return ScanResult(ScanOutcome.UNKNOWN)
    token = _install_token(text)
    if token is not None:
        return _card_for_install_token(merchant=merchant, token=token)
    number = Q(merchant=merchant, number=text.upper()) & ~Q(external_number="")
    cards = Card.objects.annotate(number=Upper("external_number"))
    if not SERIAL_CODE.match(text):
        card = cards.filter(number).first()
        return _scan_result(card, merchant) if card else ScanResult(ScanOutcome.UNKNOWN)
    digits = text.replace("-", "")
    serial = f"{digits[0:4]}-{digits[4:8]}-{digits[8:12]}"
    # One query for both readings of a serial-shaped code; this merchant's cards come first:
    # its serial, then its former number, and only then another business's serial.
    candidates = list(cards.filter(Q(serial=serial) | number)[:2])
    ranked = sorted(
        candidates,
        key=lambda card: (card.merchant_id != merchant.pk, card.serial != serial),
    )
    return _scan_result(ranked[0], merchant) if ranked else ScanResult(ScanOutcome.UNKNOWN)


def _card_for_install_token(*, merchant: Merchant, token: str) -> ScanResult:
    card = Card.objects.filter(install_token=token).first()
    if card is not None:
        return _scan_result(card, merchant)
    # Only a token that is no live link costs this second query.
    retired = RetiredCardLink.objects.select_related("card").filter(token=token).first()
    if retired is None:
        return ScanResult(ScanOutcome.UNKNOWN)
    if retired.card.merchant_id != merchant.pk or retired.card.is_deleted:
        return _scan_result(retired.card, merchant)
    return ScanResult(ScanOutcome.LINK_REPLACED, retired.card)
