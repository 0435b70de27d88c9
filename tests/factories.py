"""factory-boy factories for every model the tests build."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model

from cards import services as card_services
from cards.models import Card, Program, ProgramKind, Tier
from customers.models import Customer
from loyalty.models import Membership, Merchant, Role
from pushes import services as push_services
from pushes.models import PushSubscription

PASSWORD = "correct-horse-battery"


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    currency = "USD"
    time_zone = "UTC"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = Role.STAFF


class StampProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    merchant = factory.SubFactory(MerchantFactory)
    name = "Coffee Stamp Card"
    kind = ProgramKind.STAMP
    mechanism = "spend"
    spend_per_stamp = Decimal("10.00")
    stamps_per_reward = 10
    referral_bonus = Decimal("2")
    # Most tests apply several actions to one card in a row, as a script would; the counter's
    # double-scan guard (on by default in the product) is tested with it switched on.
    repeat_guard_seconds = 0


class CashbackProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        skip_postgeneration_save = True

    merchant = factory.SubFactory(MerchantFactory)
    name = "Coffee Cashback"
    kind = ProgramKind.CASHBACK
    mechanism = ""
    spend_per_stamp = None
    referral_bonus = Decimal("5.00")
    repeat_guard_seconds = 0  # as on StampProgramFactory

    @factory.post_generation
    def tiers(obj, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        for name, threshold, percentage in extracted or [
            ("Bronze", "0", "5"),
            ("Silver", "500", "7"),
            ("Gold", "1000", "10"),
        ]:
            Tier.objects.create(
                program=obj,
                name=name,
                threshold=Decimal(threshold),
                percentage=Decimal(percentage),
            )


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    merchant = factory.SubFactory(MerchantFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = ""


def issue_card(program: Program, customer: Customer | None = None, **kwargs: Any) -> Card:
    """A card issued through the real service (so it has its first ledger entry)."""
    customer = customer or CustomerFactory(merchant=program.merchant)
    return card_services.card_issue(program=program, customer=customer, actor=None, **kwargs)


# A device's keys as a browser sends them, and a push service at a public address (so checking
# the endpoint needs no name lookup).
PUSH_P256DH = (
    "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
)
PUSH_AUTH = "tBHItJI5svbpez7KI4CCXg"
PUSH_SERVICE = "https://142.250.0.1/fcm/send"


def subscribe_device(card: Card, name: str) -> PushSubscription:
    """A device subscribed to the card's pushes through the real service."""
    return push_services.subscription_save(
        card=card, endpoint=f"{PUSH_SERVICE}/{name}", p256dh=PUSH_P256DH, auth=PUSH_AUTH
    )


def subscription_json(endpoint: str, **extra: str) -> dict[str, Any]:
    """The JSON body the card page posts to subscribe a device."""
    return {"endpoint": endpoint, "keys": {"p256dh": PUSH_P256DH, "auth": PUSH_AUTH}, **extra}


def stamp_program_form(**overrides: str) -> dict[str, str]:
    """A valid POST of the program settings form for a stamp program, with ``overrides``."""
    data = {
        "name": "Coffee Stamp Card",
        "kind": "stamp",
        "mechanism": "spend",
        "spend_per_stamp": "10",
        "stamps_per_reward": "10",
        "referral_bonus": "0",
        "welcome_bonus": "0",
        "validity": "none",
        "background_color": "#5b3a29",
        "foreground_color": "#ffffff",
        "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0",
    }
    return {**data, **overrides}
