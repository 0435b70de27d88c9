"""Tenancy: merchants and the people who work for them."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.phones import phone_display


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            # Translators: the value is a time zone name as typed, in quotes.
            gettext("%(value)s is not a known time zone (for example Europe/Paris).")
            % {"value": repr(value)}
        )


class Merchant(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # The customer pages' language when the browser asks for none we speak, and the dashboard's
    # for a user who chose none and whose browser asks for none we speak.
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    # Default region for phone numbers typed without a +country code.
    country = models.CharField(max_length=2, default="US", help_text="ISO 3166 code, e.g. US")
    # RFM segment grid (see domain rules): recency bands in days, frequency bands in visits.
    recency_band_1 = models.PositiveSmallIntegerField(default=30)
    recency_band_2 = models.PositiveSmallIntegerField(default=60)
    recency_band_3 = models.PositiveSmallIntegerField(default=90)
    frequency_band_1 = models.PositiveSmallIntegerField(default=3)
    frequency_band_2 = models.PositiveSmallIntegerField(default=7)
    # How customers reach the shop: on the card page and the wallet passes, each only when set.
    contact_phone = models.CharField(
        max_length=40, blank=True, help_text="E.164, e.g. +14155550123"
    )
    contact_email = models.EmailField(blank=True)
    # Web pages only: a javascript: or data: address must never become a link customers tap.
    website = models.URLField(
        max_length=200, blank=True, validators=[URLValidator(schemes=["https", "http"])]
    )
    address = models.CharField(max_length=200, blank=True)
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

    @property
    def contact_phone_display(self) -> str:
        """The phone as people write it (+1 415-555-0123); kept in E.164 for tel: links."""
        return phone_display(self.contact_phone)

    @property
    def has_contact(self) -> bool:
        return bool(self.contact_phone or self.contact_email or self.website or self.address)


class UserPreference(models.Model):
    """What a dashboard user chose for themselves, whichever merchant they work for."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    # Blank: follow the browser, then the merchant's default.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.language or 'browser'})"


class Role(models.TextChoices):
    # Translators: a team member's role on the dashboard (owner, admin, staff).
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    STAFF = "staff", _("Staff")


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


class Invitation(models.Model):
    """An email invitation to join a merchant's team with a role.

    Only a hash of the token is stored: the link in the email is the one place the token
    exists, so a database leak does not let anyone join a team.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation per address and merchant; resending reuses it.
            models.UniqueConstraint(
                Lower("email"),
                "merchant",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} -> {self.merchant} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


class AuditAction(models.TextChoices):
    INVITATION_SENT = "invitation_sent", _("Invitation sent")
    INVITATION_RESENT = "invitation_resent", _("Invitation resent")
    INVITATION_REVOKED = "invitation_revoked", _("Invitation revoked")
    MEMBER_JOINED = "member_joined", _("Member joined")
    ROLE_CHANGED = "role_changed", _("Role changed")
    MEMBER_REMOVED = "member_removed", _("Member removed")
    PROGRAM_CREATED = "program_created", _("Program created")
    PROGRAM_UPDATED = "program_updated", _("Program updated")
    PROGRAM_ARCHIVED = "program_archived", _("Program archived")
    PROGRAM_RESTORED = "program_restored", _("Program restored")
    CUSTOM_FIELDS_CHANGED = "custom_fields_changed", _("Join form changed")
    SEGMENTS_CHANGED = "segments_changed", _("Segment thresholds changed")
    LANGUAGE_CHANGED = "language_changed", _("Default language changed")
    CONTACT_CHANGED = "contact_changed", _("Contact details changed")
    MESSAGE_RULES_CHANGED = "message_rules_changed", _("Message rules changed")
    AUTO_MESSAGES_CHANGED = "auto_messages_changed", _("Automatic messages changed")
    # Customers' personal data leaving the dashboard, and changes to one card or customer.
    CUSTOMERS_EXPORTED = "customers_exported", _("Customers exported")
    CUSTOMERS_IMPORTED = "customers_imported", _("Customers imported")
    CARD_HISTORY_EXPORTED = "card_history_exported", _("Card history exported")
    CARD_DELETED = "card_deleted", _("Card deleted")
    CARD_EXPIRATION_CHANGED = "card_expiration_changed", _("Card expiration changed")
    CARD_LINK_ROTATED = "card_link_rotated", _("Card link replaced")
    CUSTOMER_UPDATED = "customer_updated", _("Personal information edited")
    CUSTOMER_REMOVED = "customer_removed", _("Customer removed")
    # Who did what on the ledger, downloaded from the activity page.
    ACTIVITY_EXPORTED = "activity_exported", _("Activity exported")


class AuditEvent(models.Model):
    """Who changed what in the merchant's settings, and when. Append-only by convention."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept as written at the time, so the log still reads right after a member leaves.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="audit_merchant_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.summary}"
