"""The loyalty arithmetic as pure functions over plain values.

Nothing here touches the database. Each action takes the card's current ``Balances`` and the
program's rules, validates the input against them, and returns the ledger ``Delta``s it would
write. ``apply`` folds a delta into balances; the services, the dialogs' previews and
``verify_ledger`` all use these same functions, so a preview can never disagree with what
Apply does and the aggregates always equal the fold of the ledger.

Amounts and points are Decimals with 2 places (ROUND_HALF_UP, once, where computed); stamps,
rewards and visits are integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models  # TextChoices only: nothing here queries the database
from django.utils.formats import number_format, sanitize_separators
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from loyalty.i18n import format_money

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Upper bound for one entry: a mistyped 10000000 should be an error, not a customer's fortune.
MAX_AMOUNT = Decimal("1000000.00")
MAX_COUNT = 10_000
# Stamps one entry may credit, whatever earns them (a purchase, a manual add, a bonus): the same
# limit a merchant already meets when adding stamps by hand. A spend per stamp of 0.01 would
# otherwise turn one 1,000,000.00 purchase into 10^8 stamps.
MAX_STAMPS_PER_ENTRY = MAX_COUNT
# What the card's columns hold: whole numbers are 32-bit integers, money and points have 12
# digits with 2 decimals. With the per-entry limits above no realistic card gets near them (see
# ``Balances.fits``); a change that would pass them is refused instead of failing in the database.
MAX_WHOLE = 2_147_483_647
MAX_MONEY = Decimal("9999999999.99")


class Kind(models.TextChoices):
    """Ledger entry kinds; the label is what the history says to a merchant."""

    CARD_ISSUED = "card_issued", gettext_lazy("Card issued")
    PURCHASE = "purchase", gettext_lazy("Purchase")
    REFUND = "refund", gettext_lazy("Refund of amount spent")
    STAMPS_CLAWBACK = "stamps_clawback", gettext_lazy("Stamps redeemed")
    VISITS_WRITE_OFF = "visits_write_off", gettext_lazy("Visits written off")
    STAMPS_ADDED = "stamps_added", gettext_lazy("Stamps added")
    STAMPS_REMOVED = "stamps_removed", gettext_lazy("Stamps removed")
    REWARDS_ADDED = "rewards_added", gettext_lazy("Rewards added")
    REWARDS_REDEEMED = "rewards_redeemed", gettext_lazy("Reward redeemed")
    POINTS_ADDED = "points_added", gettext_lazy("Points added")
    POINTS_REMOVED = "points_removed", gettext_lazy("Points removed")
    REFERRAL_BONUS = "referral_bonus", gettext_lazy("Referral bonus")
    WELCOME_BONUS = "welcome_bonus", gettext_lazy("Welcome bonus")
    # A card's balances as a former system or a paper card left them, carried over by import.
    IMPORTED = "imported", gettext_lazy("Opening balance (import)")
    # Undoes exactly what one earlier entry did (``reversal_delta``).
    REVERSAL = "reversal", gettext_lazy("Reversal")


class LedgerError(ValidationError):
    """Input a merchant can correct. ``message_dict`` maps a form field to its message.

    A message that names money takes it as ``amounts`` (``%(name)s`` in the message): the rules
    do not know the merchant's currency, so ``text`` writes a plain number and a page that
    knows the currency asks for ``text_in(currency)`` ("at most $12.50").
    """

    def __init__(
        self,
        field_name: str,
        message: StrOrPromise,
        *,
        amounts: dict[str, Decimal] | None = None,
    ) -> None:
        # Raised per request: the message is translated into the language active now.
        self.template = str(message)
        self.amounts = amounts or {}
        text = self.template % {k: _number(v) for k, v in self.amounts.items()}
        super().__init__({field_name: [text]})
        self.field_name = field_name
        self.text = text if self.amounts else self.template

    def text_in(self, currency: str) -> str:
        """The message with its amounts in ``currency``."""
        if not self.amounts:
            return self.text
        return self.template % {k: format_money(v, currency) for k, v in self.amounts.items()}

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: Decimal
    percentage: Decimal


@dataclass(frozen=True)
class StampRules:
    mechanism: str  # "spend" or "visit"
    stamps_per_reward: int
    spend_per_stamp: Decimal | None = None
    stamps_per_visit: int = 1


@dataclass(frozen=True)
class CashbackRules:
    tiers: tuple[Tier, ...]

    @property
    def first(self) -> Tier:
        return self.tiers[0]


@dataclass(frozen=True)
class Balances:
    """Everything a card's profile shows that the ledger determines."""

    transaction_amount: Decimal = ZERO
    ltv: Decimal = ZERO
    peak_transaction_amount: Decimal = ZERO
    stamps_earned: int = 0
    stamps_balance: int = 0
    rewards_earned: int = 0
    rewards_available: int = 0
    rewards_redeemed: int = 0
    points_balance: Decimal = ZERO
    points_earned: Decimal = ZERO
    points_redeemed: Decimal = ZERO
    total_visits: int = 0
    referral_stamps: int = 0
    referral_points: Decimal = ZERO
    tier_name: str = ""
    tier_threshold: Decimal | None = None
    cashback_percentage: Decimal | None = None

    def fits(self) -> bool:
        """Every balance small enough for its database column."""
        return all(_fits(value) for _name, value in _numbers(self))

    def is_valid(self) -> bool:
        """No balance below zero: the same rule the database CHECK constraints enforce."""
        return all(
            value >= 0
            for value in (
                self.transaction_amount,
                self.ltv,
                self.stamps_earned,
                self.stamps_balance,
                self.rewards_earned,
                self.rewards_available,
                self.rewards_redeemed,
                self.points_balance,
                self.points_earned,
                self.points_redeemed,
                self.total_visits,
            )
        )


