"""The customers list's rows, ready to print.

The list is the dashboard's busiest page: 50 customers, each with one or more cards. Rendering
their balances, links, labels and dates through template tags cost most of the page's time
(per row a ``{% url %}``, three ``{% blocktranslate count %}``, two date filters, four nested
loops). Here they are computed once in Python, with the same words (the same msgids), the same
number and date formats and the same markup, escaped by ``format_html``; the template prints
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import ngettext

from cards.models import CardStatus, ProgramKind
from cards.profile import devices_in_order
from customers.models import Customer
from customers.selectors import ListedCard, listed_cards


@dataclass(frozen=True)
class CustomerRow:
    pk: int
    full_name: str
    url: str  # the first card's profile; empty without a card
    email: str
    phone: str
    segment: str
    segment_label: str
    # "across 2 cards": the segment is the customer's, from the visits of all their cards.
    segment_scope: str
    last_visit_iso: str
    last_visit: str  # empty: never visited
    # One <li> per card, in the order of the cards, for each of the five card columns.
    serials: SafeString
    programs: SafeString
    balances: SafeString
    statuses: SafeString
    devices: SafeString


def customer_rows(customers: Iterable[Customer]) -> list[CustomerRow]:
    """One row per customer, with their cards (one query)."""
    customers = list(customers)
    cards = listed_cards(customer_ids=[customer.pk for customer in customers])
    # One reverse() for the page: every profile URL is the same path around its serial.
    profile = reverse("cards:profile", args=["0"])
    prefix, suffix = profile.rsplit("0", 1)
    return [_row(customer, cards[customer.pk], prefix, suffix) for customer in customers]


def _row(customer: Customer, cards: list[ListedCard], prefix: str, suffix: str) -> CustomerRow:
    urls = [f"{prefix}{card.serial}{suffix}" for card in cards]
    visit = customer.last_visit_at
    local = timezone.localtime(visit) if visit else None
    return CustomerRow(
        pk=customer.pk,
        full_name=customer.full_name,
        url=urls[0] if urls else "",
        email=customer.email,
        phone=customer.phone,
        segment=customer.segment,
        segment_label=customer.segment_label,
        segment_scope=segment_scope(len(cards)),
        last_visit_iso=local.isoformat(timespec="seconds") if local else "",
        last_visit=date_format(local, "SHORT_DATE_FORMAT") if local else "",
        serials=format_html_join(
            "",
            '<li><a href="{}" data-serial="{}">{}</a></li>',
            ((url, card.serial, card.serial) for url, card in zip(urls, cards, strict=True)),
        ),
        programs=format_html_join("", "<li>{}</li>", ((card.program_name,) for card in cards)),
        balances=format_html_join("", "<li>{}</li>", ((card_balance(card),) for card in cards)),
        statuses=format_html_join(
            "",
            '<li class="status-{}">{}</li>',
            ((card.status, CardStatus(card.status).label) for card in cards),
        ),
        devices=format_html_join(
            "",
            '<li data-devices="{}">{}</li>',
            (_card_devices(card) for card in cards),
        ),
    )


def segment_scope(cards: int) -> str:
    """What a segment beside several cards covers: "across 2 cards" (nothing for one card)."""
    if cards < 2:
        return ""
    return ngettext("across %(count)s card", "across %(count)s cards", cards) % {
        "count": number_format(cards)
    }


def _card_devices(card: ListedCard) -> tuple[str, str]:
    """The card's device keys (comma-separated, for scripts and tests) and their names."""
    devices = devices_in_order(card.devices)
    if not devices:
        return "", "—"
    return ",".join(devices), ", ".join(str(device.label) for device in devices)


def card_balance(card: ListedCard) -> str:
    """ "3 stamps · 1 reward" or "12.50 points", in the active language."""
    if card.program_kind == ProgramKind.STAMP:
        stamps = ngettext("%(counter)s stamp", "%(counter)s stamps", card.stamps_balance)
        rewards = ngettext("%(counter)s reward", "%(counter)s rewards", card.rewards_available)
        return (
            f"{stamps % {'counter': number_format(card.stamps_balance)}} · "
            f"{rewards % {'counter': number_format(card.rewards_available)}}"
        )
    points = ngettext("%(counter)s point", "%(counter)s points", _plural_count(card.points_balance))
    return points % {"counter": number_format(card.points_balance)}


def _plural_count(value: Decimal) -> int:
    """The whole number that picks a plural form for ``value`` (gettext counts in integers).

    A whole amount is itself; one with a fraction ("1.50 points") takes the form of "2" in
    every language of the dashboard.
    """
    return int(value) if value == value.to_integral_value() else 2
