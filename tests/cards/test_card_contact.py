"""The merchant's contact on the customer's card page: a link for each detail set, nothing
when none is, and what the merchant typed always escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from cards.models import Card
from loyalty.models import Merchant
from loyalty.services import merchant_update_contact

pytestmark = pytest.mark.django_db


class _Links(HTMLParser):
    """The attributes of each element marked ``data-contact``, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}
        self.text: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        name = attributes.get("data-contact")
        if name:  # the section's own data-contact is empty
            self.found[name] = attributes
            self.text[name] = ""
            self._open = name

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text[self._open] += data

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def _page(client: Client, card: Card) -> str:
    response = client.get(reverse("public:card", args=[card.install_token]))
    assert response.status_code == 200
    return response.content.decode()


def _contact(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def _set_contact(merchant: Merchant, **fields: str) -> None:
    blank = {"phone": "", "email": "", "website": "", "address": ""}
    merchant_update_contact(merchant=merchant, actor=None, **(blank | fields))


def test_the_card_page_links_to_each_contact_detail(client: Client, stamp_card: Card) -> None:
    _set_contact(
        stamp_card.merchant,
        phone="(415) 555-0123",
        email="hello@demo-coffee.example",
        website="https://demo-coffee.example/menu",
        address="12 Market Street, San Francisco",
    )

    contact = _contact(_page(client, stamp_card))

    assert contact.found["phone"]["href"] == "tel:+14155550123"
    assert contact.text["phone"] == "+1 415-555-0123"
    assert contact.found["email"]["href"] == "mailto:hello@demo-coffee.example"
    assert contact.text["email"] == "hello@demo-coffee.example"
    website = contact.found["website"]
    assert website["href"] == "https://demo-coffee.example/menu"
    assert "noopener" in (website["rel"] or "").split()
    assert contact.text["address"] == "12 Market Street, San Francisco"


def test_only_the_details_set_are_shown(client: Client, stamp_card: Card) -> None:
    _set_contact(stamp_card.merchant, email="hello@demo-coffee.example")

    page = _page(client, stamp_card)

    assert set(_contact(page).found) == {"email"}
    assert 'href="tel:' not in page


def test_without_contact_details_the_page_has_no_contact_section(
    client: Client, stamp_card: Card
) -> None:
    page = _page(client, stamp_card)

    assert "data-contact" not in page
    assert 'id="contact-title"' not in page


def test_what_the_merchant_typed_is_escaped(client: Client, stamp_card: Card) -> None:
    # Written straight to the row, past the service's checks: the page still escapes it.
    Merchant.objects.filter(pk=stamp_card.merchant_id).update(
        address='<script>alert("x")</script> & Co',
        website='https://shop.example/?q="><img src=x onerror=alert(1)>',
    )

    page = _page(client, stamp_card)

    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    contact = _contact(page)
    assert contact.text["address"] == '<script>alert("x")</script> & Co'
    assert contact.found["website"]["href"] == (
        'https://shop.example/?q="><img src=x onerror=alert(1)>'
    )


def test_a_script_address_never_becomes_a_link(client: Client, stamp_card: Card) -> None:
    Merchant.objects.filter(pk=stamp_card.merchant_id).update(
        website="javascript:alert(document.cookie)", address="1 Main St"
    )

    page = _page(client, stamp_card)

    assert "javascript:" not in page
    assert set(_contact(page).found) == {"address"}
