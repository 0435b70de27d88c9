"""The demo data is deterministic, idempotent and consistent with its ledger."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from cards.models import Card, LedgerEntry
from customers.models import Customer
from loyalty.models import Membership, Merchant, Role
from tests.factories import PASSWORD, MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings: Any) -> None:
    """The demo is for development (``dev.py run`` sets DEBUG=1); the test runner turns it off."""
    settings.DEBUG = True


def _counts() -> tuple[int, ...]:
    return (
        Merchant.objects.count(),
        get_user_model().objects.count(),
        Membership.objects.count(),
        Customer.objects.count(),
        Card.objects.count(),
        LedgerEntry.objects.count(),
    )


def test_seed_demo_twice_neither_duplicates_nor_wipes(capsys) -> None:
    call_command("seed_demo", customers=12)
    first = _counts()
    call_command("seed_demo", customers=12)
    assert _counts() == first
    assert first[:3] == (2, 4, 4)
    assert Customer.objects.filter(merchant__slug="demo-coffee").count() == 12
    # Segments are computed, not left at their default.
    assert Customer.objects.filter(total_visits__gt=0).exists()
    assert not Customer.objects.filter(total_visits__gt=0, segment="no_visits").exists()
    call_command("verify_ledger")
    assert "match their ledger" in capsys.readouterr().out
    call_command("rebuild_stats", "--check")  # the histories went through the services


def test_seed_demo_scales_up_without_touching_existing_customers() -> None:
    call_command("seed_demo", customers=5)
    before = set(Customer.objects.values_list("pk", "email", "first_name"))
    call_command("seed_demo", customers=9)
    after = set(Customer.objects.values_list("pk", "email", "first_name"))
    assert before < after
    assert Customer.objects.filter(merchant__slug="demo-coffee").count() == 9


def test_the_same_seed_makes_the_same_customers_and_histories() -> None:
    from customers.management.commands import seed_demo

    def generate(slug: str) -> list[tuple]:
        merchant = seed_demo._merchant(slug, slug, "USD", "UTC", "US")
        programs = [
            seed_demo._stamp_program(merchant, "Stamps"),
            seed_demo._cashback_program(merchant),
        ]
        seed_demo._customers(merchant, programs, 8, seed=7)
        return list(
            Card.objects.filter(merchant=merchant)
            .order_by("customer__email", "program__name")
            .values_list(
                "customer__first_name",
                "customer__last_name",
                "program__name",
                "ltv",
                "total_visits",
                "stamps_balance",
                "points_balance",
            )
        )

    first, second = generate("one"), generate("two")
    assert len(first) >= 8
    assert first == second


def test_demo_users_have_the_documented_roles() -> None:
    call_command("seed_demo", customers=1)
    roles = dict(Membership.objects.values_list("user__username", "role"))
    assert roles == {"owner": "owner", "admin": "admin", "staff": "staff", "bakery-owner": "owner"}
    assert get_user_model().objects.get(username="staff").check_password("loyalty-demo")


def test_seed_demo_refuses_to_run_with_debug_off_unless_forced(settings: Any) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", customers=1)
    assert not get_user_model().objects.exists()
    assert not Merchant.objects.exists()

    call_command("seed_demo", customers=1, force=True)
    assert get_user_model().objects.filter(username="owner").exists()


def test_seed_demo_never_takes_over_an_existing_user() -> None:
    someone = UserFactory(username="admin", email="admin@example.com", is_superuser=True)
    shop = MerchantFactory(name="Real Shop")
    MembershipFactory(user=someone, merchant=shop, role=Role.OWNER)

    with pytest.raises(CommandError, match="'admin' already exists"):
        call_command("seed_demo", customers=1)

    someone.refresh_from_db()
    assert someone.check_password(PASSWORD)
    assert not someone.check_password("loyalty-demo")
    assert list(Membership.objects.filter(user=someone).values_list("merchant", flat=True)) == [
        shop.pk
    ]
    # Refused before writing anything.
    assert not Merchant.objects.filter(slug__in=["demo-coffee", "other-bakery"]).exists()
    assert get_user_model().objects.count() == 1


def test_seed_demo_refuses_when_a_demo_email_belongs_to_someone_else() -> None:
    UserFactory(username="real-owner", email="Owner@example.com")

    with pytest.raises(CommandError, match="owner@example.com"):
        call_command("seed_demo", customers=1)

    assert not get_user_model().objects.filter(username="owner").exists()


def test_seed_demo_refuses_a_demo_user_whose_password_was_changed() -> None:
    call_command("seed_demo", customers=1)
    staff = get_user_model().objects.get(username="staff")
    staff.set_password("now-a-real-account")
    staff.save()

    with pytest.raises(CommandError, match="'staff' already exists"):
        call_command("seed_demo", customers=1)

    staff.refresh_from_db()
    assert staff.check_password("now-a-real-account")


def test_seed_demo_does_not_join_a_real_merchant_that_has_a_demo_slug() -> None:
    shop = MerchantFactory(name="Real Coffee", slug="demo-coffee")
    MembershipFactory(user=UserFactory(username="barista"), merchant=shop, role=Role.OWNER)

    with pytest.raises(CommandError, match="'demo-coffee' already exists"):
        call_command("seed_demo", customers=1)

    members = Membership.objects.filter(merchant=shop).values_list("user__username", flat=True)
    assert list(members) == ["barista"]
    assert not Customer.objects.filter(merchant=shop).exists()
