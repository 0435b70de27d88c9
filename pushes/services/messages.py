"""Messages to one card from the Send push tab: create (now or at a time), edit and cancel
until they start sending. Sending itself is in ``delivery``."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from cards.models import Card
from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.celery import app as celery_app
from pushes.models import MESSAGE_MAX_LENGTH, MessageStatus, PushMessage, PushSubscription

# Queued by name: pushes.tasks imports these services, so importing the task here would be a
# cycle.
DISPATCH_TASK = "pushes.tasks.dispatch_due_messages"


def cannot_receive_reason(card: Card, active_subscriptions: int) -> str:
    """Why a card cannot get a push, or "" when it can."""
    if card.is_deleted:
        return "Deleted"
    if active_subscriptions:
        return ""
    if card.status == "not_installed":
        return "Not installed"
    return "No push permission"


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": "Type the message to send."})
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {"body": f"Keep the message to {MESSAGE_MAX_LENGTH} characters (it has {len(body)})."}
        )
    return body


def _check_send_at(send_at: datetime.datetime | None, now: datetime.datetime) -> None:
    if send_at is not None and send_at <= now:
        raise ValidationError({"send_at": "Pick a time in the future, or leave it empty."})


def _kick_dispatch() -> None:
    """Send-now messages go out at once instead of waiting for the next beat tick."""
    celery_app.send_task(DISPATCH_TASK)


def message_create(
    *, card: Card, body: str, send_at: datetime.datetime | None = None, actor: Actor
) -> PushMessage:
    """A message to one card, now (``send_at`` None) or at a future time."""
    body = _clean_body(body)
    now = clock.now()
    _check_send_at(send_at, now)
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        active = PushSubscription.objects.filter(card=locked, expired_at__isnull=True).count()
        reason = cannot_receive_reason(locked, active)
        if reason:
            raise ValidationError({"card": f"This card cannot receive pushes: {reason.lower()}."})
        message = PushMessage.objects.create(
            merchant_id=locked.merchant_id,
            card=locked,
            body=body,
            send_at=send_at or now,
            scheduled=send_at is not None,
            created_by=user_or_none(actor),
        )
        if send_at is None:
            transaction.on_commit(_kick_dispatch, robust=True)
    return message


def _lock_editable(message: PushMessage, verb: str) -> PushMessage:
    locked = PushMessage.objects.select_for_update().get(pk=message.pk)
    if locked.status != MessageStatus.SCHEDULED:
        raise ValidationError(
            f"This message is {locked.get_status_display().lower()}; it can no longer be {verb}."
        )
    return locked


def message_update(
    *, message: PushMessage, body: str, send_at: datetime.datetime | None, actor: Actor
) -> PushMessage:
    """Change a message until it starts sending (empty ``send_at``: send it now)."""
    body = _clean_body(body)
    now = clock.now()
    _check_send_at(send_at, now)
    with transaction.atomic():
        locked = _lock_editable(message, "changed")
        locked.body = body
        locked.send_at = send_at or now
        locked.scheduled = send_at is not None
        locked.edited_at = now
        locked.save(update_fields=["body", "send_at", "scheduled", "edited_at"])
        if send_at is None:
            transaction.on_commit(_kick_dispatch, robust=True)
    return locked


def message_cancel(*, message: PushMessage, actor: Actor) -> PushMessage:
    with transaction.atomic():
        locked = _lock_editable(message, "cancelled")
        locked.status = MessageStatus.CANCELLED
        locked.cancelled_at = clock.now()
        locked.cancelled_by = user_or_none(actor)
        locked.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    return locked
