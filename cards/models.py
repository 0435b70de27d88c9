"""Programs (card templates and their rules), issued cards and the append-only ledger."""

from __future__ import annotations

import datetime
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cards import rules
from loyalty.models import Merchant


def money_field(**kwargs: Any) -> models.DecimalField:
    """Money and points: 2 decimal places, up to ten billion."""
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


def new_token() -> str:
    """An unguessable URL token (~190 bits)."""
    return secrets.token_urlsafe(24)


MAX_REPEAT_GUARD_SECONDS = 3600
MAX_STAFF_REVERSE_MINUTES = 1440
REWARD_DESCRIPTION_MAX = 100
PRIVACY_URL_MAX = 500


class ProgramKind(models.TextChoices):
    STAMP = "stamp", _("Stamp card")
    CASHBACK = "cashback", _("Cashback card")


class Mechanism(models.TextChoices):
    SPEND = "spend", _("Stamps per amount spent")
    VISIT = "visit", _("Stamps per visit")


class Validity(models.TextChoices):
    NONE = "none", _("Never expires")
    FIXED_DATE = "fixed_date", _("Expires on a fixed date")
    DAYS = "days", _("Expires N days after issue")


class ProgramQuerySet(models.QuerySet["Program"]):
    def active(self) -> ProgramQuerySet:
        return self.filter(archived_at__isnull=True)


