"""Celery tasks: thin wrappers; the work and its guarantees live in ``pushes.services``."""

from __future__ import annotations

from celery import shared_task

from pushes import services


@shared_task(ignore_result=True)
def dispatch_due_messages() -> dict[str, int]:
    """The beat tick (every 10 s, see loyalty/celery.py): claim due messages and queue one
    ``send_delivery`` per (message, subscription) pair."""
    report = services.messages_dispatch_due()
    return {
        "claimed": len(report.claimed),
        "enqueued": len(report.enqueued),
        "requeued": len(report.requeued),
        "interrupted": len(report.interrupted),
    }


@shared_task(ignore_result=True, acks_late=True)
def send_delivery(delivery_id: int) -> str | None:
    """One attempt at one pair; a duplicate of this task is harmless (the pair is claimed)."""
    status = services.delivery_send(delivery_id=delivery_id)
    if status is None:
        # A retry's task that arrived before the pair is due (an early timer, a redelivery):
        # come back then rather than leave it to the tick's re-queueing.
        wait = services.delivery_wait(delivery_id=delivery_id)
        if wait is not None:
            send_delivery.apply_async(args=(delivery_id,), countdown=wait + 0.05)
    return str(status) if status else None
