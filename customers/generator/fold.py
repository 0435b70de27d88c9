"""What every card's fold shares: the shop as the rows read it, and the ``Fold`` base class.

A fold writes one card's history and keeps its balances as it goes; ``stamp_fold`` and
``cashback_fold`` hold the two kinds of card.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from customers.generator.columns import NULL
from customers.generator.specs import FIRST_NAMES, LAST_NAMES, ProgramSpec
from customers.generator.tenants import Tenant

if TYPE_CHECKING:
    from customers.generator.rows import Writer


@dataclass
class Shop:
    """A tenant as the rows read it: ids as text, its UTC offset, names, prices."""

    tenant: Tenant
    merchant: str
    offset: int
    offset_text: str
    actors: tuple[str, ...]
    firsts: list[str]
    lasts: list[str]
    low: int  # the smallest purchase, in cents
    unit: int  # prices are multiples of this many cents
    phones: tuple[str, ...]

    @classmethod
    def of(cls, tenant: Tenant, now: datetime.datetime) -> Shop:
        locale = tenant.spec.locale
        offset = zoneinfo.ZoneInfo(locale.time_zone).utcoffset(now.replace(tzinfo=None))
        seconds = int(offset.total_seconds()) if offset else 0
        hours, minutes = divmod(abs(seconds) // 60, 60)
        # One customer in seven or so has a name from one of the other languages.
        others = [language for language in FIRST_NAMES if language != locale.language]
        return cls(
            tenant=tenant,
            merchant=str(tenant.merchant_id),
            offset=seconds * 1_000_000,
            offset_text=f"{'-' if seconds < 0 else '+'}{hours:02d}:{minutes:02d}",
            actors=tuple(str(pk) for pk in tenant.actor_ids) or (NULL,),
            firsts=list(FIRST_NAMES[locale.language]) * 6
            + [n for o in others for n in FIRST_NAMES[o]],
            lasts=list(LAST_NAMES[locale.language]) * 6
            + [n for o in others for n in LAST_NAMES[o]],
            low=300 * locale.scale,
            unit=locale.unit,
            phones=tuple(locale.phones.split()),
        )


@dataclass(frozen=True)
class Referral:
    """The bonus a card earns when the card it referred records its first purchase."""

    at: int
    key: str
    friend_id: str
    comment: str


class Fold:
    """One card's history while it is written: the operation under way, the visits.

    Subclasses keep the balances of one kind of card in plain integers (``rules.Balances``,
    money in cents) and have one method per action. Each writes the rows of the ``cards.rules``
    function it names, with the same deltas, and folds them in as ``rules.apply`` does. Their
    ``run`` writes the purchases, nineteen operations in twenty, inline with the balances in
    local variables (it runs ten million times: a call per entry would double the time) and
    hands the balances to the action methods for everything else (``_state``, ``_save``).
    """

    KIND = ""
    __slots__ = ("actor", "bits", "bonus_size", "key", "last_visit", "rand", "rows", "shop", "t",
                 "tail", "visits", "when", "writer")  # fmt: skip

    def __init__(self, writer: Writer, shop: Shop, card_id: int, program: ProgramSpec) -> None:
        self.writer = writer
        self.shop = shop
        self.rows = writer.ledger
        self.rand = writer.rng.random
        self.bits = writer.rng.getrandbits
        self.bonus_size = program.referral_bonus
        self.tail = f"\t{card_id}\t{shop.merchant}\n"
        self.t = self.visits = self.last_visit = 0
        self.when = self.key = ""
        self.actor = NULL

    def begin(self, t: int, actor: str, key: str) -> None:
        """The next operation: at ``t`` (after every earlier entry), by ``actor``, as ``key``."""
        self.t = t if t > self.t else self.t + 1
        self.when = self.writer.at(self.t, self.shop)
        self.actor = actor
        self.key = key

    def line(
        self,
        kind: str,
        source: str,
        fingerprint: str,
        comment: str,
        purchase: str,
        deltas: str,
        sequence: int = 0,
        referred: str = NULL,
    ) -> None:
        self.rows.append(
            f"{kind}\t{source}\t{self.when}\t{self.key}\t{sequence}\t{comment}\t{fingerprint}\t"
            f"{self.actor}\t{purchase}\t{deltas}\t{referred}{self.tail}"
        )

    def fingerprint(self, action: str, value: int, purchase: int, comment: str) -> str:
        return self.writer.fingerprint(self.KIND, action, value, purchase, comment)

    def price(self, spread: int) -> int:
        """A purchase in cents: mostly small, now and then up to ``spread`` times the least."""
        low, unit, rand = self.shop.low, self.shop.unit, self.rand
        value = low + int(rand() * rand() * spread * low)
        return value - value % unit

    def refund_value(self, amount: int, last_purchase: int) -> int:
        """Most refunds take back the last purchase, some half of it; never more than spent."""
        value = min(last_purchase or amount, amount)
        if self.rand() < 0.3:
            half = value // 2
            value = min(amount, max(self.shop.unit, half - half % self.shop.unit))
        return value

    def comment(self, choices: Sequence[str], often: float = 1.0) -> str:
        rand = self.rand
        return choices[int(rand() * len(choices))] if rand() < often else ""

    def dates(self, *moments: int) -> str:
        """The card's "last ... at" columns; most of them are the same few moments."""
        at, shop = self.writer.at, self.shop
        texts = {0: NULL}
        for t in moments:
            if t not in texts:
                texts[t] = at(t, shop)
        return "\t".join([texts[t] for t in moments])

    def referral_bonus(self, referral: Referral) -> None:
        """Credited by the referred card's first purchase, in its transaction, just before."""
        self.begin(referral.at, NULL, referral.key)
        self.bonus("referral_bonus", "referral", self.bonus_size, referral.comment,
                   referral.friend_id)  # fmt: skip

    def bonus(self, kind: str, source: str, size: int, comment: str, referred: str) -> None:
        raise NotImplementedError