class Program(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=ProgramKind.choices)
    # Stamp cards
    mechanism = models.CharField(
        max_length=10, choices=Mechanism.choices, default=Mechanism.SPEND, blank=True
    )
    spend_per_stamp = money_field(
        null=True, blank=True, validators=[MinValueValidator(Decimal("0.01"))]
    )
    stamps_per_visit = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)]
    )
    stamps_per_reward = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    # Stamps (whole numbers) on stamp programs, points on cashback programs.
    referral_bonus = money_field(default=Decimal("0.00"))
    welcome_bonus = money_field(default=Decimal("0.00"))
    # Referral bonuses one referrer card may earn per calendar month (the merchant's time zone).
    referral_cap = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(0), MaxValueValidator(1000)]
    )
    # What one reward costs the merchant (the coffee given away), for the home page's reward
    # cost and ROI. Stamp programs only: cashback points cost their face value.
    reward_cost = money_field(default=Decimal("0.00"), validators=[MinValueValidator(Decimal("0"))])
    # The counter's guards (``cards.services.ledger``). The same action on the same card again
    # within this many seconds asks for confirmation first (0: never asks).
    repeat_guard_seconds = models.PositiveIntegerField(
        default=60, validators=[MaxValueValidator(MAX_REPEAT_GUARD_SECONDS)]
    )
    # Optional daily caps per card, in the merchant's day: stamps (or points) earned, purchases.
    daily_earn_cap = models.PositiveIntegerField(null=True, blank=True)
    daily_purchase_cap = models.PositiveSmallIntegerField(null=True, blank=True)
    # How long staff may reverse an entry they wrote themselves (owners and admins: any, always).
    staff_reverse_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MaxValueValidator(MAX_STAFF_REVERSE_MINUTES)]
    )
    # What one reward is, in the merchant's words ("a free coffee"): shown on the join page, the
    # card page, the profile and the wallet passes. Empty: they speak of "a reward".
    reward_description = models.CharField(max_length=REWARD_DESCRIPTION_MAX, blank=True)
    # The merchant's privacy notice, linked from the join form (empty: no link).
    privacy_url = models.URLField(max_length=PRIVACY_URL_MAX, blank=True)
    validity = models.CharField(max_length=12, choices=Validity.choices, default=Validity.NONE)
    valid_until = models.DateField(null=True, blank=True)
    valid_days = models.PositiveIntegerField(null=True, blank=True)
    background_color = models.CharField(max_length=7, default="#5b3a29")
    foreground_color = models.CharField(max_length=7, default="#ffffff")
    # A plain file: the settings service checks type and size (see cards.services.logo_clean).
    logo = models.FileField(upload_to="logos/", blank=True)
    join_token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProgramQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="stamp", mechanism="spend") | Q(spend_per_stamp__gt=0),
                name="program_spend_needs_spend_per_stamp",
            ),
            models.CheckConstraint(
                condition=Q(referral_bonus__gte=0) & Q(welcome_bonus__gte=0),
                name="program_bonuses_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(reward_cost__gte=0), name="program_reward_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_stamp(self) -> bool:
        return self.kind == ProgramKind.STAMP

    @property
    def is_cashback(self) -> bool:
        return self.kind == ProgramKind.CASHBACK

    def rule_set(self) -> rules.StampRules | rules.CashbackRules:
        """The program's rules as plain values for ``cards.rules``.

        Cashback tiers come from ``self.tiers``; prefetch them when calling this in a loop.
        """
        if self.is_stamp:
            return rules.StampRules(
                mechanism=self.mechanism,
                stamps_per_reward=self.stamps_per_reward,
                spend_per_stamp=self.spend_per_stamp,
                stamps_per_visit=self.stamps_per_visit,
            )
        tiers = sorted(self.tiers.all(), key=lambda tier: tier.threshold)
        return rules.CashbackRules(
            tiers=tuple(
                rules.Tier(name=t.name, threshold=t.threshold, percentage=t.percentage)
                for t in tiers
            )
        )

    def expiration_for(self, issued_on: datetime.date) -> datetime.date | None:
        if self.validity == Validity.FIXED_DATE:
            return self.valid_until
        if self.validity == Validity.DAYS and self.valid_days:
            return issued_on + datetime.timedelta(days=self.valid_days)
        return None


class Tier(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=60)
    threshold = money_field(validators=[MinValueValidator(Decimal("0"))])
    percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )

    class Meta:
        ordering = ["threshold"]
        constraints = [
            models.UniqueConstraint(fields=["program", "threshold"], name="tier_unique_threshold"),
            models.CheckConstraint(
                condition=Q(percentage__gte=0) & Q(percentage__lte=100),
                name="tier_percentage_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.threshold} / {self.percentage} %)"


class FieldType(models.TextChoices):
    # Translators: the kinds of answer a join form's custom question takes.
    TEXT = "text", pgettext_lazy("custom field type", "Text")
    NUMBER = "number", pgettext_lazy("custom field type", "Number")
    DATE = "date", pgettext_lazy("custom field type", "Date")
    CHOICE = "choice", pgettext_lazy("custom field type", "Choice")


class CustomField(models.Model):
    """A question on a program's join form; answers live on the customer."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="custom_fields")
    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=80)
    field_type = models.CharField(max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="custom_field_unique_key"),
        ]

    def __str__(self) -> str:
        return self.label


class CardStatus(models.TextChoices):
    NOT_INSTALLED = "not_installed", _("Not installed")
    INSTALLED = "installed", _("Installed")
    DELETED = "deleted", _("Deleted")


class Device(models.TextChoices):
    NONE = "", _("Not installed")
    PWA = "pwa", "PWA"
    GOOGLE_WALLET = "google_wallet", "Google Wallet"
    APPLE_WALLET = "apple_wallet", "Apple Wallet"  # brand names: not translated


class Source(models.TextChoices):
    DASHBOARD = "dashboard", _("Dashboard")
    CARD_PAGE = "card_page", _("Card page")
    REFERRAL = "referral", _("Referral")
    SYSTEM = "system", _("System")
    # Balances carried over from another system by a spreadsheet import.
    IMPORT = "import", _("Import")


def new_serial() -> str:
    """A human-friendly serial: 12 digits in groups of four, e.g. 4821-0937-5512."""
    digits = f"{secrets.randbelow(10**12):012d}"
    return f"{digits[0:4]}-{digits[4:8]}-{digits[8:12]}"


class CardQuerySet(models.QuerySet["Card"]):
    def for_merchant(self, merchant: Merchant) -> CardQuerySet:
        return self.filter(merchant=merchant)


class Card(models.Model):
    """One issued card. The aggregate columns are the fold of its ledger, kept by services."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="cards")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="cards")
    # Null once the customer was removed: the card and its ledger stay, anonymous.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cards",
    )
    serial = models.CharField(max_length=14, unique=True, default=new_serial)
    status = models.CharField(
        max_length=14, choices=CardStatus.choices, default=CardStatus.NOT_INSTALLED
    )
    # Where the card is held now (several at once: a PWA and Apple Wallet on two phones).
    devices = ArrayField(
        models.CharField(max_length=14, choices=Device.choices), default=list, blank=True
    )
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    utm_term = models.CharField(max_length=100, blank=True)
    utm_content = models.CharField(max_length=100, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    installed_at = models.DateTimeField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    holder_name = models.CharField(max_length=160, help_text=_("As printed on the card at issue."))
    install_token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    referral_token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    referred_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    # The number of the card the customer held in a former system (a printed card's number),
    # kept by an import so that old cards are still found at the counter.
    external_number = models.CharField(max_length=40, blank=True, db_default="", default="")
    # What an import knew of this card's row (``customers.imports``): the same row imported
    # again finds it and changes nothing.
    import_key = models.CharField(max_length=64, blank=True, db_default="", default="")

    # Aggregates: the fold of the ledger (see cards.rules.Balances), written only by services.
    transaction_amount = money_field(default=Decimal("0.00"))
    ltv = money_field(default=Decimal("0.00"))
    peak_transaction_amount = money_field(default=Decimal("0.00"))
    stamps_earned = models.IntegerField(default=0)
    stamps_balance = models.IntegerField(default=0)
    rewards_earned = models.IntegerField(default=0)
    rewards_available = models.IntegerField(default=0)
    rewards_redeemed = models.IntegerField(default=0)
    points_balance = money_field(default=Decimal("0.00"))
    points_earned = money_field(default=Decimal("0.00"))
    points_redeemed = money_field(default=Decimal("0.00"))
    total_visits = models.IntegerField(default=0)
    referral_stamps = models.IntegerField(default=0)
    referral_points = money_field(default=Decimal("0.00"))
    tier_name = models.CharField(max_length=60, blank=True)
    tier_threshold = money_field(null=True, blank=True)
    cashback_percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)
    last_stamp_earned_at = models.DateTimeField(null=True, blank=True)
    last_reward_earned_at = models.DateTimeField(null=True, blank=True)
    last_reward_redeemed_at = models.DateTimeField(null=True, blank=True)
    last_points_earned_at = models.DateTimeField(null=True, blank=True)
    last_points_redeemed_at = models.DateTimeField(null=True, blank=True)

    objects = CardQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "status"], name="card_merchant_status"),
            models.Index(fields=["customer", "issued_at"], name="card_customer_issued"),
            # The CRM's device filter (devices @> '{apple_wallet}').
            GinIndex(fields=["devices"], name="card_devices"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(transaction_amount__gte=0)
                & Q(ltv__gte=0)
                & Q(stamps_earned__gte=0)
                & Q(stamps_balance__gte=0)
                & Q(rewards_earned__gte=0)
                & Q(rewards_available__gte=0)
                & Q(rewards_redeemed__gte=0)
                & Q(points_balance__gte=0)
                & Q(points_earned__gte=0)
                & Q(points_redeemed__gte=0)
                & Q(total_visits__gte=0)
                & Q(referral_stamps__gte=0)
                & Q(referral_points__gte=0),
                name="card_balances_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(peak_transaction_amount__gte=F("transaction_amount")),
                name="card_peak_at_least_amount",
            ),
            models.CheckConstraint(
                condition=~Q(status="deleted") | Q(deleted_at__isnull=False),
                name="card_deleted_has_date",
            ),
            # Also the index of the search by a former card's number (any letter case).
            models.UniqueConstraint(
                "merchant",
                Upper("external_number"),
                condition=~Q(external_number=""),
                name="card_unique_external_number",
            ),
            models.UniqueConstraint(
                fields=["program", "import_key"],
                condition=~Q(import_key=""),
                name="card_unique_import_key",
            ),
        ]

    def __str__(self) -> str:
        return self.serial

    def get_absolute_url(self) -> str:
        return reverse("cards:profile", args=[self.serial])

    @property
    def status_label(self) -> str:
        # Not get_status_display(): it rebuilds the choices, translating every label, per call.
        return str(CardStatus(self.status).label)

    @property
    def is_deleted(self) -> bool:
        return self.status == CardStatus.DELETED

    def local_today(self) -> datetime.date:
        return timezone.localdate(timezone=self.merchant.tz)

    @property
    def is_expired(self) -> bool:
        """Valid through its expiration date, in the merchant's time zone."""
        return self.expires_on is not None and self.expires_on < self.local_today()

    def balances(self) -> rules.Balances:
        return rules.Balances(**{name: getattr(self, name) for name in BALANCE_FIELDS})


