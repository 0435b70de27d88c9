"""A cashback card's history folded in plain integers (``rules.CashbackRules``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cards.models import ProgramKind
from customers.generator.columns import MONEY, NO_TIER, NULL, SYSTEM_FINGERPRINTS, money
from customers.generator.fold import Fold, Referral, Shop
from customers.generator.specs import (
    GOODWILL_COMMENTS,
    MINUTE,
    POINTS_REMOVED_COMMENTS,
    PURCHASE_COMMENTS,
    REFUND_COMMENTS,
    ProgramSpec,
)

if TYPE_CHECKING:
    from customers.generator.rows import Writer


def _taken(cents: int) -> str:
    """A decrease as the text of a delta column (no "-0.00")."""
    return "-" + money(cents) if cents else "0.00"


def _cashback_deltas(
    amount: str,
    ltv: str,
    points: str,
    earned: str,
    spent: str,
    visits: int,
    percentage: str = NULL,
    tier: str = NO_TIER,
) -> str:
    """amount_delta .. tier_percentage of a cashback card's entry."""
    return (
        f"{amount}\t{ltv}\t0\t0\t0\t0\t0\t{points}\t{earned}\t{spent}\t{visits}\t{percentage}\t"
        f"{tier}"
    )


class CashbackFold(Fold):
    """A cashback card (``rules.CashbackRules``)."""

    KIND = ProgramKind.CASHBACK
    __slots__ = ("amount", "earned", "last_earned", "last_purchase", "last_spent", "level",
                 "ltv", "peak", "percentages", "points", "referral", "scale", "spent",
                 "thresholds", "tier_texts", "tiers")  # fmt: skip

    def __init__(self, writer: Writer, shop: Shop, card_id: int, program: ProgramSpec) -> None:
        super().__init__(writer, shop, card_id, program)
        self.tiers = program.tiers
        self.thresholds = [tier.threshold for tier in program.tiers]
        self.percentages = [tier.percentage for tier in program.tiers]
        self.tier_texts = [
            f"{tier.name}\t{money(tier.threshold)}\t{money(tier.percentage)}"
            for tier in program.tiers
        ]
        self.scale = shop.low // 300
        self.level = 0  # rules.issue_delta: the first tier
        self.amount = self.ltv = self.peak = self.points = self.earned = self.spent = 0
        self.referral = self.last_earned = self.last_spent = self.last_purchase = 0

    def _state(self) -> tuple[int, ...]:
        return (self.amount, self.ltv, self.peak, self.points, self.earned, self.visits,
                self.level, self.last_visit, self.last_earned, self.last_purchase,
                self.t)  # fmt: skip

    def _save(self, *state: int) -> None:
        (self.amount, self.ltv, self.peak, self.points, self.earned, self.visits, self.level,
         self.last_visit, self.last_earned, self.last_purchase, self.t) = state  # fmt: skip

    def run(self, times: list[int], budget: int, *, first: bool, referral: Referral | None) -> int:
        """The counter's operations at ``times`` until ``budget`` entries are written, and the
        referral bonus in its place; returns the entries left to write (none).

        ``first``: the card was referred, and its first operation is a purchase.
        """
        rows, rand, bits, writer = self.rows.append, self.rand, self.bits, self.writer
        minutes, offset, zone = writer.minutes, self.shop.offset, self.shop.offset_text
        hashes = writer.purchase_fingerprints[self.KIND]
        actors, money, tail = self.shop.actors, MONEY, f"\t{NULL}{self.tail}"
        low, unit, spread = self.shop.low, self.shop.unit, 25 * self.shop.low
        thresholds, percentages, tier_texts = self.thresholds, self.percentages, self.tier_texts
        top = len(thresholds) - 1
        (amount, ltv, peak, points, earned, visits, level, last_visit, last_earned,
         last_purchase, last) = self._state()  # fmt: skip
        for t in times:
            if budget <= 0:
                break
            if referral is not None and t > referral.at:
                self._save(amount, ltv, peak, points, earned, visits, level, last_visit,
                           last_earned, last_purchase, last)  # fmt: skip
                self.referral_bonus(referral)
                referral = None
                (amount, ltv, peak, points, earned, visits, level, last_visit, last_earned,
                 last_purchase, last) = self._state()  # fmt: skip
            t = t if t > last else last + 1
            minute, rest = divmod(t + offset, MINUTE)
            when = f"{minutes[minute]}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}{zone}"
            actor = actors[int(rand() * len(actors))]
            if not first and rand() < 0.16:  # any other action: a method's job
                self._save(amount, ltv, peak, points, earned, visits, level, last_visit,
                           last_earned, last_purchase, t)  # fmt: skip
                self.when, self.actor, self.key = when, actor, f"{bits(128):032x}"
                budget -= self.other()
                (amount, ltv, peak, points, earned, visits, level, last_visit, last_earned,
                 last_purchase, last) = self._state()  # fmt: skip
                continue
            # A purchase: rules.cashback_add_transaction_amount. Points at the tier in force
            # before it (ROUND_HALF_UP); the tier its peak amount reaches applies afterwards.
            first = False
            value = low + int(rand() * rand() * spread)
            value -= value % unit
            percentage = percentages[level]
            gained = (value * percentage + 5_000) // 10_000
            amount += value
            ltv += value
            if amount > peak:
                peak = amount
            reached = level
            while reached < top and thresholds[reached + 1] <= peak:
                reached += 1
            hashed = hashes.get(value)
            if hashed is None:
                hashed = hashes[value] = self.fingerprint("transaction_amount_add", value, -1, "")
            text, points_text = money[value], money[gained]
            rows(
                f"purchase\tdashboard\t{when}\t{bits(128):032x}\t0\t\t{hashed}\t{actor}\t{text}\t"
                f"{text}\t{text}\t0\t0\t0\t0\t0\t{points_text}\t{points_text}\t0.00\t1\t"
                f"{money[percentage]}\t{tier_texts[reached] if reached != level else NO_TIER}"
                f"{tail}"
            )
            points += gained
            earned += gained
            visits += 1
            last = last_visit = t
            if gained:
                last_earned = t
            level = reached
            last_purchase = value
            budget -= 1
        self._save(amount, ltv, peak, points, earned, visits, level, last_visit, last_earned,
                   last_purchase, last)  # fmt: skip
        if referral is not None:  # the friend's first purchase came after the last operation
            self.referral_bonus(referral)
        return budget

    def other(self) -> int:
        """An action other than a plain purchase; returns the entries it wrote."""
        rand = self.rand
        r = rand()
        if r < 0.75 and self.points >= 500 * self.scale:
            value = min(self.points, (500, 1000, 2000)[int(rand() * 3)] * self.scale)
            paid = self.price(20) if rand() < 0.5 else -1
            return self.remove_points(value, paid, self.comment(POINTS_REMOVED_COMMENTS))
        if 0.75 <= r < 0.88 and self.amount:
            value = self.refund_value(self.amount, self.last_purchase)
            return self.subtract(value, self.comment(REFUND_COMMENTS))
        if 0.88 <= r < 0.94:
            paid = self.price(20) if rand() < 0.3 else -1
            value = (1 + int(rand() * 5)) * 100 * self.scale
            return self.add_points(value, paid, self.comment(GOODWILL_COMMENTS))
        return self.purchase(self.price(25), self.comment(PURCHASE_COMMENTS))

    def issue(self, source: str) -> None:
        """``rules.issue_delta``: the entry records the starting tier."""
        self.line("card_issued", source, SYSTEM_FINGERPRINTS["card_issued"], "", NULL,
                  _cashback_deltas("0.00", "0.00", "0.00", "0.00", "0.00", 0, NULL,
                                   self.tier_texts[0]))  # fmt: skip

    def bonus(self, kind: str, source: str, size: int, comment: str, referred: str) -> None:
        """``rules.cashback_bonus``: welcome or referral points, not a visit."""
        text = money(size)
        self.line(kind, source, SYSTEM_FINGERPRINTS[kind], comment, NULL,
                  _cashback_deltas("0.00", "0.00", text, text, "0.00", 0), 0, referred)  # fmt: skip
        self.points += size
        self.earned += size
        self.last_earned = self.t
        if kind == "referral_bonus":
            self.referral += size

    def purchase(self, value: int, comment: str) -> int:
        """``rules.cashback_add_transaction_amount`` (written inline by ``run`` but for those
        with a comment)."""
        level = self.level
        gained = (value * self.percentages[level] + 5_000) // 10_000
        self.amount += value
        self.ltv += value
        self.peak = max(self.peak, self.amount)
        reached, thresholds = level, self.thresholds
        while reached + 1 < len(thresholds) and thresholds[reached + 1] <= self.peak:
            reached += 1
        hashed = self.fingerprint("transaction_amount_add", value, -1, comment)
        text, points = MONEY[value], MONEY[gained]
        tier = self.tier_texts[reached] if reached != level else NO_TIER
        self.line("purchase", "dashboard", hashed, comment, text,
                  _cashback_deltas(text, text, points, points, "0.00", 1,
                                   MONEY[self.percentages[level]], tier))  # fmt: skip
        self.points += gained
        self.earned += gained
        self.visits += 1
        self.last_visit = self.t
        if gained:
            self.last_earned = self.t
        self.level = reached
        self.last_purchase = value
        return 1

    def subtract(self, value: int, comment: str) -> int:
        """``rules.cashback_subtract_transaction_amount``: the points come back at the current
        percentage (at most the balance); the tier stays; not a visit."""
        percentage = self.percentages[self.level]
        clawback = min((value * percentage + 5_000) // 10_000, self.points)
        hashed = self.fingerprint("transaction_amount_subtract", value, -1, comment)
        text = money(value)
        self.line("refund", "dashboard", hashed, comment, text,
                  _cashback_deltas("-" + text, "-" + text, _taken(clawback), "0.00",
                                   money(clawback), 0, MONEY[percentage]))  # fmt: skip
        self.amount -= value
        self.ltv -= value
        self.points -= clawback
        self.spent += clawback
        if clawback:
            self.last_spent = self.t
        return 1

    def add_points(self, value: int, paid: int, comment: str) -> int:
        """``rules.cashback_add_points``: the purchase (-1: none) adds to LTV only; a visit."""
        hashed = self.fingerprint("points_add", value, paid, comment)
        text, bought = money(value), money(max(paid, 0))
        self.line("points_added", "dashboard", hashed, comment, money(paid) if paid >= 0 else NULL,
                  _cashback_deltas("0.00", bought, text, text, "0.00", 1))  # fmt: skip
        self.points += value
        self.earned += value
        self.ltv += max(paid, 0)
        self.visits += 1
        self.last_visit = self.last_earned = self.t
        return 1

    def remove_points(self, value: int, paid: int, comment: str) -> int:
        """``rules.cashback_remove_points``: at most the balance; the purchase (-1: none) is
        kept on the entry only; a visit."""
        hashed = self.fingerprint("points_subtract", value, paid, comment)
        deltas = _cashback_deltas("0.00", "0.00", _taken(value), "0.00", money(value), 1)
        self.line("points_removed", "dashboard", hashed, comment,
                  money(paid) if paid >= 0 else NULL, deltas)  # fmt: skip
        self.points -= value
        self.spent += value
        self.visits += 1
        self.last_visit = self.last_spent = self.t
        return 1

    def columns(self) -> str:
        """The card's columns from transaction_amount on (CARD_COLUMNS)."""
        tier = self.tiers[self.level]
        return (
            f"{money(self.amount)}\t{money(self.ltv)}\t{money(self.peak)}\t0\t0\t0\t0\t0\t"
            f"{money(self.points)}\t{money(self.earned)}\t{money(self.spent)}\t{self.visits}\t"
            f"0\t{money(self.referral)}\t{tier.name}\t{money(tier.threshold)}\t"
            f"{money(tier.percentage)}\t{self.dates(self.last_visit)}\t{NULL}\t{NULL}\t{NULL}\t"
            + self.dates(self.last_earned, self.last_spent)
        )
