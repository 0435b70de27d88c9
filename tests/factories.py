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
