"""A stamp card's history folded in plain integers (``rules.StampRules``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cards.models import ProgramKind
from customers.generator.columns import MONEY, NO_TIER, NULL, SYSTEM_FINGERPRINTS, money
from customers.generator.fold import Fold, Referral, Shop
from customers.generator.specs import (
    GOODWILL_COMMENTS,
    MINUTE,
    PURCHASE_COMMENTS,
    REFUND_COMMENTS,
    STAMPS_ADDED_COMMENTS,
    STAMPS_REMOVED_COMMENTS,
    ProgramSpec,
)

if TYPE_CHECKING:
    from customers.generator.rows import Writer


def _stamp_deltas(
    amount: str, stamps: int, earned: int, won: int, available: int, redeemed: int, visits: int
) -> str:
    """amount_delta .. tier_percentage of a stamp card's entry (LTV moves with the amount)."""
    return (
        f"{amount}\t{amount}\t{stamps}\t{earned}\t{won}\t{available}\t{redeemed}\t"
        f"0.00\t0.00\t0.00\t{visits}\t{NULL}\t{NO_TIER}"
    )


class StampFold(Fold):
    """A stamp card (``rules.StampRules``)."""

    KIND = ProgramKind.STAMP
    __slots__ = ("amount", "available", "earned", "last_purchase", "last_redeemed",
                 "last_reward", "last_stamp", "peak", "per_reward", "per_stamp", "per_visit",
                 "redeemed", "referral", "rewards", "spend", "stamps")  # fmt: skip

    def __init__(self, writer: Writer, shop: Shop, card_id: int, program: ProgramSpec) -> None:
        super().__init__(writer, shop, card_id, program)
        self.spend = program.mechanism == "spend"
        self.per_stamp, self.per_visit = program.spend_per_stamp, program.stamps_per_visit
        self.per_reward = program.stamps_per_reward
        self.amount = self.peak = self.stamps = self.earned = self.referral = 0
        self.rewards = self.available = self.redeemed = self.last_purchase = 0
        self.last_stamp = self.last_reward = self.last_redeemed = 0

    def _state(self) -> tuple[int, ...]:
        return (self.stamps, self.earned, self.rewards, self.available, self.amount, self.peak,
                self.visits, self.last_visit, self.last_stamp, self.last_reward,
                self.last_purchase, self.t)  # fmt: skip

    def _save(self, *state: int) -> None:
        (self.stamps, self.earned, self.rewards, self.available, self.amount, self.peak,
         self.visits, self.last_visit, self.last_stamp, self.last_reward, self.last_purchase,
         self.t) = state  # fmt: skip

    def run(self, times: list[int], budget: int, *, first: bool, referral: Referral | None) -> int:
        """The counter's operations at ``times`` until ``budget`` entries are written, and the
        referral bonus in its place; returns the entries left to write (none).

        ``first``: the card was referred, and its first operation is a purchase.
        """
        rows, rand, bits, writer = self.rows.append, self.rand, self.bits, self.writer
        minutes, offset, zone = writer.minutes, self.shop.offset, self.shop.offset_text
        hashes = writer.purchase_fingerprints[self.KIND]
        actors, money, tail = self.shop.actors, MONEY, f"\t{NULL}{self.tail}"
        low, unit, spread = self.shop.low, self.shop.unit, 7 * self.shop.low
        spend, per_stamp, per_visit, per_reward = (
            self.spend,
            self.per_stamp,
            self.per_visit,
            self.per_reward,
        )
        (stamps, earned, rewards, available, amount, peak, visits, last_visit, last_stamp,
         last_reward, last_purchase, last) = self._state()  # fmt: skip
        for t in times:
            if budget <= 0:
                break
            if referral is not None and t > referral.at:
                self._save(stamps, earned, rewards, available, amount, peak, visits, last_visit,
                           last_stamp, last_reward, last_purchase, last)  # fmt: skip
                self.referral_bonus(referral)
                referral = None
                (stamps, earned, rewards, available, amount, peak, visits, last_visit,
                 last_stamp, last_reward, last_purchase, last) = self._state()  # fmt: skip
            t = t if t > last else last + 1
            minute, rest = divmod(t + offset, MINUTE)
            when = f"{minutes[minute]}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}{zone}"
            actor = actors[int(rand() * len(actors))]
            redeem = not first and available and rand() < 0.45
            if redeem or (not first and rand() < 0.06):  # any other action: a method's job
                self._save(stamps, earned, rewards, available, amount, peak, visits, last_visit,
                           last_stamp, last_reward, last_purchase, t)  # fmt: skip
                self.when, self.actor, self.key = when, actor, f"{bits(128):032x}"
                budget -= self.redeem_rewards(self._paid()) if redeem else self.other(budget)
                (stamps, earned, rewards, available, amount, peak, visits, last_visit,
                 last_stamp, last_reward, last_purchase, last) = self._state()  # fmt: skip
                continue
            # A purchase: rules.stamp_add_transaction_amount and rules._credit_stamps.
            first = False
            value = low + int(rand() * rand() * spread)
            value -= value % unit
            gained = value // per_stamp if spend else per_visit
            won, left = divmod(stamps + gained, per_reward)
            hashed = hashes.get(value)
            if hashed is None:
                hashed = hashes[value] = self.fingerprint("transaction_amount_add", value, -1, "")
            text = money[value]
            rows(
                f"purchase\tdashboard\t{when}\t{bits(128):032x}\t0\t\t{hashed}\t{actor}\t{text}\t"
                f"{text}\t{text}\t{left - stamps}\t{gained}\t{won}\t{won}\t0\t0.00\t0.00\t0.00\t"
                f"1\t{NULL}\t{NO_TIER}{tail}"
            )
            stamps = left
            earned += gained
            rewards += won
            available += won
            amount += value
            peak = amount if amount > peak else peak
            visits += 1
            last = last_visit = t
            last_purchase = value
            if gained:
                last_stamp = t
            if won:
                last_reward = t
            budget -= 1
        self._save(stamps, earned, rewards, available, amount, peak, visits, last_visit,
                   last_stamp, last_reward, last_purchase, last)  # fmt: skip
        if referral is not None:  # the friend's first purchase came after the last operation
            self.referral_bonus(referral)
        return budget

    def _paid(self) -> int:
        """What was bought with a reward redeemed: now and then nothing."""
        return 0 if self.rand() < 0.3 else self.price(7)

    def other(self, budget: int) -> int:
        """An action other than a plain purchase; returns the entries it wrote."""
        rand = self.rand
        r = rand()
        if r < 0.25 and self.spend and self.amount:
            value = self.refund_value(self.amount, self.last_purchase)
            if budget > 1 or not min(value // self.per_stamp, self.stamps):
                return self.refund(value, self.comment(REFUND_COMMENTS))
        if 0.25 <= r < 0.5:
            return self.add_stamps(1 + int(rand() * 3), self.comment(STAMPS_ADDED_COMMENTS))
        if 0.5 <= r < 0.65 and self.stamps:
            lost = 1 + int(rand() * min(self.stamps, 3))
            return self.remove_stamps(lost, self.comment(STAMPS_REMOVED_COMMENTS))
        if 0.65 <= r < 0.72:
            paid = 0 if rand() < 0.6 else self.price(4)
            return self.add_rewards(paid, self.comment(GOODWILL_COMMENTS))
        if 0.72 <= r < 0.9 and not self.spend and self.visits:
            return self.write_off_visit("Visit entered twice")
        return self.purchase(self.price(7), self.comment(PURCHASE_COMMENTS))

    def issue(self, source: str) -> None:
        """``rules.issue_delta``: a stamp card starts with nothing."""
        self.line("card_issued", source, SYSTEM_FINGERPRINTS["card_issued"], "", NULL,
                  _stamp_deltas("0.00", 0, 0, 0, 0, 0, 0))  # fmt: skip

    def bonus(self, kind: str, source: str, size: int, comment: str, referred: str) -> None:
        """``rules.stamp_bonus``: welcome or referral stamps, not a visit; conversion applies."""
        self._credit(kind, source, SYSTEM_FINGERPRINTS[kind], comment, NULL, "0.00", size, 0,
                     referred)  # fmt: skip
        if kind == "referral_bonus":
            self.referral += size

    def purchase(self, value: int, comment: str) -> int:
        """``rules.stamp_add_transaction_amount``: stamps by the mechanism; a visit. (Written
        inline by ``run`` but for those with a comment.)"""
        gained = value // self.per_stamp if self.spend else self.per_visit
        hashed = self.fingerprint("transaction_amount_add", value, -1, comment)
        text = MONEY[value]
        self._credit("purchase", "dashboard", hashed, comment, text, text, gained, 1, NULL)
        self.amount += value
        self.peak = max(self.peak, self.amount)
        self.last_purchase = value
        return 1

    def _credit(
        self,
        kind: str,
        source: str,
        fingerprint: str,
        comment: str,
        purchase: str,
        amount: str,
        gained: int,
        visits: int,
        referred: str,
    ) -> None:
        """``rules._credit_stamps``: ``gained`` stamps, and every full card turns into a reward."""
        won, left = divmod(self.stamps + gained, self.per_reward)
        deltas = _stamp_deltas(amount, left - self.stamps, gained, won, won, 0, visits)
        self.line(kind, source, fingerprint, comment, purchase, deltas, 0, referred)
        self.stamps = left
        self.earned += gained
        self.rewards += won
        self.available += won
        if gained:
            self.last_stamp = self.t
        if won:
            self.last_reward = self.t
        if visits:
            self.visits += visits
            self.last_visit = self.t

    def refund(self, value: int, comment: str) -> int:
        """``rules.stamp_refund_transaction_amount``: the amount comes off, and the stamps it
        earned (at most the balance) as a second entry of the operation; rewards stay."""
        taken = min(value // self.per_stamp, self.stamps)
        hashed = self.fingerprint("transaction_amount_subtract", value, -1, comment)
        text = money(value)
        self.line("refund", "dashboard", hashed, comment, text,
                  _stamp_deltas("-" + text, 0, 0, 0, 0, 0, 0))  # fmt: skip
        if taken:
            self.line("stamps_clawback", "dashboard", hashed, "", NULL,
                      _stamp_deltas("0.00", -taken, -taken, 0, 0, 0, 0), sequence=1)  # fmt: skip
        self.amount -= value
        self.stamps -= taken
        self.earned -= taken
        return 1 + bool(taken)

    def add_stamps(self, count: int, comment: str) -> int:
        """``rules.stamp_add_stamps``: conversion applies; not a visit."""
        hashed = self.fingerprint("stamps_add", count, -1, comment)
        self._credit("stamps_added", "dashboard", hashed, comment, NULL, "0.00", count, 0, NULL)
        return 1

    def remove_stamps(self, count: int, comment: str) -> int:
        """``rules.stamp_remove_stamps``: at most the balance."""
        hashed = self.fingerprint("stamps_subtract", count, -1, comment)
        self.line("stamps_removed", "dashboard", hashed, comment, NULL,
                  _stamp_deltas("0.00", -count, -count, 0, 0, 0, 0))  # fmt: skip
        self.stamps -= count
        self.earned -= count
        return 1

    def add_rewards(self, paid: int, comment: str) -> int:
        """``rules.stamp_add_rewards``: one reward by hand, with the purchase (maybe 0); a visit."""
        hashed = self.fingerprint("rewards_add", 1, paid, comment)
        text = MONEY[paid]
        self.line("rewards_added", "dashboard", hashed, comment, text,
                  _stamp_deltas(text, 0, 0, 1, 1, 0, 1))  # fmt: skip
        self.rewards += 1
        self.available += 1
        self._visit(paid)
        self.last_reward = self.t
        return 1

    def redeem_rewards(self, paid: int) -> int:
        """``rules.stamp_redeem_rewards``: one reward used, with the purchase (maybe 0); a visit."""
        hashed = self.fingerprint("rewards_subtract", 1, paid, "")
        text = MONEY[paid]
        self.line("rewards_redeemed", "dashboard", hashed, "", text,
                  _stamp_deltas(text, 0, 0, 0, -1, 1, 1))  # fmt: skip
        self.available -= 1
        self.redeemed += 1
        self._visit(paid)
        self.last_redeemed = self.t
        return 1

    def _visit(self, paid: int) -> None:
        self.amount += paid
        self.peak = max(self.peak, self.amount)
        self.visits += 1
        self.last_visit = self.t

    def write_off_visit(self, comment: str) -> int:
        """``rules.stamp_write_off_visits`` (visit mechanism): one visit and its stamps, at most
        the balance."""
        taken = min(self.per_visit, self.stamps)
        hashed = self.fingerprint("visits_write_off", 1, -1, comment)
        self.line("visits_write_off", "dashboard", hashed, comment, NULL,
                  _stamp_deltas("0.00", -taken, -taken, 0, 0, 0, -1))  # fmt: skip
        self.visits -= 1
        self.stamps -= taken
        self.earned -= taken
        return 1

    def columns(self) -> str:
        """The card's columns from transaction_amount on (CARD_COLUMNS)."""
        total = money(self.amount)
        return (
            f"{total}\t{total}\t{money(self.peak)}\t{self.earned}\t{self.stamps}\t"
            f"{self.rewards}\t{self.available}\t{self.redeemed}\t0.00\t0.00\t0.00\t{self.visits}\t"
            f"{self.referral}\t0.00\t\t{NULL}\t{NULL}\t"
            + self.dates(self.last_visit, self.last_stamp, self.last_reward, self.last_redeemed)
            + f"\t{NULL}\t{NULL}"
        )
