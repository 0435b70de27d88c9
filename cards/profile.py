"""The frame every tab of a card's profile shares, for the views of any app that adds a tab.

``profile_context(request, serial, tab)`` loads the card (through ``request.merchant``, so
another merchant's serial is a 404), its customer and their other cards, the tabs and the
metrics in a fixed number of queries; each tab's view adds its own part and renders a template
extending ``cards/profile_base.html``. Apps above cards add to the Profile tab through
``PROFILE_PARTS`` (feedback adds the rating).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import prefetch_related_objects
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cards.actions import counter_buttons, unavailable_actions
from cards.models import Card, Device
from cards.selectors import card_get, card_metrics
from loyalty.http import MerchantRequest, is_manager
from loyalty.parts import PageParts

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# (key, label, URL name) of the profile's tabs, in order.
TABS = (
    ("profile", _("Profile"), "cards:profile"),
    ("push", _("Send push"), "pushes:tab"),
    ("information", _("Information"), "customers:information"),
    ("feedback", _("Feedback"), "feedback:tab"),
)

# What apps above cards show on the Profile tab; each part takes the card.
PROFILE_PARTS: PageParts[Card] = PageParts("profile")

# The order devices are listed in, wherever a card's devices are shown (labels alphabetical).
DEVICE_ORDER = (Device.APPLE_WALLET, Device.GOOGLE_WALLET, Device.PWA)


def devices_in_order(devices: Iterable[str]) -> list[Device]:
    """The kinds of device a card is held on, each once, in ``DEVICE_ORDER``."""
    held = set(devices)
    return [device for device in DEVICE_ORDER if device in held]


@dataclass(frozen=True)
class Tab:
    key: str
    label: StrOrPromise
    url: str


@dataclass(frozen=True)
class CardChoice:
    card: Card
    url: str
    current: bool


# The counter's actions the profile's metrics start with (corrections stay on their metric).
PROFILE_COUNTER_STYLES = frozenset({"primary", "secondary"})


def profile_context(request: MerchantRequest, serial: str, tab: str) -> dict[str, Any]:
    """The frame of every profile tab: the card, its customer, their cards, the tabs, metrics.

    Fixed queries: the card (with program, customer, merchant), the program's tiers on
    cashback cards, and the customer's cards. Another merchant's serial is a 404.
    """
    card = card_get(merchant=request.merchant, serial=serial)
    if card.program.is_cashback:
        prefetch_related_objects([card.program], "tiers")
    customer = card.customer
    others = [card]
    if customer is not None:
        others = list(
            Card.objects.filter(customer=customer)
            .select_related("program")
            .order_by("issued_at", "id")
        )
    tab_url_name = dict((key, name) for key, _label, name in TABS).get(tab, "cards:profile")
    choices = []
    for other in others:
        if other.pk == card.pk:
            other = card  # the instance with everything loaded
        other.merchant = card.merchant  # same merchant; avoids a query per card for is_expired
        url = reverse(tab_url_name, args=[other.serial])
        choices.append(CardChoice(card=other, url=url, current=other.pk == card.pk))
    return {
        "nav": "customers",
        "card": card,
        "customer": customer,
        "customer_cards": choices,
        "tab": tab,
        "tabs": [Tab(key, label, reverse(name, args=[card.serial])) for key, label, name in TABS],
        "metrics": card_metrics(card),
        "installed_on": devices_in_order(card.devices),
        "can_change_balances": not card.is_deleted and not card.is_expired,
        # The metrics' top block: the counter's main actions, big and labelled.
        "counter_actions": counter_buttons(card, styles=PROFILE_COUNTER_STYLES),
        "unavailable_actions": unavailable_actions(card),
        "can_manage": is_manager(request),
    }
