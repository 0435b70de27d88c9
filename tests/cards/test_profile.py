"""The profile of a card: the frame, the common metrics, the links, the fixed query count."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cards import services
from cards.models import Card, CardStatus, CustomField, Device, Program
from customers.models import Segment
from feedback.models import Feedback
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db


def metric(html: str, key: str) -> str:
    """The data-value of the metric ``key`` (exactly one on the page)."""
    found = re.findall(rf'data-metric="{key}" data-value="([^"]*)"', html)
    assert len(found) == 1, f"{key}: {found}"
    return found[0]


def page(client: Client, card: Card, name: str = "cards:profile", **kwargs: Any) -> str:
    response = client.get(reverse(name, args=[card.serial]), **kwargs)
    assert response.status_code == 200
    return response.content.decode()


def test_profile_shows_every_common_metric_with_raw_values(
    owner_client: Client, stamp_card: Card, staff: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=staff)
    Card.objects.filter(pk=stamp_card.pk).update(
        utm_source="instagram", devices=[Device.PWA], status=CardStatus.INSTALLED
    )
    html = page(owner_client, stamp_card)
    card = Card.objects.get(pk=stamp_card.pk)
    assert metric(html, "ltv") == "95.00"
    assert metric(html, "total_visits") == "1"
    assert metric(html, "segment") == Segment.NO_VISITS
    assert metric(html, "feedback_rating") == ""
    assert metric(html, "installed_on") == "pwa"
    assert metric(html, "utm") == "instagram"
    assert datetime.datetime.fromisoformat(metric(html, "issued_at")) == card.issued_at
    assert metric(html, "status") == "installed"
    assert metric(html, "serial_number") == card.serial
    assert metric(html, "expires_at") == ""
    assert metric(html, "install_link") == f"http://127.0.0.1:8000/c/{card.install_token}/"
    assert metric(html, "referral_link") == f"http://127.0.0.1:8000/r/{card.referral_token}/"


def shown_devices(html: str) -> str:
    """What the "Installed on device" metric says, tags removed."""
    found = re.search(r'data-metric="installed_on" data-value="[^"]*">(.*?)</dd>', html)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_installed_on_lists_every_device_the_card_is_on(
    owner_client: Client, stamp_card: Card
) -> None:
    services.card_mark_installed(card=stamp_card, device=Device.PWA)
    services.card_mark_installed(card=stamp_card, device=Device.APPLE_WALLET)
    html = page(owner_client, stamp_card)
    assert metric(html, "installed_on") == "apple_wallet,pwa"
    assert shown_devices(html) == "Apple Wallet, PWA"

    services.card_mark_installed(card=stamp_card, device=Device.GOOGLE_WALLET)
    html = page(owner_client, stamp_card, "cards:metrics")
    assert metric(html, "installed_on") == "apple_wallet,google_wallet,pwa"
    assert shown_devices(html) == "Apple Wallet, Google Wallet, PWA"


def test_installed_on_drops_a_device_the_card_left(owner_client: Client, stamp_card: Card) -> None:
    services.card_mark_installed(card=stamp_card, device=Device.GOOGLE_WALLET)
    services.card_mark_installed(card=stamp_card, device=Device.APPLE_WALLET)
    services.card_mark_removed(card=stamp_card, device=Device.APPLE_WALLET)
    html = page(owner_client, stamp_card)
    assert metric(html, "installed_on") == "google_wallet"
    assert shown_devices(html) == "Google Wallet"


def test_installed_on_is_empty_for_a_card_on_no_device(
    owner_client: Client, stamp_card: Card
) -> None:
    services.card_mark_installed(card=stamp_card, device=Device.PWA)
    services.card_mark_removed(card=stamp_card, device=Device.PWA)
    html = page(owner_client, stamp_card)
    assert metric(html, "installed_on") == ""
    assert shown_devices(html) == "Not installed"


def test_profile_links_use_the_configured_site_url(
    owner_client: Client, stamp_card: Card, settings: Any
) -> None:
    settings.SITE_URL = "https://loyal.example.com"
    html = page(owner_client, stamp_card)
    assert metric(html, "install_link").startswith("https://loyal.example.com/c/")
    assert metric(html, "referral_link").startswith("https://loyal.example.com/r/")


def test_feedback_rating_is_the_average_with_one_decimal_and_the_count(
    owner_client: Client, stamp_card: Card
) -> None:
    for visit, rating in enumerate([5, 4, 4], start=1):
        Feedback.objects.create(
            merchant=stamp_card.merchant,
            card=stamp_card,
            customer=stamp_card.customer,
            rating=rating,
            visit_number=visit,
        )
    html = page(owner_client, stamp_card)
    assert metric(html, "feedback_rating") == "4.3"
    assert "3 ratings" in html


def test_cashback_profile_renders_with_its_own_metrics(
    owner_client: Client, cashback_card: Card, staff: Any
) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="400", actor=staff)
    html = page(owner_client, cashback_card)
    assert metric(html, "points_balance") == "20.00"
    assert metric(html, "ltv") == "400.00"


def test_tabs_exist_and_the_active_one_is_marked(owner_client: Client, stamp_card: Card) -> None:
    html = page(owner_client, stamp_card)
    for key in ("profile", "push", "information", "feedback"):
        assert f'data-tab="{key}"' in html
    assert re.search(r'data-tab="profile" aria-current="page"', html)
    info = page(owner_client, stamp_card, "customers:information")
    assert re.search(r'data-tab="information" aria-current="page"', info)


def test_card_selector_switches_between_the_customers_cards_keeping_the_tab(
    owner_client: Client, stamp_card: Card, cashback_program: Program
) -> None:
    second = issue_card(cashback_program, customer=stamp_card.customer)
    html = page(owner_client, stamp_card, "customers:information")
    assert reverse("customers:information", args=[second.serial]) in html
    html = page(owner_client, stamp_card)
    assert f'href="{reverse("cards:profile", args=[second.serial])}"' in html


def test_another_merchants_card_is_not_found(outsider_client: Client, stamp_card: Card) -> None:
    for name in ("cards:profile", "cards:metrics", "cards:history", "customers:information"):
        assert outsider_client.get(reverse(name, args=[stamp_card.serial])).status_code == 404


def test_customer_typed_text_is_escaped(
    owner_client: Client, stamp_program: Program, staff: Any
) -> None:
    CustomField.objects.create(program=stamp_program, key="note", label="Note")
    customer = CustomerFactory(
        merchant=stamp_program.merchant,
        first_name="<script>alert(1)</script>",
        custom_fields={"note": "<img src=x onerror=alert(2)>"},
    )
    card = issue_card(stamp_program, customer=customer)
    services.card_add_stamps(card=card, value=1, comment="<b>bold</b>", actor=staff)
    html = page(owner_client, card)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_custom_field_values_are_shown(owner_client: Client, stamp_program: Program) -> None:
    CustomField.objects.create(program=stamp_program, key="shoe", label="Shoe size", position=1)
    CustomField.objects.create(program=stamp_program, key="city", label="City", position=0)
    customer = CustomerFactory(merchant=stamp_program.merchant, custom_fields={"shoe": "42"})
    html = page(owner_client, issue_card(stamp_program, customer=customer))
    section = html[html.index('data-section="custom_fields"') :]
    assert section.index("City") < section.index("Shoe size")
    assert "42" in section
    assert "Not answered" in section


def _add_entries(card: Card, count: int, actor: Any) -> None:
    for _ in range(count):
        services.card_add_stamps(card=card, value=1, actor=actor)


@pytest.mark.parametrize("kind", ["stamp", "cashback"])
def test_profile_runs_the_same_queries_with_1_or_500_entries(
    owner_client: Client,
    stamp_program: Program,
    cashback_program: Program,
    staff: Any,
    kind: str,
) -> None:
    program = stamp_program if kind == "stamp" else cashback_program
    small, big = issue_card(program), issue_card(program)
    for _ in range(499):
        if kind == "stamp":
            services.card_add_stamps(card=big, value=1, actor=staff)
        else:
            services.card_add_points(card=big, value="1", actor=staff)
    assert small.entries.count() == 1
    assert big.entries.count() == 500
    counts = []
    for card in (small, big):
        with CaptureQueriesContext(connection) as captured:
            response = owner_client.get(reverse("cards:profile", args=[card.serial]))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert counts[1] <= 12


def test_removed_customers_card_still_opens(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    from customers.services import customer_remove

    services.card_delete(card=stamp_card, actor=owner)
    customer_remove(customer=stamp_card.customer)
    html = page(owner_client, stamp_card)
    assert "Removed customer" in html
    assert metric(html, "status") == "deleted"
    assert metric(html, "segment") == ""


def test_expired_card_shows_a_warning_and_no_balance_buttons(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    services.card_set_expiration(card=stamp_card, expires_on=yesterday, actor=owner)
    html = page(owner_client, stamp_card)
    assert 'data-card-warning="expired"' in html
    assert metric(html, "expires_at") == yesterday.isoformat()
    assert 'data-action="stamps_add"' not in html


def test_open_card_shows_balance_buttons(owner_client: Client, stamp_card: Card) -> None:
    html = page(owner_client, stamp_card)
    assert 'data-action="stamps_add"' in html
    assert "data-card-warning" not in html
    assert Decimal(metric(html, "ltv")) == 0
