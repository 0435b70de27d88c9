"""Ratings and comments customers leave from their card page."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from loyalty.models import Merchant


class Feedback(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey("cards.Card", on_delete=models.CASCADE, related_name="feedback")
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback",
    )
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(blank=True, max_length=1000)
    # The card's visit count when the rating was left: one rating per visit at most.
    visit_number = models.PositiveIntegerField(default=0)
    # Set by the service from ``loyalty.clock`` so replayed (demo) history keeps its dates.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="feedback_customer_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=1) & models.Q(rating__lte=5),
                name="feedback_rating_1_to_5",
            ),
            models.UniqueConstraint(fields=["card", "visit_number"], name="feedback_one_per_visit"),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 on {self.card_id}"