@dataclass(frozen=True)
class Delta:
    """One ledger entry's changes. Every field is a signed change to the matching balance."""

    kind: str
    amount: Decimal = ZERO
    ltv: Decimal = ZERO
    stamps: int = 0
    stamps_earned: int = 0
    rewards_earned: int = 0
    rewards_available: int = 0
    rewards_redeemed: int = 0
    points: Decimal = ZERO
    points_earned: Decimal = ZERO
    points_redeemed: Decimal = ZERO
    visits: int = 0
    purchase_amount: Decimal | None = None
    cashback_percentage: Decimal | None = None
    # Cashback only: the tier in force after this entry (None: unchanged).
    tier: Tier | None = field(default=None)
    is_referral: bool = False
    # Reversals only: the peak transaction amount after this entry (None: the running maximum).
    peak: Decimal | None = None

    def fits(self) -> bool:
        """Every change small enough for the entry's database column."""
        return all(_fits(value) for _name, value in _numbers(self))


def _numbers(values: Balances | Delta) -> list[tuple[str, int | Decimal]]:
    """The numeric fields of a balances or delta value (bool is not a number here)."""
    return [
        (name, value)
        for name in values.__dataclass_fields__
        if isinstance(value := getattr(values, name), int | Decimal) and not isinstance(value, bool)
    ]


def _fits(value: int | Decimal) -> bool:
    if isinstance(value, int):
        return abs(value) <= MAX_WHOLE
    return abs(value) <= MAX_MONEY


def is_purchase(delta: Delta) -> bool:
    """Whether the entry records money the customer spent.

    An entry with a purchase amount above zero, except a refund or correction, which carries
    the amount it takes back (its amount and LTV go down).
    """
    return (
        delta.purchase_amount is not None
        and delta.purchase_amount > 0
        and delta.amount >= 0
        and delta.ltv >= 0
    )


# ---------------------------------------------------------------------------------------------
# Input parsing: anything a form or an API might send, turned into exact values or an error.


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _number(value: Decimal | int) -> str:
    """A number in a message, written the active language's way ("12,50" in Spanish)."""
    return number_format(value)


def _limit(value: Decimal | int) -> str:
    """A size limit in a message, with thousands grouped ("1,000,000.00" in English)."""
    return number_format(value, force_grouping=True)


