"""Delivery: the dispatcher (the beat tick) and sending one (message, device) pair.

Delivery is AT MOST ONCE per (message, subscription) pair:

1. The beat tick (``messages_dispatch_due``) claims due messages with
   ``SELECT ... FOR UPDATE SKIP LOCKED``, so two dispatchers never claim the same message, and
   inserts one ``Delivery`` per pair (unique constraint) before queueing a task per pair on
   commit.
2. A task (``delivery_send``) claims its pair with a conditional UPDATE
   ``pending -> sending`` committed BEFORE the HTTP request. A duplicate task (beat restart,
   broker redelivery, the tick re-queueing) finds the pair no longer pending and does nothing.
3. After the answer the pair becomes delivered / expired / failed, or pending again for a
   retry when the push service said so (429, 5xx) or could not be reached at all.

Recovery rule: a pair still ``sending`` long after its claim (``PUSH_SENDING_TIMEOUT``, far
above the request timeouts) belonged to a worker that died mid-request. We cannot know
whether the push service accepted it, so it is marked ``unknown`` and NEVER resent: a lost
push is acceptable, a duplicate is not. Likewise a request that timed out or broke off after
it was sent is ``unknown``, not retried. Pairs never claimed (still ``pending``) are simply
queued again by the tick, so a killed worker loses nothing it had not started.

Reasons are stored text that staff read in the Send push tab: they are written in the
merchant's default language (``translation.override``), since a worker has no request.
"""

from __future__ import annotations

import datetime
import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.aggregates import StringAgg
from django.db import transaction
from django.db.models import Case, CharField, Exists, F, OuterRef, Subquery, TextField, Value, When
from django.db.models.functions import Coalesce, Concat, Left
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from loyalty import clock
from loyalty.celery import app as celery_app
from pushes import conf
from pushes.channels import DeliveryResult, Outcome, channel_for
from pushes.models import (
    FINAL_DELIVERY_STATUSES,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    MessageStatus,
    PushMessage,
    PushSubscription,
)
from pushes.services.subscriptions import subscription_expire

logger = logging.getLogger(__name__)

# Queued by name: pushes.tasks imports these services, so importing the task here would be a
# cycle.
SEND_DELIVERY_TASK = "pushes.tasks.send_delivery"


# ---------------------------------------------------------------------------------------------
# Dispatching (the beat tick)


@dataclass(frozen=True)
class DispatchReport:
    claimed: list[int]
    enqueued: list[int]
    requeued: list[int]
    interrupted: list[int]


def _enqueue(delivery_ids: Iterable[int], countdown: float = 0) -> None:
    for delivery_id in delivery_ids:
        if countdown > 0:
            celery_app.send_task(SEND_DELIVERY_TASK, args=(delivery_id,), countdown=countdown)
        else:
            celery_app.send_task(SEND_DELIVERY_TASK, args=(delivery_id,))


def messages_dispatch_due(*, limit: int | None = None) -> DispatchReport:
    """Claim due messages, queue their pairs, re-queue lost tasks, close interrupted sends."""
    now = clock.now()
    claimed, enqueued = _claim_due_messages(now, limit or conf.get_int("PUSH_DISPATCH_BATCH"))
    requeued = _requeue_stale_deliveries(now)
    interrupted = _close_interrupted_deliveries(now)
    return DispatchReport(
        claimed=claimed, enqueued=enqueued, requeued=requeued, interrupted=interrupted
    )


def _claim_due_messages(now: datetime.datetime, limit: int) -> tuple[list[int], list[int]]:
    with transaction.atomic():
        due = list(
            PushMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("card", "merchant")
            .filter(status=MessageStatus.SCHEDULED, send_at__lte=now)
            .order_by("send_at", "id")[:limit]
        )
        if not due:
            return [], []
        subscriptions: dict[int, list[int]] = defaultdict(list)
        for sub_id, card_id in (
            PushSubscription.objects.filter(
                card_id__in={m.card_id for m in due}, expired_at__isnull=True
            )
            .order_by("id")
            .values_list("id", "card_id")
        ):
            subscriptions[card_id].append(sub_id)
        deliveries = []
        for message in due:
            message.started_at = now
            if message.card.is_deleted:
                with translation.override(message.merchant.language):
                    _mark_failed(message, now, _("The card was deleted; nothing was sent."))
            elif not subscriptions[message.card_id]:
                with translation.override(message.merchant.language):
                    reason = _(
                        "No device can receive it (notifications are off or the card was removed)."
                    )
                _mark_failed(message, now, reason)
            else:
                message.status = MessageStatus.SENDING
                deliveries += [
                    Delivery(
                        message=message,
                        subscription_id=sub_id,
                        next_attempt_at=now,
                        enqueued_at=now,
                    )
                    for sub_id in subscriptions[message.card_id]
                ]
        PushMessage.objects.bulk_update(
            due, ["status", "started_at", "finished_at", "failure_reason"]
        )
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        sending = [m.pk for m in due if m.status == MessageStatus.SENDING]
        ids = list(
            Delivery.objects.filter(message_id__in=sending, status=DeliveryStatus.PENDING)
            .order_by("id")
            .values_list("id", flat=True)
        )
        transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return [m.pk for m in due], ids


def _mark_failed(message: PushMessage, now: datetime.datetime, reason: str) -> None:
    message.status = MessageStatus.FAILED
    message.finished_at = now
    message.failure_reason = reason


def _requeue_stale_deliveries(now: datetime.datetime) -> list[int]:
    """Pending pairs whose task was queued long ago: the task was lost (or its worker died
    before claiming it). Queue them again; the claim makes a duplicate harmless."""
    cutoff = now - datetime.timedelta(seconds=conf.get("PUSH_REQUEUE_AFTER"))
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, enqueued_at__lt=cutoff, next_attempt_at__lte=now)
            .order_by("id")
            .values_list("id", flat=True)[: conf.get_int("PUSH_DISPATCH_BATCH") * 5]
        )
        if ids:
            Delivery.objects.filter(pk__in=ids).update(enqueued_at=now)
            transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return ids


# English here, written translated (gettext at the time of writing, in the merchant's language).
INTERRUPTED = gettext_noop(
    "The sending was interrupted (the worker stopped); not resent, so it cannot arrive twice."
)


def _close_interrupted_deliveries(now: datetime.datetime) -> list[int]:
    """The recovery rule: a pair stuck in ``sending`` is ``unknown``, never resent."""
    cutoff = now - datetime.timedelta(seconds=conf.get("PUSH_SENDING_TIMEOUT"))
    with transaction.atomic():
        stuck = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
            .annotate(language=F("message__merchant__language"))
            .order_by("id")[:1000]
        )
        if not stuck:
            return []
        ids = [d.pk for d in stuck]
        by_language: dict[str, list[int]] = defaultdict(list)
        for d in stuck:
            by_language[d.language].append(d.pk)
        for language, group in by_language.items():
            with translation.override(language):
                reason = _(INTERRUPTED)
            Delivery.objects.filter(pk__in=group).update(
                status=DeliveryStatus.UNKNOWN, finished_at=now, reason=reason
            )
            DeliveryAttempt.objects.filter(
                delivery_id__in=group, outcome=AttemptOutcome.IN_FLIGHT
            ).update(outcome=AttemptOutcome.INTERRUPTED, finished_at=now, detail=reason)
    languages = {d.message_id: d.language for d in stuck}
    for message_id in sorted(languages):
        with translation.override(languages[message_id]):
            _finish_message_if_done(message_id, now)
    logger.warning("Closed %d interrupted push deliveries as unknown: %s", len(ids), ids)
    return ids


def _finish_message_if_done(message_id: int, now: datetime.datetime) -> None:
    """Sent once every pair is final and one arrived; failed (with the reasons) when none did.
    Call it in the merchant's language: the reasons' heading is written in the active one.

    One conditional UPDATE, run AFTER the caller committed its pair: each statement sees every
    commit made before it starts, so of the last two pairs finishing at once, the one that
    committed last sees them all final (both may; then the second finds the message no longer
    ``sending`` and changes nothing). No lock on the message row is needed.
    """
    deliveries = Delivery.objects.filter(message_id=OuterRef("pk"))
    delivered = Exists(deliveries.filter(status=DeliveryStatus.DELIVERED))
    reasons = (
        deliveries.exclude(reason="")
        .values("message_id")
        .annotate(text=StringAgg("reason", delimiter=" ", distinct=True, order_by="reason"))
        .values("text")
    )
    PushMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING).exclude(
        Exists(deliveries.exclude(status__in=FINAL_DELIVERY_STATUSES))
    ).update(
        status=Case(
            When(delivered, then=Value(MessageStatus.SENT)), default=Value(MessageStatus.FAILED)
        ),
        finished_at=now,
        failure_reason=Case(
            When(delivered, then=Value("")),
            default=Left(
                Concat(
                    Value(_("No device received it.") + " "),
                    Coalesce(Subquery(reasons), Value(""), output_field=TextField()),
                    output_field=TextField(),
                ),
                300,
            ),
            output_field=CharField(),
        ),
    )


# ---------------------------------------------------------------------------------------------
# Sending one pair (the thin task)


_FINAL_STATUS = {
    Outcome.DELIVERED: DeliveryStatus.DELIVERED,
    Outcome.EXPIRED: DeliveryStatus.EXPIRED,
    Outcome.FAILED: DeliveryStatus.FAILED,
    Outcome.UNKNOWN: DeliveryStatus.UNKNOWN,
}


_SEND_FIELDS = (
    "message_id", "subscription_id", "status", "attempts", "claimed_at",
    "message__status", "message__body", "message__merchant_id", "message__card_id",
    "message__merchant__name", "message__merchant__language",
    "message__card__status", "message__card__install_token", "message__card__merchant_id",
    "subscription__channel", "subscription__endpoint", "subscription__p256dh",
    "subscription__auth", "subscription__expired_at",
)  # fmt: skip


def _claim_delivery(
    delivery_id: int, now: datetime.datetime
) -> tuple[Delivery, DeliveryAttempt] | None:
    """Take the pair (pending -> sending) and write its attempt row, committed before any
    request is made. None when it is not ours: already taken, finished, or not due yet."""
    # Each statement commits on its own (autocommit): the claim is durable before anything
    # else happens, and a crash between these statements leaves the pair "sending", which the
    # recovery rule closes without a resend.
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = (
        Delivery.objects.select_related("message__merchant", "message__card", "subscription")
        # Only what sending reads: a card row has dozens of balance columns.
        .only(*_SEND_FIELDS)
        .get(pk=delivery_id)
    )
    with translation.override(delivery.message.merchant.language):
        skip = _reason_not_to_send(delivery)
        if skip:
            Delivery.objects.filter(pk=delivery_id).update(
                status=DeliveryStatus.SKIPPED, finished_at=now, reason=skip
            )
            _finish_message_if_done(delivery.message_id, now)
            return None
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery, number=delivery.attempts, started_at=now
    )
    return delivery, attempt


def _reason_not_to_send(delivery: Delivery) -> str:
    if delivery.message.card.is_deleted:
        return _("The card was deleted; nothing was sent.")
    if not delivery.subscription.is_active:
        return _("The device stopped receiving (notifications off or the card removed).")
    status = delivery.message.status
    if status == MessageStatus.SCHEDULED:
        return _("The message is scheduled.")
    if status == MessageStatus.SENT:
        return _("The message is sent.")
    if status == MessageStatus.FAILED:
        return _("The message is failed.")
    if status == MessageStatus.CANCELLED:
        return _("The message is cancelled.")
    return ""


