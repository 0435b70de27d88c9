"""Generated data at scale: merchants, programs, customers, cards and their ledger histories.

``generate`` (the ``generate_data`` command) fills a database with what benchmarks need, a
million customers and ten million ledger entries in a few minutes. Going through the services
would take a millisecond per entry, so the rows are streamed with PostgreSQL COPY instead; each
of them is still a row a real action could have written:

- every card's history is folded by a plain-integer copy of ``cards.rules`` (cents and
  hundredths of a percent instead of Decimals, one loop per kind of card instead of a dataclass
  per entry): the card's columns are the fold of its ledger (``verify_ledger`` passes), and each
  entry's deltas are what its action's rule computes (the tests replay every entry through
  ``cards.rules``);
- request fingerprints are the ledger's own (``request_fingerprint`` over the action's
  canonical inputs and comment), staff operation keys look like the dialogs' (32 hex digits) and
  system keys are the ones the services write (``issue:<card>``, ``welcome:<card>``,
  ``referral:<new card>``);
- the CRM columns are what ``customer_record_activity`` leaves behind after those writes, and
  the segments are computed at the end by ``segments_recompute``, merchant by merchant.

One transaction holds the whole load. The secondary indexes of the three big tables are dropped
first and re-created from their own definitions at the end; PostgreSQL's DDL is transactional,
so a load that fails anywhere rolls back to the very same indexes and constraints. Python
generates rows on one core while a thread streams them to PostgreSQL on the other.

Everything but the install and referral tokens comes from ``seed``: the same seed and sizes
give the same data (the tokens are links to the cards and stay unguessable).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import math
import os
import queue
import random
import threading
import time
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from django.utils.text import slugify

from cards.actions import ACTIONS
from cards.models import Card, LedgerEntry, Program, ProgramKind, Tier
from cards.services.ledger import request_fingerprint
from customers.models import Customer
from customers.segments import segments_recompute
from loyalty import clock
from loyalty.models import Membership, Merchant, Role

DAY = 86_400_000_000  # times are integer microseconds since the epoch, UTC
HOUR = 3_600_000_000
MINUTE = 60_000_000
HISTORY_DAYS = 730
# The card the benchmarks open: exactly this many entries, on the largest merchant's stamp card.
BIG_CARD_ENTRIES = 10_000
# A history never packs more operations than this into a day on average (the big card aside).
OPERATIONS_PER_DAY = 6
OPENING = 8 * HOUR  # local time of the first purchases of the day; the last are 12 hours later

STAMP, CASHBACK = 0, 1  # a merchant's two programs


class GeneratorError(Exception):
    """Sizes the generator cannot honour (the command turns it into a readable error)."""


# ---------------------------------------------------------------------------------------------
# What merchants look like


@dataclass(frozen=True)
class Locale:
    country: str
    time_zone: str
    currency: str
    language: str
    scale: int  # whole units of the currency that buy what a US dollar buys
    phones: str  # E.164 starts of mobile numbers (phonenumbers accepts them), space-separated
    digits: int  # random digits after the start
    low: int = 0  # smallest first random digit (NANP exchanges start at 2)

    @property
    def unit(self) -> int:
        """Prices are multiples of this many cents (whole pesos)."""
        return 100 if self.currency == "MXN" else 1


LOCALES = (
    Locale("US", "America/New_York", "USD", "en", 1, "+1212 +1646 +1718 +1917 +1347", 7, 2),
    Locale("US", "America/Los_Angeles", "USD", "en", 1, "+1213 +1310 +1323 +1818", 7, 2),
    Locale("US", "America/Chicago", "USD", "en", 1, "+1312 +1773 +1872", 7, 2),
    Locale("GB", "Europe/London", "GBP", "en", 1, "+44740 +44741 +447800 +447900", 7),
    Locale("DE", "Europe/Berlin", "EUR", "de", 1, "+49151 +49157 +49176", 8),
    Locale("ES", "Europe/Madrid", "EUR", "es", 1, "+3460 +3461 +3465 +3467", 7),
    Locale("CA", "America/Toronto", "CAD", "en", 1, "+1416 +1647 +1437", 7, 2),
    Locale("MX", "America/Mexico_City", "MXN", "es", 20, "+5255 +5233 +5281", 8),
    Locale("FR", "Europe/Paris", "EUR", "en", 1, "+3361 +3362 +3366 +3367", 7),
    Locale("AT", "Europe/Vienna", "EUR", "de", 1, "+43664 +43676", 7),
    Locale("IE", "Europe/Dublin", "EUR", "en", 1, "+35383 +35385 +35387", 7),
    Locale("AU", "Australia/Sydney", "AUD", "en", 2, "+6140 +6141 +6142", 7),
    Locale("CH", "Europe/Zurich", "CHF", "de", 1, "+4176 +4178 +4179", 7),
    Locale("NL", "Europe/Amsterdam", "EUR", "en", 1, "+3161 +3162 +3164", 7),
    Locale("IT", "Europe/Rome", "EUR", "en", 1, "+39347 +39333 +39320", 7),
)

# fmt: off
FIRST_NAMES = {
    "en": (
        "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Amelia", "James",
        "Isabella", "William", "Mia", "Benjamin", "Charlotte", "Lucas", "Harper", "Henry",
        "Evelyn", "Theodore", "Abigail", "Jack", "Emily", "Ethan", "Ella", "Samuel", "Grace",
        "Daniel", "Chloe", "Owen", "Zoe", "Ryan", "Nora", "Aiden", "Lily", "Ann", "Anna",
        "Annabel", "Marianne", "Joanna", "Priya", "Omar", "Aisha", "Kenji", "Mei", "Ravi",
    ),
    "es": (
        "Sofía", "Mateo", "Valentina", "Santiago", "Isabella", "Sebastián", "Camila", "Diego",
        "Lucía", "Leonardo", "Martina", "Tomás", "Elena", "Alejandro", "Paula", "Javier",
        "Carmen", "Pablo", "Daniela", "Andrés", "Julia", "Manuel", "Ximena", "Hugo", "Rosa",
        "Álvaro", "Inés", "Gabriel", "Marta", "Adrián",
    ),
    "de": (
        "Emma", "Ben", "Mia", "Paul", "Hannah", "Leon", "Lena", "Finn", "Lea", "Jonas", "Clara",
        "Elias", "Marie", "Felix", "Sophie", "Lukas", "Anna", "Maximilian", "Johanna", "Jakob",
        "Greta", "Moritz", "Frieda", "Noah", "Ida", "Anton", "Lina", "Jürgen", "Käthe", "Tobias",
    ),
}
LAST_NAMES = {
    "en": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
        "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
        "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
        "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "O'Brien",
        "Nguyen", "Kowalski", "Okafor", "Haddad", "Tanaka", "Khan", "Murphy",
    ),
    "es": (
        "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez",
        "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
        "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
        "Castro", "Ortega", "Rubio", "Molina", "Serrano",
    ),
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
        "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
        "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
    ),
}
SHOP_WORDS = (
    "Blue Door", "Golden Crust", "Little Fig", "Corner", "Morning Glory", "Red Kettle",
    "Copper Pot", "Green Leaf", "Sunny Side", "Old Mill", "Harbor", "Maple", "Juniper",
    "Wild Oat", "Silver Spoon", "Lemon Tree", "Night Owl", "Rolling Pin", "Sea Salt", "Oak & Ivy",
)
# fmt: on
# (kind of shop, the stamp card's name, the cashback program's name)
SHOP_KINDS = (
    ("Coffee", "Coffee Card", "Coffee Club"),
    ("Bakery", "Bread Card", "Bakery Rewards"),
    ("Deli", "Sandwich Card", "Deli Rewards"),
    ("Juice Bar", "Juice Card", "Juice Club"),
    ("Barbershop", "Haircut Card", "Barber Rewards"),
    ("Books", "Reader Card", "Book Club"),
    ("Pizzeria", "Pizza Card", "Pizza Club"),
    ("Tea House", "Tea Card", "Tea Rewards"),
    ("Flowers", "Bouquet Card", "Flower Club"),
    ("Ice Cream", "Scoop Card", "Ice Cream Club"),
)
COLORS = ("#5b3a29", "#1f4e79", "#2e7d32", "#8e24aa", "#c62828", "#37474f", "#ef6c00", "#00695c")
# (tier, threshold in US dollars, cashback in hundredths of a percent)
TIER_SETS = (
    (("Bronze", 0, 500), ("Silver", 500, 700), ("Gold", 1000, 1000)),
    (("Member", 0, 300), ("VIP", 300, 550)),
    (("Classic", 0, 250), ("Plus", 250, 400), ("Premium", 750, 650)),
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")  # reserved: no mail leaves
# The utm_source, utm_medium, utm_campaign, utm_term and utm_content of cards joined by a link
CAMPAIGNS = tuple(
    "\t".join((*utm, "", ""))
    for utm in (
        ("instagram", "social", "spring-promo"),
        ("qr-counter", "qr", ""),
        ("newsletter", "email", "monthly"),
        ("google", "cpc", "brand"),
        ("facebook", "social", "launch"),
        ("flyer", "print", ""),
    )
)
DEVICES = ("pwa", "pwa", "pwa", "google_wallet", "google_wallet", "apple_wallet")
# Staff comments by action (what a merchant would type; most operations have none).
PURCHASE_COMMENTS = ("Takeaway", "Paid by card", "Table 4")
REFUND_COMMENTS = ("Entered twice by mistake", "Item returned", "Wrong amount typed")
STAMPS_ADDED_COMMENTS = ("Birthday treat", "Sorry for the wait", "Forgot the card last time")
STAMPS_REMOVED_COMMENTS = ("Added by mistake", "Duplicate entry")
GOODWILL_COMMENTS = ("Goodwill gesture", "Missed purchase from last week")
POINTS_REMOVED_COMMENTS = ("Redeemed at the counter", "")


@dataclass(frozen=True)
class TierSpec:
    name: str
    threshold: int  # cents
    percentage: int  # hundredths of a percent


@dataclass(frozen=True)
class ProgramSpec:
    kind: str
    name: str
    mechanism: str = ""
    spend_per_stamp: int = 0  # cents
    stamps_per_visit: int = 1
    stamps_per_reward: int = 10
    referral_bonus: int = 0  # stamps on stamp cards, cents of points on cashback cards
    welcome_bonus: int = 0
    tiers: tuple[TierSpec, ...] = ()
    color: str = COLORS[0]


@dataclass(frozen=True)
class MemberSpec:
    username: str
    role: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class MerchantSpec:
    name: str
    slug: str
    locale: Locale
    members: tuple[MemberSpec, ...]
    programs: tuple[ProgramSpec, ProgramSpec]  # indexed by STAMP and CASHBACK


def merchant_specs(*, count: int, seed: int, taken: Callable[[str], bool]) -> list[MerchantSpec]:
    """``count`` merchants: names, locales, teams and programs, all from ``seed``.

    ``taken(slug)`` says whether a slug (or a username made from it) is already used; such
    slugs get a number, so a second run next to the first adds merchants instead of failing.
    """
    rng = random.Random(f"merchants:{seed}")
    specs: list[MerchantSpec] = []
    used: set[str] = set()
    for index in range(count):
        locale = LOCALES[0] if index == 0 else rng.choice(LOCALES)
        kind, stamp_name, cashback_name = rng.choice(SHOP_KINDS)
        name = f"{rng.choice(SHOP_WORDS)} {kind}"
        slug = _free_slug(slugify(name), lambda s: s in used or taken(s))
        used.add(slug)
        specs.append(
            MerchantSpec(
                name=name,
                slug=slug,
                locale=locale,
                members=_team(rng, slug, locale),
                programs=(
                    _stamp_spec(rng, stamp_name, locale, visits=index % 3 == 1),
                    _cashback_spec(rng, cashback_name, locale),
                ),
            )
        )
    return specs


def _free_slug(base: str, taken: Callable[[str], bool]) -> str:
    slug, number = base, 1
    while taken(slug):
        number += 1
        slug = f"{base}-{number}"
    return slug


def _team(rng: random.Random, slug: str, locale: Locale) -> tuple[MemberSpec, ...]:
    """The owner and one to three counter staff (the first of them an admin now and then)."""
    firsts, lasts = FIRST_NAMES[locale.language], LAST_NAMES[locale.language]
    members = [MemberSpec(f"{slug}-owner", Role.OWNER, rng.choice(firsts), rng.choice(lasts))]
    for number in range(1, rng.randint(1, 3) + 1):
        role = Role.ADMIN if number == 1 and rng.random() < 0.3 else Role.STAFF
        members.append(
            MemberSpec(f"{slug}-staff{number}", role, rng.choice(firsts), rng.choice(lasts))
        )
    return tuple(members)


def _stamp_spec(rng: random.Random, name: str, locale: Locale, *, visits: bool) -> ProgramSpec:
    """Stamps per amount spent (10.00 a stamp in dollars), or per visit for every third shop."""
    return ProgramSpec(
        kind=ProgramKind.STAMP,
        name=name,
        mechanism="visit" if visits else "spend",
        spend_per_stamp=0 if visits else 1000 * locale.scale,
        stamps_per_reward=rng.choice((8, 10, 10, 12)),
        referral_bonus=rng.choice((1, 2)),
        welcome_bonus=rng.choice((0, 0, 1)),
        color=rng.choice(COLORS),
    )


def _cashback_spec(rng: random.Random, name: str, locale: Locale) -> ProgramSpec:
    tiers = tuple(
        TierSpec(tier, threshold * 100 * locale.scale, percentage)
        for tier, threshold, percentage in rng.choice(TIER_SETS)
    )
    return ProgramSpec(
        kind=ProgramKind.CASHBACK,
        name=name,
        referral_bonus=500 * locale.scale,
        welcome_bonus=rng.choice((0, 200 * locale.scale)),
        tiers=tiers,
        color=rng.choice(COLORS),
    )


@dataclass(frozen=True)
class Tenant:
    """A merchant as the rows need it: its spec and the ids the database gave it."""

    spec: MerchantSpec
    merchant_id: int
    program_ids: tuple[int, int]  # indexed by STAMP and CASHBACK
    actor_ids: tuple[int, ...]  # who works the counter: staff and admins


def tenants_create(*, specs: Sequence[MerchantSpec], now: datetime.datetime) -> list[Tenant]:
    """The merchants, their teams (unusable passwords: no slow hashing), programs and tiers."""
    founded = now - datetime.timedelta(days=HISTORY_DAYS + 30)
    merchants = Merchant.objects.bulk_create(
        Merchant(
            name=spec.name,
            slug=spec.slug,
            currency=spec.locale.currency,
            time_zone=spec.locale.time_zone,
            country=spec.locale.country,
            language=spec.locale.language,
        )
        for spec in specs
    )
    users = _team_create(specs, merchants, founded)
    programs = Program.objects.bulk_create(
        _program(program, merchant)
        for spec, merchant in zip(specs, merchants, strict=True)
        for program in spec.programs
    )
    Tier.objects.bulk_create(
        Tier(
            program=program,
            name=tier.name,
            threshold=_decimal(tier.threshold),
            percentage=_decimal(tier.percentage),
        )
        for spec_program, program in zip(
            (p for spec in specs for p in spec.programs), programs, strict=True
        )
        for tier in spec_program.tiers
    )
    for model, ids in ((Merchant, merchants), (Program, programs)):
        model.objects.filter(pk__in=[row.pk for row in ids]).update(created_at=founded)
    return [
        Tenant(
            spec=spec,
            merchant_id=merchant.pk,
            program_ids=(programs[2 * index].pk, programs[2 * index + 1].pk),
            actor_ids=tuple(
                users[member.username].pk for member in spec.members if member.role != Role.OWNER
            ),
        )
        for index, (spec, merchant) in enumerate(zip(specs, merchants, strict=True))
    ]


def _team_create(
    specs: Sequence[MerchantSpec], merchants: Sequence[Merchant], founded: datetime.datetime
) -> dict[str, Any]:
    user_model = get_user_model()
    users = []
    for spec in specs:
        for member in spec.members:
            user = user_model(
                username=member.username,
                email=f"{member.username}@example.com",
                first_name=member.first_name,
                last_name=member.last_name,
                date_joined=founded,
            )
            user.set_unusable_password()
            users.append(user)
    by_name = {user.username: user for user in user_model.objects.bulk_create(users)}
    memberships = Membership.objects.bulk_create(
        Membership(user=by_name[member.username], merchant=merchant, role=member.role)
        for spec, merchant in zip(specs, merchants, strict=True)
        for member in spec.members
    )
    Membership.objects.filter(pk__in=[m.pk for m in memberships]).update(created_at=founded)
    return by_name


def _program(spec: ProgramSpec, merchant: Merchant) -> Program:
    is_stamp = spec.kind == ProgramKind.STAMP
    return Program(
        merchant=merchant,
        name=spec.name,
        kind=spec.kind,
        mechanism=spec.mechanism,
        spend_per_stamp=_decimal(spec.spend_per_stamp) if spec.spend_per_stamp else None,
        stamps_per_visit=spec.stamps_per_visit,
        stamps_per_reward=spec.stamps_per_reward,
        referral_bonus=_decimal(spec.referral_bonus * 100 if is_stamp else spec.referral_bonus),
        welcome_bonus=_decimal(spec.welcome_bonus * 100 if is_stamp else spec.welcome_bonus),
        background_color=spec.color,
    )


def _decimal(cents: int) -> Decimal:
    """Cents (or hundredths of a percent) as a Decimal with 2 places."""
    return Decimal(_money(cents))


# ---------------------------------------------------------------------------------------------
# The plan: who joins when, which cards they hold, how many entries each card gets


@dataclass
class Plan:
    """Customers in the order they joined (their ids follow it) and their cards.

    Card lists are indexed by card number; a customer's cards are numbers
    ``first_card[i]`` up to ``first_card[i + 1]``. Times are "raw": spread evenly over the day;
    the rows squeeze each local day into the shop's opening hours (``_opening_hours``).
    """

    merchant: list[int] = field(default_factory=list)  # tenant index per customer
    joined: list[int] = field(default_factory=list)
    first_card: list[int] = field(default_factory=list)
    program: list[int] = field(default_factory=list)  # STAMP or CASHBACK per card
    entries: list[int] = field(default_factory=list)
    issued: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # the last operation comes no later
    online: list[bool] = field(default_factory=list)  # joined from the card page
    number: list[int] = field(default_factory=list)  # card ids are base + number (issue order)
    serial: list[str] = field(default_factory=list)
    referrer: list[int] = field(default_factory=list)  # the card whose link it joined by, or -1
    friend: list[int] = field(default_factory=list)  # the card it referred, or -1
    first_purchase: list[int] = field(default_factory=list)  # referred cards: when (raw)
    deleted: list[bool] = field(default_factory=list)
    big_card: int = -1

    @property
    def customers(self) -> int:
        return len(self.merchant)

    @property
    def cards(self) -> int:
        return len(self.program)


def plan_build(
    *,
    tenants: Sequence[Tenant],
    customers: int,
    entries: int,
    seed: int,
    now: int,
    taken_serials: set[int],
) -> Plan:
    """Decide every customer and card, with entry counts adding up to exactly ``entries``."""
    rng = random.Random(f"plan:{seed}")
    plan = Plan()
    last = now - DAY  # histories end a day ago: opening hours never reach into the future
    minimum = _customers(rng, plan, tenants, merchant_sizes(customers, len(tenants)), now, last)
    _count_entries(rng, plan, entries, minimum, last)
    _end_times(rng, plan, last)
    _number_cards(rng, plan, taken_serials)
    _pair_referrals(rng, plan, minimum)
    rand = rng.random
    plan.deleted = [
        plan.referrer[k] < 0 and plan.friend[k] < 0 and k != plan.big_card and rand() < 0.01
        for k in range(plan.cards)
    ]
    return plan


def merchant_sizes(customers: int, merchants: int) -> list[int]:
    """Half the customers at the first merchant, the rest long-tailed (Zipf) over the others."""
    if merchants <= 1:
        return [customers] * merchants
    first = (customers + 1) // 2
    rest = customers - first
    weights = [1 / rank**1.1 for rank in range(1, merchants)]
    raw = [rest * weight / sum(weights) for weight in weights]
    sizes = [int(value) for value in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: sizes[i] - raw[i])
    for index in by_remainder[: rest - sum(sizes)]:
        sizes[index] += 1
    return [first, *sizes]


def _customers(
    rng: random.Random,
    plan: Plan,
    tenants: Sequence[Tenant],
    sizes: list[int],
    now: int,
    last: int,
) -> list[int]:
    """Who joins when (in that order, over two years), where, with which cards.

    Mostly one card a customer, some with both of their merchant's programs; a bit over half
    joined online. The first merchant's first customer holds the big card, issued at the
    counter. Returns each card's least number of entries: its first, and the welcome bonus of
    a card joined online.
    """
    rand = rng.random
    merchants = [m for m, size in enumerate(sizes) for _ in range(size)]
    rng.shuffle(merchants)  # the merchants' customers join side by side
    if merchants:
        first = merchants.index(0)
        merchants[0], merchants[first] = 0, merchants[0]
    earliest = now - HISTORY_DAYS * DAY
    plan.merchant = merchants
    plan.joined = sorted(earliest + int(rand() * (last - HOUR - earliest)) for _ in merchants)
    if merchants:
        plan.joined[0] = earliest
    welcome = [[program.welcome_bonus > 0 for program in t.spec.programs] for t in tenants]
    program, online, issued, first_card = plan.program, plan.online, plan.issued, plan.first_card
    minimum: list[int] = []
    for customer, (m, joined) in enumerate(zip(merchants, plan.joined, strict=True)):
        first_card.append(len(program))
        primary = STAMP if customer == 0 or rand() < 0.7 else CASHBACK
        joined_online = customer != 0 and rand() < 0.55
        program.append(primary)
        online.append(joined_online)
        issued.append(joined)
        minimum.append(1 + (joined_online and welcome[m][primary]))
        if customer and rand() < 0.12:  # a second card, some time later
            second_online = rand() < 0.3
            program.append(1 - primary)
            online.append(second_online)
            issued.append(joined + HOUR + int(rand() * (last - joined - HOUR)))
            minimum.append(1 + (second_online and welcome[m][1 - primary]))
    first_card.append(len(program))
    return minimum


def _span(entries: int) -> int:
    """The least time a history of ``entries`` spreads over (``OPERATIONS_PER_DAY``)."""
    return min(entries * DAY // OPERATIONS_PER_DAY, (HISTORY_DAYS - 2) * DAY)


def _count_entries(
    rng: random.Random, plan: Plan, entries: int, minimum: list[int], last: int
) -> None:
    """Each card's entry count: a long tail, adding up to exactly ``entries``."""
    counts = list(minimum)
    spare = entries - sum(counts)
    if spare < 0:
        raise GeneratorError(
            f"{entries:,} entries are too few: these customers hold {len(counts):,} cards, "
            f"which need at least {sum(counts):,} (a first entry each, and welcome bonuses)."
        )
    if counts and plan.merchant[0] == 0 and spare >= BIG_CARD_ENTRIES - counts[0]:
        spare -= BIG_CARD_ENTRIES - counts[0]
        counts[0] = BIG_CARD_ENTRIES
        plan.big_card = 0
    windows = [last - issued for issued in plan.issued]
    others = [k for k in range(len(counts)) if k != plan.big_card] or list(range(len(counts)))
    if not others and spare:
        raise GeneratorError(f"{entries:,} entries need at least one customer to hold them.")
    spare -= _long_tail(rng, counts, others, windows, spare)
    _spread(rng, counts, others, windows, spare)
    plan.entries = counts