def _not_a_number() -> str:
    # The example is written with the active language's decimal separator, which is accepted.
    return _("Enter the amount as a number, for example %(example)s.") % {
        "example": number_format(Decimal("12.50"))
    }


def parse_amount(raw: Any, *, field_name: str, allow_zero: bool = False) -> Decimal:
    """A positive money or points value with at most 2 decimals.

    Text may use the active language's decimal separator ("12,50" in Spanish and German).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise LedgerError(field_name, _("This field is required."))
    if isinstance(raw, float | bool):
        raise LedgerError(field_name, _not_a_number())
    text = sanitize_separators(raw.strip()) if isinstance(raw, str) else str(raw)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise LedgerError(field_name, _not_a_number()) from None
    if not value.is_finite():
        raise LedgerError(field_name, _not_a_number())
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise LedgerError(field_name, _("Use at most 2 decimal places."))
    if value < 0:
        raise LedgerError(field_name, _("Enter a positive amount."))
    if value == 0 and not allow_zero:
        raise LedgerError(field_name, _("Enter an amount greater than zero."))
    if value > MAX_AMOUNT:
        raise LedgerError(
            field_name,
            _("That is more than the %(max)s allowed at once.") % {"max": _limit(MAX_AMOUNT)},
        )
    return money(value)


def parse_optional_amount(raw: Any, *, field_name: str) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_amount(raw, field_name=field_name, allow_zero=True)


@dataclass(frozen=True)
class CountWords:
    """What ``parse_count`` says about one noun (whole sentences: word order differs)."""

    whole: StrOrPromise
    at_least_one: StrOrPromise
    too_many: StrOrPromise  # %(max)s


COUNT_WORDS = {
    "stamps": CountWords(
        gettext_lazy("Enter a whole number of stamps."),
        gettext_lazy("Enter at least 1 stamp."),
        gettext_lazy("That is more than the %(max)s stamps allowed at once."),
    ),
    "rewards": CountWords(
        gettext_lazy("Enter a whole number of rewards."),
        gettext_lazy("Enter at least 1 reward."),
        gettext_lazy("That is more than the %(max)s rewards allowed at once."),
    ),
    "visits": CountWords(
        gettext_lazy("Enter a whole number of visits."),
        gettext_lazy("Enter at least 1 visit."),
        gettext_lazy("That is more than the %(max)s visits allowed at once."),
    ),
}


def parse_count(raw: Any, *, field_name: str, noun: str) -> int:
    """A whole number of stamps, rewards or visits (``noun``, a key of COUNT_WORDS), at least 1."""
    words = COUNT_WORDS[noun]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise LedgerError(field_name, _("This field is required."))
    if isinstance(raw, bool | float):
        raise LedgerError(field_name, words.whole)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise LedgerError(field_name, words.whole) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise LedgerError(field_name, words.whole)
    if value < 1:
        raise LedgerError(field_name, words.at_least_one)
    if value > MAX_COUNT:
        raise LedgerError(field_name, str(words.too_many) % {"max": _limit(MAX_COUNT)})
    return int(value)


def canonical_input(raw: Any, *, count: bool) -> str:
    """One spelling for every way of typing the same value, as the parsers read it.

    "35", "35.00" and (in Spanish) "35,00" are one amount; "2" and "2.0" one count. Input the
    parsers refuse stays as typed, marked so it never equals a parsed value. Used to recognise
    a resent request (see ``cards.services.ledger``), never to compute anything.
    """
    try:
        if count:
            return str(parse_count(raw, field_name="value", noun="stamps"))
        value = parse_optional_amount(raw, field_name="value")
    except LedgerError:
        return "?" + ("" if raw is None else str(raw).strip())
    return "" if value is None else str(value)


def _purchase_equal_to_value(raw: Any, value: Decimal) -> Decimal:
    purchase = parse_optional_amount(raw, field_name="purchase_amount")
    if purchase is not None and purchase != value:
        raise LedgerError(
            "purchase_amount",
            _("The purchase amount must equal the value (%(value)s), or be left empty."),
            amounts={"value": value},
        )
    return value


# ---------------------------------------------------------------------------------------------
# Folding


def apply(balances: Balances, delta: Delta) -> Balances:
    """The balances after one ledger entry."""
    amount = balances.transaction_amount + delta.amount
    tier = delta.tier
    return replace(
        balances,
        transaction_amount=amount,
        ltv=balances.ltv + delta.ltv,
        peak_transaction_amount=max(
            balances.peak_transaction_amount if delta.peak is None else delta.peak, amount
        ),
        stamps_earned=balances.stamps_earned + delta.stamps_earned,
        stamps_balance=balances.stamps_balance + delta.stamps,
        rewards_earned=balances.rewards_earned + delta.rewards_earned,
        rewards_available=balances.rewards_available + delta.rewards_available,
        rewards_redeemed=balances.rewards_redeemed + delta.rewards_redeemed,
        points_balance=balances.points_balance + delta.points,
        points_earned=balances.points_earned + delta.points_earned,
        points_redeemed=balances.points_redeemed + delta.points_redeemed,
        total_visits=balances.total_visits + delta.visits,
        referral_stamps=balances.referral_stamps
        + (delta.stamps_earned if delta.is_referral else 0),
        referral_points=balances.referral_points
        + (delta.points_earned if delta.is_referral else ZERO),
        tier_name=tier.name if tier else balances.tier_name,
        tier_threshold=tier.threshold if tier else balances.tier_threshold,
        cashback_percentage=tier.percentage if tier else balances.cashback_percentage,
    )


# The card's "last ... at" dates, and which entries move each of them to the entry's time.
LAST_DATE_RULES = {
    "last_visit_at": lambda delta: delta.visits > 0,
    "last_stamp_earned_at": lambda delta: delta.stamps_earned > 0,
    "last_reward_earned_at": lambda delta: delta.rewards_earned > 0,
    "last_reward_redeemed_at": lambda delta: delta.rewards_redeemed > 0,
    "last_points_earned_at": lambda delta: delta.points_earned > 0,
    "last_points_redeemed_at": lambda delta: delta.points_redeemed > 0,
}


def dates_moved(delta: Delta) -> list[str]:
    return [name for name, moves in LAST_DATE_RULES.items() if moves(delta)]


def fold(deltas: Iterable[Delta], start: Balances | None = None) -> Balances:
    balances = start or Balances()
    for delta in deltas:
        balances = apply(balances, delta)
    return balances


# ---------------------------------------------------------------------------------------------
# Stamp cards


def convert(stamps_balance: int, stamps_per_reward: int) -> tuple[int, int]:
    """Whenever the balance reaches N, N stamps turn into a reward, repeatedly.

    Returns (rewards unlocked, balance left).
    """
    rewards, left = divmod(stamps_balance, stamps_per_reward)
    return rewards, left


def stamps_for_purchase(rules: StampRules, amount: Decimal) -> int:
    if rules.mechanism == "visit":
        return rules.stamps_per_visit
    # The database guarantees a positive spend_per_stamp on spend programs.
    spend = rules.spend_per_stamp or Decimal(1)
    return int(amount // spend)


def _credit_stamps(
    balances: Balances, rules: StampRules, stamps: int, *, kind: str, **extra: Any
) -> Delta:
    """A delta crediting ``stamps`` and converting full cards into rewards."""
    if stamps > MAX_STAMPS_PER_ENTRY:  # callers refuse first, with their own words
        raise LedgerError(
            "value",
            _("That is more than the %(max)s stamps allowed at once.")
            % {"max": _limit(MAX_STAMPS_PER_ENTRY)},
        )
    rewards, left = convert(balances.stamps_balance + stamps, rules.stamps_per_reward)
    return Delta(
        kind=kind,
        stamps=left - balances.stamps_balance,
        stamps_earned=stamps,
        rewards_earned=rewards,
        rewards_available=rewards,
        **extra,
    )


def stamp_add_transaction_amount(
    balances: Balances, rules: StampRules, *, value: Any, purchase_amount: Any = None
) -> list[Delta]:
    amount = parse_amount(value, field_name="value")
    _purchase_equal_to_value(purchase_amount, amount)
    stamps = stamps_for_purchase(rules, amount)
    if stamps > MAX_STAMPS_PER_ENTRY:
        raise LedgerError(
            "value",
            _(
                "That purchase would earn %(count)s stamps; a single purchase can earn at most "
                "%(max)s. Check the amount."
            )
            % {"count": _limit(stamps), "max": _limit(MAX_STAMPS_PER_ENTRY)},
        )
    return [
        _credit_stamps(
            balances,
            rules,
            stamps,
            kind=Kind.PURCHASE,
            amount=amount,
            ltv=amount,
            visits=1,
            purchase_amount=amount,
        )
    ]


def stamp_refund_transaction_amount(
    balances: Balances, rules: StampRules, *, value: Any, purchase_amount: Any = None
) -> list[Delta]:
    """Refund of amount spent: takes back the stamps it earned, never below zero; rewards stay."""
    if rules.mechanism != "spend":
        raise LedgerError(
            "value", _("This card earns stamps per visit: write off visits instead of a refund.")
        )
    amount = parse_amount(value, field_name="value")
    _purchase_equal_to_value(purchase_amount, amount)
    if amount > balances.transaction_amount:
        raise LedgerError(
            "value",
            _("You can refund at most the transaction amount, %(amount)s."),
            amounts={"amount": balances.transaction_amount},
        )
    deltas = [Delta(kind=Kind.REFUND, amount=-amount, ltv=-amount, purchase_amount=amount)]
    taken_back = min(stamps_for_purchase(rules, amount), balances.stamps_balance)
    if taken_back:
        deltas.append(
            Delta(kind=Kind.STAMPS_CLAWBACK, stamps=-taken_back, stamps_earned=-taken_back)
        )
    return deltas


def stamp_write_off_visits(balances: Balances, rules: StampRules, *, value: Any) -> list[Delta]:
    visits = parse_count(value, field_name="value", noun="visits")
    if visits > balances.total_visits:
        raise LedgerError(
            "value",
            ngettext(
                "This card has %(count)s visit; you can write off at most that.",
                "This card has %(count)s visits; you can write off at most that.",
                balances.total_visits,
            )
            % {"count": balances.total_visits},
        )
    taken_back = min(visits * rules.stamps_per_visit, balances.stamps_balance)
    return [
        Delta(
            kind=Kind.VISITS_WRITE_OFF,
            visits=-visits,
            stamps=-taken_back,
            stamps_earned=-taken_back,
        )
    ]


def stamp_add_stamps(balances: Balances, rules: StampRules, *, value: Any) -> list[Delta]:
    stamps = parse_count(value, field_name="value", noun="stamps")
    return [_credit_stamps(balances, rules, stamps, kind=Kind.STAMPS_ADDED)]


def stamp_remove_stamps(balances: Balances, rules: StampRules, *, value: Any) -> list[Delta]:
    stamps = parse_count(value, field_name="value", noun="stamps")
    if stamps > balances.stamps_balance:
        raise LedgerError(
            "value",
            ngettext(
                "The card has %(count)s stamp; you cannot remove more than %(count)s.",
                "The card has %(count)s stamps; you cannot remove more than %(count)s.",
                balances.stamps_balance,
            )
            % {"count": balances.stamps_balance},
        )
    return [Delta(kind=Kind.STAMPS_REMOVED, stamps=-stamps, stamps_earned=-stamps)]


def stamp_add_rewards(
    balances: Balances, rules: StampRules, *, value: Any, purchase_amount: Any
) -> list[Delta]:
    rewards = parse_count(value, field_name="value", noun="rewards")
    amount = parse_amount(purchase_amount, field_name="purchase_amount", allow_zero=True)
    return [
        Delta(
            kind=Kind.REWARDS_ADDED,
            rewards_earned=rewards,
            rewards_available=rewards,
            amount=amount,
            ltv=amount,
            visits=1,
            purchase_amount=amount,
        )
    ]


def stamp_redeem_rewards(
    balances: Balances, rules: StampRules, *, value: Any, purchase_amount: Any = None
) -> list[Delta]:
    """A reward used: a visit, with or without a purchase (none given is a purchase of 0)."""
    rewards = parse_count(value, field_name="value", noun="rewards")
    amount = parse_optional_amount(purchase_amount, field_name="purchase_amount") or ZERO
    if rewards > balances.rewards_available:
        raise LedgerError(
            "value",
            ngettext(
                "The card has %(count)s reward available; you cannot redeem more than %(count)s.",
                "The card has %(count)s rewards available; you cannot redeem more than %(count)s.",
                balances.rewards_available,
            )
            % {"count": balances.rewards_available},
        )
    return [
        Delta(
            kind=Kind.REWARDS_REDEEMED,
            rewards_available=-rewards,
            rewards_redeemed=rewards,
            amount=amount,
            ltv=amount,
            visits=1,
            purchase_amount=amount,
        )
    ]


def stamp_bonus(balances: Balances, rules: StampRules, *, stamps: int, kind: str) -> list[Delta]:
    """Referral or welcome stamps (not a visit); conversion applies."""
    return [
        _credit_stamps(balances, rules, stamps, kind=kind, is_referral=kind == Kind.REFERRAL_BONUS)
    ]


# ---------------------------------------------------------------------------------------------
# Cashback cards


def tier_for(tiers: Sequence[Tier], amount: Decimal) -> Tier:
    """The highest tier whose threshold is at or below ``amount``."""
    eligible = [tier for tier in tiers if tier.threshold <= amount]
    return max(eligible, key=lambda tier: tier.threshold) if eligible else tiers[0]


def next_tier(tiers: Sequence[Tier], current_threshold: Decimal | None) -> Tier | None:
    above = [t for t in tiers if current_threshold is None or t.threshold > current_threshold]
    return min(above, key=lambda tier: tier.threshold) if above else None


def current_tier(tiers: Sequence[Tier], balances: Balances) -> Tier:
    """The card's tier as the program defines it now.

    The card remembers the tier it reached (name, threshold and percentage at the time, from
    its ledger). When the merchant later edits that tier, later purchases use the new
    percentage -- a rule change applies to later entries only, and the entries already written
    keep the percentage they used. The tier is found by name, then by threshold; a tier since
    removed keeps the remembered values. A card never drops a tier because thresholds moved.
    """
    if balances.tier_threshold is None:
        return min(tiers, key=lambda tier: tier.threshold)
    for tier in tiers:
        if tier.name == balances.tier_name:
            return tier
    for tier in tiers:
        if tier.threshold == balances.tier_threshold:
            return tier
    return Tier(
        name=balances.tier_name,
        threshold=balances.tier_threshold,
        percentage=balances.cashback_percentage or ZERO,
    )


def to_next_tier(tiers: Sequence[Tier], balances: Balances) -> Decimal | None:
    """The next tier's threshold minus the transaction amount; None at the top tier."""
    upcoming = next_tier(tiers, current_tier(tiers, balances).threshold)
    if upcoming is None:
        return None
    return max(upcoming.threshold - balances.transaction_amount, ZERO)


