"""Celery tasks: thin wrappers; the work lives in ``customers.segments``."""

from __future__ import annotations

from celery import shared_task

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