BALANCE_FIELDS = tuple(rules.Balances.__dataclass_fields__)


class LedgerEntry(models.Model):
    """One immutable change to a card's balances.

    Append-only: a database trigger (see the migration) refuses UPDATE and DELETE, so not even
    a bug or a shell session can rewrite history.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=rules.Kind.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.DASHBOARD)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    # One operation (one click) may write two entries, a refund and its stamps taken back;
    # they share the idempotency key and differ by sequence.
    operation_key = models.CharField(max_length=64)
    # A hash of (action, inputs) the key was first used with: a key replayed with other inputs
    # is refused instead of answering with the old entries.
    request_hash = models.CharField(max_length=64, blank=True)
    sequence = models.PositiveSmallIntegerField(default=0)
    comment = models.TextField(blank=True, max_length=500)
    purchase_amount = money_field(null=True, blank=True)
    amount_delta = money_field(default=Decimal("0.00"))
    ltv_delta = money_field(default=Decimal("0.00"))
    stamps_delta = models.IntegerField(default=0)
    stamps_earned_delta = models.IntegerField(default=0)
    rewards_earned_delta = models.IntegerField(default=0)
    rewards_available_delta = models.IntegerField(default=0)
    rewards_redeemed_delta = models.IntegerField(default=0)
    points_delta = money_field(default=Decimal("0.00"))
    points_earned_delta = money_field(default=Decimal("0.00"))
    points_redeemed_delta = money_field(default=Decimal("0.00"))
    visits_delta = models.IntegerField(default=0)
    cashback_percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    tier_name = models.CharField(max_length=60, blank=True)
    tier_threshold = money_field(null=True, blank=True)
    tier_percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # For referral bonuses: the newcomer's card that earned it (credits at most once).
    referred_card = models.ForeignKey(
        Card, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # For reversals: the entry this one undoes. One-to-one, so an entry is reversed at most once.
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal"
    )
    # Set by a reversal: the card's peak transaction amount as if the reversed entry had never
    # been written (a peak is a running maximum, which a negative change alone cannot lower).
    peak_transaction_amount = money_field(null=True, blank=True)
    # An owner or admin went past one of the program's daily caps (the comment says why).
    cap_overridden = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("ledger entries")
        indexes = [
            models.Index(fields=["card", "-created_at", "-id"], name="ledger_card_newest"),
            models.Index(fields=["merchant", "-created_at"], name="ledger_merchant_newest"),
            # The home page's reasons for reversals over a period: reversals are few.
            models.Index(
                fields=["merchant", "created_at"],
                condition=Q(kind="reversal"),
                name="ledger_merchant_reversals",
            ),
            # The activity page: one member's entries, newest first.
            models.Index(
                fields=["merchant", "actor", "-created_at"],
                condition=Q(actor__isnull=False),
                name="ledger_merchant_actor_newest",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["card", "operation_key", "sequence"], name="ledger_idempotency"
            ),
            models.UniqueConstraint(
                fields=["referred_card"],
                condition=Q(kind="referral_bonus"),
                name="ledger_one_referral_per_new_card",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.card_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def label(self) -> str:
        # Not Kind(kind).label: an unknown stored kind shows as itself instead of raising.
        return self.get_kind_display()

    def delta(self) -> rules.Delta:
        """This entry as a ``rules.Delta``, for folding."""
        tier = None
        if self.tier_threshold is not None and self.tier_percentage is not None:
            tier = rules.Tier(
                name=self.tier_name, threshold=self.tier_threshold, percentage=self.tier_percentage
            )
        return rules.Delta(
            kind=self.kind,
            amount=self.amount_delta,
            ltv=self.ltv_delta,
            stamps=self.stamps_delta,
            stamps_earned=self.stamps_earned_delta,
            rewards_earned=self.rewards_earned_delta,
            rewards_available=self.rewards_available_delta,
            rewards_redeemed=self.rewards_redeemed_delta,
            points=self.points_delta,
            points_earned=self.points_earned_delta,
            points_redeemed=self.points_redeemed_delta,
            visits=self.visits_delta,
            purchase_amount=self.purchase_amount,
            cashback_percentage=self.cashback_percentage,
            tier=tier,
            is_referral=self.source == Source.REFERRAL,
            peak=self.peak_transaction_amount,
        )


class RetiredCardLink(models.Model):
    """An install link that was replaced: it answers 410 with an explanation, not 404."""

    token = models.CharField(max_length=40, unique=True)
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="retired_links")
    retired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-retired_at", "-id"]

    def __str__(self) -> str:
        return f"{self.card_id} link retired at {self.retired_at:%Y-%m-%d %H:%M}"
