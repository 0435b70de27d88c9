"""End to end: automatic messages through a real Celery worker to the local push service,
once per device, and not again when their trigger is looked for a second time."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from cards.services import card_apply
from loyalty.celery import app as celery_app
from pushes.models import MessageStatus, PushMessage, Trigger
from pushes.services.automatic import AutoMessageInput, auto_messages_queue, auto_messages_save
from tests.factories import CustomerFactory, issue_card
from tests.pushes.push_service import PushService
from tests.pushes.support import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _turn_on(program: Any, trigger: Trigger, body: str) -> None:
    change = AutoMessageInput(trigger=trigger, enabled=True, body=body)
    auto_messages_save(program=program, changes=[change], actor=None)


def _all_sent(trigger: Trigger) -> bool:
    messages = PushMessage.objects.filter(trigger=trigger)
    return messages.exists() and not messages.exclude(status=MessageStatus.SENT).exists()


def test_the_stamp_that_completes_a_reward_pushes_reward_ready_once_to_each_device(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    _turn_on(stamp_program, Trigger.REWARD_READY, "{first_name}, your coffee is on us!")
    card = issue_card(
        stamp_program, CustomerFactory(merchant=stamp_program.merchant, first_name="Ana")
    )
    phone, _row = subscribe(card)
    tablet, _row = subscribe(card)

    card_apply(card=card, action="stamps_add", value=10, actor=None)  # commits: sent now
    card_apply(card=card, action="stamps_add", value=1, actor=None)  # no new reward

    push_service.wait_for(2)
    wait_until(lambda: _all_sent(Trigger.REWARD_READY))
    assert push_service.counts() == {phone.id: 1, tablet.id: 1}
    bodies = {(r.payload or {}).get("body") for r in push_service.received}
    assert bodies == {"Ana, your coffee is on us!"}


def _zone_where_it_is_past_ten() -> str:
    """A fixed-offset zone whose local time is now between 11:00 and 20:00 (the beat looks for
    birthdays from 10:00 local)."""
    hour = timezone.now().hour
    offset = (15 - hour + 12) % 24 - 12  # local hour 15 within a day's reach
    # POSIX names count the other way: Etc/GMT-3 is three hours ahead of UTC.
    return f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"


def test_the_birthday_beat_sends_once_however_often_it_runs(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any
) -> None:
    merchant = stamp_program.merchant
    merchant.time_zone = _zone_where_it_is_past_ten()
    merchant.save(update_fields=["time_zone"])
    today = timezone.localdate(timezone=merchant.tz)
    birthday = datetime.date(2000, today.month, today.day)  # a leap year: any day exists
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday {first_name}!")
    customer = CustomerFactory(merchant=merchant, first_name="Lea", birthday=birthday)
    phone, _row = subscribe(issue_card(stamp_program, customer))
    subscribe(issue_card(stamp_program, CustomerFactory(merchant=merchant, birthday=None)))

    # Two beats at once on the worker, then the next one once the message went out.
    celery_app.send_task("pushes.tasks.queue_birthday_messages")
    celery_app.send_task("pushes.tasks.queue_birthday_messages")
    push_service.wait_for(1)
    wait_until(lambda: _all_sent(Trigger.BIRTHDAY))
    assert auto_messages_queue(trigger=Trigger.BIRTHDAY) == 0

    assert push_service.counts() == {phone.id: 1}
    assert PushMessage.objects.filter(trigger=Trigger.BIRTHDAY).count() == 1
    assert (push_service.received[0].payload or {}).get("body") == "Happy birthday Lea!"
