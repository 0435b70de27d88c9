"""The import's steps, each a service: upload, map, check (the preview), apply, email links.

- ``import_upload`` reads the file (``reading``), stages its rows in ``ImportRow`` and guesses
  the mapping (``fields``). Nothing of the CRM is touched.
- ``import_map`` saves the merchant's mapping (remembered per header for the next file) and
  checks every row (``checking``): inline for a small file, on the worker otherwise. The check
  only writes the job's own counts and problems.
- ``import_apply_request`` queues the apply; ``import_apply`` (the worker) runs the check again
  and writes the outcome (``applying``) in one transaction, so the whole file is applied or
  nothing is, and a row already imported is skipped, so applying a file twice changes nothing.
- A worker holds the job's advisory lock while it works: a job that says a worker took it on
  while nobody holds that lock was interrupted (``import_recover``), its transaction rolled back.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext as _
from psycopg.types.json import Jsonb

from cards.models import Card, Program
from cards.services import LinkReason, card_send_link
from cards.signals import ledger_bulk_loaded
from customers.imports import applying
from customers.imports.checking import CHUNK, Context, Problem, Record, check_rows
from customers.imports.fields import (
    column_label,
    guess_mapping,
    looks_like_header,
    normalize_header,
    program_fields,
)
from customers.imports.reading import FileProblem, open_sheet
from customers.models import (
    ImportColumnChoice,
    ImportJob,
    ImportProblem,
    ImportRow,
    ImportStatus,
)
from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.audit import audit_record
from loyalty.models import AuditAction, Merchant

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 5
# Up to this many rows the check runs in the request, so a café's file shows its preview at
# once; a larger file is checked on the worker with a progress bar.
INLINE_CHECK_ROWS = 2_000
# The advisory locks' first keys: one per job (held by the worker working on it) and one per
# merchant (its imports apply one at a time, so their new ids never interleave).
JOB_LOCK = zlib.crc32(b"customers.import.job") & 0x7FFFFFFF
MERCHANT_LOCK = zlib.crc32(b"customers.import.merchant") & 0x7FFFFFFF
PROGRESS_KEY = "import-progress:{job}"


# ---------------------------------------------------------------------------------------------
# Upload


def import_upload(
    *,
    merchant: Merchant,
    program: Program | None,
    file: BinaryIO,
    name: str,
    size: int,
    actor: Actor,
) -> ImportJob:
    """Read the file and stage its rows for the mapping; refuse what cannot be read."""
    if program is None or program.merchant_id != merchant.pk or program.archived_at is not None:
        raise ValidationError({"program": _("Choose one of your active programs.")})
    try:
        sheet = open_sheet(
            file,
            name=name,
            size=size,
            max_bytes=settings.IMPORT_MAX_BYTES,
            max_rows=settings.IMPORT_MAX_ROWS,
        )
        with transaction.atomic():
            job = ImportJob.objects.create(
                merchant=merchant,
                program=program,
                created_by=user_or_none(actor),
                file_name=name[:200],
                file_format=sheet.format,
                encoding=sheet.encoding,
                delimiter=sheet.delimiter,
            )
            _stage(job, sheet.rows())
    except FileProblem as problem:
        raise ValidationError({"file": problem.message}) from None
    return job


def _stage(job: ImportJob, rows: Iterator[tuple[int, list[str]]]) -> None:
    """Copy the rows into ``ImportRow``; the first says whether it is a header."""
    first = next(rows, None)
    if first is None:
        raise FileProblem(_("The file is empty."))
    job.has_header = looks_like_header(first[1], job.program)
    headers = first[1] if job.has_header else None
    sample: list[list[str]] = [] if job.has_header else [first[1]]
    width = len(first[1])
    count = 0

    def staged() -> Iterator[tuple[int, int, list[str]]]:
        nonlocal width, count
        if not job.has_header:
            yield job.pk, first[0], first[1]
            count += 1
        for line, cells in rows:
            if len(sample) < SAMPLE_ROWS:
                sample.append(cells)
            width = max(width, len(cells))
            count += 1
            yield job.pk, line, cells

    with connection.cursor() as cursor:
        applying.copy_rows(cursor, ImportRow._meta.db_table, ("job_id", "line", "cells"), staged())
    if not count:
        raise FileProblem(_("The file has a header row but no customers below it."))
    job.columns = [
        (headers[index] if headers and index < len(headers) and headers[index] else "")
        or column_label(index)
        for index in range(width)
    ]
    job.sample = sample
    job.rows_total = count
    remembered = dict(
        ImportColumnChoice.objects.filter(merchant_id=job.merchant_id).values_list(
            "header", "field"
        )
    )
    job.mapping = guess_mapping(
        program=job.program, headers=headers, sample=sample, remembered=remembered
    )
    job.save()


# ---------------------------------------------------------------------------------------------
# Mapping and the check


def _locked(job: ImportJob) -> ImportJob:
    return ImportJob.objects.select_for_update().select_related("program__merchant").get(pk=job.pk)


def mapping_clean(*, job: ImportJob, mapping: Sequence[str]) -> list[str]:
    """The mapping as saved: a known field or "" per column, each field once, a name mapped."""
    allowed = dict(program_fields(job.program))
    cleaned = [key if key in allowed else "" for key in mapping][: len(job.columns)]
    cleaned += [""] * (len(job.columns) - len(cleaned))
    chosen = [key for key in cleaned if key]
    twice = sorted({key for key in chosen if chosen.count(key) > 1})
    if twice:
        names = ", ".join(str(allowed[key]) for key in twice)
        raise ValidationError(
            {"mapping": _("Map each field to one column only: %(names)s.") % {"names": names}}
        )
    if not {"first_name", "full_name"} & set(chosen):
        raise ValidationError(
            {"mapping": _("Map a column to First name or Full name: every customer needs a name.")}
        )
    return cleaned


def import_map(*, job: ImportJob, mapping: Sequence[str], actor: Actor) -> ImportJob:
    """Save the mapping and check every row with it (inline for a small file)."""
    with transaction.atomic():
        job = _locked(job)
        if job.status not in (ImportStatus.MAPPING, ImportStatus.CHECKED):
            raise ValidationError(_("This import can no longer be changed."))
        job.mapping = mapping_clean(job=job, mapping=mapping)
        job.language = translation.get_language() or ""
        job.status = ImportStatus.CHECKING
        job.failure = ""
        job.progress = 0
        job.worker_started_at = None
        job.save()
        if job.has_header:
            _remember(job)
        if job.rows_total > INLINE_CHECK_ROWS:
            job_id = job.pk
            transaction.on_commit(lambda: _queue("check_import", job_id), robust=True)
            return job
    try:
        _check(job)
    except BaseException:
        # No worker will pick an inline check up again: the mapping step comes back.
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.MAPPING)
        raise
    return job


def _remember(job: ImportJob) -> None:
    for header, key in zip(job.columns, job.mapping, strict=True):
        normalized = normalize_header(header)[:100]
        if normalized:
            ImportColumnChoice.objects.update_or_create(
                merchant_id=job.merchant_id, header=normalized, defaults={"field": key}
            )


def _queue(task_name: str, job_id: int) -> None:
    # Late: the tasks module imports these services.
    from customers import tasks

    getattr(tasks, task_name).delay(job_id)


def _staged(job: ImportJob) -> Iterator[tuple[int, list[str]]]:
    rows = ImportRow.objects.filter(job=job).order_by("line").values_list("line", "cells")
    yield from rows.iterator(chunk_size=CHUNK)


def _context(job: ImportJob) -> Context:
    program = (
        Program.objects.select_related("merchant")
        .prefetch_related("tiers", "custom_fields")
        .get(pk=job.program_id)
    )
    return Context.of(program=program, mapping=job.mapping, columns=job.columns)


def _check(job: ImportJob) -> None:
    """Every row's outcome counted and its problems kept; nothing of the CRM is written."""
    ImportProblem.objects.filter(job=job).delete()
    counts = {"new": 0, "matched": 0, "skipped": 0, "invalid": 0}
    problems: list[Problem] = []
    for number, outcome in enumerate(check_rows(_context(job), _staged(job)), start=1):
        _count(counts, outcome, problems)
        if number % CHUNK == 0:
            _save_problems(job, problems)
            problems = []
            ImportJob.objects.filter(pk=job.pk).update(progress=number)
    _save_problems(job, problems)
    job.progress = job.rows_total
    job.new_customers, job.matched_customers = counts["new"], counts["matched"]
    job.skipped_rows, job.invalid_rows = counts["skipped"], counts["invalid"]
    job.status = ImportStatus.CHECKED
    job.checked_at = clock.now()
    job.worker_started_at = None
    job.save()


