"""Demo data: two merchants, their teams, programs and customers with four months of history.

Deterministic (every customer comes from its own seeded random generator) and idempotent (a
second run creates only what is missing, and never deletes). Histories are replayed through
the real ledger services under a frozen clock, so ``verify_ledger`` passes afterwards.
Then ``loyalty.signals.demo_data_seeded`` lets later apps add theirs (pushes subscribes a few
demo cards to the development push inbox when ``PUSH_DEV_INBOX_URL`` names one).

The demo users have a public password, so the command runs only with DEBUG on unless forced,
and never takes over an account it did not create: it refuses when a demo username or email
belongs to someone else.
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.utils import timezone

from cards import services as card_services
from cards.models import Program, ProgramKind, Tier
from cards.rules import LedgerError
from customers.models import Customer
from customers.segments import segments_recompute
from customers.services import customer_create
from loyalty.clock import frozen_at
from loyalty.models import Membership, Merchant, Role
from loyalty.signals import demo_data_seeded

PASSWORD = "loyalty-demo"  # noqa: S105 - the documented public demo password
HISTORY_DAYS = 120
FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Sophia",
    "Lucas",
    "Mia",
    "Ethan",
    "Amelia",
    "Hiro",
    "Zoe",
    "Omar",
    "Chloe",
    "Ravi",
    "Léa",
    "Jonas",
    "Aisha",
    "Diego",
    "Freya",
    "Kenji",
    "Nora",
    "Tomás",
    "Ingrid",
    "Yusuf",
    "Clara",
    "Mei",
    "Anton",
    "Priya",
]
LAST_NAMES = [
    "Smith",
    "García",
    "Müller",
    "Rossi",
    "Nguyen",
    "Johnson",
    "O'Brien",
    "Kowalski",
    "Silva",
    "Tanaka",
    "Dubois",
    "Andersen",
    "Haddad",
    "Brown",
    "Martin",
    "Novak",
    "Costa",
    "Khan",
    "Larsen",
    "Moreau",
    "Schmidt",
    "Lopez",
    "Ivanova",
    "Okafor",
    "Fischer",
    "Wong",
]
UTM_SOURCES = ["", "", "", "instagram", "qr-counter", "newsletter", "google"]
DEMO_MERCHANTS = ("demo-coffee", "other-bakery")
# (username, role): the first three work for Demo Coffee, the last owns Other Bakery.
DEMO_USERS = (
    ("owner", Role.OWNER),
    ("admin", Role.ADMIN),
    ("staff", Role.STAFF),
    ("bakery-owner", Role.OWNER),
)


class Command(BaseCommand):
    help = "Load the demo merchants, users, programs and customers (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=300,
            help="Demo Coffee customers to have (default 300).",
        )
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run with DEBUG off too (the demo users' password is public).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off: this looks like a real installation, and the demo users' "
                f"password {PASSWORD!r} is public. Run with --force to load the demo anyway."
            )
        for username, _role in DEMO_USERS:
            _check_not_taken(username)
        for slug in DEMO_MERCHANTS:
            _check_merchant_not_taken(slug)
        coffee = _merchant("demo-coffee", "Demo Coffee", "USD", "America/New_York", "US")
        for username, role in DEMO_USERS[:3]:
            _member(coffee, username, role)
        stamp = _stamp_program(coffee, "Coffee Stamp Card")
        cashback = _cashback_program(coffee)

        bakery = _merchant("other-bakery", "Other Bakery", "EUR", "Europe/Paris", "FR")
        _member(bakery, *DEMO_USERS[3])
        bread = _stamp_program(bakery, "Bread Club", referral_bonus=Decimal("1"))

        made = _customers(coffee, [stamp, cashback], options["customers"], options["seed"])
        made += _customers(bakery, [bread], 20, options["seed"] + 1)
        for merchant in (coffee, bakery):
            segments_recompute(merchant=merchant)
        demo_data_seeded.send(sender=self.__class__, merchants=[coffee, bakery])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({made} new customers). Log in as owner, admin, staff or "
                f"bakery-owner with password {PASSWORD!r}."
            )
        )


def _merchant(slug: str, name: str, currency: str, tz: str, country: str) -> Merchant:
    merchant, _ = Merchant.objects.get_or_create(
        slug=slug,
        defaults={"name": name, "currency": currency, "time_zone": tz, "country": country},
    )
    return merchant


def _demo_email(username: str) -> str:
    return f"{username}@example.com"


def _is_demo_user(user: Any, username: str) -> bool:
    """Created by this command: its email, no admin rights, and still the public password.

    An account that fails any of these is someone's real one (a superuser called ``admin``,
    a changed password), and giving it the demo's password or memberships would hand it over.
    """
    return (
        user.email.lower() == _demo_email(username)
        and not user.is_staff
        and not user.is_superuser
        and user.check_password(PASSWORD)
    )


def _check_not_taken(username: str) -> None:
    """Refuse, before writing anything, when a demo username or email is someone else's."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None and not _is_demo_user(user, username):
        raise CommandError(
            f"A user named {username!r} already exists and is not a demo user; "
            "the demo data was not loaded. Load it into a database without that user."
        )
    others = user_model.objects.filter(email__iexact=_demo_email(username))
    if user is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise CommandError(
            f"Another user already has the email {_demo_email(username)!r}; "
            "the demo data was not loaded. Load it into a database without that user."
        )