def _long_tail(
    rng: random.Random, counts: list[int], cards: list[int], windows: list[int], spare: int
) -> int:
    """Give a few cards hundreds of entries and fewer thousands; returns how many were given.

    One card in 10,000 gets 1,000-4,000 and six in 1,000 get 100-1,000 (log-uniform), scaled
    down when they would take more than 45 % of what there is to share; each goes to a card
    issued early enough to spread them out.
    """
    thousands = round(len(cards) * 0.0001)
    hundreds = max(int(len(cards) >= 100), round(len(cards) * 0.006))
    wanted = [math.exp(rng.uniform(math.log(1000), math.log(4000))) for _ in range(thousands)]
    wanted += [math.exp(rng.uniform(math.log(100), math.log(1000))) for _ in range(hundreds)]
    scale = min(1.0, 0.45 * spare / sum(wanted)) if wanted else 1.0
    given, chosen = 0, set()
    for extra in (int(value * scale) for value in wanted):
        for _attempt in range(200):
            k = cards[int(rng.random() * len(cards))]
            if k not in chosen and windows[k] >= _span(counts[k] + extra):
                counts[k] += extra
                given += extra
                chosen.add(k)
                break
    return given


def _spread(
    rng: random.Random, counts: list[int], cards: list[int], windows: list[int], spare: int
) -> None:
    """Share ``spare`` entries over ``cards``, exactly: skewed weights (an exponential draw to
    the power 2.2: most get few, a tail gets dozens), smaller for cards issued in the last two
    months (they had less time)."""
    if not cards:
        return
    rand = rng.random
    recent = 60 * DAY
    # Integer weights: the shares' floors add up to at most ``spare``, short by less than one
    # entry a card, and that remainder goes one by one to randomly chosen cards.
    log = math.log
    weights = [
        1 + int((-log(1.0 - rand())) ** 2.2 * min(windows[k], recent) / recent * 1_000_000)
        for k in cards
    ]
    total = sum(weights)
    given = 0
    for k, weight in zip(cards, weights, strict=True):
        extra = spare * weight // total
        counts[k] += extra
        given += extra
    for k in rng.sample(cards, spare - given):
        counts[k] += 1


