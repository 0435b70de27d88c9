"""Delivery: the dispatcher (the beat tick) and sending (message, device) pairs in batches.

Delivery is AT MOST ONCE per (message, subscription) pair:

1. The beat tick (``messages_dispatch_due``) claims due messages with
   ``SELECT ... FOR UPDATE SKIP LOCKED``, so two dispatchers never claim the same message, and
   inserts one ``Delivery`` per pair (unique constraint) before queueing, on commit, one task
   per batch of pairs (``PUSH_SEND_BATCH``).
2. A task (``deliveries_send``) claims its pairs in one conditional UPDATE
   ``pending -> sending`` (``FOR UPDATE SKIP LOCKED``) committed BEFORE any request. A
   duplicate task (beat restart, broker redelivery, the tick re-queueing) finds the pairs no
   longer pending and does nothing.
3. Before each request its attempt row is written and committed, only while the pair is still
   the batch's claim: the pair's "started" mark. A batch starts no request once its claim is
   close to the recovery rule's timeout (``_claim_budget``): it gives the rest back to the
   queue. The answers are written in bulk, every ``PUSH_RESULT_FLUSH`` requests and at the end
   of the batch: the pair becomes delivered / expired / failed, or pending again for a retry
   when the push service said so (429, 5xx) or could not be reached at all.

Recovery rule: a pair still ``sending`` long after its claim (``PUSH_SENDING_TIMEOUT``, far
above the request timeouts) belonged to a worker that died. If its request was started (an
attempt row in flight) we cannot know whether the push service accepted it, so it is marked
``unknown`` and NEVER resent: a lost push is acceptable, a duplicate is not. Likewise a
request that timed out or broke off after it was sent is ``unknown``, not retried. A pair
claimed but never started goes back to ``pending`` and is queued again, and so are pairs never
claimed: a killed worker loses nothing it had not started.

The bookkeeping is per batch, not per pair (one claim, one read, one write of the answers per
batch; one insert per request), and HTTP connections are kept per worker process
(``pushes.endpoints``): a worker process sends a few hundred pushes a second.

Reasons are stored text that staff read in the Send push tab: they are written in the
merchant's default language (``translation.override``), since a worker has no request.
"""

from __future__ import annotations

import datetime
import functools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.aggregates import StringAgg
from django.db import connection, transaction
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
SEND_DELIVERIES_TASK = "pushes.tasks.send_deliveries"


# ---------------------------------------------------------------------------------------------
# Dispatching (the beat tick)


@dataclass(frozen=True)
class DispatchReport:
    claimed: list[int]
    enqueued: list[int]
    requeued: list[int]
    interrupted: list[int]
    released: list[int] = field(default_factory=list)  # claimed, never started: queued again


def _enqueue(delivery_ids: Iterable[int], countdown: float = 0) -> None:
    """One task per batch of pairs; a pair queued twice is still sent once (the claim)."""
    ids = list(delivery_ids)
    size = conf.get_int("PUSH_SEND_BATCH")
    for start in range(0, len(ids), size):
        options: dict[str, Any] = {"countdown": countdown} if countdown > 0 else {}
        celery_app.send_task(SEND_DELIVERIES_TASK, args=(ids[start : start + size],), **options)


def messages_dispatch_due(*, limit: int | None = None) -> DispatchReport:
    """Claim due messages, queue their pairs, re-queue lost tasks, close interrupted sends."""
    now = clock.now()
    claimed, enqueued = _claim_due_messages(now, limit or conf.get_int("PUSH_DISPATCH_BATCH"))
    requeued = _requeue_stale_deliveries(now)
    interrupted, released = _close_interrupted_deliveries(now)
    return DispatchReport(
        claimed=claimed,
        enqueued=enqueued,
        requeued=requeued,
        interrupted=interrupted,
        released=released,
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


def _close_interrupted_deliveries(now: datetime.datetime) -> tuple[list[int], list[int]]:
    """The recovery rule: a pair stuck in ``sending`` whose request had started is
    ``unknown``, never resent; one claimed but never started goes back to the queue.
    Returns (closed as unknown, released)."""
    cutoff = now - datetime.timedelta(seconds=conf.get("PUSH_SENDING_TIMEOUT"))
    with transaction.atomic():
        stuck = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
            .annotate(
                language=F("message__merchant__language"),
                started=Exists(
                    DeliveryAttempt.objects.filter(
                        delivery=OuterRef("pk"), number=OuterRef("attempts")
                    )
                ),
            )
            .order_by("id")[:1000]
        )
        if not stuck:
            return [], []
        released = [d.pk for d in stuck if not d.started]
        _requeue_claimed(released, now)
        started = [d for d in stuck if d.started]
        by_language: dict[str, list[int]] = defaultdict(list)
        for d in started:
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
    _finish_messages_if_done({d.message_id: d.language for d in started}, now)
    closed = [d.pk for d in started]
    if closed:
        logger.warning("Closed %d interrupted push deliveries as unknown: %s", len(closed), closed)
    return closed, released


