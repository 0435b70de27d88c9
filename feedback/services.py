"""Writes for feedback: a customer rating the merchant from their card page."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards.models import Card
from feedback.models import Feedback
from feedback.signals import feedback_recorded
from loyalty import clock

MAX_COMMENT = 1000
ALREADY_RATED = gettext_lazy(
    "You already rated your last visit. Thank you! You can rate again after your next visit."
)


def _clean_rating(raw: Any) -> int:
    try:
        rating = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({"rating": _("Choose from 1 to 5 stars.")}) from None
    if not 1 <= rating <= 5:
        raise ValidationError({"rating": _("Choose from 1 to 5 stars.")})
    return rating


def feedback_leave(*, card: Card, rating: Any, comment: str = "") -> Feedback:
    """Record one rating for the card's latest visit.

    The card row is locked so the visit count read here is the one stored with the rating;
    the unique (card, visit_number) constraint is the last word on "one rating per visit".
    """
    rating = _clean_rating(rating)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationError(
            {"comment": _("Keep the comment under %(max)d characters.") % {"max": MAX_COMMENT}}
        )
    try:
        with transaction.atomic():
            locked = (
                Card.objects.select_for_update(of=("self",))
                .select_related("merchant")
                .get(pk=card.pk)
            )
            _ensure_can_rate(locked)
            feedback = Feedback.objects.create(
                merchant_id=locked.merchant_id,
                card=locked,
                customer_id=locked.customer_id,
                rating=rating,
                comment=comment,
                visit_number=locked.total_visits,
                created_at=clock.now(),
            )
            feedback_recorded.send(sender=Feedback, feedback=feedback)
            return feedback
    except IntegrityError:  # a second rating for the same visit (double submit, two tabs)
        raise ValidationError({"rating": ALREADY_RATED}) from None


def _ensure_can_rate(card: Card) -> None:
    if card.is_deleted:
        raise ValidationError({"rating": _("This card is no longer valid.")})
    if card.is_expired:
        raise ValidationError({"rating": _("This card has expired.")})
    if card.total_visits < 1:
        raise ValidationError({"rating": _("You can rate us after your first visit.")})
    if Feedback.objects.filter(card=card, visit_number=card.total_visits).exists():
        raise ValidationError({"rating": ALREADY_RATED})
