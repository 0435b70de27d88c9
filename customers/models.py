"""The merchant's CRM: customers, their custom field answers and RFM segments."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from loyalty.models import Merchant


class Segment(models.TextChoices):
    NO_VISITS = "no_visits", "No visits"
    BEGINNERS = "beginners", "Beginners"
    GROWING = "growing", "Growing"
    CHAMPIONS = "champions", "Champions"
    DOUBTFUL = "doubtful", "Doubtful"
    MEDIUM = "medium", "Medium"
    LOYAL = "loyal", "Loyal"
    SLEEPING = "sleeping", "Sleeping"
    AT_RISK = "at_risk", "At risk"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    LOST = "lost", "Lost"


class Customer(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers")
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.EmailField(blank=True)
    # E.164 (+14155550123), or blank.
    phone = models.CharField(max_length=20, blank=True)
    birthday = models.DateField(null=True, blank=True)
    # Answers to the programs' custom fields, keyed by CustomField.key.
    custom_fields = models.JSONField(default=dict, blank=True)
    segment = models.CharField(max_length=20, choices=Segment.choices, default=Segment.NO_VISITS)
    segment_changed_at = models.DateTimeField(null=True, blank=True)
    # Across all the customer's cards; kept by the ledger services for sorting and segments.
    total_visits = models.IntegerField(default=0)
    last_visit_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-last_activity_at"], name="customer_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "merchant",
                condition=~models.Q(email=""),
                name="customer_unique_email_per_merchant",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SegmentChange(models.Model):
    """Who moved between segments, and when (kept so a merchant can see movement)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_changes")
    changed_at = models.DateTimeField()
    from_segment = models.CharField(max_length=20, choices=Segment.choices)
    to_segment = models.CharField(max_length=20, choices=Segment.choices)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-changed_at"], name="segment_change_recent")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_segment} -> {self.to_segment}"
