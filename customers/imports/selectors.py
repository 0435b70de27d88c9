"""Reads of the imports: a merchant's jobs (another merchant's job is a 404) and their rows'
problems."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from customers.models import ImportJob, ImportProblem
from loyalty.models import Merchant

RECENT_IMPORTS = 20
PROBLEMS_SHOWN = 20


def import_jobs_recent(*, merchant: Merchant) -> QuerySet[ImportJob]:
    return (
        ImportJob.objects.filter(merchant=merchant)
        .select_related("program", "created_by")
        .defer("sample", "mapping", "columns")[:RECENT_IMPORTS]
    )


def import_job(*, merchant: Merchant, pk: int) -> ImportJob:
    return get_object_or_404(
        ImportJob.objects.select_related("program__merchant", "created_by"),
        merchant=merchant,
        pk=pk,
    )


def import_problems_first(*, job: ImportJob, kind: str) -> list[ImportProblem]:
    return list(job.problems.filter(kind=kind).order_by("line", "id")[:PROBLEMS_SHOWN])


def import_problems_all(*, job: ImportJob) -> Iterator[ImportProblem]:
    return job.problems.order_by("line", "id").iterator(chunk_size=5000)