def _count(counts: dict[str, int], outcome: Record | Problem, problems: list[Problem]) -> None:
    if isinstance(outcome, Record):
        counts["new" if outcome.customer_id is None else "matched"] += 1
        return
    counts["skipped" if outcome.skipped else "invalid"] += 1
    problems.append(outcome)


PROBLEM_COLUMNS = ("job_id", "line", "kind", "column", "value", "reason", "params")


def _save_problems(job: ImportJob, problems: Sequence[Problem]) -> None:
    """COPY, not the ORM's INSERT: re-importing a file makes every row a (skipped) problem."""
    kinds = ImportProblem.Kind
    rows = (
        (
            job.pk,
            problem.line,
            kinds.SKIPPED if problem.skipped else kinds.INVALID,
            problem.column[:100],
            problem.value[:200],
            problem.reason[:300],
            Jsonb(problem.params),
        )
        for problem in problems
    )
    with connection.cursor() as cursor:
        applying.copy_rows(cursor, ImportProblem._meta.db_table, PROBLEM_COLUMNS, rows)


@contextlib.contextmanager
def _worker_lock(job_id: int) -> Iterator[None]:
    """The job's advisory lock for as long as a worker works on it; a killed worker's
    connection closes and PostgreSQL lets go of it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [JOB_LOCK, job_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK, job_id])


def _take(job_id: int, status: str) -> ImportJob | None:
    """The job, marked as taken on by this worker, if it still waits for it."""
    job = ImportJob.objects.filter(pk=job_id, status=status).first()
    if job is not None:
        job.worker_started_at = clock.now()
        job.save(update_fields=["worker_started_at"])
    return job


def import_check(*, job_id: int) -> None:
    """The worker's check of a large file."""
    with _worker_lock(job_id):
        job = _take(job_id, ImportStatus.CHECKING)
        if job is not None:
            with translation.override(job.language or None):
                _check(job)


