"""The merchant's CRM: customers, their custom field answers and RFM segments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import ExtractDay, ExtractMonth, Lower
from django.utils.translation import pgettext_lazy

from loyalty.models import Merchant


class Segment(models.TextChoices):
    # The names of the RFM segments (customers grouped by how recently and how often they
    # visit): the context tells translators, e.g. "Medium" and "Lost" are groups of customers.
    NO_VISITS = "no_visits", pgettext_lazy("RFM segment", "No visits")
    BEGINNERS = "beginners", pgettext_lazy("RFM segment", "Beginners")
    GROWING = "growing", pgettext_lazy("RFM segment", "Growing")
    CHAMPIONS = "champions", pgettext_lazy("RFM segment", "Champions")
    DOUBTFUL = "doubtful", pgettext_lazy("RFM segment", "Doubtful")
    MEDIUM = "medium", pgettext_lazy("RFM segment", "Medium")
    LOYAL = "loyal", pgettext_lazy("RFM segment", "Loyal")
    SLEEPING = "sleeping", pgettext_lazy("RFM segment", "Sleeping")
    AT_RISK = "at_risk", pgettext_lazy("RFM segment", "At risk")
    NEEDS_ATTENTION = "needs_attention", pgettext_lazy("RFM segment", "Needs attention")
    LOST = "lost", pgettext_lazy("RFM segment", "Lost")


class Customer(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers")
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.EmailField(blank=True)
    # E.164 (+14155550123), or blank.
    phone = models.CharField(max_length=20, blank=True)
    birthday = models.DateField(null=True, blank=True)
    # The language the customer joined in, for what we send them later (emails); blank when
    # unknown (added from the dashboard), which means the merchant's default.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True)
    # Since when the email is vouched for: the customer opened a link sent to it, or the
    # merchant's team typed it in the dashboard (a changed email: the time of the change).
    # None for an address typed on the public join form by whoever filled it in.
    email_verified_at = models.DateTimeField(null=True, blank=True)
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
            # Birthday messages find today's birthdays by month and day, not by a scan.
            models.Index(
                ExtractMonth("birthday"),
                ExtractDay("birthday"),
                condition=models.Q(birthday__isnull=False),
                name="customer_birthday_day",
            ),
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
    def segment_label(self) -> str:
        # Not get_segment_display(): it rebuilds the choices, translating every label, per call.
        return str(Segment(self.segment).label)

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


class SegmentCount(models.Model):
    """Customers per segment as the last recompute left them, for the home page's chart.

    Written by ``segments_recompute`` in its own transaction, so reading it costs a handful of
    rows instead of counting every customer of a large merchant on each page view. Customers
    who joined since are in "No visits" by definition and join the count at the next recompute.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(max_length=20, choices=Segment.choices)
    customers = models.IntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "segment"], name="segment_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.segment}: {self.customers}"