def points_for(amount: Decimal, percentage: Decimal) -> Decimal:
    return money(amount * percentage / 100)


def _current_percentage(balances: Balances, rules: CashbackRules) -> Decimal:
    return current_tier(rules.tiers, balances).percentage


def cashback_add_points(
    balances: Balances, rules: CashbackRules, *, value: Any, purchase_amount: Any = None
) -> list[Delta]:
    points = parse_amount(value, field_name="value")
    purchase = parse_optional_amount(purchase_amount, field_name="purchase_amount")
    return [
        Delta(
            kind=Kind.POINTS_ADDED,
            points=points,
            points_earned=points,
            ltv=purchase or ZERO,
            visits=1,
            purchase_amount=purchase,
        )
    ]


def cashback_remove_points(
    balances: Balances, rules: CashbackRules, *, value: Any, purchase_amount: Any = None
) -> list[Delta]:
    points = parse_amount(value, field_name="value")
    purchase = parse_optional_amount(purchase_amount, field_name="purchase_amount")
    if points > balances.points_balance:
        raise LedgerError(
            "value",
            _("The balance is %(points)s points; you cannot remove more than %(points)s.")
            % {"points": _number(balances.points_balance)},
        )
    return [
        Delta(
            kind=Kind.POINTS_REMOVED,
            points=-points,
            points_redeemed=points,
            visits=1,
            purchase_amount=purchase,
        )
    ]


