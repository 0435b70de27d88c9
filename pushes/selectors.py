"""Reads of the pushes app: which cards can receive, the message list, the last message."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from cards.models import Card, Program
from loyalty import clock
from loyalty.models import Merchant
from pushes.automatic import DEFAULT_DAYS, default_texts, triggers_of
from pushes.models import AutoMessage, Delivery, DeliveryStatus, PushMessage
from pushes.services import cannot_receive_reason

MESSAGE_LIST_LIMIT = 50


@dataclass(frozen=True)
class CardOption:
    card: Card
    devices: int
    reason: str  # empty when the card can receive a push

    @property
    def receivable(self) -> bool:
        return not self.reason


def card_push_options(*, card: Card) -> list[CardOption]:
    """The card's holder's cards (or the card alone when the customer was removed), each with
    whether it can receive a push and why not. One query."""
    cards = Card.objects.filter(merchant_id=card.merchant_id)
    cards = (
        cards.filter(customer_id=card.customer_id) if card.customer_id else cards.filter(pk=card.pk)
    )
    # Not "devices": that is the card's field of the kinds of device it is installed on.
    cards = cards.select_related("program").annotate(
        receivers=Count("push_subscriptions", filter=Q(push_subscriptions__expired_at__isnull=True))
    )
    return [
        CardOption(card=c, devices=c.receivers, reason=cannot_receive_reason(c, c.receivers))
        for c in cards.order_by("-issued_at", "-id")
    ]


def messages_for_holder(*, card: Card, limit: int = MESSAGE_LIST_LIMIT) -> list[PushMessage]:
    """The newest messages to any card of this card's holder, with each device's result.
    Three queries whatever the number of messages and deliveries."""
    messages = PushMessage.objects.filter(merchant_id=card.merchant_id)
    messages = (
        messages.filter(card__customer_id=card.customer_id)
        if card.customer_id
        else messages.filter(card_id=card.pk)
    )
    deliveries = Delivery.objects.select_related("subscription").order_by("id")
    return list(
        messages.select_related("card", "created_by", "cancelled_by")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .order_by("-send_at", "-id")[:limit]
    )


def message_get(*, card: Card, message_id: int) -> PushMessage:
    """A message to one of this card's holder's cards; anything else is a 404."""
    messages: QuerySet[PushMessage] = PushMessage.objects.select_related("card").filter(
        merchant_id=card.merchant_id
    )
    if card.customer_id:
        messages = messages.filter(card__customer_id=card.customer_id)
    else:
        messages = messages.filter(card_id=card.pk)
    return get_object_or_404(messages, pk=message_id)


def last_message_for(card: Card) -> PushMessage | None:
    """The last message that reached one of the card's devices (for the card page), with
    ``delivered_at`` set. One query."""
    delivery = (
        Delivery.objects.filter(message__card=card, status=DeliveryStatus.DELIVERED)
        .select_related("message")
        .order_by("-finished_at", "-id")
        .first()
    )
    if delivery is None:
        return None
    message = delivery.message
    message.delivered_at = delivery.finished_at  # type: ignore[attr-defined]
    return message


def auto_message_program(*, merchant: Merchant, pk: int) -> Program:
    """One of the merchant's live programs, for its automatic messages' pages."""
    return Program.objects.select_related("merchant").get(
        merchant=merchant, archived_at__isnull=True, pk=pk
    )


def auto_messages_of(
    *, program: Program, saved: list[AutoMessage] | None = None
) -> dict[str, AutoMessage]:
    """The program's automatic messages by kind, in the page's order; for a kind never
    saved, an unsaved one that is off with a suggested text. ``saved``: the program's rows
    when already read."""
    if saved is None:
        saved = list(AutoMessage.objects.filter(program=program))
    by_trigger = {a.trigger: a for a in saved}
    # In the reader's language: a starting point they rewrite in their customers' language.
    suggested = default_texts()
    return {
        trigger.value: by_trigger.get(trigger.value)
        or AutoMessage(
            merchant_id=program.merchant_id,
            program=program,
            trigger=trigger.value,
            body=suggested[trigger],
            days=DEFAULT_DAYS.get(trigger),
        )
        for trigger in triggers_of(program)
    }


@dataclass(frozen=True)
class AutoMessageLine:
    auto: AutoMessage
    sent_recently: int  # messages it recorded in the last RECENT_DAYS


RECENT_DAYS = 30


def auto_messages_overview(*, merchant: Merchant) -> list[tuple[Program, list[AutoMessageLine]]]:
    """Each live program with its automatic messages and how many each recorded lately (the
    overview page). Three queries."""
    programs = list(
        Program.objects.select_related("merchant")
        .filter(merchant=merchant, archived_at__isnull=True)
        .order_by("name", "id")
    )
    rows = AutoMessage.objects.filter(merchant=merchant, program__in=programs)
    by_program: dict[int, list[AutoMessage]] = {}
    for row in rows:
        by_program.setdefault(row.program_id, []).append(row)
    since = clock.now() - datetime.timedelta(days=RECENT_DAYS)
    recent = {
        (row["card__program_id"], row["trigger"]): row["count"]
        for row in PushMessage.objects.filter(merchant=merchant, created_at__gte=since)
        .exclude(trigger="")
        .values("card__program_id", "trigger")
        .annotate(count=Count("id"))
    }
    return [
        (
            p,
            [
                AutoMessageLine(auto=a, sent_recently=recent.get((p.pk, a.trigger), 0))
                for a in auto_messages_of(program=p, saved=by_program.get(p.pk, [])).values()
            ],
        )
        for p in programs
    ]