def _end_times(rng: random.Random, plan: Plan, last: int) -> None:
    """When each card's last operation comes at the latest: four cards in ten are still in
    use, the others stopped some time after their entries could spread out."""
    rand = rng.random
    plan.ends = ends = [last] * plan.cards
    for k, (issued, entries) in enumerate(zip(plan.issued, plan.entries, strict=True)):
        ready = issued + _span(entries)
        if ready < last and k != plan.big_card and rand() >= 0.4:
            ends[k] = ready + int(rand() * (last - ready))


def _number_cards(rng: random.Random, plan: Plan, taken: set[int]) -> None:
    """Card numbers in the order they were issued, and unique serials that look random.

    ``(number * a + b) mod 10**12`` with ``a`` prime to 10 gives every card its own 12 digits;
    one that a card already in the database has is drawn again (then checked against all).
    """
    order = sorted(range(plan.cards), key=plan.issued.__getitem__)
    plan.number = [0] * plan.cards
    plan.serial = [""] * plan.cards
    space = 10**12
    factor = rng.randrange(10**11, space) // 10 * 10 + rng.choice((1, 3, 7, 9))
    shift = rng.randrange(space)
    mine: set[int] = set()
    for number, k in enumerate(order):
        plan.number[k] = number
        digits = (number * factor + shift) % space
        if taken:
            while digits in taken or digits in mine:
                digits = rng.randrange(space)
            mine.add(digits)
        plan.serial[k] = f"{digits // 10**8:04d}-{digits // 10**4 % 10**4:04d}-{digits % 10**4:04d}"


