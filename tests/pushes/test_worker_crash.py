"""A worker killed mid-batch loses nothing it had not started and duplicates nothing.

Its own module: these tests start and kill their own solo workers, so no other worker may
be consuming the queue meanwhile.
"""

from __future__ import annotations

from typing import Any

import pytest

from loyalty.celery import app as celery_app
from pushes import services
from pushes.models import AttemptOutcome, Delivery, DeliveryStatus, MessageStatus
from tests.factories import issue_card
from tests.pushes.push_service import HANG, PushService
from tests.pushes.support import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    start_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any, settings: Any
) -> None:
    settings.PUSH_MAX_DEVICES_PER_CARD = 12
    card = issue_card(stamp_program)
    # Twelve devices, one batch; the fifth request hangs, so the worker is killed in the middle
    # of it, with the answers of the first four written (every second one, in these tests).
    fakes = [subscribe(card, *([HANG] if n == 4 else []))[0] for n in range(12)]
    worker = start_worker(pool="solo", concurrency=1)
    message = services.message_create(card=card, body="Flash sale", actor=None)

    push_service.wait_for(5)
    worker.kill()
    assert push_service.count == 5
    assert push_service.received[4].subscription_id == fakes[4].id
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 4

    start_worker(pool="solo", concurrency=1)
    # The rest of the batch is still claimed by the killed worker: the one in flight (nobody
    # knows whether it arrived) and seven never started.
    sending = Delivery.objects.filter(status=DeliveryStatus.SENDING)
    (stuck,) = sending.filter(attempt_rows__isnull=False)
    assert stuck.subscription.endpoint == fakes[4].endpoint
    never_started = sorted(sending.filter(attempt_rows__isnull=True).values_list("id", flat=True))
    assert len(never_started) == 7

    # The tick's recovery rule closes the started one as unknown instead of sending it again,
    # and gives the seven back to the queue.
    settings.PUSH_SENDING_TIMEOUT = 0
    settings.PUSH_REQUEUE_AFTER = 0
    report = services.messages_dispatch_due()
    assert report.interrupted == [stuck.pk]
    assert sorted(report.released) == never_started
    assert report.requeued == []
    stuck.refresh_from_db()
    assert stuck.status == DeliveryStatus.UNKNOWN
    assert [a.outcome for a in stuck.attempt_rows.all()] == [AttemptOutcome.INTERRUPTED]

    push_service.wait_for(12)
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 11)
    assert push_service.count == 12
    assert set(push_service.counts().values()) == {1}
    assert {r.subscription_id for r in push_service.received} == {f.id for f in fakes}
    statuses = sorted(Delivery.objects.values_list("status", flat=True))
    assert statuses == [DeliveryStatus.DELIVERED] * 11 + [DeliveryStatus.UNKNOWN]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_lost_task_is_queued_again_by_the_tick_and_sent_once(
    start_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any, settings: Any
) -> None:
    card = issue_card(stamp_program)
    fakes = [subscribe(card)[0] for _ in range(3)]
    message = services.message_create(card=card, body="Back in stock", send_at=None, actor=None)
    # No worker yet: the dispatcher runs here, and then the broker loses every task.
    report = services.messages_dispatch_due()
    assert report.claimed == [message.pk]
    celery_app.control.purge()

    start_worker(pool="solo", concurrency=1)
    settings.PUSH_REQUEUE_AFTER = 0
    again = services.messages_dispatch_due()
    assert sorted(again.requeued) == sorted(report.enqueued)

    push_service.wait_for(3)
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 3)
    assert set(push_service.counts().values()) == {1}
    assert {r.subscription_id for r in push_service.received} == {f.id for f in fakes}
