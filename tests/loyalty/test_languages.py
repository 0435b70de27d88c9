"""Which language a page speaks, the header's switch, and money and dates in each language."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import formats, translation

from loyalty.i18n import browser_language, format_money
from loyalty.models import UserPreference

pytestmark = pytest.mark.django_db


def _lang(response: Any) -> str:
    return response["Content-Language"]


# --------------------------------------------------------------------------- the dashboard


def test_the_dashboard_follows_the_browser_when_the_user_chose_nothing(owner_client: Client):
    response = owner_client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert _lang(response) == "de"
    assert b'<html lang="de"' in response.content


def test_a_browser_language_we_do_not_ship_falls_back_to_the_merchants_default(
    owner_client: Client, merchant
) -> None:
    merchant.language = "es"
    merchant.save()
    response = owner_client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr")
    assert _lang(response) == "es"


def test_the_users_own_choice_wins_over_the_browser(owner_client: Client, owner) -> None:
    UserPreference.objects.create(user=owner, language="es")
    response = owner_client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="de")
    assert _lang(response) == "es"


def test_the_switch_keeps_the_choice_on_the_user(owner_client: Client, owner) -> None:
    response = owner_client.post(
        reverse("language_update"), {"language": "de", "next": reverse("customers:list")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list")
    assert UserPreference.objects.get(user=owner).language == "de"
    # A new session (another device) finds it too.
    client = Client()
    client.force_login(owner)
    assert _lang(client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="es")) == "de"


def test_choosing_the_browsers_language_again_forgets_the_choice(owner_client, owner) -> None:
    UserPreference.objects.create(user=owner, language="de")
    owner_client.post(reverse("language_update"), {"language": ""})
    assert UserPreference.objects.get(user=owner).language == ""
    response = owner_client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="es")
    assert _lang(response) == "es"


def test_the_switch_refuses_a_language_we_do_not_ship(owner_client: Client, owner) -> None:
    response = owner_client.post(reverse("language_update"), {"language": "fr"})
    assert response.status_code == 400
    assert not UserPreference.objects.filter(user=owner).exists()


def test_the_switch_never_sends_anyone_to_another_site(owner_client: Client) -> None:
    response = owner_client.post(
        reverse("language_update"), {"language": "es", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


def test_the_sign_in_page_can_be_switched_before_signing_in(client: Client) -> None:
    response = client.post(reverse("language_update"), {"language": "de", "next": "/login/"})
    assert response["Location"] == "/login/"
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es")
    assert _lang(page) == "de"


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_header_offers_every_shipped_language_named_in_itself(
    owner_client: Client, language: str
) -> None:
    url = reverse("customers:list")
    content = owner_client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for code, name in settings.LANGUAGES:
        assert f'value="{code}"' in content
        assert name in content


def test_pages_say_they_vary_by_the_browsers_language(client: Client) -> None:
    response = client.get(reverse("login"))
    assert "Accept-Language" in response["Vary"]


# --------------------------------------------------------------------------- the merchant's default


def test_a_manager_sets_the_merchants_default_language(owner_client: Client, merchant) -> None:
    response = owner_client.post(reverse("settings:language"), {"language": "de"})
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.language == "de"


def test_staff_cannot_change_the_merchants_default_language(staff_client, merchant) -> None:
    response = staff_client.post(reverse("settings:language"), {"language": "de"})
    assert response.status_code == 403
    merchant.refresh_from_db()
    assert merchant.language == "en"


def test_the_merchants_default_language_refuses_an_unknown_one(owner_client, merchant) -> None:
    response = owner_client.post(reverse("settings:language"), {"language": "xx"})
    assert response.status_code == 422
    merchant.refresh_from_db()
    assert merchant.language == "en"


# --------------------------------------------------------------------------- parsing the browser


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("fr-FR,fr;q=0.9,de;q=0.8", "de"),
        ("de-AT", "de"),
        ("fr, *;q=0.5", None),
        ("", None),
    ],
)
def test_browser_language_is_the_first_shipped_one(rf, header: str, expected) -> None:
    assert browser_language(rf.get("/", HTTP_ACCEPT_LANGUAGE=header)) == expected


# --------------------------------------------------------------------------- the catalogue


def test_the_script_catalogue_is_served_per_language(client: Client) -> None:
    response = client.get(reverse("javascript_catalog", args=["es"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"django.gettext" in response.content
    assert "Copiado" in response.content.decode()  # static/card/card.js's "Copied"


def test_the_script_catalogue_refuses_a_language_we_do_not_ship(client: Client) -> None:
    assert client.get(reverse("javascript_catalog", args=["fr"])).status_code == 404


# --------------------------------------------------------------------------- money and dates


@pytest.mark.parametrize(
    ("language", "value", "currency", "expected"),
    [
        ("en", "12.50", "USD", "$12.50"),
        ("es", "12.50", "EUR", "12,50\xa0€"),
        ("de", "12.5", "EUR", "12,50\xa0€"),
        ("en", "1234.5", "EUR", "€1,234.50"),
        ("de", "1234.5", "USD", "1.234,50\xa0$"),
    ],
)
def test_money_is_written_the_way_each_language_writes_it(language, value, currency, expected):
    assert format_money(Decimal(value), currency, language=language) == expected


def test_money_follows_the_active_language() -> None:
    with translation.override("es"):
        assert format_money(Decimal("3"), "EUR") == "3,00\xa0€"
    assert format_money(None, "EUR") == ""


@pytest.mark.parametrize(
    ("language", "short", "long"),
    [
        ("en", "Mar 7, 2026", "March 7, 2026"),
        ("es", "7 Mar 2026", "7 de marzo de 2026"),
        ("de", "7. Mär 2026", "7. März 2026"),
    ],
)
def test_dates_are_ordered_the_way_each_language_orders_them(language, short, long) -> None:
    day = datetime.date(2026, 3, 7)
    with translation.override(language):
        assert formats.date_format(day, "SHORT_DATE_FORMAT") == short
        assert formats.date_format(day, "DATE_FORMAT") == long