# ---------------------------------------------------------------------------------------------
# Apply


def import_apply_request(
    *, job: ImportJob, actor: Actor, send_links: bool = False, consent: bool = False
) -> ImportJob:
    """Queue the apply of a checked import; asked again, it changes nothing."""
    if send_links and not consent:
        raise ValidationError(
            {
                "consent": _(
                    "Confirm that these customers agreed to hear from you, or leave the emails off."
                )
            }
        )
    with transaction.atomic():
        job = _locked(job)
        if job.status in (ImportStatus.APPLYING, ImportStatus.APPLIED):
            return job  # a double click, or a resent form: applied once
        if job.status != ImportStatus.CHECKED:
            raise ValidationError(_("Only a checked import can be applied."))
        job.status = ImportStatus.APPLYING
        job.send_links = send_links
        job.failure = ""
        job.worker_started_at = None
        job.save()
        job_id = job.pk
        transaction.on_commit(lambda: _queue("apply_import", job_id), robust=True)
    cache.set(PROGRESS_KEY.format(job=job.pk), 0, 3600)
    return job


INTERRUPTED, CONFLICT = "interrupted", "conflict"  # keys of customers.models.IMPORT_FAILURES


def import_apply(*, job_id: int) -> bool:
    """The worker's apply: everything in one transaction, or nothing (True when applied)."""
    with _worker_lock(job_id):
        job = _take(job_id, ImportStatus.APPLYING)
        if job is None:
            return False
        try:
            with transaction.atomic(), translation.override(job.language or None):
                _apply(job)
        except IntegrityError:
            logger.warning("Import %s met a concurrent change", job_id, exc_info=True)
            _fail(job_id, CONFLICT)
            return False
        except Exception:
            logger.exception("Import %s failed", job_id)
            _fail(job_id, INTERRUPTED)
            raise
    return True


def _fail(job_id: int, failure: str) -> None:
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.APPLYING).update(
        status=ImportStatus.CHECKED, failure=failure, worker_started_at=None
    )


def _apply(job: ImportJob) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MERCHANT_LOCK, job.merchant_id])
    job = _locked(job)
    ImportProblem.objects.filter(job=job).delete()
    context = _context(job)
    batch = applying.Batch(
        job_id=job.pk,
        file_name=job.file_name,
        program=context.program,
        actor_id=job.created_by_id,
        now=clock.now(),
    )
    written = applying.Written()
    counts = {"new": 0, "matched": 0, "skipped": 0, "invalid": 0}
    problems: list[Problem] = []
    pending: list[Record] = []
    with connection.cursor() as cursor:
        for number, outcome in enumerate(check_rows(context, _staged(job)), start=1):
            _count(counts, outcome, problems)
            if isinstance(outcome, Record):
                pending.append(outcome)
            if len(pending) == CHUNK:
                applying.write_records(cursor, batch, pending, written)
                pending = []
                cache.set(PROGRESS_KEY.format(job=job.pk), number, 3600)
        applying.write_records(cursor, batch, pending, written)
    _save_problems(job, problems)
    # Statistics of the rows just copied, in this transaction (ANALYZE counts its own
    # transaction's rows, and the statistics commit or roll back with the import): until then
    # the planner takes the tables for what they were, perhaps empty, and plans the rollup
    # rebuild below, the next import's lookups and verify_ledger's fold as nested loops over
    # every new row (minutes instead of a second, at 30,000 rows).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer, cards_card, cards_ledgerentry")
    ledger_bulk_loaded.send(sender=None, merchants=[job.merchant_id])
    _finish(job, counts, written, batch.now)


