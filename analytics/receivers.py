"""What keeps the rollup in step besides the ledger's write part: cards' and ratings' signals.

Each runs inside the transaction that changed a card or the ratings, so the rollup commits or
rolls back with the change it counts.
"""

from __future__ import annotations

from typing import Any

from analytics import services
from cards.models import Card
from loyalty.models import Merchant


def card_changed(sender: Any, *, card: Card, **kwargs: Any) -> None:
    """A deleted card's points are no longer owed, and it leaves its tier."""
    if card.is_deleted:
        services.rollup_record_deletion(card=card)


def feedback_recorded(sender: Any, *, feedback: Any, **kwargs: Any) -> None:
    services.rollup_record_rating(feedback=feedback)


def ledger_bulk_loaded(sender: Any, *, merchants: list[int], **kwargs: Any) -> None:
    """Entries written in bulk did not pass through the rollup: rebuild it for them."""
    for merchant in Merchant.objects.filter(pk__in=merchants).order_by("pk"):
        services.rollup_rebuild(merchant=merchant)
