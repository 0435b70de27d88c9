"""Signing in, login throttling, the merchant switcher and production settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.models import Role
from tests.factories import PASSWORD, MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client) -> None:
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/customers/")


def test_an_owner_logs_in_and_lands_on_the_statistics(client: Client, owner) -> None:
    response = client.post(
        reverse("login"), {"username": "owner", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    assert response.status_code == 200
    assert b'data-metric="revenue"' in response.content
    assert response.context["merchant"].name == "Demo Coffee"


def test_staff_log_in_and_land_on_the_customers_list(client: Client, staff) -> None:
    response = client.post(
        reverse("login"), {"username": "staff", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("customers:list")
    assert b'data-metric="revenue"' not in response.content


def test_five_wrong_passwords_lock_the_login(client: Client, owner) -> None:
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content


def test_a_user_without_membership_gets_a_clear_403(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("customers:list"))
    assert response.status_code == 403
    assert b"not a member of any merchant" in response.content


def test_the_switcher_changes_merchant_only_to_ones_you_belong_to(
    owner_client: Client, owner, other_merchant
) -> None:
    third = MerchantFactory(name="Third Shop")
    MembershipFactory(user=owner, merchant=other_merchant, role=Role.STAFF)
    response = owner_client.post(reverse("merchant_switch"), {"merchant": other_merchant.pk})
    assert response.status_code == 302
    page = owner_client.get(reverse("customers:list"))
    assert page.context["merchant"] == other_merchant
    assert page.context["membership"].role == Role.STAFF
    # Not a member of the third shop: 404, and the current merchant does not change.
    assert owner_client.post(reverse("merchant_switch"), {"merchant": third.pk}).status_code == 404
    assert owner_client.get(reverse("customers:list")).context["merchant"] == other_merchant


def test_passwords_are_hashed_with_argon2_in_production() -> None:
    from loyalty import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"TESTING", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="loyalty.settings",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-key-1234567890",
        ALLOWED_HOSTS="loyalty.example.com",
        SITE_URL="https://loyalty.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_dashboard_requests_run_in_the_merchants_time_zone(owner, merchant) -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.utils import timezone

    from loyalty.tenancy import MerchantMiddleware

    merchant.time_zone = "Asia/Tokyo"
    merchant.save()
    seen = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    request = RequestFactory().get("/customers/")
    request.user = owner
    request.session = {}
    MerchantMiddleware(view)(request)
    assert seen == ["Asia/Tokyo"]
    assert timezone.get_current_timezone_name() == "UTC"  # restored afterwards