def _finish(
    job: ImportJob, counts: dict[str, int], written: applying.Written, now: datetime.datetime
) -> None:
    job.new_customers, job.matched_customers = counts["new"], counts["matched"]
    job.skipped_rows, job.invalid_rows = counts["skipped"], counts["invalid"]
    for name in ("first_customer_id", "last_customer_id", "first_card_id", "last_card_id"):
        setattr(job, name, getattr(written, name))
    job.status = ImportStatus.APPLIED
    job.applied_at = now
    job.progress = job.rows_total
    job.sample = []  # personal data, no longer needed
    job.worker_started_at = None
    job.save()
    ImportRow.objects.filter(job=job).delete()
    audit_record(
        merchant=job.program.merchant,
        actor=job.created_by,
        action=AuditAction.CUSTOMERS_IMPORTED,
        summary=(
            f"Imported {job.file_name} into {job.program.name}: "
            f"{written.new_customers} new customers, {written.matched_customers} cards for "
            f"customers on file, {job.skipped_rows} rows skipped, {job.invalid_rows} invalid"
        )[:300],
        details={
            "job": job.pk,
            "program": job.program_id,
            "rows": job.rows_total,
            "new": written.new_customers,
            "matched": written.matched_customers,
            "skipped": job.skipped_rows,
            "invalid": job.invalid_rows,
            "send_links": job.send_links,
        },
    )
    merchant_id, job_id, send_links = job.merchant_id, job.pk, job.send_links
    transaction.on_commit(lambda: _after_apply(merchant_id, job_id, send_links), robust=True)


def _after_apply(merchant_id: int, job_id: int, send_links: bool) -> None:
    # Late: the tasks module imports these services.
    from customers import tasks

    # The imported visits move customers out of "No visits".
    tasks.recompute_merchant_segments.delay(merchant_id)
    if send_links:
        tasks.send_import_links.delay(job_id)


def import_progress(*, job: ImportJob) -> int:
    """Rows done: the check's committed count, or the apply's (its transaction is not visible
    until it commits, so it reports through the cache)."""
    if job.status == ImportStatus.APPLYING:
        return int(cache.get(PROGRESS_KEY.format(job=job.pk)) or 0)
    return job.progress


def import_recover(*, job: ImportJob) -> bool:
    """Put back a job whose worker died mid-way (its transaction rolled back): checking goes
    back to the mapping, applying to checked, with a message. True when it was interrupted."""
    if not job.is_busy or job.worker_started_at is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK, job.pk])
        (free,) = cursor.fetchone()
        if not free:
            return False
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK, job.pk])
    back = ImportStatus.MAPPING if job.status == ImportStatus.CHECKING else ImportStatus.CHECKED
    return bool(
        ImportJob.objects.filter(
            pk=job.pk, status=job.status, worker_started_at=job.worker_started_at
        ).update(status=back, failure=INTERRUPTED, worker_started_at=None)
    )


# ---------------------------------------------------------------------------------------------
# Card links for the new customers


def import_send_links(*, job_id: int, limit: int) -> bool:
    """Email up to ``limit`` new customers of an applied import their card's link, in card
    order from where the last run stopped; True while some are left."""
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, status=ImportStatus.APPLIED, send_links=True)
            .first()
        )
        if job is None or job.first_card_id is None or job.first_customer_id is None:
            return False
        cards = list(
            Card.objects.filter(
                program_id=job.program_id,
                pk__gt=max(job.links_after, job.first_card_id - 1),
                pk__lte=job.last_card_id,
                customer_id__gte=job.first_customer_id,
                customer_id__lte=job.last_customer_id,
            )
            .exclude(import_key="")
            .exclude(customer__email="")
            .select_related("customer", "program", "merchant")
            .order_by("pk")[:limit]
        )
        sent = sum(card_send_link(card=card, reason=LinkReason.IMPORTED) for card in cards)
        if cards:
            ImportJob.objects.filter(pk=job.pk).update(
                links_after=cards[-1].pk, links_sent=F("links_sent") + sent
            )
        return len(cards) == limit


# ---------------------------------------------------------------------------------------------
# Housekeeping


def import_discard(*, job: ImportJob) -> None:
    """Drop an import that was not applied, with its staged rows (nothing else was written)."""
    with transaction.atomic():
        job = _locked(job)
        if job.status not in (ImportStatus.MAPPING, ImportStatus.CHECKED):
            raise ValidationError(_("An import being checked, applied or already applied stays."))
        job.delete()


# An import left unapplied this long is dropped with its staged rows (personal data).
STALE_AFTER = datetime.timedelta(days=7)


def imports_purge_stale() -> int:
    """Delete the imports nobody applied within ``STALE_AFTER``; returns how many."""
    stale = ImportJob.objects.filter(created_at__lt=clock.now() - STALE_AFTER).exclude(
        status__in=(ImportStatus.APPLIED, ImportStatus.APPLYING)
    )
    count = stale.count()
    stale.delete()
    return count
