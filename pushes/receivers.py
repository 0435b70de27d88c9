"""How pushes reacts to changes in the cards app (connected in ``PushesConfig.ready``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from cards.models import Card
from pushes.models import PushSubscription


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
