"""Messages to one card from the Send push tab: create (now or at a time), edit and cancel
until they start sending. Sending itself is in ``delivery``."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cards.models import Card
from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.celery import app as celery_app
from pushes.models import MESSAGE_MAX_LENGTH, MessageStatus, PushMessage, PushSubscription

# Queued by name: pushes.tasks imports these services, so importing the task here would be a
# cycle.
DISPATCH_TASK = "pushes.tasks.dispatch_due_messages"


DELETED, NOT_INSTALLED, NO_PERMISSION = "deleted", "not_installed", "no_permission"


def _cannot_receive(card: Card, active_subscriptions: int) -> str:
    """Why a card cannot get a push (one of the three codes above), or "" when it can."""
    if card.is_deleted:
        return DELETED
    if active_subscriptions:
        return ""
    if card.status == "not_installed":
        return NOT_INSTALLED
    return NO_PERMISSION


def cannot_receive_reason(card: Card, active_subscriptions: int) -> str:
    """Why a card cannot get a push, as the Send push tab's badge says it; "" when it can."""
    reason = _cannot_receive(card, active_subscriptions)
    if reason == DELETED:
        # Translators: a badge: this card was deleted, so it cannot receive a push.
        return _("Deleted")
    if reason == NOT_INSTALLED:
        # Translators: a badge: the customer has not installed this card yet.
        return _("Not installed")
    if reason == NO_PERMISSION:
        # Translators: a badge: the card's holder did not allow notifications.
        return _("No push permission")
    return ""


def _cannot_receive_error(reason: str) -> str:
    if reason == DELETED:
        return _("This card cannot receive pushes: deleted.")
    if reason == NOT_INSTALLED:
        return _("This card cannot receive pushes: not installed.")
    return _("This card cannot receive pushes: no push permission.")


def clean_body(body: str) -> str:
    """The message as stored (one kind of line break, trimmed); refuses empty or too long."""
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": _("Type the message to send.")})
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {
                "body": _("Keep the message to %(max)d characters (it has %(length)d).")
                % {"max": MESSAGE_MAX_LENGTH, "length": len(body)}
            }
        )
    return body


def _check_send_at(send_at: datetime.datetime | None, now: datetime.datetime) -> None:
    if send_at is not None and send_at <= now:
        raise ValidationError({"send_at": _("Pick a time in the future, or leave it empty.")})


def _kick_dispatch() -> None:
    """Send-now messages go out at once instead of waiting for the next beat tick."""
    celery_app.send_task(DISPATCH_TASK)


def message_create(
    *, card: Card, body: str, send_at: datetime.datetime | None = None, actor: Actor
) -> PushMessage:
    """A message to one card, now (``send_at`` None) or at a future time."""
    body = clean_body(body)
    now = clock.now()
    _check_send_at(send_at, now)
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        active = PushSubscription.objects.filter(card=locked, expired_at__isnull=True).count()
        reason = _cannot_receive(locked, active)
        if reason:
            raise ValidationError({"card": _cannot_receive_error(reason)})
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


def not_editable_error(status: str, action: str) -> str:
    """Why a message that started sending cannot be changed or cancelled (``action``)."""
    sentences: dict[str, str]
    if action == "cancel":
        sentences = {
            MessageStatus.SENDING: _("This message is sending; it can no longer be cancelled."),
            MessageStatus.SENT: _("This message is sent; it can no longer be cancelled."),
            MessageStatus.FAILED: _("This message is failed; it can no longer be cancelled."),
            MessageStatus.CANCELLED: _("This message is cancelled; it can no longer be cancelled."),
        }
        return sentences.get(status, _("This message can no longer be cancelled."))
    sentences = {
        MessageStatus.SENDING: _("This message is sending; it can no longer be changed."),
        MessageStatus.SENT: _("This message is sent; it can no longer be changed."),
        MessageStatus.FAILED: _("This message is failed; it can no longer be changed."),
        MessageStatus.CANCELLED: _("This message is cancelled; it can no longer be changed."),
    }
    return sentences.get(status, _("This message can no longer be changed."))


def _lock_editable(message: PushMessage, action: str) -> PushMessage:
    locked = PushMessage.objects.select_for_update().get(pk=message.pk)
    if locked.status != MessageStatus.SCHEDULED:
        raise ValidationError(not_editable_error(locked.status, action))
    if locked.campaign_id is not None:
        raise ValidationError(
            _("This message is part of a campaign: change or cancel the campaign.")
        )
    return locked


def message_update(
    *, message: PushMessage, body: str, send_at: datetime.datetime | None, actor: Actor
) -> PushMessage:
    """Change a message until it starts sending (empty ``send_at``: send it now)."""
    body = clean_body(body)
    now = clock.now()
    _check_send_at(send_at, now)
    with transaction.atomic():
        locked = _lock_editable(message, "change")
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
        locked = _lock_editable(message, "cancel")
        locked.status = MessageStatus.CANCELLED
        locked.cancelled_at = clock.now()
        locked.cancelled_by = user_or_none(actor)
        locked.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    return locked
