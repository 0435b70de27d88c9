"""Celery tasks: thin wrappers; the work and its guarantees live in ``pushes.services``."""

from __future__ import annotations

from celery import shared_task

from pushes import conf, services
from pushes.models import Trigger
from pushes.services import automatic, campaigns


@shared_task(ignore_result=True)
def dispatch_due_messages() -> dict[str, int]:
    """The beat tick (every 10 s, see loyalty/celery.py): claim due messages and queue one
    ``send_deliveries`` per batch of (message, subscription) pairs. A full batch of messages
    (a campaign starting) queues the next tick at once rather than in 10 s."""
    limit = conf.get_int("PUSH_DISPATCH_BATCH")
    report = services.messages_dispatch_due(limit=limit)
    if len(report.claimed) >= limit:
        dispatch_due_messages.delay()
    return {
        "claimed": len(report.claimed),
        "enqueued": len(report.enqueued),
        "requeued": len(report.requeued),
        "interrupted": len(report.interrupted),
        "released": len(report.released),
    }


@shared_task(ignore_result=True, acks_late=True)
def send_deliveries(delivery_ids: list[int]) -> int:
    """One attempt at each of a batch of pairs; a duplicate of this task is harmless (the
    pairs are claimed). Returns how many were attempted."""
    statuses = services.deliveries_send(delivery_ids=delivery_ids)
    # A retry's task that arrived before its pairs are due (an early timer, a redelivery):
    # come back then rather than leave them to the tick's re-queueing.
    waiting = services.deliveries_not_yet_due(delivery_ids=delivery_ids)
    if waiting:
        send_deliveries.apply_async(args=(sorted(waiting),), countdown=max(waiting.values()) + 0.05)
    return len(statuses)


@shared_task(ignore_result=True, acks_late=True)
def send_delivery(delivery_id: int) -> str | None:
    """One attempt at one pair (tasks queued before batches existed still run); a duplicate
    of this task is harmless (the pair is claimed)."""
    status = services.delivery_send(delivery_id=delivery_id)
    if status is None:
        # A retry's task that arrived before the pair is due (an early timer, a redelivery):
        # come back then rather than leave it to the tick's re-queueing.
        wait = services.delivery_wait(delivery_id=delivery_id)
        if wait is not None:
            send_delivery.apply_async(args=(delivery_id,), countdown=wait + 0.05)
    return str(status) if status else None


@shared_task(ignore_result=True)
def start_due_campaigns() -> dict[str, int]:
    """The beat tick for campaigns (every 10 s): start the due ones outside quiet hours
    (their audience frozen into messages the dispatcher sends), and close the finished ones."""
    started = campaigns.campaigns_start_due()
    finished = campaigns.campaigns_finish()
    return {"started": len(started), "finished": len(finished)}


# The scheduled automatic messages: one beat task per kind (loyalty/celery.py). Each finds its
# due cards with one query and records their messages; a repeated run records nothing twice.


@shared_task(ignore_result=True)
def queue_expiring_messages() -> int:
    return automatic.auto_messages_queue(trigger=Trigger.EXPIRING)


@shared_task(ignore_result=True)
def queue_birthday_messages() -> int:
    return automatic.auto_messages_queue(trigger=Trigger.BIRTHDAY)


@shared_task(ignore_result=True)
def queue_lapsed_messages() -> int:
    return automatic.auto_messages_queue(trigger=Trigger.LAPSED)
