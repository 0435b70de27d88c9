"""Scheduled messages and the dispatcher, with a real worker sending what the tick claims."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from pushes import services
from pushes.models import Delivery, DeliveryStatus, MessageStatus, PushMessage
from pushes.services import DispatchReport
from tests.factories import issue_card
from tests.pushes.push_service import PushService
from tests.pushes.support import wait_for_empty_queue, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _sleep_until(moment: datetime.datetime) -> None:
    time.sleep(max(0.0, (moment - timezone.now()).total_seconds()) + 0.05)


def test_a_scheduled_message_is_not_sent_early_and_is_sent_once_when_due(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    fake, _ = subscribe(card)
    send_at = timezone.now() + datetime.timedelta(seconds=1.5)
    message = services.message_create(
        card=card, body="See you tonight", send_at=send_at, actor=None
    )

    early = services.messages_dispatch_due()
    assert early.claimed == []
    message.refresh_from_db()
    assert message.status == MessageStatus.SCHEDULED

    _sleep_until(send_at)
    due = services.messages_dispatch_due()
    assert due.claimed == [message.pk]
    push_service.wait_for(1)
    # Later ticks (or a restarted beat) find nothing left to do.
    for _ in range(3):
        assert services.messages_dispatch_due().claimed == []
    wait_until(lambda: PushMessage.objects.get(pk=message.pk).status == MessageStatus.SENT)
    assert len(push_service.received_for(fake)) == 1
    assert push_service.received_for(fake)[0].payload["body"] == "See you tonight"  # type: ignore[index]


def test_a_cancelled_message_is_never_sent(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any, owner: Any
) -> None:
    card = issue_card(stamp_program)
    subscribe(card)
    send_at = timezone.now() + datetime.timedelta(seconds=1)
    message = services.message_create(card=card, body="Never mind", send_at=send_at, actor=owner)

    services.message_cancel(message=message, actor=owner)
    _sleep_until(send_at)

    assert services.messages_dispatch_due().claimed == []
    message.refresh_from_db()
    assert (message.status, message.cancelled_by) == (MessageStatus.CANCELLED, owner)
    assert not Delivery.objects.exists()
    assert push_service.count == 0


def _dispatch_in_thread(barrier: threading.Barrier, reports: list[DispatchReport]) -> None:
    try:
        barrier.wait()
        reports.append(services.messages_dispatch_due())
    finally:
        connection.close()


def test_two_dispatchers_at_once_never_send_a_pair_twice(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    send_at = timezone.now() + datetime.timedelta(seconds=1)
    fakes, messages = [], []
    for n in range(20):
        card = issue_card(stamp_program)
        fakes += [subscribe(card)[0], subscribe(card)[0]]
        messages.append(
            services.message_create(card=card, body=f"Offer {n}", send_at=send_at, actor=None)
        )
    _sleep_until(send_at)

    barrier = threading.Barrier(2)
    reports: list[DispatchReport] = []
    threads = [
        threading.Thread(target=_dispatch_in_thread, args=(barrier, reports)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    first, second = reports
    assert not set(first.claimed) & set(second.claimed)
    assert sorted(first.claimed + second.claimed) == sorted(m.pk for m in messages)
    # A beat restart or a redelivered task queues every pair again: still one request each.
    pairs = list(Delivery.objects.values_list("id", flat=True))
    assert len(pairs) == 40
    services._enqueue(pairs)
    services._enqueue(pairs)
    push_service.wait_for(40)
    wait_until(
        lambda: not PushMessage.objects.exclude(status=MessageStatus.SENT).exists(), timeout=30
    )
    wait_for_empty_queue()  # every duplicate task was taken ...
    time.sleep(0.3)  # ... and has run its (no-op) claim
    assert push_service.errors() == []
    assert push_service.count == 40
    assert set(push_service.counts().values()) == {1}
    assert {r.subscription_id for r in push_service.received} == {f.id for f in fakes}
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
