"""Money on the dashboard reads in the merchant's currency, written the reader's way.

Each page is asked by a member who chose a language, for a merchant with a currency: EUR read
in German (``12,50 €``), USD in English (``$12.50``), JPY, which has no minor unit (``¥1,250``).
What machines read (``data-value``, CSV) keeps the plain number.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from cards import services
from cards.models import Card, LedgerEntry
from cards.rules import Kind
from cards.services.programs import ProgramSpec, TierSpec, program_check
from loyalty.models import Merchant, UserPreference
from tests.factories import StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    currency: str
    language: str
    typed: str  # the purchase as typed at the counter
    raw: str  # as stored, and as data-value and CSV carry it
    reads: str  # the purchase as the page writes it
    spend_per_stamp: str  # the program's 10.00 per stamp, as the page writes it
    symbol: str


CASES = [
    Case("EUR", "de", "12.50", "12.50", "12,50\xa0€", "10,00\xa0€", "€"),
    Case("USD", "en", "12.50", "12.50", "$12.50", "$10.00", "$"),
    Case("JPY", "en", "1250", "1250.00", "¥1,250", "¥10", "¥"),
]


@dataclass(frozen=True)
class Shop:
    case: Case
    card: Card
    purchase: LedgerEntry


@pytest.fixture(params=CASES, ids=lambda case: f"{case.currency}-{case.language}")
def shop(request: Any, merchant: Merchant, owner: Any) -> Shop:
    """One stamp card (1 stamp per 10.00) and one purchase a member wrote today."""
    case: Case = request.param
    merchant.currency = case.currency
    merchant.save(update_fields=["currency"])
    UserPreference.objects.create(user=owner, language=case.language)
    card = issue_card(StampProgramFactory(merchant=merchant, spend_per_stamp=Decimal("10.00")))
    services.card_add_transaction_amount(card=card, value=case.typed, actor=owner)
    purchase = card.entries.get(kind=Kind.PURCHASE)
    return Shop(case=case, card=card, purchase=purchase)


def _section(html: str, marker: str, end: str) -> str:
    start = html.index(marker)
    return html[start : html.index(end, start)]


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# ---------------------------------------------------------------------------------------------
# Pages


def test_the_history_writes_a_purchase_in_the_merchants_currency(
    owner_client: Client, shop: Shop
) -> None:
    url = reverse("cards:history", args=[shop.card.serial])
    html = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    row = _section(html, f'data-entry-id="{shop.purchase.pk}"', "</tr>")
    assert f"+{shop.case.reads}" in row
    assert f"+{shop.case.raw}" not in row  # never the bare number


def test_the_profile_writes_the_ltv_in_the_currency_and_keeps_data_value_raw(
    owner_client: Client, shop: Shop
) -> None:
    html = owner_client.get(reverse("cards:profile", args=[shop.card.serial])).content.decode()
    ltv = _section(html, 'data-metric="ltv"', "</dd>")
    assert f'data-value="{shop.case.raw}"' in ltv
    assert ltv.endswith(shop.case.reads)


def test_the_activity_page_writes_a_purchase_in_the_merchants_currency(
    owner_client: Client, shop: Shop
) -> None:
    html = owner_client.get(reverse("activity")).content.decode()
    changes = _section(html, "data-changes>", "</span>")
    assert f"+{shop.case.reads}" in changes


def test_the_reversal_page_writes_what_the_entry_did_in_the_merchants_currency(
    owner_client: Client, shop: Shop
) -> None:
    url = reverse("cards:entry_reverse", args=[shop.card.serial, shop.purchase.pk])
    html = owner_client.get(url).content.decode()
    entry = _section(html, f'data-reverse-entry="{shop.purchase.pk}"', "</p>")
    assert f"+{shop.case.reads}" in entry


def test_the_home_page_writes_revenue_in_the_currency_and_keeps_data_value_raw(
    owner_client: Client, shop: Shop
) -> None:
    html = owner_client.get(reverse("home")).content.decode()
    revenue = _section(html, 'data-metric="revenue"', "</dd>")
    assert f'data-value="{shop.case.raw}"' in revenue
    assert revenue.endswith(shop.case.reads)
    chart = _section(html, 'data-chart="revenue"', "</article>")
    # A column's tooltip, and the axis, name the currency.
    assert re.search(rf'data-value="{re.escape(shop.case.raw)}"><title>[^<]*: ', chart)
    assert f": {shop.case.reads}</title>" in chart
    assert re.search(rf'class="tick"[^>]*>[^<]*{re.escape(shop.case.symbol)}', chart)


def test_the_program_list_writes_the_spend_per_stamp_in_the_currency(
    owner_client: Client, shop: Shop
) -> None:
    html = owner_client.get(reverse("settings:programs")).content.decode()
    program = _section(html, f'data-program="{shop.card.program_id}"', "</tr>")
    assert shop.case.spend_per_stamp in program


# ---------------------------------------------------------------------------------------------
# CSV: plain numbers


def test_the_history_csv_keeps_the_plain_amount(owner_client: Client, shop: Shop) -> None:
    response = owner_client.get(reverse("cards:history_csv", args=[shop.card.serial]))
    rows = _csv(response)
    [purchase] = [row for row in rows[1:] if row[4]]  # the one entry with a purchase amount
    # Transaction amount change, LTV change, purchase amount.
    assert purchase[2:5] == [shop.case.raw] * 3
    assert not any(shop.case.symbol in cell for row in rows for cell in row)


def test_the_revenue_csv_keeps_the_plain_amount(owner_client: Client, shop: Shop) -> None:
    rows = _csv(owner_client.get(reverse("analytics:revenue_csv")))
    revenue = [row[2] for row in rows[1:]]
    assert shop.case.raw in revenue
    assert not any(shop.case.symbol in cell for row in rows for cell in row)


# ---------------------------------------------------------------------------------------------
# What only the words said


def test_points_used_with_a_purchase_name_the_purchase_in_the_history(
    owner_client: Client, owner: Any, cashback_card: Card
) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="100.00", actor=owner)
    services.card_remove_points(
        card=cashback_card, value="2.00", purchase_amount="22.50", actor=owner
    )
    used = cashback_card.entries.get(kind=Kind.POINTS_REMOVED)
    url = reverse("cards:history", args=[cashback_card.serial])
    html = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    row = _section(html, f'data-entry-id="{used.pk}"', "</tr>")
    assert "Purchase of $22.50" in row
    # Nothing counted it: no amount or LTV change is claimed.
    assert "Transaction amount" not in row
    assert "LTV" not in row


def _tiers(*thresholds: str) -> tuple[TierSpec, ...]:
    return tuple(
        TierSpec(name=f"Tier {n}", threshold=Decimal(t), percentage=Decimal("5"))
        for n, t in enumerate(thresholds)
    )


def test_a_tier_threshold_message_writes_money_in_the_currency(merchant: Merchant) -> None:
    merchant.currency = "EUR"
    spec = ProgramSpec(name="Cashback", kind="cashback", tiers=_tiers("0", "500", "400"))
    with translation.override("de"):
        errors = program_check(merchant=merchant, spec=spec)
    [message] = errors["tiers"]
    assert "400,00\xa0€" in message
    assert "500,00\xa0€" in message


def test_a_spend_limit_finer_than_the_currencys_unit_keeps_its_decimals(
    merchant: Merchant,
) -> None:
    merchant.currency = "JPY"
    spec = ProgramSpec(name="Stamps", kind="stamp", spend_per_stamp=Decimal("0.05"))
    errors = program_check(merchant=merchant, spec=spec)
    assert errors["spend_per_stamp"] == [
        "At ¥0.05 per stamp, a purchase of ¥1,000 would earn more than the 10,000 stamps one "
        "purchase can earn. Use at least ¥0.10 per stamp."
    ]