def cashback_add_transaction_amount(
    balances: Balances, rules: CashbackRules, *, value: Any, purchase_amount: Any = None
) -> list[Delta]:
    """A purchase earns at the percentage in force before it; the upgrade applies afterwards."""
    amount = parse_amount(value, field_name="value")
    _purchase_equal_to_value(purchase_amount, amount)
    percentage = _current_percentage(balances, rules)
    points = points_for(amount, percentage)
    peak = max(balances.peak_transaction_amount, balances.transaction_amount + amount)
    reached = tier_for(rules.tiers, peak)
    current = current_tier(rules.tiers, balances)
    upgrade = reached if reached.threshold > current.threshold else None
    return [
        Delta(
            kind=Kind.PURCHASE,
            amount=amount,
            ltv=amount,
            points=points,
            points_earned=points,
            visits=1,
            purchase_amount=amount,
            cashback_percentage=percentage,
            tier=upgrade,
        )
    ]


def cashback_subtract_transaction_amount(
    balances: Balances, rules: CashbackRules, *, value: Any, purchase_amount: Any = None
) -> list[Delta]:
    """Correction: claws back the points at the current percentage; the tier stays."""
    amount = parse_amount(value, field_name="value")
    _purchase_equal_to_value(purchase_amount, amount)
    if amount > balances.transaction_amount:
        raise LedgerError(
            "value",
            _("You can subtract at most the transaction amount, %(amount)s."),
            amounts={"amount": balances.transaction_amount},
        )
    percentage = _current_percentage(balances, rules)
    clawback = min(points_for(amount, percentage), balances.points_balance)
    return [
        Delta(
            kind=Kind.REFUND,
            amount=-amount,
            ltv=-amount,
            points=-clawback,
            points_redeemed=clawback,
            purchase_amount=amount,
            cashback_percentage=percentage,
        )
    ]


