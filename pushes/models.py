"""Push subscriptions of customers' cards, messages to them and their delivery records.

A message is a row with a send time; the beat tick claims due rows and creates one
``Delivery`` per (message, subscription) pair. The pair is unique, and a delivery is claimed
(``pending`` -> ``sending``) by a conditional UPDATE committed before the HTTP request, so a
pair is sent at most once whatever the workers, the broker or beat do. Every HTTP request is a
``DeliveryAttempt`` row.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cards.models import Card, Program
from customers.models import Segment
from loyalty.models import Merchant

# Well under the 3993 bytes a single aes128gcm record can carry: even 500 four-byte
# characters plus the merchant's name and the card link stay below it (tested).
MESSAGE_MAX_LENGTH = 500


class Channel(models.TextChoices):
    WEB_PUSH = "web_push", _("Web push")
    # Brand names: not translated. The wallet app sends through these.
    APPLE_WALLET = "apple_wallet", "Apple Wallet"
    GOOGLE_WALLET = "google_wallet", "Google Wallet"


class PushSubscription(models.Model):
    """One device (browser) that agreed to receive a card's pushes."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="push_subscriptions")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WEB_PUSH)
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when the push service answers 404/410 or the browser replaced the subscription.
    expired_at = models.DateTimeField(null=True, blank=True)
    expired_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["card", "endpoint"], name="push_subscription_unique"),
        ]
        indexes = [
            models.Index(
                fields=["card"], condition=Q(expired_at__isnull=True), name="push_sub_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device_label} for {self.card_id}"

    @property
    def is_active(self) -> bool:
        return self.expired_at is None

    @property
    def device_label(self) -> str:
        """A short human name for the device: its wallet, else its browser and system."""
        if self.channel != Channel.WEB_PUSH:
            return str(Channel(self.channel).label)  # "Apple Wallet", "Google Wallet"
        return describe_user_agent(self.user_agent)


def describe_user_agent(user_agent: str) -> str:
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        "",
    )
    if not browser:
        # Translators: a device whose browser we do not recognise.
        browser = gettext("Browser")
    if not system:
        return browser
    # Translators: a device, e.g. "Chrome on Android" (names of browsers and systems).
    return gettext("%(browser)s on %(system)s") % {"browser": browser, "system": system}


class Trigger(models.TextChoices):
    # Translators: the kinds of automatic messages (a program's automatic messages page).
    REWARD_READY = "reward_ready", _("Reward ready")
    EXPIRING = "expiring", _("Card expiring")
    BIRTHDAY = "birthday", _("Birthday")
    LAPSED = "lapsed", _("We miss you")


class MessageStatus(models.TextChoices):
    # Translators: states of a push message (badges in the Send push tab).
    SCHEDULED = "scheduled", pgettext_lazy("push message", "Scheduled")
    SENDING = "sending", pgettext_lazy("push message", "Sending")
    SENT = "sent", pgettext_lazy("push message", "Sent")
    FAILED = "failed", pgettext_lazy("push message", "Failed")
    CANCELLED = "cancelled", pgettext_lazy("push message", "Cancelled")


class PushMessage(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="push_messages")
    # The campaign this message is one card's share of; empty for a message to one customer.
    campaign = models.ForeignKey(
        "Campaign", on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    # The automatic message that sent it (a ``Trigger``), and what it fired for: the ledger
    # entry, the expiration date, the year, the last visit's date. Unique per card, so a
    # trigger found again (the next beat, a repeated task) sends nothing twice.
    # Defaults in the database too: the campaign's INSERT ... SELECT names neither.
    trigger = models.CharField(max_length=12, blank=True, db_default="")
    trigger_key = models.CharField(max_length=40, blank=True, db_default="")
    body = models.CharField(max_length=MESSAGE_MAX_LENGTH)
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.SCHEDULED
    )
    # Due time. "Send now" is a row due immediately; ``scheduled`` says the merchant chose a time.
    send_at = models.DateTimeField()
    scheduled = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-send_at", "-id"]
        indexes = [
            # The beat tick's query: due scheduled rows, oldest first.
            models.Index(
                fields=["send_at"], condition=Q(status="scheduled"), name="push_message_due"
            ),
            models.Index(fields=["card", "-send_at"], name="push_message_card"),
            # The automatic messages' overview: what each kind sent lately, per merchant.
            models.Index(
                fields=["merchant", "created_at"],
                condition=~Q(trigger=""),
                name="push_message_automatic",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="push_message_cancelled_has_date",
            ),
            models.UniqueConstraint(
                fields=["card", "trigger", "trigger_key"],
                condition=~Q(trigger=""),
                name="push_message_trigger_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Push {self.pk} to {self.card_id} ({self.status})"

    @property
    def is_editable(self) -> bool:
        """A message to one customer, until it starts; a campaign's share is changed (or
        cancelled) with its campaign, an automatic message's text in its program's settings."""
        return (
            self.status == MessageStatus.SCHEDULED and self.campaign_id is None and not self.trigger
        )

    @property
    def trigger_label(self) -> str:
        return str(Trigger(self.trigger).label) if self.trigger in Trigger.values else ""

    @property
    def topic(self) -> str:
        """Web push Topic (<= 32 URL-safe characters): a retry replaces, never stacks."""
        return f"m{self.pk}"


class DeliveryStatus(models.TextChoices):
    # Translators: what happened to a push on one device (the Send push tab's list).
    PENDING = "pending", pgettext_lazy("push delivery", "Waiting")
    SENDING = "sending", pgettext_lazy("push delivery", "Sending")
    DELIVERED = "delivered", pgettext_lazy("push delivery", "Delivered")
    EXPIRED = "expired", pgettext_lazy("push delivery", "Subscription expired")
    FAILED = "failed", pgettext_lazy("push delivery", "Failed")
    # The push service may or may not have accepted it (no answer, or the worker stopped
    # mid-request). Never resent: a pair is delivered at most once.
    UNKNOWN = "unknown", pgettext_lazy("push delivery", "Unknown")
    SKIPPED = "skipped", pgettext_lazy("push delivery", "Not sent")


FINAL_DELIVERY_STATUSES = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.EXPIRED,
        DeliveryStatus.FAILED,
        DeliveryStatus.UNKNOWN,
        DeliveryStatus.SKIPPED,
    }
)


class Delivery(models.Model):
    """One (message, subscription) pair: the unit that is sent at most once."""

    message = models.ForeignKey(PushMessage, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(
        PushSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Earliest time of the next attempt (retries honour Retry-After and back off).
    next_attempt_at = models.DateTimeField()
    # When a task for it was last put on the queue; the tick re-enqueues stale pending rows.
    enqueued_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["message", "subscription"], name="delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["enqueued_at"],
                condition=Q(status="pending"),
                name="delivery_pending",
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="delivery_sending"
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_DELIVERY_STATUSES


class AttemptOutcome(models.TextChoices):
    # Translators: the result of one request to a push service (shown to staff).
    IN_FLIGHT = "in_flight", pgettext_lazy("push attempt", "In flight")
    DELIVERED = "delivered", pgettext_lazy("push attempt", "Delivered")
    EXPIRED = "expired", pgettext_lazy("push attempt", "Subscription expired")
    RETRY = "retry", pgettext_lazy("push attempt", "Retry later")
    FAILED = "failed", pgettext_lazy("push attempt", "Failed")
    UNKNOWN = "unknown", pgettext_lazy("push attempt", "No answer")
    INTERRUPTED = "interrupted", pgettext_lazy("push attempt", "Interrupted")


class DeliveryAttempt(models.Model):
    """One HTTP request to a push service, written before it is made and completed after."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=12, choices=AttemptOutcome.choices, default=AttemptOutcome.IN_FLIGHT
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_after = models.FloatField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"


# ---------------------------------------------------------------------------------------------
# Campaigns: one message to many cards


class Audience(models.TextChoices):
    # Translators: who a campaign goes to (the campaign form's choices).
    PROGRAM = "program", _("Every card holder of the program")
    SEGMENTS = "segments", _("Customers in some segments")
    FILTER = "filter", _("The customers a list filter shows")
    TIER = "tier", _("Cards in a tier")


class CampaignStatus(models.TextChoices):
    # Translators: states of a campaign (badges on the campaigns page).
    SCHEDULED = "scheduled", pgettext_lazy("campaign", "Scheduled")
    SENDING = "sending", pgettext_lazy("campaign", "Sending")
    SENT = "sent", pgettext_lazy("campaign", "Sent")
    CANCELLED = "cancelled", pgettext_lazy("campaign", "Cancelled")


class Campaign(models.Model):
    """A message to an audience of one program's cards, now or at a time.

    Until it starts, the audience is a description (``audience`` and its details); when it
    starts it is frozen into one ``PushMessage`` per card (``messages``), which the dispatcher
    sends like any other, and which each recipient's profile lists under Send push.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    body = models.CharField(max_length=MESSAGE_MAX_LENGTH)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.PROGRAM)
    segments = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    tier_name = models.CharField(max_length=60, blank=True)
    # The customer list's filter: q, status, device, segment (the program is the campaign's).
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.SCHEDULED
    )
    send_at = models.DateTimeField()
    scheduled = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Frozen when it starts: the audience's cards, and how many of them the weekly cap held back.
    targeted = models.PositiveIntegerField(null=True, blank=True)
    capped = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-send_at", "-id"]
        indexes = [
            models.Index(fields=["send_at"], condition=Q(status="scheduled"), name="campaign_due"),
            models.Index(fields=["merchant", "-send_at"], name="campaign_merchant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="campaign_cancelled_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Campaign {self.pk} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status == CampaignStatus.SCHEDULED

    @property
    def segment_labels(self) -> list[str]:
        return [str(Segment(value).label) for value in self.segments if value in Segment.values]


class MessageSettings(models.Model):
    """A merchant's rules for campaign messages (Settings > Messages)."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="+")
    # Local times; a campaign due inside waits for the end. Either empty: no quiet hours.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    # Campaign messages per card in any 7 days; empty: no cap.
    weekly_cap = models.PositiveSmallIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Message settings of {self.merchant_id}"


class AutoMessage(models.Model):
    """One program's automatic message of one kind: on or off, its text (with placeholders,
    see ``pushes.automatic``) and, for the kinds that wait, its number of days."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    enabled = models.BooleanField(default=False)
    body = models.CharField(max_length=MESSAGE_MAX_LENGTH, blank=True)
    # Card expiring: this many days before the date. We miss you: after this many days
    # without a visit. Unused by the other kinds.
    days = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["program", "trigger"]
        constraints = [
            models.UniqueConstraint(fields=["program", "trigger"], name="auto_message_unique"),
            models.CheckConstraint(
                condition=~Q(enabled=True) | ~Q(body=""), name="auto_message_enabled_has_text"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} of program {self.program_id} ({'on' if self.enabled else 'off'})"
