"""The home page's rollup: what the ledger and the feedback add up to, per program and day.

Kept in the same transaction as each ledger write (``analytics.services``), so the figures are
live; ``manage.py rebuild_stats`` recomputes them from the ledger, and a test holds the two
equal. Days are calendar days in the merchant's time zone.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from cards.models import Program, money_field
from loyalty.models import Merchant


class DailyTotals(models.Model):
    """One program's sums over one local day (see docs/metrics.md for each column)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    revenue = money_field(default=Decimal("0.00"))  # the LTV increments: purchases - refunds
    purchases = models.IntegerField(default=0)  # entries that recorded a purchase
    visits = models.IntegerField(default=0)  # net of write-offs
    new_cards = models.IntegerField(default=0)
    stamps_issued = models.IntegerField(default=0)  # net: corrections subtract
    rewards_issued = models.IntegerField(default=0)
    rewards_redeemed = models.IntegerField(default=0)
    points_issued = money_field(default=Decimal("0.00"))
    # Points customers spent; a refund's clawback is not a redemption (it costs nothing).
    points_redeemed = money_field(default=Decimal("0.00"))
    # Every change to the program's point balances (earned - spent - clawed back), and the
    # balances of cards deleted that day: the running sum of the difference is what is owed.
    points_change = money_field(default=Decimal("0.00"))
    points_forfeited = money_field(default=Decimal("0.00"))
    ratings = models.IntegerField(default=0)
    rating_sum = models.IntegerField(default=0)
    # Each card's visit days, as pairs (visit before, visit): cards visiting this day (pairs
    # ending here), of which first visits ever (pairs from nowhere), and cards whose visit
    # this day was followed by a later one (pairs starting here). A period ending today has
    # as active cards the pairs that cross its first day: two sums over these columns (see
    # analytics.selectors._customers), where VisitDays would be read pair by pair.
    cards_visiting = models.IntegerField(default=0)
    first_visits = models.IntegerField(default=0)
    later_visits = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "daily totals"
        constraints = [
            models.UniqueConstraint(fields=["program", "day"], name="daily_totals_program_day"),
        ]
        indexes = [models.Index(fields=["merchant", "day"], name="daily_totals_merchant_day")]

    def __str__(self) -> str:
        return f"{self.program_id} on {self.day}"


class VisitDays(models.Model):
    """Cards whose visit on ``day`` was their first that day, by the day of their visit before.

    ``previous_day`` is None for a card's first visit ever. A card counts as active in a period
    [a, b] exactly once: on its first visit day d in the period, whose previous visit day is
    before a. So active customers are a sum over rows with a <= day <= b and previous_day < a
    (or None), and returning ones the same sum without the Nones.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    cards = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "visit days"
        constraints = [
            # Also the home page's index: its sums over a period's days read only the index.
            models.UniqueConstraint(
                fields=["program", "day", "previous_day"],
                include=["cards"],
                name="visit_days_program_day_previous",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} on {self.day} after {self.previous_day}: {self.cards}"


class TierCount(models.Model):
    """Live (not deleted) cards of a cashback program in each tier, now."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    tier_name = models.CharField(max_length=60)
    cards = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "tier_name"], name="tier_count_program_tier"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.tier_name}: {self.cards}"