def _pair_referrals(rng: random.Random, plan: Plan, minimum: list[int]) -> None:
    """About one online joiner in twenty came by an earlier customer's referral link.

    The referrer is a recent card of the same program (the bonus is credited on the friend's
    first purchase, which the plan fixes here). Both cards need an entry to spare for it.
    """
    plan.referrer = [-1] * plan.cards
    plan.friend = [-1] * plan.cards
    plan.first_purchase = [0] * plan.cards
    pools: dict[tuple[int, int], list[int]] = {}
    rand = rng.random
    for customer in range(plan.customers):
        m = plan.merchant[customer]
        k = plan.first_card[customer]
        pool = pools.get((m, plan.program[k]))
        room = plan.ends[k] - plan.issued[k] - 2 * MINUTE
        if pool and plan.online[k] and plan.entries[k] > minimum[k] and room > 0 and rand() < 0.05:
            referrer = pool.pop(len(pool) - 1 - rng.randrange(min(5, len(pool))))
            if plan.issued[referrer] < plan.issued[k]:
                plan.referrer[k] = referrer
                plan.friend[referrer] = k
                plan.first_purchase[k] = plan.issued[k] + MINUTE + int(rand() * min(room, 7 * DAY))
        for card in range(k, plan.first_card[customer + 1]):
            spare = plan.entries[card] > minimum[card]
            if spare and card != plan.big_card and plan.referrer[card] < 0:
                pool = pools.setdefault((m, plan.program[card]), [])
                pool.append(card)
                if len(pool) > 5:  # only recent customers refer
                    del pool[0]


