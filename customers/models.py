"""The merchant's CRM: customers, their custom field answers and RFM segments."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import F
from django.db.models.functions import ExtractDay, ExtractMonth, Lower, Reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cards.models import Program
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
            # The search finds a phone by its last digits ("0236" of +14155550236): an end of
            # the number is a start of the reversed number, a range of this btree. Pattern ops,
            # for LIKE 'prefix%' whatever the collation; the expression must stay the one of
            # customers.selectors.PHONE_REVERSED.
            models.Index(
                F("merchant"),
                OpClass(Reverse("phone"), name="text_pattern_ops"),
                condition=~models.Q(phone=""),
                name="customer_phone_suffix",
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


# ---------------------------------------------------------------------------------------------
# Imports from a spreadsheet (see customers.imports)


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", _("Waiting for the column mapping")
    CHECKING = "checking", _("Checking the rows")
    CHECKED = "checked", _("Checked, ready to import")
    APPLYING = "applying", _("Importing")
    APPLIED = "applied", _("Imported")


# Why a worker's run ended without a result (``ImportJob.failure``); the whole run rolled back.
IMPORT_FAILURES = {
    "interrupted": _("The import stopped before it finished; nothing was written. Start it again."),
    "conflict": _(
        "A customer in the file was added elsewhere while importing; nothing was written. "
        "Start it again."
    ),
}


class ImportJob(models.Model):
    """One uploaded file on its way in: mapping, check (preview), apply, result.

    The file's rows wait in ``ImportRow`` (so the worker needs no shared disk) until the job is
    applied or abandoned; the counts and ``ImportProblem`` rows stay as its record.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=4)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=2, blank=True)
    # One label per column: the header row's cells, or "Column A", "Column B"... without one.
    columns = models.JSONField(default=list)
    has_header = models.BooleanField(default=True)
    # The first rows, for the mapping page; emptied with the staged rows.
    sample = models.JSONField(default=list, blank=True)
    # The field each column goes to ("" = ignored), as ``customers.imports.fields`` names them.
    mapping = models.JSONField(default=list, blank=True)
    rows_total = models.IntegerField(default=0)
    # The language of the person who mapped it: the worker writes the rows' problems in it.
    language = models.CharField(max_length=8, blank=True)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.MAPPING
    )
    # Rows checked so far (while checking; applying reports through the cache, its
    # transaction being invisible until it commits).
    progress = models.IntegerField(default=0)
    new_customers = models.IntegerField(default=0)
    matched_customers = models.IntegerField(default=0)
    skipped_rows = models.IntegerField(default=0)
    invalid_rows = models.IntegerField(default=0)
    # When a worker took the job on (checking or applying); a job that says so while no worker
    # holds its lock was interrupted (``customers.imports.services.import_recover``).
    worker_started_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=20, blank=True)  # a key of IMPORT_FAILURES
    # The ids the apply gave its new customers and cards: imports of one merchant run one at a
    # time, so within these ranges an imported card (``import_key``) is this job's.
    first_customer_id = models.BigIntegerField(null=True, blank=True)
    last_customer_id = models.BigIntegerField(null=True, blank=True)
    first_card_id = models.BigIntegerField(null=True, blank=True)
    last_card_id = models.BigIntegerField(null=True, blank=True)
    # Email each new customer their card's link once imported (the merchant confirmed consent),
    # a few per second: the last card emailed so far, and how many were.
    send_links = models.BooleanField(default=False)
    links_after = models.BigIntegerField(default=0)
    links_sent = models.IntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="import_job_recent")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"

    @property
    def status_label(self) -> str:
        return str(ImportStatus(self.status).label)

    @property
    def failure_text(self) -> str:
        return str(IMPORT_FAILURES.get(self.failure, ""))

    @property
    def is_busy(self) -> bool:
        return self.status in (ImportStatus.CHECKING, ImportStatus.APPLYING)


class ImportRow(models.Model):
    """One row of an uploaded file, its cells as text, waiting to be checked and applied."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    line = models.IntegerField()
    cells = ArrayField(models.TextField())

    class Meta:
        ordering = ["job", "line"]
        constraints = [
            models.UniqueConstraint(fields=["job", "line"], name="import_row_unique_line"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line}"


class ImportProblem(models.Model):
    """A row the import refused (invalid) or left alone (skipped), with the reason."""

    class Kind(models.TextChoices):
        INVALID = "invalid", _("Invalid")
        SKIPPED = "skipped", _("Skipped")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    line = models.IntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.INVALID)
    column = models.CharField(max_length=100, blank=True)
    value = models.CharField(max_length=200, blank=True)
    # An untranslated message and its values: each reader sees it in their own language.
    reason = models.CharField(max_length=300)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["job", "line", "id"]
        indexes = [models.Index(fields=["job", "kind", "line"], name="import_problem_line")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line} {self.reason}"

    @property
    def reason_text(self) -> str:
        """The reason in the active language, its numbers written the language's way."""
        text = gettext(self.reason)
        if not self.params:
            return text
        values = {
            name: number_format(value, force_grouping=True) if name == "max" else value
            for name, value in self.params.items()
        }
        return text % values


class ImportColumnChoice(models.Model):
    """The field a merchant mapped a column header to: the next file's mapping starts there."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    header = models.CharField(max_length=100)
    field = models.CharField(max_length=60, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "header"], name="import_column_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.header} -> {self.field or '-'}"