def _check_merchant_not_taken(slug: str) -> None:
    """Refuse when a merchant with a demo slug has members other than the demo users: it is a
    real shop, and the demo users (public password) must not become its staff."""
    demo_usernames = [username for username, _role in DEMO_USERS]
    members = Membership.objects.filter(merchant__slug=slug).select_related("user")
    for membership in members:
        user = membership.user
        if user.username not in demo_usernames or not _is_demo_user(user, user.username):
            raise CommandError(
                f"The merchant {slug!r} already exists and has members who are not demo "
                "users; the demo data was not loaded. Load it into a database without it."
            )


def _member(merchant: Merchant, username: str, role: str) -> None:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model.objects.create_user(
            username=username, email=_demo_email(username), password=PASSWORD
        )
    Membership.objects.get_or_create(user=user, merchant=merchant, defaults={"role": role})


def _stamp_program(
    merchant: Merchant, name: str, referral_bonus: Decimal = Decimal("2")
) -> Program:
    program, _ = Program.objects.get_or_create(
        merchant=merchant,
        name=name,
        defaults={
            "kind": ProgramKind.STAMP,
            "mechanism": "spend",
            "spend_per_stamp": Decimal("10.00"),
            "stamps_per_reward": 10,
            "referral_bonus": referral_bonus,
        },
    )
    return program


def _cashback_program(merchant: Merchant) -> Program:
    program, created = Program.objects.get_or_create(
        merchant=merchant,
        name="Coffee Cashback",
        defaults={"kind": ProgramKind.CASHBACK, "mechanism": "", "referral_bonus": Decimal("5.00")},
    )
    if created:
        for tier_name, threshold, percentage in (
            ("Bronze", "0", "5"),
            ("Silver", "500", "7"),
            ("Gold", "1000", "10"),
        ):
            Tier.objects.create(
                program=program,
                name=tier_name,
                threshold=Decimal(threshold),
                percentage=Decimal(percentage),
            )
    return program


def _counter_person(merchant: Merchant) -> Any:
    """Who rang up the demo purchases: the merchant's staff member, else its owner."""
    membership = (
        Membership.objects.filter(merchant=merchant)
        .select_related("user")
        .order_by(models.Case(models.When(role=Role.STAFF, then=0), default=1), "pk")
        .first()
    )
    return membership.user if membership else None


def _customers(merchant: Merchant, programs: list[Program], wanted: int, seed: int) -> int:
    existing = set(
        Customer.objects.filter(merchant=merchant, email__endswith="@demo.example").values_list(
            "email", flat=True
        )
    )
    now = timezone.now()
    actor = _counter_person(merchant)
    made = 0
    for index in range(wanted):
        email = f"customer{index:06d}.{merchant.slug}@demo.example"
        if email in existing:
            continue
        rng = random.Random(seed * 1_000_003 + index)
        _customer_with_history(merchant, programs, index, email, rng, now, actor)
        made += 1
    return made


@transaction.atomic
def _customer_with_history(
    merchant: Merchant,
    programs: list[Program],
    index: int,
    email: str,
    rng: random.Random,
    now: datetime.datetime,
    actor: Any,
) -> None:
    joined = now - datetime.timedelta(
        days=rng.uniform(1, HISTORY_DAYS), minutes=rng.randint(0, 600)
    )
    with frozen_at(joined):
        customer = customer_create(
            merchant=merchant,
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            email=email,
            phone=f"+1202555{index % 10000:04d}" if rng.random() < 0.7 else "",
        )
    Customer.objects.filter(pk=customer.pk).update(created_at=joined, last_activity_at=joined)
    chosen = [programs[index % len(programs)]]
    if len(programs) > 1 and rng.random() < 0.15:
        chosen = programs
    for program in chosen:
        _card_history(program, customer, joined, rng, now, actor)


def _card_history(
    program: Program,
    customer: Customer,
    joined: datetime.datetime,
    rng: random.Random,
    now: datetime.datetime,
    actor: Any,
) -> None:
    utm = {"source": rng.choice(UTM_SOURCES)}
    card = card_services.card_issue(
        program=program, customer=customer, actor=None, utm=utm, issued_at=joined
    )
    moment = joined
    visits = min(int(rng.expovariate(1 / 6)), 40)
    for _ in range(visits):
        moment += datetime.timedelta(days=rng.expovariate(1 / 7), minutes=rng.randint(1, 300))
        if moment >= now:
            break
        with frozen_at(moment):
            _one_visit(card, program, rng, actor)


def _one_visit(card: Any, program: Program, rng: random.Random, actor: Any) -> None:
    """A purchase, sometimes a redemption or a correction, like a real counter."""
    amount = Decimal(rng.randint(300, 2500 if program.is_stamp else 8000)) / 100
    try:
        if program.is_stamp and card.rewards_available and rng.random() < 0.6:
            card_services.card_redeem_rewards(
                card=card, value=1, purchase_amount=amount, actor=actor
            )
            return
        if program.is_cashback and card.points_balance >= 5 and rng.random() < 0.15:
            card_services.card_remove_points(
                card=card, value=Decimal("5.00"), actor=actor, comment="Redeemed at the counter"
            )
            return
        bought = card_services.card_add_transaction_amount(card=card, value=amount, actor=actor)
        if rng.random() < 0.03:
            card_services.card_subtract_transaction_amount(
                card=card, value=amount, actor=actor, comment="Customer returned it"
            )
        elif rng.random() < 0.03:
            # The counter person undoing their own slip at once, as staff may.
            card_services.entry_reverse(
                card=card,
                entry=bought.entries[0],
                reason="Entered twice by mistake",
                actor=actor,
                role=Role.STAFF,
            )
    except LedgerError:  # an action the rules refuse is simply not part of this history
        pass