# ---------------------------------------------------------------------------------------------
# Rows: COPY text, and every card's history folded in plain integers

# fmt: off
LEDGER_COLUMNS = (
    "kind", "source", "created_at", "operation_key", "sequence", "comment", "request_hash",
    "actor_id", "purchase_amount", "amount_delta", "ltv_delta", "stamps_delta",
    "stamps_earned_delta", "rewards_earned_delta", "rewards_available_delta",
    "rewards_redeemed_delta", "points_delta", "points_earned_delta", "points_redeemed_delta",
    "visits_delta", "cashback_percentage", "tier_name", "tier_threshold", "tier_percentage",
    "referred_card_id", "card_id", "merchant_id",
)
CARD_COLUMNS = (
    "id", "merchant_id", "program_id", "customer_id", "serial", "status", "device", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content", "issued_at", "installed_at",
    "expires_on", "deleted_at", "holder_name", "install_token", "referral_token",
    "referred_by_id", "transaction_amount", "ltv", "peak_transaction_amount", "stamps_earned",
    "stamps_balance", "rewards_earned", "rewards_available", "rewards_redeemed", "points_balance",
    "points_earned", "points_redeemed", "total_visits", "referral_stamps", "referral_points",
    "tier_name", "tier_threshold", "cashback_percentage", "last_visit_at", "last_stamp_earned_at",
    "last_reward_earned_at", "last_reward_redeemed_at", "last_points_earned_at",
    "last_points_redeemed_at",
)
CUSTOMER_COLUMNS = (
    "id", "merchant_id", "first_name", "last_name", "email", "phone", "birthday", "language",
    "email_verified_at", "custom_fields", "segment", "segment_changed_at", "total_visits",
    "last_visit_at", "last_activity_at", "created_at",
)
# fmt: on
TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "customers": (Customer, CUSTOMER_COLUMNS),
    "cards": (Card, CARD_COLUMNS),
    "ledger": (LedgerEntry, LEDGER_COLUMNS),
}

NULL = "\\N"
NO_TIER = f"\t{NULL}\t{NULL}"  # tier_name, tier_threshold, tier_percentage of most entries
MONEY = [f"{cents // 100}.{cents % 100:02d}" for cents in range(200_000)]
# The request hash of the entries the system writes (``ledger_append`` fingerprints its kind).
SYSTEM_FINGERPRINTS = {
    kind: request_fingerprint(kind) for kind in ("card_issued", "welcome_bonus", "referral_bonus")
}
# Actions whose value is a whole number (the others take money or points).
COUNTED_ACTIONS = {
    "stamps_add",
    "stamps_subtract",
    "rewards_add",
    "rewards_subtract",
    "visits_write_off",
}


def _money(cents: int) -> str:
    """Cents as the text of a money column ("-12.50")."""
    if cents < 0:
        return "-" + _money(-cents)
    return MONEY[cents] if cents < 200_000 else f"{cents // 100}.{cents % 100:02d}"


def _taken(cents: int) -> str:
    """A decrease as the text of a delta column (no "-0.00")."""
    return "-" + _money(cents) if cents else "0.00"


