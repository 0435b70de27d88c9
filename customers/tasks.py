"""Celery tasks: thin wrappers; the work lives in ``customers.segments`` and
``customers.imports.services``."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from customers.imports import services as imports
from customers.segments import segments_recompute
from loyalty.models import Merchant


@shared_task(ignore_result=True)
def recompute_all_segments() -> int:
    """The daily beat task (see loyalty/celery.py): one task per merchant, so merchants are
    recomputed in parallel and one failure does not stop the others."""
    merchant_ids = list(Merchant.objects.order_by("pk").values_list("pk", flat=True))
    for merchant_id in merchant_ids:
        recompute_merchant_segments.delay(merchant_id)
    return len(merchant_ids)


@shared_task(ignore_result=True, acks_late=True)
def recompute_merchant_segments(merchant_id: int) -> int:
    """One merchant's segments in one set-based statement; safe to run twice."""
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        return 0
    return segments_recompute(merchant=merchant)


# ---------------------------------------------------------------------------------------------
# Imports (the work lives in customers.imports.services)


@shared_task(ignore_result=True, acks_late=True)
def check_import(job_id: int) -> None:
    """Check a large import's rows; a repeated task finds the job checked and does nothing."""
    imports.import_check(job_id=job_id)


@shared_task(ignore_result=True, acks_late=True)
def apply_import(job_id: int) -> None:
    """Apply a checked import in one transaction; a repeated task finds it applied."""
    imports.import_apply(job_id=job_id)


@shared_task(ignore_result=True, acks_late=True)
def send_import_links(job_id: int) -> None:
    """Email a batch of the import's new customers their card, then queue the next batch a
    second later: the rate stays at ``IMPORT_LINKS_PER_SECOND`` however many there are."""
    if imports.import_send_links(job_id=job_id, limit=settings.IMPORT_LINKS_PER_SECOND):
        send_import_links.apply_async((job_id,), countdown=1)


@shared_task(ignore_result=True)
def purge_stale_imports() -> int:
    """Daily: imports nobody applied within a week go, with the rows they staged."""
    return imports.imports_purge_stale()
