"""End to end: a campaign sent now goes from its form's service through a real Celery worker
(start, dispatch, batches) to the local push service, once per device of its audience."""

from __future__ import annotations

from typing import Any

import pytest

from customers.models import Segment
from pushes.campaign_results import campaign_results
from pushes.models import CampaignStatus, MessageStatus, PushMessage
from pushes.services import campaigns
from tests.factories import CustomerFactory, issue_card
from tests.pushes.push_service import PushService
from tests.pushes.support import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_campaign_to_a_segment_reaches_exactly_its_devices_once_each(
    celery_worker: Any, push_service: PushService, subscribe: Any, stamp_program: Any, owner: Any
) -> None:
    def card_in(segment: str) -> Any:
        return issue_card(stamp_program, CustomerFactory(merchant=owner_merchant, segment=segment))

    owner_merchant = stamp_program.merchant
    champions = [card_in(Segment.CHAMPIONS) for _ in range(3)]
    # Two devices for one of them, none for another: counted as unreachable.
    devices = [subscribe(champions[0])[0], subscribe(champions[0])[0], subscribe(champions[1])[0]]
    outsiders = [subscribe(card_in(Segment.LOST))[0], subscribe(card_in(Segment.AT_RISK))[0]]

    campaign = campaigns.campaign_create(
        merchant=owner_merchant,
        program=stamp_program,
        body="Champions get a free coffee",
        audience="segments",
        segments=[Segment.CHAMPIONS],
        actor=owner,
    )

    # Send now: the commit queues the start, which queues the dispatcher, which queues the
    # batches; no beat needed.
    push_service.wait_for(3)
    wait_until(
        lambda: (
            not PushMessage.objects.filter(
                campaign=campaign, status__in=(MessageStatus.SCHEDULED, MessageStatus.SENDING)
            ).exists()
        )
    )
    assert campaigns.campaigns_finish() == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert push_service.count == 3
    assert set(push_service.counts().values()) == {1}
    assert {r.subscription_id for r in push_service.received} == {d.id for d in devices}
    assert not {r.subscription_id for r in push_service.received} & {o.id for o in outsiders}
    bodies = {(r.payload or {}).get("body") for r in push_service.received}
    assert bodies == {"Champions get a free coffee"}

    results = campaign_results(campaign=campaign)
    assert (results.targeted, results.messages, results.unreachable) == (3, 3, 1)
    assert (results.devices, results.delivered, results.waiting) == (3, 3, 0)
    (web,) = results.channels
    assert (web.channel, web.delivered) == ("web_push", 3)