def delivery_send(*, delivery_id: int) -> DeliveryStatus | None:
    """Make one attempt at one pair. Returns the pair's new status, or None when the pair
    was not ours to send or was not sent (card deleted, device unsubscribed)."""
    claim = _claim_delivery(delivery_id, clock.now())
    if claim is None:
        return None
    delivery, attempt = claim
    # The channel's detail and the reasons recorded are stored for staff: in the merchant's
    # language.
    with translation.override(delivery.message.merchant.language):
        result = channel_for(delivery.subscription).send(delivery.message, delivery.subscription)
        return _record(delivery, attempt, result)


def delivery_wait(*, delivery_id: int) -> float | None:
    """Seconds until a pending pair is due, when it is not yet (a task that arrived early)."""
    due = (
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if due is None:
        return None
    wait = (due - clock.now()).total_seconds()
    return wait if wait > 0 else None


def _retry_delay(delivery: Delivery, result: DeliveryResult) -> float | None:
    """Seconds until the next attempt, or None when it is time to give up."""
    if delivery.attempts >= conf.get_int("PUSH_MAX_ATTEMPTS"):
        return None
    if result.retry_after is not None:
        delay = result.retry_after
    else:
        base = conf.get("PUSH_BACKOFF_BASE")
        delay = base * 2 ** (delivery.attempts - 1) * random.uniform(0.8, 1.2)
    return delay if delay <= conf.get("PUSH_MAX_RETRY_DELAY") else None


def _give_up_reason(delivery: Delivery, result: DeliveryResult) -> str:
    if delivery.attempts >= conf.get_int("PUSH_MAX_ATTEMPTS"):
        if result.status_code:
            # Translators: %(status)s is an HTTP status code (429, 503...).
            return ngettext(
                "The push service kept refusing (%(status)s); gave up after %(count)d attempt.",
                "The push service kept refusing (%(status)s); gave up after %(count)d attempts.",
                delivery.attempts,
            ) % {"status": result.status_code, "count": delivery.attempts}
        return ngettext(
            "The push service kept refusing; gave up after %(count)d attempt.",
            "The push service kept refusing; gave up after %(count)d attempts.",
            delivery.attempts,
        ) % {"count": delivery.attempts}
    return _("The push service asked to wait too long; the message would be stale.")


def _record(delivery: Delivery, attempt: DeliveryAttempt, result: DeliveryResult) -> DeliveryStatus:
    now = clock.now()
    outcome = AttemptOutcome(result.outcome.value)
    status: DeliveryStatus
    reason = result.detail
    delay = _retry_delay(delivery, result) if result.outcome == Outcome.RETRY else None
    if result.outcome == Outcome.RETRY:
        status = DeliveryStatus.PENDING if delay is not None else DeliveryStatus.FAILED
        if delay is None:
            reason = _give_up_reason(delivery, result)
    else:
        status = _FINAL_STATUS[result.outcome]
    with transaction.atomic():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now,
            outcome=outcome,
            status_code=result.status_code,
            retry_after=result.retry_after,
            detail=result.detail[:300],
        )
        fields: dict[str, Any] = {
            "status": status,
            "status_code": result.status_code,
            "reason": reason[:300],
        }
        if status == DeliveryStatus.PENDING:
            assert delay is not None
            due = now + datetime.timedelta(seconds=delay)
            fields.update(next_attempt_at=due, enqueued_at=due)
        else:
            fields["finished_at"] = now
        # Only while still ours: if the recovery rule already closed it, the attempt row keeps
        # the late answer and the pair stays as the recovery left it.
        updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            **fields
        )
        if not updated:
            return DeliveryStatus(
                Delivery.objects.values_list("status", flat=True).get(pk=delivery.pk)
            )
        if result.outcome == Outcome.EXPIRED:
            subscription_expire(
                subscription=delivery.subscription,
                # Translators: %(status)s is an HTTP status code (404 or 410).
                reason=_("The push service answered %(status)s.") % {"status": result.status_code},
            )
        if status == DeliveryStatus.PENDING:
            delivery_id, countdown = delivery.pk, delay or 0
            transaction.on_commit(lambda: _enqueue([delivery_id], countdown), robust=True)
    if status != DeliveryStatus.PENDING:
        _finish_message_if_done(delivery.message_id, now)
    return status
