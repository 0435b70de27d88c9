"""The rows of a plan as COPY text: customers, cards and ledger entries, customer by customer.

``rows_write`` sends them to a ``Sink``: the COPY pipe of a load, or a ``DigestSink`` that only
hashes them (the same seed must give the same rows).
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import os
import random
import unicodedata
from collections.abc import Callable, Sequence
from typing import Protocol

from cards.actions import ACTIONS
from cards.models import ProgramKind
from cards.services.ledger import request_fingerprint
from customers.generator.cashback_fold import CashbackFold
from customers.generator.columns import NULL, TABLES, money
from customers.generator.fold import Referral, Shop
from customers.generator.plan import Plan
from customers.generator.specs import (
    CAMPAIGNS,
    DAY,
    DEVICES,
    EMAIL_DOMAINS,
    HOUR,
    MINUTE,
    OPENING,
    SECOND_DEVICE_SHARE,
    ProgramSpec,
)
from customers.generator.stamp_fold import StampFold
from customers.generator.tenants import Tenant

# Actions whose value is a whole number (the others take money or points).
COUNTED_ACTIONS = {
    "stamps_add",
    "stamps_subtract",
    "rewards_add",
    "rewards_subtract",
    "visits_write_off",
}


def _fingerprint(kind: str, action: str, value: str, purchase: str, comment: str) -> str:
    """The request hash ``card_apply`` stores for a dialog's inputs, already in their canonical
    spelling (``Action.canonical_inputs``: "12.50", "3", "" for an empty purchase field)."""
    inputs = {"value": value, "comment": comment}
    if ACTIONS[(kind, action)].purchase:  # the dialogs that ask for a purchase amount
        inputs["purchase_amount"] = purchase
    return request_fingerprint(action, inputs)


def _devices(rand: Callable[[], float]) -> str:
    """The ``devices`` array of an installed card as COPY text ("{apple_wallet,pwa}"): one
    kind, sometimes two, in the order the profile lists them."""
    devices = {DEVICES[int(rand() * len(DEVICES))]}
    if rand() < SECOND_DEVICE_SHARE:
        others = sorted(set(DEVICES) - devices)
        devices.add(others[int(rand() * len(others))])
    return "{" + ",".join(sorted(devices)) + "}"


def _opening_hours(raw: int, offset: int) -> int:
    """Squeeze the local day of ``raw`` into the 12 hours from ``OPENING``; keeps the order."""
    day, rest = divmod(raw + offset, DAY)
    return day * DAY + OPENING + rest // 2 - offset


class Sink(Protocol):
    """Where rows go: COPY into a table ("customers", "cards", "ledger"), or a digest."""

    def send(self, table: str, text: str) -> None: ...


class _Minutes(dict[int, str]):
    """The "YYYY-MM-DD HH:MM:" of each minute since the epoch (local time), made once each."""

    CLOCK = [f" {hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60)]

    def __init__(self) -> None:
        super().__init__()
        self.days: dict[int, str] = {}

    def __missing__(self, minute: int) -> str:
        day, rest = divmod(minute, 1440)
        date = self.days.get(day)
        if date is None:
            date = self.days[day] = str(datetime.date(1970, 1, 1) + datetime.timedelta(days=day))
        text = self[minute] = date + self.CLOCK[rest]
        return text


class Writer:
    """Writes the customers, cards and ledger of a plan to a sink, customer by customer."""

    def __init__(
        self,
        *,
        tenants: Sequence[Tenant],
        plan: Plan,
        now: datetime.datetime,
        customer_base: int,
        card_base: int,
        seed: int,
        sink: Sink,
        token: Callable[[], str],
        progress: Callable[[int], None],
    ) -> None:
        self.plan = plan
        self.shops = [Shop.of(tenant, now) for tenant in tenants]
        self.now = int(now.timestamp() * 1_000_000)
        self.customer_base = customer_base
        self.card_base = card_base
        self.rng = random.Random(f"rows:{seed}")
        self.sink = sink
        self.token = token
        self.progress = progress
        self.minutes = _Minutes()
        born = datetime.date(1950, 1, 1)
        self.birthdays = [
            (born + datetime.timedelta(days=day)).isoformat() for day in range(20_500)
        ]
        self.fingerprints: dict[tuple[str, str, int, int, str], str] = {}
        # The hashes of plain purchases (no comment) by amount, for the loops' fast path.
        self.purchase_fingerprints: dict[str, dict[int, str]] = {
            ProgramKind.STAMP: {},
            ProgramKind.CASHBACK: {},
        }
        self.ledger: list[str] = []
        self.cards: list[str] = []
        self.customers: list[str] = []
        self.written = 0

    def run(self) -> int:
        """Write everything; returns the number of ledger entries written."""
        next_report = 1_000_000
        for customer in range(self.plan.customers):
            self.customer(customer)
            if len(self.ledger) >= 20_000:
                self.sink.send("ledger", "".join(self.ledger))
                self.ledger.clear()
            if len(self.cards) >= 20_000:
                self._flush_people()
            if self.written >= next_report:
                self.progress(self.written)
                next_report += 1_000_000
        if self.ledger:
            self.sink.send("ledger", "".join(self.ledger))
            self.ledger.clear()
        self._flush_people()
        return self.written

    def _flush_people(self) -> None:
        for table, rows in (("customers", self.customers), ("cards", self.cards)):
            if rows:
                self.sink.send(table, "".join(rows))
                rows.clear()

    def at(self, t: int, shop: Shop) -> str:
        """A time as timestamptz text, in the shop's local time (inline in the fold loops)."""
        minute, rest = divmod(t + shop.offset, MINUTE)
        zone = shop.offset_text
        return f"{self.minutes[minute]}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}{zone}"

    def when(self, t: int, shop: Shop) -> str:
        return self.at(t, shop) if t else NULL

    def fingerprint(self, kind: str, action: str, value: int, purchase: int, comment: str) -> str:
        """``_fingerprint`` of a value and a purchase (-1: none) in cents or counts, cached."""
        key = (kind, action, value, purchase, comment)
        cached = self.fingerprints.get(key)
        if cached is None:
            typed = str(value) if action in COUNTED_ACTIONS else money(value)
            bought = money(purchase) if purchase >= 0 else ""
            cached = self.fingerprints[key] = _fingerprint(kind, action, typed, bought, comment)
        return cached

    def customer(self, customer: int) -> None:
        plan, rand = self.plan, self.rng.random
        shop = self.shops[plan.merchant[customer]]
        first_name = shop.firsts[int(rand() * len(shop.firsts))]
        last_name = shop.lasts[int(rand() * len(shop.lasts))]
        customer_id = self.customer_base + customer
        email, phone = self._contacts(shop, first_name, last_name, customer_id)
        # Created just before its first card is issued.
        created = _opening_hours(plan.joined[customer], shop.offset) - 1_000 - int(rand() * 4_000)
        holder = f"{first_name} {last_name}"
        folds = [
            self._card(k, customer_id, shop, holder)
            for k in range(plan.first_card[customer], plan.first_card[customer + 1])
        ]
        online = plan.online[plan.first_card[customer]]
        language = (shop.tenant.spec.locale.language if rand() < 0.9 else "en") if online else ""
        verified = NULL
        if email and not online:  # typed by the merchant's team: vouched for at once
            verified = self.at(created, shop)
        elif email and rand() < 0.4:  # a link sent to it was opened, some days later
            verified = self.at(min(self.now, created + int(rand() * 7 * DAY)), shop)
        birthday = self.birthdays[int(rand() * 20_500)] if rand() < 0.35 else NULL
        # What customer_record_activity leaves after every write of the customer's cards.
        last = max(folds, key=lambda fold: fold.t)
        visited = max(folds, key=lambda fold: fold.last_visit)
        self.customers.append(
            f"{customer_id}\t{shop.merchant}\t{first_name}\t{last_name}\t{email}\t{phone}\t"
            f"{birthday}\t{language}\t{verified}\t{{}}\tno_visits\t{NULL}\t"
            f"{sum(fold.visits for fold in folds)}\t{self.when(visited.last_visit, shop)}\t"
            f"{self.at(last.t, shop)}\t{self.at(created, shop)}\n"
        )

    def _contacts(self, shop: Shop, first: str, last: str, customer_id: int) -> tuple[str, str]:
        """An email unique in the database (the customer's id is part of it), a mobile number."""
        rand = self.rng.random
        locale = shop.tenant.spec.locale
        email = phone = ""
        if rand() < 0.9:
            given, family = _ascii(first), _ascii(last)
            local = (f"{given}.{family}", f"{given[:1]}{family}", given)[int(rand() * 3)]
            email = f"{local}{customer_id}@{EMAIL_DOMAINS[customer_id % 3]}"
        if rand() < 0.75 or not email:
            digits, low = locale.digits, locale.low * 10 ** (locale.digits - 1)
            number = low + int(rand() * (10**digits - low))
            phone = f"{shop.phones[int(rand() * len(shop.phones))]}{number:0{digits}d}"
        return email, phone

    def _card(self, k: int, customer_id: int, shop: Shop, holder: str) -> StampFold | CashbackFold:
        plan, rand = self.plan, self.rng.random
        program = shop.tenant.spec.programs[plan.program[k]]
        card_id = self.card_base + plan.number[k]
        kind = StampFold if program.kind == ProgramKind.STAMP else CashbackFold
        fold = kind(self, shop, card_id, program)
        issued, issued_text = self._history(fold, k, card_id, program)
        status, devices, installed = "not_installed", "{}", NULL
        if rand() < 0.65:
            status, devices = "installed", _devices(rand)
            installed = self.at(issued + 30_000_000 + int(rand() * 2 * HOUR), shop)
        deleted = NULL
        if plan.deleted[k]:  # some time after its last entry
            status = "deleted"
            deleted = self.at(fold.t + int(rand() * (self.now - fold.t)), shop)
        utm = "\t\t\t\t"
        if plan.online[k] and rand() < 0.5:
            utm = CAMPAIGNS[int(rand() * len(CAMPAIGNS))]
        referrer = plan.referrer[k]
        referred_by = str(self.card_base + plan.number[referrer]) if referrer >= 0 else NULL
        self.cards.append(
            f"{card_id}\t{shop.merchant}\t{shop.tenant.program_ids[plan.program[k]]}\t"
            f"{customer_id}\t{plan.serial[k]}\t{status}\t{devices}\t{utm}\t{issued_text}\t"
            f"{installed}\t{NULL}\t{deleted}\t{holder}\t{self.token()}\t{self.token()}\t"
            f"{referred_by}\t{fold.columns()}\n"
        )
        return fold

    def _history(
        self, fold: StampFold | CashbackFold, k: int, card_id: int, program: ProgramSpec
    ) -> tuple[int, str]:
        """The card's entries, exactly as many as planned: its first, a welcome bonus for an
        online joiner, operations at the counter, and a referral bonus on the first purchase
        of the card it referred. Returns when it was issued (as a number and as text)."""
        plan, shop, rng = self.plan, fold.shop, self.rng
        issued = _opening_hours(plan.issued[k], shop.offset)
        online = plan.online[k]
        actor = NULL if online else shop.actors[int(rng.random() * len(shop.actors))]
        fold.begin(issued, actor, f"issue:{card_id}")
        fold.issue("card_page" if online else "dashboard")
        issued_text = fold.when
        budget = plan.entries[k] - 1
        if online and program.welcome_bonus:  # card_credit_welcome_bonus, just after
            fold.begin(issued + 2_000 + int(rng.random() * 8_000), NULL, f"welcome:{card_id}")
            fold.bonus("welcome_bonus", "system", program.welcome_bonus, "", NULL)
            budget -= 1
        referral = None
        friend = plan.friend[k]
        if friend >= 0:
            friend_id = self.card_base + plan.number[friend]
            referral = Referral(
                at=_opening_hours(plan.first_purchase[friend], shop.offset),
                key=f"referral:{friend_id}",
                friend_id=str(friend_id),
                comment=f"Referred card {plan.serial[friend]}",
            )
            budget -= 1
        times = self._times(k, shop, budget)
        budget = fold.run(times, budget, first=plan.referrer[k] >= 0, referral=referral)
        if budget:
            raise AssertionError(f"card {card_id}: {budget} planned entries not written")
        self.written += plan.entries[k]
        return issued, issued_text

    def _times(self, k: int, shop: Shop, count: int) -> list[int]:
        """``count`` times for card ``k``'s operations, oldest first, in opening hours.

        A referred card's first operation is its first purchase, when the plan says.
        """
        plan, rand = self.plan, self.rng.random
        if count <= 0:
            return []
        first = plan.first_purchase[k] if plan.referrer[k] >= 0 else 0
        low = first or plan.issued[k] + MINUTE
        span = max(1, plan.ends[k] - low)
        offset = shop.offset
        # Local days squeezed into opening hours (``_opening_hours``, inline), order kept.
        times = [
            (local // DAY) * DAY + OPENING + (local % DAY) // 2 - offset
            for local in sorted(
                low + offset + int(rand() * span) for _ in range(count - bool(first))
            )
        ]
        if first:
            # 50 microseconds after the referrer's bonus, credited first in the transaction.
            times.insert(0, _opening_hours(first, shop.offset) + 50)
        return times


@functools.cache
def _ascii(name: str) -> str:
    """A name as the part of an email address before the @ ("Müller" -> "muller")."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text.lower() if ch.isalnum())


class _Tokens:
    """Unguessable link tokens as ``cards.models.new_token`` makes them (24 random bytes,
    URL-safe base64), drawn a thousand at a time."""

    def __init__(self) -> None:
        self.pool: list[str] = []

    def __call__(self) -> str:
        if not self.pool:
            text = base64.urlsafe_b64encode(os.urandom(24 * 1000)).decode()
            self.pool = [text[start : start + 32] for start in range(0, len(text), 32)]
        return self.pool.pop()


class DigestSink:
    """A sink that only hashes what it is sent, per table (to compare runs)."""

    def __init__(self) -> None:
        self.hashes = {table: hashlib.sha256() for table in TABLES}

    def send(self, table: str, text: str) -> None:
        self.hashes[table].update(text.encode())

    def hexdigests(self) -> dict[str, str]:
        return {table: value.hexdigest() for table, value in self.hashes.items()}


def rows_write(
    *,
    tenants: Sequence[Tenant],
    plan: Plan,
    now: datetime.datetime,
    customer_base: int,
    card_base: int,
    seed: int,
    sink: Sink,
    token: Callable[[], str] | None = None,
    progress: Callable[[int], None] = lambda written: None,
) -> int:
    """Send every row of ``plan`` to ``sink``; returns the number of ledger entries."""
    writer = Writer(
        tenants=tenants,
        plan=plan,
        now=now,
        customer_base=customer_base,
        card_base=card_base,
        seed=seed,
        sink=sink,
        token=token or _Tokens(),
        progress=progress,
    )
    return writer.run()