def _fingerprint(kind: str, action: str, value: str, purchase: str, comment: str) -> str:
    """The request hash ``card_apply`` stores for a dialog's inputs, already in their canonical
    spelling (``Action.canonical_inputs``: "12.50", "3", "" for an empty purchase field)."""
    inputs = {"value": value, "comment": comment}
    if ACTIONS[(kind, action)].purchase:  # the dialogs that ask for a purchase amount
        inputs["purchase_amount"] = purchase
    return request_fingerprint(action, inputs)


def _opening_hours(raw: int, offset: int) -> int:
    """Squeeze the local day of ``raw`` into the 12 hours from ``OPENING``; keeps the order."""
    day, rest = divmod(raw + offset, DAY)
    return day * DAY + OPENING + rest // 2 - offset


def _stamp_deltas(
    amount: str, stamps: int, earned: int, won: int, available: int, redeemed: int, visits: int
) -> str:
    """amount_delta .. tier_percentage of a stamp card's entry (LTV moves with the amount)."""
    return (
        f"{amount}\t{amount}\t{stamps}\t{earned}\t{won}\t{available}\t{redeemed}\t"
        f"0.00\t0.00\t0.00\t{visits}\t{NULL}\t{NO_TIER}"
    )


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


@dataclass
class _Shop:
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
    def of(cls, tenant: Tenant, now: datetime.datetime) -> _Shop:
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
class _Referral:
    """The bonus a card earns when the card it referred records its first purchase."""

    at: int
    key: str
    friend_id: str
    comment: str


class _Fold:
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

    def __init__(self, writer: _Writer, shop: _Shop, card_id: int, program: ProgramSpec) -> None:
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

    def referral_bonus(self, referral: _Referral) -> None:
        """Credited by the referred card's first purchase, in its transaction, just before."""
        self.begin(referral.at, NULL, referral.key)
        self.bonus("referral_bonus", "referral", self.bonus_size, referral.comment,
                   referral.friend_id)  # fmt: skip

    def bonus(self, kind: str, source: str, size: int, comment: str, referred: str) -> None:
        raise NotImplementedError


class _StampFold(_Fold):
    """A stamp card (``rules.StampRules``)."""

    KIND = ProgramKind.STAMP
    __slots__ = ("amount", "available", "earned", "last_purchase", "last_redeemed",
                 "last_reward", "last_stamp", "peak", "per_reward", "per_stamp", "per_visit",
                 "redeemed", "referral", "rewards", "spend", "stamps")  # fmt: skip

    def __init__(self, writer: _Writer, shop: _Shop, card_id: int, program: ProgramSpec) -> None:
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

    def run(self, times: list[int], budget: int, *, first: bool, referral: _Referral | None) -> int:
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
        text = _money(value)
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
        total = _money(self.amount)
        return (
            f"{total}\t{total}\t{_money(self.peak)}\t{self.earned}\t{self.stamps}\t"
            f"{self.rewards}\t{self.available}\t{self.redeemed}\t0.00\t0.00\t0.00\t{self.visits}\t"
            f"{self.referral}\t0.00\t\t{NULL}\t{NULL}\t"
            + self.dates(self.last_visit, self.last_stamp, self.last_reward, self.last_redeemed)
            + f"\t{NULL}\t{NULL}"
        )