def cashback_bonus(
    balances: Balances, rules: CashbackRules, *, points: Decimal, kind: str
) -> list[Delta]:
    return [
        Delta(
            kind=kind,
            points=points,
            points_earned=points,
            is_referral=kind == Kind.REFERRAL_BONUS,
        )
    ]


def issue_delta(rules: StampRules | CashbackRules) -> Delta:
    """The first entry of every card; for cashback cards it records the starting tier."""
    tier = rules.first if isinstance(rules, CashbackRules) else None
    return Delta(kind=Kind.CARD_ISSUED, tier=tier)


# ---------------------------------------------------------------------------------------------
# Imported cards


@dataclass(frozen=True)
class Opening:
    """What a former system (or a paper card) says a card held: the import's opening balance.

    The importer has checked each number (whole, not negative, within the columns' limits).
    ``tier`` is the cashback tier the row named; None lets the amount spent decide.
    """

    stamps: int = 0
    rewards: int = 0
    points: Decimal = ZERO
    visits: int = 0
    spent: Decimal = ZERO
    tier: Tier | None = None


def opening_delta(rules: StampRules | CashbackRules, opening: Opening) -> Delta | None:
    """The imported card's second entry, after ``issue_delta``; None when it carries nothing.

    Stamps at or past a full card convert into rewards, as every credit does. The amount spent
    becomes the transaction amount and the LTV, without being a purchase: no referral bonus or
    statistic counts it as money spent today. A cashback card enters the tier the row names,
    else the one its amount spent reaches.
    """
    common: dict[str, Any] = {
        "kind": Kind.IMPORTED,
        "visits": opening.visits,
        "amount": opening.spent,
        "ltv": opening.spent,
    }
    if isinstance(rules, StampRules):
        converted, left = convert(opening.stamps, rules.stamps_per_reward)
        rewards = opening.rewards + converted
        delta = Delta(
            stamps=left,
            stamps_earned=opening.stamps,
            rewards_earned=rewards,
            rewards_available=rewards,
            **common,
        )
    else:
        tier = opening.tier or tier_for(rules.tiers, opening.spent)
        moved = tier != rules.first
        delta = Delta(
            points=opening.points,
            points_earned=opening.points,
            tier=tier if moved else None,
            **common,
        )
    return None if delta == Delta(kind=Kind.IMPORTED) else delta


