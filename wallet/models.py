"""Wallet passes of cards: Apple Wallet registrations and Google Wallet objects.

A card's pass exists once its holder asked for it (downloaded the ``.pkpass`` or opened the
"Save to Google Wallet" link). ``version`` goes up with every change the holder should see (the
ledger, the expiration date, the program's design, a new link, deletion); the Apple and Google
sides each remember the version they last sent, so ten stamps in one second make one push and
one PATCH. A registered Apple device and a saved Google object are also a ``PushSubscription``
(channels ``apple_wallet`` and ``google_wallet``), so a message from the Send push tab reaches
them through the same at-most-once delivery as web push.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import F, Q
from django.utils.translation import pgettext_lazy

from cards.models import Card, Program
from loyalty.models import Merchant
from pushes.models import PushSubscription


def new_authentication_token() -> str:
    """Apple asks for at least 16 characters; 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


class WalletPass(models.Model):
    """What both wallets show of one card, and how far each has been told."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    card = models.OneToOneField(Card, on_delete=models.CASCADE, related_name="wallet_pass")
    # Sent by Apple Wallet as "Authorization: ApplePass <token>"; replaced with the card's link.
    authentication_token = models.CharField(max_length=64, default=new_authentication_token)
    version = models.PositiveIntegerField(default=1)
    # Last-Modified of the pass and the tag of "serials updated since".
    updated_at = models.DateTimeField()
    apple_pushed_version = models.PositiveIntegerField(default=0)
    google_synced_version = models.PositiveIntegerField(default=0)
    # The last message from the Send push tab, shown on the pass with a changeMessage.
    message = models.CharField(max_length=500, blank=True)
    message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["updated_at"], name="wallet_pass_updated"),
            # The sweep's query: passes one of the wallets has not been told about yet.
            models.Index(
                fields=["updated_at"],
                condition=Q(apple_pushed_version__lt=F("version"))
                | Q(google_synced_version__lt=F("version")),
                name="wallet_pass_behind",
            ),
        ]

    def __str__(self) -> str:
        return f"Wallet pass of card {self.card_id} (v{self.version})"


class AppleDevice(models.Model):
    """An iPhone or Apple Watch's Wallet, as Apple's web service protocol names it."""

    device_library_identifier = models.CharField(max_length=128, unique=True)
    push_token = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Apple device {self.device_library_identifier[:12]}"


class AppleRegistration(models.Model):
    """One device holding one card's pass: where live updates and messages go."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(AppleDevice, on_delete=models.CASCADE, related_name="registrations")
    wallet_pass = models.ForeignKey(
        WalletPass, on_delete=models.CASCADE, related_name="registrations"
    )
    subscription = models.OneToOneField(
        PushSubscription, on_delete=models.CASCADE, related_name="apple_registration"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "wallet_pass"], name="apple_registration_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device} holds pass {self.wallet_pass_id}"


class UpdateStatus(models.TextChoices):
    # Translators: what happened to one live update of a wallet pass (APNs push or Google PATCH).
    PENDING = "pending", pgettext_lazy("wallet update", "Waiting")
    SENT = "sent", pgettext_lazy("wallet update", "Sent")
    RETRY = "retry", pgettext_lazy("wallet update", "Retry later")
    EXPIRED = "expired", pgettext_lazy("wallet update", "Device removed")
    FAILED = "failed", pgettext_lazy("wallet update", "Failed")


class ApplePush(models.Model):
    """One APNs notification telling one device that its pass changed (recorded like a
    web-push delivery). Unique per (registration, version): a version is pushed once."""

    registration = models.ForeignKey(
        AppleRegistration, on_delete=models.SET_NULL, null=True, related_name="pushes"
    )
    wallet_pass = models.ForeignKey(WalletPass, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=UpdateStatus.choices, default=UpdateStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    apns_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "version"], name="apple_push_once_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"APNs push v{self.version} ({self.status})"


class GoogleClass(models.Model):
    """The LoyaltyClass of a program in Google Wallet (its design, shared by its cards)."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="google_class")
    class_id = models.CharField(max_length=200, unique=True)
    # The program's design as last sent; a change re-sends the class before its objects.
    synced_fingerprint = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.class_id


class GoogleObject(models.Model):
    """A card's LoyaltyObject: its address in Google Wallet, whoever saved it. When the card's
    link is replaced the object is retired (made INACTIVE) and the rightful holder saves a new
    one, so a card has at most one live object."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    wallet_pass = models.ForeignKey(
        WalletPass, on_delete=models.CASCADE, related_name="google_objects"
    )
    object_id = models.CharField(max_length=200, unique=True)
    subscription = models.OneToOneField(
        PushSubscription, on_delete=models.CASCADE, related_name="google_object"
    )
    # From the API's answers: whether someone holds the object in their Google Wallet.
    has_users = models.BooleanField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["wallet_pass"],
                condition=Q(retired_at__isnull=True),
                name="google_object_one_live_per_pass",
            ),
        ]

    def __str__(self) -> str:
        return self.object_id


class GoogleUpdate(models.Model):
    """One PATCH of a card's object to a newer version, with its attempts (recorded like a
    delivery). Unique per (object, version)."""

    google_object = models.ForeignKey(
        GoogleObject, on_delete=models.CASCADE, related_name="updates"
    )
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=UpdateStatus.choices, default=UpdateStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["google_object", "version"], name="google_update_once_per_version"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="retry"), name="google_update_retry"
            ),
        ]

    def __str__(self) -> str:
        return f"Google update v{self.version} ({self.status})"