class _CashbackFold(_Fold):
    """A cashback card (``rules.CashbackRules``)."""

    KIND = ProgramKind.CASHBACK
    __slots__ = ("amount", "earned", "last_earned", "last_purchase", "last_spent", "level",
                 "ltv", "peak", "percentages", "points", "referral", "scale", "spent",
                 "thresholds", "tier_texts", "tiers")  # fmt: skip

    def __init__(self, writer: _Writer, shop: _Shop, card_id: int, program: ProgramSpec) -> None:
        super().__init__(writer, shop, card_id, program)
        self.tiers = program.tiers
        self.thresholds = [tier.threshold for tier in program.tiers]
        self.percentages = [tier.percentage for tier in program.tiers]
        self.tier_texts = [
            f"{tier.name}\t{_money(tier.threshold)}\t{_money(tier.percentage)}"
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

    def run(self, times: list[int], budget: int, *, first: bool, referral: _Referral | None) -> int:
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
        text = _money(size)
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
        text = _money(value)
        self.line("refund", "dashboard", hashed, comment, text,
                  _cashback_deltas("-" + text, "-" + text, _taken(clawback), "0.00",
                                   _money(clawback), 0, MONEY[percentage]))  # fmt: skip
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
        text, bought = _money(value), _money(max(paid, 0))
        self.line("points_added", "dashboard", hashed, comment, _money(paid) if paid >= 0 else NULL,
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
        deltas = _cashback_deltas("0.00", "0.00", _taken(value), "0.00", _money(value), 1)
        self.line("points_removed", "dashboard", hashed, comment,
                  _money(paid) if paid >= 0 else NULL, deltas)  # fmt: skip
        self.points -= value
        self.spent += value
        self.visits += 1
        self.last_visit = self.last_spent = self.t
        return 1

    def columns(self) -> str:
        """The card's columns from transaction_amount on (CARD_COLUMNS)."""
        tier = self.tiers[self.level]
        return (
            f"{_money(self.amount)}\t{_money(self.ltv)}\t{_money(self.peak)}\t0\t0\t0\t0\t0\t"
            f"{_money(self.points)}\t{_money(self.earned)}\t{_money(self.spent)}\t{self.visits}\t"
            f"0\t{_money(self.referral)}\t{tier.name}\t{_money(tier.threshold)}\t"
            f"{_money(tier.percentage)}\t{self.dates(self.last_visit)}\t{NULL}\t{NULL}\t{NULL}\t"
            + self.dates(self.last_earned, self.last_spent)
        )


class _Writer:
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
        self.shops = [_Shop.of(tenant, now) for tenant in tenants]
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

    def at(self, t: int, shop: _Shop) -> str:
        """A time as timestamptz text, in the shop's local time (inline in the fold loops)."""
        minute, rest = divmod(t + shop.offset, MINUTE)
        zone = shop.offset_text
        return f"{self.minutes[minute]}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}{zone}"

    def when(self, t: int, shop: _Shop) -> str:
        return self.at(t, shop) if t else NULL

    def fingerprint(self, kind: str, action: str, value: int, purchase: int, comment: str) -> str:
        """``_fingerprint`` of a value and a purchase (-1: none) in cents or counts, cached."""
        key = (kind, action, value, purchase, comment)
        cached = self.fingerprints.get(key)
        if cached is None:
            typed = str(value) if action in COUNTED_ACTIONS else _money(value)
            bought = _money(purchase) if purchase >= 0 else ""
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

    def _contacts(self, shop: _Shop, first: str, last: str, customer_id: int) -> tuple[str, str]:
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

    def _card(
        self, k: int, customer_id: int, shop: _Shop, holder: str
    ) -> _StampFold | _CashbackFold:
        plan, rand = self.plan, self.rng.random
        program = shop.tenant.spec.programs[plan.program[k]]
        card_id = self.card_base + plan.number[k]
        kind = _StampFold if program.kind == ProgramKind.STAMP else _CashbackFold
        fold = kind(self, shop, card_id, program)
        issued, issued_text = self._history(fold, k, card_id, program)
        status, device, installed = "not_installed", "", NULL
        if rand() < 0.65:
            status, device = "installed", DEVICES[int(rand() * len(DEVICES))]
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
            f"{customer_id}\t{plan.serial[k]}\t{status}\t{device}\t{utm}\t{issued_text}\t"
            f"{installed}\t{NULL}\t{deleted}\t{holder}\t{self.token()}\t{self.token()}\t"
            f"{referred_by}\t{fold.columns()}\n"
        )
        return fold

    def _history(
        self, fold: _StampFold | _CashbackFold, k: int, card_id: int, program: ProgramSpec
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
            referral = _Referral(
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

    def _times(self, k: int, shop: _Shop, count: int) -> list[int]:
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
    writer = _Writer(
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


# ---------------------------------------------------------------------------------------------
# Loading: one transaction, COPY from a thread, indexes dropped and re-created


class _CopyPipe:
    """COPY from a thread of its own on the caller's psycopg cursor.

    The main thread builds text while this thread waits on the socket (psycopg releases the
    GIL there), so Python and PostgreSQL each keep a core busy. A change of table ends one COPY
    and starts the next. A failure on either side ends the COPY with an error, which aborts the
    transaction.
    """

    _ABORT = object()

    def __init__(self, cursor: Any, statements: dict[str, str]) -> None:
        self.cursor = cursor
        self.statements = statements
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=6)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="copy", daemon=True)
        self.thread.start()

    def send(self, table: str, text: str) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((self.statements[table], text))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self.queue.put(self._ABORT)
        self.thread.join()

    def _work(self) -> None:
        current: Any = None
        writer: Any = None
        statement = ""
        item: Any = None
        try:
            while (item := self.queue.get()) is not None:
                if item is self._ABORT:
                    raise GeneratorError("the load was interrupted")
                if item[0] != statement:
                    if current is not None:
                        current.__exit__(None, None, None)
                    statement, current = item[0], self.cursor.copy(item[0])
                    writer = current.__enter__()
                writer.write(item[1])
            if current is not None:
                current.__exit__(None, None, None)
        except BaseException as error:  # handed to the main thread
            self.error = error
            if current is not None:
                with contextlib.suppress(Exception):
                    current.__exit__(type(error), error, error.__traceback__)
            # Let the main thread's pending sends through until it closes or aborts.
            while item is not None and item is not self._ABORT:
                item = self.queue.get()


@dataclass(frozen=True)
class Rebuilt:
    """An index or constraint dropped for the load, with the statements that restore it."""

    name: str
    drop: str
    create: str


def droppable(cursor: CursorWrapper, table: str, *, foreign_keys: bool) -> list[Rebuilt]:
    """The table's secondary indexes (and unique constraints), as their own definitions say.

    Left alone: the primary key, indexes a foreign key leans on, clustered and replica-identity
    indexes and those in another tablespace (re-creating them would lose that). With
    ``foreign_keys``, its foreign keys too (re-adding one checks every row, in one query).
    """
    quoted = connection.ops.quote_name(table)
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c
            ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('u', 'x')
        WHERE x.indrelid = %s::regclass
            AND NOT x.indisprimary AND NOT x.indisclustered AND NOT x.indisreplident
            AND i.reltablespace = 0
            AND NOT EXISTS (
                SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid
            )
        ORDER BY i.relname
        """,
        [table],
    )
    rebuilt = []
    for index, definition, constraint, constraint_definition in cursor.fetchall():
        if constraint:
            name = connection.ops.quote_name(constraint)
            rebuilt.append(
                Rebuilt(
                    constraint,
                    f"ALTER TABLE {quoted} DROP CONSTRAINT {name}",
                    f"ALTER TABLE {quoted} ADD CONSTRAINT {name} {constraint_definition}",
                )
            )
        else:
            name = connection.ops.quote_name(index)
            rebuilt.append(Rebuilt(index, f"DROP INDEX {name}", definition))
    if foreign_keys:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        for constraint, definition in cursor.fetchall():
            name = connection.ops.quote_name(constraint)
            rebuilt.append(
                Rebuilt(
                    constraint,
                    f"ALTER TABLE {quoted} DROP CONSTRAINT {name}",
                    f"ALTER TABLE {quoted} ADD CONSTRAINT {name} {definition}",
                )
            )
    return rebuilt


@contextlib.contextmanager
def indexes_dropped(
    cursor: CursorWrapper, tables: Sequence[str], *, foreign_keys: bool = False
) -> Iterator[list[Rebuilt]]:
    """Drop the tables' secondary indexes for a bulk load; re-create them on the way out.

    Must run inside a transaction: should anything fail, its rollback restores them exactly as
    they were (DDL is transactional in PostgreSQL), so no failure leaves a table without them.
    """
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("indexes_dropped needs a transaction.")
    # ALTER TABLE refuses a table with deferred foreign key checks pending (rows the transaction
    # wrote before): run them now, then defer again as Django's constraints are by default.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    dropped = [
        item for table in tables for item in droppable(cursor, table, foreign_keys=foreign_keys)
    ]
    for item in dropped:
        cursor.execute(item.drop)
    yield dropped
    # Indexes before foreign keys: re-adding a key checks it with a join over the whole table.
    for item in sorted(dropped, key=lambda item: "FOREIGN KEY" in item.create):
        cursor.execute(item.create)


@contextlib.contextmanager
def _setting(cursor: CursorWrapper, name: str, value: str) -> Iterator[bool]:
    """SET LOCAL ``name``, restored on the way out; yields False where the role may not."""
    cursor.execute("SELECT current_setting(%s)", [name])
    (before,) = cursor.fetchone()
    try:
        with transaction.atomic():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    except DatabaseError:  # e.g. session_replication_role needs a superuser
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(DatabaseError):  # an aborted transaction resets it anyway
            cursor.execute("SELECT set_config(%s, %s, true)", [name, before])


def _reserve_ids(cursor: CursorWrapper, table: str, count: int) -> int:
    """The first of ``count`` ids nobody else will be given (the tables are locked)."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    quoted = connection.ops.quote_name(table)
    cursor.execute(
        f"SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM {quoted}), "  # noqa: S608
        f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence}))"
    )
    (highest,) = cursor.fetchone()
    if count:
        cursor.execute("SELECT setval(%s, %s)", [sequence, highest + count])
    return int(highest) + 1


