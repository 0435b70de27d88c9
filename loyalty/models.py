"""Tenancy: merchants and the people who work for them."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example Europe/Paris).")


class Merchant(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Default region for phone numbers typed without a +country code.
    country = models.CharField(max_length=2, default="US", help_text="ISO 3166 code, e.g. US")
    # RFM segment grid (see domain rules): recency bands in days, frequency bands in visits.
    recency_band_1 = models.PositiveSmallIntegerField(default=30)
    recency_band_2 = models.PositiveSmallIntegerField(default=60)
    recency_band_3 = models.PositiveSmallIntegerField(default=90)
    frequency_band_1 = models.PositiveSmallIntegerField(default=3)
    frequency_band_2 = models.PositiveSmallIntegerField(default=7)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recency_band_1__lt=models.F("recency_band_2"))
                & models.Q(recency_band_2__lt=models.F("recency_band_3")),
                name="merchant_recency_bands_increase",
            ),
            models.CheckConstraint(
                condition=models.Q(frequency_band_1__lt=models.F("frequency_band_2")),
                name="merchant_frequency_bands_increase",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    STAFF = "staff", "Staff"


# Who may do what. Staff work the counter; owners and admins also delete and configure.
MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES
