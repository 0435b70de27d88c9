"""How pushes reacts to changes in the cards app and to the demo data being loaded (connected
in ``PushesConfig.ready``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from cards.models import Card, LedgerEntry
from loyalty.models import Merchant
from pushes.demo import demo_subscriptions_ensure
from pushes.models import PushSubscription
from pushes.services.automatic import auto_message_reward_ready


def expire_subscriptions_of_replaced_link(
    sender: Any, *, card: Card, reason: str, at: datetime.datetime, **kwargs: Any
) -> None:
    """A card's link was replaced: the devices subscribed so far came through the old link,
    so they may belong to whoever should no longer have the card. The rightful holder turns
    notifications on again from the new link. Runs in the replacing transaction."""
    # Stored for staff: in the merchant's language, not the customer's.
    with translation.override(card.merchant.language):
        text = _("The card's link was replaced.")
    PushSubscription.objects.filter(card_id=card.pk, expired_at__isnull=True).update(
        expired_at=at, expired_reason=text
    )


def announce_reward_ready(
    sender: Any, *, card: Card, entries: list[LedgerEntry], **kwargs: Any
) -> None:
    """An entry made a reward available: the program's reward-ready message, if it is on.
    Runs in the ledger's transaction (the message commits with the entry)."""
    auto_message_reward_ready(card=card, entries=entries)


def subscribe_demo_cards(sender: Any, *, merchants: list[Merchant], **kwargs: Any) -> None:
    """The demo data is loaded: a few demo cards get a device on the development push inbox,
    when one is configured (``python3 dev.py run`` does; see ``pushes.demo``)."""
    if settings.DEBUG and settings.PUSH_DEV_INBOX_URL:
        demo_subscriptions_ensure(merchants=merchants, inbox_url=settings.PUSH_DEV_INBOX_URL)