def _taken_serials(cursor: CursorWrapper) -> set[int]:
    cursor.execute(
        "SELECT replace(serial, '-', '')::bigint FROM cards_card "
        "WHERE serial ~ '^[0-9]{4}-[0-9]{4}-[0-9]{4}$'"
    )
    return {row[0] for row in cursor.fetchall()}


def _copy_statement(table: str) -> str:
    model, columns = TABLES[table]
    missing = [
        f.column
        for f in model._meta.concrete_fields
        if not f.null and not f.primary_key and f.column not in columns
    ]
    if missing:  # a new column the generator does not know yet
        raise GeneratorError(f"generate_data writes no value for {model.__name__} {missing}")
    return f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"


# ---------------------------------------------------------------------------------------------
# The whole run


@dataclass
class Summary:
    merchants: int
    customers: int
    cards: int
    entries: int
    largest: MerchantSpec | None
    largest_customers: int
    big_card_serial: str
    big_card_entries: int
    fk_triggers_skipped: bool
    timings: dict[str, float]


def generate(
    *,
    customers: int,
    entries: int,
    merchants: int,
    seed: int,
    say: Callable[[str], None] = lambda text: None,
    skip_fk_triggers: bool = True,
) -> Summary:
    """Add ``merchants`` merchants with ``customers`` customers and exactly ``entries`` entries.

    Adds alongside whatever the database holds and deletes nothing (the caller decides whether
    a database with data may be used). ``skip_fk_triggers``: try ``session_replication_role =
    replica`` (superusers only); without it the foreign keys are dropped and re-added (each
    re-check is one query over the table).
    """
    if merchants < 1 or customers < 0 or entries < 0:
        raise GeneratorError("Give at least one merchant, and no negative sizes.")
    timings: dict[str, float] = {}
    clock_started = time.perf_counter()
    now = clock.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "LOCK TABLE customers_customer, cards_card, cards_ledgerentry IN ACCESS EXCLUSIVE MODE"
        )
        specs = merchant_specs(count=merchants, seed=seed, taken=_slug_taken())
        tenants = tenants_create(specs=specs, now=now)
        started = time.perf_counter()
        plan = plan_build(
            tenants=tenants,
            customers=customers,
            entries=entries,
            seed=seed,
            now=int(now.timestamp() * 1_000_000),
            taken_serials=_taken_serials(cursor),
        )
        timings["plan"] = time.perf_counter() - started
        say(
            f"planned {plan.customers:,} customers and {plan.cards:,} cards "
            f"in {timings['plan']:.1f} s"
        )
        write = functools.partial(
            rows_write,
            tenants=tenants,
            plan=plan,
            now=now,
            customer_base=_reserve_ids(cursor, "customers_customer", plan.customers),
            card_base=_reserve_ids(cursor, "cards_card", plan.cards),
            seed=seed,
        )
        fk_skipped = _load(
            cursor,
            write=write,
            plan=plan,
            say=say,
            timings=timings,
            skip_fk_triggers=skip_fk_triggers,
        )
        started = time.perf_counter()
        for tenant in tenants:
            segments_recompute(merchant=Merchant.objects.get(pk=tenant.merchant_id))
        timings["segments"] = time.perf_counter() - started
        say(f"segments computed in {timings['segments']:.1f} s")
    started = time.perf_counter()
    _vacuum()
    timings["vacuum"] = time.perf_counter() - started
    say(f"vacuumed and analysed in {timings['vacuum']:.1f} s")
    timings["total"] = time.perf_counter() - clock_started
    big = plan.big_card
    return Summary(
        merchants=len(tenants),
        customers=plan.customers,
        cards=plan.cards,
        entries=entries,
        largest=specs[0] if specs else None,
        largest_customers=plan.merchant.count(0),
        big_card_serial=plan.serial[big] if big >= 0 else "",
        big_card_entries=plan.entries[big] if big >= 0 else 0,
        fk_triggers_skipped=fk_skipped,
        timings=timings,
    )


def _slug_taken() -> Callable[[str], bool]:
    """Whether a merchant has the slug, or a user a name the team would get from it."""
    slugs = set(Merchant.objects.values_list("slug", flat=True))
    usernames = get_user_model().objects.values_list("username", flat=True)
    prefixes = {name.rpartition("-")[0] for name in usernames}

    def taken(slug: str) -> bool:
        return slug in slugs or slug in prefixes

    return taken


def _load(
    cursor: CursorWrapper,
    *,
    write: Callable[..., int],
    plan: Plan,
    say: Callable[[str], None],
    timings: dict[str, float],
    skip_fk_triggers: bool,
) -> bool:
    """Stream the rows (``write``: ``rows_write`` but for the sink and progress) with the
    indexes dropped; returns whether the foreign key triggers were skipped."""
    statements = {table: _copy_statement(table) for table in TABLES}
    tables = [model._meta.db_table for model, _columns in TABLES.values()]
    with contextlib.ExitStack() as stack:
        replica = skip_fk_triggers and stack.enter_context(
            _setting(cursor, "session_replication_role", "replica")
        )
        stack.enter_context(_setting(cursor, "maintenance_work_mem", "1GB"))
        started = time.perf_counter()
        with indexes_dropped(cursor, tables, foreign_keys=not replica):
            pipe = _CopyPipe(cursor.cursor, statements)
            try:
                written = write(
                    sink=pipe,
                    progress=lambda n: say(
                        f"  {n:,} entries written, {time.perf_counter() - started:.1f} s"
                    ),
                )
            except BaseException:
                pipe.abort()
                raise
            pipe.close()
            timings["rows"] = time.perf_counter() - started
            say(
                f"{written:,} entries, {plan.cards:,} cards and {plan.customers:,} customers "
                f"copied in {timings['rows']:.1f} s; re-creating the indexes"
            )
            started = time.perf_counter()
        timings["indexes"] = time.perf_counter() - started
        say(f"indexes re-created in {timings['indexes']:.1f} s")
    return bool(replica)


def _vacuum() -> None:
    """Fresh statistics (and, outside a caller's transaction, a vacuum: the visibility map and
    hint bits a database that has been running for a while would have)."""
    tables = "cards_ledgerentry, cards_card, customers_customer, customers_segmentchange"
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute(f"VACUUM (ANALYZE) {tables}")