def _finish_messages_if_done(languages: Mapping[int, str], now: datetime.datetime) -> None:
    """``_finish_message_if_done`` for many messages (message id -> merchant's language):
    one statement per language."""
    by_language: dict[str, list[int]] = defaultdict(list)
    for message_id, language in languages.items():
        by_language[language].append(message_id)
    for language, ids in sorted(by_language.items()):
        with translation.override(language):
            _finish_message_if_done(sorted(ids), now)


def _finish_message_if_done(message_ids: list[int], now: datetime.datetime) -> None:
    """Each message is sent once every pair is final and one arrived; failed (with the
    reasons) when none did. Call it in the merchants' language: the reasons' heading is
    written in the active one.

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
    PushMessage.objects.filter(pk__in=message_ids, status=MessageStatus.SENDING).exclude(
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
# Sending pairs (the thin tasks)


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

_DELIVERIES = Delivery._meta.db_table
_ATTEMPTS = DeliveryAttempt._meta.db_table

# The batch's claim: its pairs that are pending and due, oldest first, skipping any another
# worker is claiming at this moment. One statement, committed on its own.
CLAIM_SQL = f"""
UPDATE {_DELIVERIES} AS d
SET status = %(sending)s, claimed_at = %(now)s, attempts = d.attempts + 1
WHERE d.id IN (
    SELECT id FROM {_DELIVERIES}
    WHERE id = ANY(%(ids)s) AND status = %(pending)s AND next_attempt_at <= %(now)s
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
RETURNING d.id
"""  # noqa: S608 (table names from the models; every value is a parameter)

# The answers of a batch: each attempt completed, each pair moved on, only while still ours
# (if the recovery rule already closed a pair, its attempt row keeps the late answer and the
# pair stays as the recovery left it).
FINISH_ATTEMPTS_SQL = f"""
UPDATE {_ATTEMPTS} AS a
SET finished_at = %(now)s, outcome = v.outcome, status_code = v.status_code,
    retry_after = v.retry_after, detail = v.detail
FROM unnest(%(ids)s::bigint[], %(outcomes)s::text[], %(codes)s::int[], %(waits)s::float8[],
            %(details)s::text[]) AS v(id, outcome, status_code, retry_after, detail)
WHERE a.id = v.id
"""  # noqa: S608
FINISH_DELIVERIES_SQL = f"""
UPDATE {_DELIVERIES} AS d
SET status = v.status, status_code = v.status_code, reason = v.reason,
    finished_at = CASE WHEN v.due IS NULL THEN %(now)s END,
    next_attempt_at = COALESCE(v.due, d.next_attempt_at),
    enqueued_at = COALESCE(v.due, d.enqueued_at)
FROM unnest(%(ids)s::bigint[], %(statuses)s::text[], %(codes)s::int[], %(reasons)s::text[],
            %(dues)s::timestamptz[]) AS v(id, status, status_code, reason, due)
WHERE d.id = v.id AND d.status = %(sending)s
RETURNING d.id
"""  # noqa: S608


def deliveries_send(*, delivery_ids: list[int]) -> dict[int, DeliveryStatus]:
    """Make one attempt at each of these pairs that is ours to send: pending and due.

    Returns each attempted pair's new status; pairs not ours (taken, finished, not due) or
    not sent (card deleted, device unsubscribed, message no longer sending) are left out.
    """
    now = clock.now()
    claimed = _claim(delivery_ids, now)
    if not claimed:
        return {}
    deliveries = _skip_unsendable(
        list(
            Delivery.objects.select_related("message__merchant", "message__card", "subscription")
            # Only what sending reads: a card row has dozens of balance columns.
            .only(*_SEND_FIELDS)
            .filter(pk__in=claimed)
            .order_by("id")
        ),
        now,
    )
    statuses: dict[int, DeliveryStatus] = {}
    answers: list[tuple[Delivery, DeliveryAttempt, DeliveryResult]] = []
    flush = conf.get_int("PUSH_RESULT_FLUSH")
    started = time.monotonic()
    for position, delivery in enumerate(deliveries):
        if time.monotonic() - started > _claim_budget():
            # Slow push services ate the batch's time: what is left goes back to the queue
            # before the recovery rule could take it for a dead worker's.
            _release([d.pk for d in deliveries[position:]], now)
            break
        answer = _attempt(delivery, claimed_at=now)
        if answer is not None:
            answers.append(answer)
        if len(answers) >= flush:
            statuses |= _record(answers)
            answers = []
    if answers:
        statuses |= _record(answers)
    return statuses


def _claim_budget() -> float:
    """Seconds after its claim a batch may still start a request. The recovery rule acts on a
    claim ``PUSH_SENDING_TIMEOUT`` old; a request started within the budget has ended by then
    (``PUSH_SEND_DEADLINE``), with one more deadline's margin for the clocks of the machines."""
    return conf.get("PUSH_SENDING_TIMEOUT") - 2 * conf.get("PUSH_SEND_DEADLINE")


def _release(delivery_ids: list[int], now: datetime.datetime) -> None:
    """This batch's pairs it has not started (and still holds): back to the queue."""
    with transaction.atomic():
        held = list(
            Delivery.objects.select_for_update()
            .filter(pk__in=delivery_ids, status=DeliveryStatus.SENDING)
            .values_list("id", flat=True)
        )
        _requeue_claimed(held, now)


def _requeue_claimed(delivery_ids: list[int], now: datetime.datetime) -> None:
    """Claimed pairs never started: pending again (the claim's attempt undone), queued again
    once the caller's transaction commits."""
    if not delivery_ids:
        return
    Delivery.objects.filter(pk__in=delivery_ids).update(
        status=DeliveryStatus.PENDING,
        attempts=F("attempts") - 1,
        claimed_at=None,
        enqueued_at=now,
    )
    transaction.on_commit(lambda: _enqueue(delivery_ids), robust=True)


def delivery_send(*, delivery_id: int) -> DeliveryStatus | None:
    """One pair's attempt (``deliveries_send`` of one): its new status, or None when the pair
    was not ours to send or was not sent (card deleted, device unsubscribed)."""
    return deliveries_send(delivery_ids=[delivery_id]).get(delivery_id)


def _claim(delivery_ids: list[int], now: datetime.datetime) -> list[int]:
    # Autocommit: the claim is durable before any request is made. A crash after it leaves
    # the pairs "sending", which the recovery rule closes (started) or releases (not).
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIM_SQL,
            {
                "ids": list(delivery_ids),
                "now": now,
                "sending": DeliveryStatus.SENDING.value,
                "pending": DeliveryStatus.PENDING.value,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def _skip_unsendable(deliveries: list[Delivery], now: datetime.datetime) -> list[Delivery]:
    """Mark the pairs that must not be sent any more as skipped (with why); the rest."""
    skipped: dict[str, list[Delivery]] = defaultdict(list)
    sendable = []
    for delivery in deliveries:
        with translation.override(delivery.message.merchant.language):
            reason = _reason_not_to_send(delivery)
        if reason:
            skipped[reason].append(delivery)
        else:
            sendable.append(delivery)
    for reason, group in skipped.items():
        Delivery.objects.filter(pk__in=[d.pk for d in group]).update(
            status=DeliveryStatus.SKIPPED, finished_at=now, reason=reason
        )
    _finish_messages_if_done(
        {d.message_id: d.message.merchant.language for group in skipped.values() for d in group},
        now,
    )
    return sendable


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


# The "started" mark: the attempt row, written only while the pair is still this batch's
# claim (locked, so the recovery rule either sees the mark or has already taken the pair).
START_SQL = f"""
INSERT INTO {_ATTEMPTS} (delivery_id, number, started_at, outcome, detail)
SELECT d.id, d.attempts, %(now)s, %(in_flight)s, ''
FROM {_DELIVERIES} AS d
WHERE d.id = %(id)s AND d.status = %(sending)s AND d.claimed_at = %(claimed_at)s
FOR UPDATE
RETURNING id
"""  # noqa: S608


def _attempt(
    delivery: Delivery, *, claimed_at: datetime.datetime
) -> tuple[Delivery, DeliveryAttempt, DeliveryResult] | None:
    """One request: its attempt row committed first (the "started" mark), then the send;
    None when the pair is no longer this batch's. The channel's detail is stored for staff:
    in the merchant's language."""
    now = clock.now()
    with connection.cursor() as cursor:
        cursor.execute(
            START_SQL,
            {
                "id": delivery.pk,
                "now": now,
                "in_flight": AttemptOutcome.IN_FLIGHT.value,
                "sending": DeliveryStatus.SENDING.value,
                "claimed_at": claimed_at,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    attempt = DeliveryAttempt(
        pk=row[0], delivery=delivery, number=delivery.attempts, started_at=now
    )
    with translation.override(delivery.message.merchant.language):
        result = channel_for(delivery.subscription).send(delivery.message, delivery.subscription)
    return delivery, attempt, result


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


def deliveries_not_yet_due(*, delivery_ids: list[int]) -> dict[int, float]:
    """Pending pairs among these that are not due yet, with the seconds until they are."""
    now = clock.now()
    return {
        pk: (due - now).total_seconds()
        for pk, due in Delivery.objects.filter(
            pk__in=delivery_ids, status=DeliveryStatus.PENDING, next_attempt_at__gt=now
        ).values_list("id", "next_attempt_at")
    }


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


@dataclass(frozen=True)
class _Next:
    """What an answer makes of its pair."""

    status: DeliveryStatus
    reason: str
    delay: float | None  # seconds until the retry, for a pair pending again


def _next(delivery: Delivery, result: DeliveryResult) -> _Next:
    if result.outcome != Outcome.RETRY:
        return _Next(_FINAL_STATUS[result.outcome], result.detail, None)
    delay = _retry_delay(delivery, result)
    if delay is None:
        with translation.override(delivery.message.merchant.language):
            return _Next(DeliveryStatus.FAILED, _give_up_reason(delivery, result), None)
    return _Next(DeliveryStatus.PENDING, result.detail, delay)


def _record(
    answers: list[tuple[Delivery, DeliveryAttempt, DeliveryResult]],
) -> dict[int, DeliveryStatus]:
    """Write a batch's answers: two statements, whatever the number of pairs."""
    now = clock.now()
    nexts = {delivery.pk: _next(delivery, result) for delivery, _attempt, result in answers}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            FINISH_ATTEMPTS_SQL,
            {
                "now": now,
                "ids": [attempt.pk for _d, attempt, _r in answers],
                "outcomes": [AttemptOutcome(r.outcome.value).value for _d, _a, r in answers],
                "codes": [r.status_code for _d, _a, r in answers],
                "waits": [r.retry_after for _d, _a, r in answers],
                "details": [r.detail[:300] for _d, _a, r in answers],
            },
        )
        dues = {
            pk: now + datetime.timedelta(seconds=n.delay)
            for pk, n in nexts.items()
            if n.delay is not None
        }
        cursor.execute(
            FINISH_DELIVERIES_SQL,
            {
                "now": now,
                "sending": DeliveryStatus.SENDING.value,
                "ids": list(nexts),
                "statuses": [n.status.value for n in nexts.values()],
                "codes": [r.status_code for _d, _a, r in answers],
                "reasons": [n.reason[:300] for n in nexts.values()],
                "dues": [dues.get(pk) for pk in nexts],
            },
        )
        ours = {row[0] for row in cursor.fetchall()}
        for delivery, _attempt, result in answers:
            if delivery.pk in ours and result.outcome == Outcome.EXPIRED:
                with translation.override(delivery.message.merchant.language):
                    subscription_expire(
                        subscription=delivery.subscription,
                        # Translators: %(status)s is an HTTP status code (404 or 410).
                        reason=_("The push service answered %(status)s.")
                        % {"status": result.status_code},
                    )
        _enqueue_retries({pk: nexts[pk].delay or 0 for pk in dues if pk in ours})
    statuses = {pk: nexts[pk].status for pk in ours}
    # Pairs the recovery rule closed meanwhile: as it left them.
    for pk, status in Delivery.objects.filter(pk__in=set(nexts) - ours).values_list("id", "status"):
        statuses[pk] = DeliveryStatus(status)
    _finish_messages_if_done(
        {
            d.message_id: d.message.merchant.language
            for d, _a, _r in answers
            if d.pk in ours and nexts[d.pk].status != DeliveryStatus.PENDING
        },
        now,
    )
    return statuses


def _enqueue_retries(delays: Mapping[int, float]) -> None:
    """On commit, one task per whole second of delay for the pairs waiting that long."""
    by_second: dict[int, list[int]] = defaultdict(list)
    for pk, delay in delays.items():
        by_second[int(delay) + 1].append(pk)
    for seconds, ids in by_second.items():
        transaction.on_commit(functools.partial(_enqueue, ids, seconds), robust=True)