# ---------------------------------------------------------------------------------------------
# Reversals

# The numeric changes a reversal negates: every one of them, so it undoes exactly what was done.
REVERSED_FIELDS = (
    "amount",
    "ltv",
    "stamps",
    "stamps_earned",
    "rewards_earned",
    "rewards_available",
    "rewards_redeemed",
    "points",
    "points_earned",
    "points_redeemed",
    "visits",
)


def reversal_delta(
    balances: Balances,
    rules: StampRules | CashbackRules,
    original: Delta,
    *,
    peak: Decimal,
    tier: Tier | None = None,
) -> Delta:
    """The entry that undoes ``original``, checked against the card's balances now.

    Every change is negated. ``peak`` is the card's peak transaction amount as if the original
    had never been written, and ``tier`` the tier to go back to (None: the card keeps its own);
    the service works both out from the card's history. On a stamp card, stamps given back
    that fill a card convert into rewards, as every credit does. A reversal that would take a
    balance below zero is refused, saying what happened since (the reward was redeemed, the
    points were spent), and nothing is written.
    """
    if original.kind == Kind.CARD_ISSUED:
        raise LedgerError("entry", _("A card's first entry cannot be reversed."))
    if original.kind == Kind.REVERSAL:
        raise LedgerError("entry", _("A reversal cannot be reversed."))
    changes = {name: -getattr(original, name) for name in REVERSED_FIELDS}
    if isinstance(rules, StampRules):
        converted, left = convert(
            balances.stamps_balance + changes["stamps"], rules.stamps_per_reward
        )
        if converted > 0:
            changes["stamps"] = left - balances.stamps_balance
            changes["rewards_earned"] += converted
            changes["rewards_available"] += converted
    delta = Delta(
        kind=Kind.REVERSAL,
        # A reversed purchase carries its amount negated: the statistics count it off the
        # day's purchases (and, below zero, it is never a purchase of its own).
        purchase_amount=-original.purchase_amount
        if original.purchase_amount is not None and is_purchase(original)
        else None,
        is_referral=original.is_referral,
        peak=peak,
        tier=tier,
        cashback_percentage=original.cashback_percentage,
        **changes,
    )
    _ensure_reversible(apply(balances, delta), balances)
    return delta


def _ensure_reversible(after: Balances, before: Balances) -> None:
    """Refuse, in the merchant's words, a reversal that would leave a balance below zero."""
    if after.rewards_available < 0:
        raise LedgerError("entry", _("The reward this entry made available was already redeemed."))
    if after.stamps_balance < 0:
        raise LedgerError(
            "entry",
            ngettext(
                "The stamps this entry added were already used: the card has %(count)s stamp.",
                "The stamps this entry added were already used: the card has %(count)s stamps.",
                before.stamps_balance,
            )
            % {"count": before.stamps_balance},
        )
    if after.points_balance < 0:
        raise LedgerError(
            "entry",
            _("The points this entry added were already spent: the balance is %(points)s.")
            % {"points": _number(before.points_balance)},
        )
    if after.transaction_amount < 0 or after.ltv < 0:
        raise LedgerError("entry", _("A refund already took this amount back."))
    if after.total_visits < 0:
        raise LedgerError("entry", _("The visits of this entry were already written off."))
    if not after.is_valid() or after.referral_stamps < 0 or after.referral_points < 0:
        raise LedgerError(
            "entry",
            _("Later entries depend on this one: reverse them first, newest first."),
        )
