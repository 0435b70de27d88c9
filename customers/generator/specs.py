"""What gets generated: the units of time, the shape of the histories, and the merchants.

Times are integer microseconds since the epoch (``DAY``, ``HOUR``, ``MINUTE``). A merchant is
a ``MerchantSpec``: its name and slug, a ``Locale`` (country, time zone, currency, language,
prices and phone numbers), its team and its two programs (``STAMP`` and ``CASHBACK``), all
drawn from the seed by ``merchant_specs``. The names, shops and staff comments the rows use are
here too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.text import slugify

from cards.models import ProgramKind
from loyalty.models import Role

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
# Installed cards held on a second kind of device too (the PWA and a wallet, most often).
SECOND_DEVICE_SHARE = 0.12
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
