"""Campaigns: the audience frozen into one message per card, quiet hours, the weekly cap,
cancelling, and the pages (owners and admins)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cards.models import Card
from cards.services.lifecycle import card_delete
from customers.models import Segment
from loyalty import clock
from pushes.audiences import AudienceSpec, audience_size
from pushes.campaign_results import campaign_results
from pushes.models import (
    Audience,
    Campaign,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    MessageSettings,
    MessageStatus,
    PushMessage,
    PushSubscription,
)
from pushes.services import campaigns, delivery_send, message_cancel, messages_dispatch_due
from tests.factories import (
    CashbackProgramFactory,
    CustomerFactory,
    issue_card,
    subscribe_device,
)

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=datetime.UTC)  # 12:00 in Paris


def _card(program: Any, segment: str = Segment.CHAMPIONS, *, devices: int = 1) -> Card:
    customer = CustomerFactory(merchant=program.merchant, segment=segment)
    card = issue_card(program, customer)
    for n in range(devices):
        subscribe_device(card, f"{card.serial}-{n}")
    return card


def _campaign(program: Any, **fields: Any) -> Campaign:
    """``campaign_create`` for the program's merchant, by nobody in particular."""
    return campaigns.campaign_create(
        merchant=program.merchant, program=program, actor=None, **fields
    )


def _start(campaign: Campaign) -> Campaign:
    assert campaigns.campaigns_start_due() == [campaign.pk]
    campaign.refresh_from_db()
    return campaign


def _recipients(campaign: Campaign) -> set[int]:
    return set(PushMessage.objects.filter(campaign=campaign).values_list("card_id", flat=True))


def test_a_campaign_to_segments_writes_one_message_to_each_card_of_those_segments(
    stamp_program: Any,
) -> None:
    champions = [_card(stamp_program, Segment.CHAMPIONS) for _ in range(3)]
    at_risk = _card(stamp_program, Segment.AT_RISK)
    _card(stamp_program, Segment.LOST)
    deleted = _card(stamp_program, Segment.CHAMPIONS)
    card_delete(card=deleted, actor=None)
    campaign = _campaign(
        stamp_program,
        body="We miss you",
        audience=Audience.SEGMENTS,
        segments=[Segment.CHAMPIONS, Segment.AT_RISK],
    )

    campaign = _start(campaign)

    assert campaign.status == CampaignStatus.SENDING
    assert _recipients(campaign) == {c.pk for c in [*champions, at_risk]}
    assert campaign.targeted == 4
    assert campaign.capped == 0
    assert set(PushMessage.objects.filter(campaign=campaign).values_list("body", flat=True)) == {
        "We miss you"
    }


def test_the_audience_is_frozen_when_sending_starts(stamp_program: Any) -> None:
    card = _card(stamp_program, Segment.CHAMPIONS)
    campaign = _campaign(
        stamp_program, body="Thanks!", audience=Audience.SEGMENTS, segments=[Segment.CHAMPIONS]
    )
    _start(campaign)
    # A customer who becomes a champion afterwards is not added; one who leaves stays.
    newcomer = _card(stamp_program, Segment.CHAMPIONS)
    card.customer.segment = Segment.LOST
    card.customer.save()

    assert campaigns.campaigns_start_due() == []
    assert _recipients(campaign) == {card.pk}
    assert newcomer.pk not in _recipients(campaign)


def test_the_size_counts_cards_and_those_that_can_receive_by_channel(stamp_program: Any) -> None:
    _card(stamp_program)  # web push
    both = _card(stamp_program, devices=2)
    PushSubscription.objects.filter(card=both).order_by("pk").update(channel=Channel.APPLE_WALLET)
    _card(stamp_program, devices=0)
    expired = _card(stamp_program)
    PushSubscription.objects.filter(card=expired).update(expired_at=clock.now())

    size = audience_size(merchant=stamp_program.merchant, spec=AudienceSpec(program=stamp_program))

    assert size.cards == 4
    assert size.reachable == 2
    assert size.unreachable == 2
    assert size.by_channel == {"web_push": 1, "apple_wallet": 1, "google_wallet": 0}


def test_a_tier_audience_takes_the_cards_holding_that_tier(merchant: Any) -> None:
    program = CashbackProgramFactory(merchant=merchant)  # Bronze, Silver and Gold
    gold = _card(program)
    Card.objects.filter(pk=gold.pk).update(tier_name="Gold")
    _card(program)
    campaign = _campaign(program, body="Gold only", audience=Audience.TIER, tier_name="Gold")

    assert _recipients(_start(campaign)) == {gold.pk}


def test_the_list_filter_audience_is_who_the_customer_list_shows(stamp_program: Any) -> None:
    anna = _card(stamp_program, Segment.CHAMPIONS)
    anna.customer.first_name = "Annabel"
    anna.customer.save()
    other = _card(stamp_program, Segment.CHAMPIONS)
    other.customer.first_name = "Zoe"
    other.customer.save()
    campaign = _campaign(
        stamp_program,
        body="Hi Anna",
        audience=Audience.FILTER,
        filters={"q": "annab", "segment": Segment.CHAMPIONS},
    )

    assert campaign.filters == {"q": "annab", "segment": Segment.CHAMPIONS}
    assert _recipients(_start(campaign)) == {anna.pk}


def test_an_audience_that_names_nothing_is_refused(stamp_program: Any) -> None:
    with pytest.raises(ValidationError) as error:
        _campaign(stamp_program, body="Hello", audience=Audience.SEGMENTS, segments=[])
    assert "Pick at least one segment." in str(error.value)
    with pytest.raises(ValidationError):
        _campaign(stamp_program, body="Hello", audience=Audience.TIER, tier_name="Platinum")
    assert not Campaign.objects.exists()


def test_a_program_of_another_merchant_is_refused(stamp_program: Any, other_merchant: Any) -> None:
    with pytest.raises(ValidationError):
        campaigns.campaign_create(
            merchant=other_merchant,
            program=stamp_program,
            body="Hello",
            audience=Audience.PROGRAM,
            actor=None,
        )


def test_cards_over_the_weekly_cap_are_counted_and_not_sent(stamp_program: Any) -> None:
    merchant = stamp_program.merchant
    MessageSettings.objects.create(merchant=merchant, weekly_cap=1)
    first, second = _card(stamp_program), _card(stamp_program)
    earlier = _campaign(stamp_program, body="One", audience="program")
    _start(earlier)
    PushMessage.objects.filter(campaign=earlier, card=second).update(
        status=MessageStatus.CANCELLED, cancelled_at=clock.now()
    )
    third = _card(stamp_program)
    again = _campaign(stamp_program, body="Two", audience="program")

    again = _start(again)

    # The first card had one campaign message this week; a cancelled one does not count.
    assert _recipients(again) == {second.pk, third.pk}
    assert again.targeted == 3
    assert again.capped == 1
    assert first.pk not in _recipients(again)


def test_a_campaign_due_in_quiet_hours_waits_for_their_end(stamp_program: Any) -> None:
    merchant = stamp_program.merchant
    merchant.time_zone = "Europe/Paris"
    merchant.save()
    MessageSettings.objects.create(
        merchant=merchant, quiet_start=datetime.time(21), quiet_end=datetime.time(9)
    )
    _card(stamp_program)
    late_evening = datetime.datetime(2026, 6, 10, 20, 30, tzinfo=datetime.UTC)  # 22:30 local
    with clock.frozen_at(late_evening - datetime.timedelta(hours=1)):
        campaign = _campaign(
            stamp_program, body="Late offer", audience="program", send_at=late_evening
        )
    for moment in (late_evening, late_evening + datetime.timedelta(hours=9)):  # 07:30 local
        with clock.frozen_at(moment):
            assert campaigns.campaigns_start_due() == []
    with clock.frozen_at(late_evening + datetime.timedelta(hours=10, minutes=31)):  # 09:01
        assert campaigns.campaigns_start_due() == [campaign.pk]


def test_quiet_hours_within_a_day_and_none_at_all() -> None:
    rules = MessageSettings(quiet_start=datetime.time(12), quiet_end=datetime.time(14))
    tz = datetime.UTC
    assert campaigns.in_quiet_hours(rules, NOON.replace(hour=13), tz)
    assert not campaigns.in_quiet_hours(rules, NOON.replace(hour=14), tz)
    assert not campaigns.in_quiet_hours(MessageSettings(), NOON, tz)
    assert not campaigns.in_quiet_hours(None, NOON, tz)


def test_a_scheduled_campaign_is_not_started_early(stamp_program: Any) -> None:
    _card(stamp_program)
    with clock.frozen_at(NOON):
        campaign = _campaign(
            stamp_program,
            body="Tomorrow",
            audience="program",
            send_at=NOON + datetime.timedelta(days=1),
        )
        assert campaigns.campaigns_start_due() == []
    with clock.frozen_at(NOON + datetime.timedelta(days=1)):
        assert campaigns.campaigns_start_due() == [campaign.pk]


def test_cancelling_a_sending_campaign_stops_what_is_not_sent(stamp_program: Any) -> None:
    for _ in range(3):
        _card(stamp_program)
    campaign = _start(_campaign(stamp_program, body="Flash sale", audience="program"))
    # One message is being sent, the others still wait for the dispatcher.
    report = messages_dispatch_due(limit=1)
    (sending,) = report.claimed

    campaigns.campaign_cancel(campaign=campaign, actor=None)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    statuses = set(PushMessage.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {MessageStatus.CANCELLED}
    assert messages_dispatch_due().claimed == []
    # The pair already queued is skipped when a worker claims it.
    (pair,) = Delivery.objects.filter(message_id=sending)
    assert delivery_send(delivery_id=pair.pk) is None
    pair.refresh_from_db()
    assert pair.status == DeliveryStatus.SKIPPED
    with pytest.raises(ValidationError):
        campaigns.campaign_cancel(campaign=campaign, actor=None)


def test_a_campaign_is_sent_once_every_message_is_final(stamp_program: Any) -> None:
    _card(stamp_program)
    _card(stamp_program, devices=0)
    campaign = _start(_campaign(stamp_program, body="Hello", audience="program"))
    messages_dispatch_due()
    assert campaigns.campaigns_finish() == []
    Delivery.objects.update(status=DeliveryStatus.DELIVERED)
    PushMessage.objects.filter(status=MessageStatus.SENDING).update(status=MessageStatus.SENT)

    assert campaigns.campaigns_finish() == [campaign.pk]
    results = campaign_results(campaign=campaign)
    assert (results.targeted, results.messages, results.unreachable) == (2, 2, 1)
    assert results.delivered == 1


def test_a_started_campaign_can_no_longer_be_changed(stamp_program: Any) -> None:
    campaign = _start(_campaign(stamp_program, body="Hello", audience="program"))
    with pytest.raises(ValidationError, match="sending"):
        campaigns.campaign_update(
            campaign=campaign, program=stamp_program, body="Changed", audience="program", actor=None
        )


# The pages -------------------------------------------------------------------------------


def test_a_manager_writes_a_campaign_sees_its_size_and_follows_it(
    owner_client: Client, stamp_program: Any
) -> None:
    _card(stamp_program, Segment.CHAMPIONS)
    _card(stamp_program, Segment.CHAMPIONS, devices=0)
    _card(stamp_program, Segment.LOST)
    fields = {
        "program": stamp_program.pk,
        "audience": "segments",
        "segments": [Segment.CHAMPIONS],
        "body": "Double stamps <b>this weekend</b>",
    }

    preview = owner_client.post(reverse("campaigns:new"), {**fields, "preview": "1"})
    assert preview.status_code == 200
    assert b'data-audience-cards="2"' in preview.content
    assert b'data-audience-reachable="1"' in preview.content
    assert not Campaign.objects.exists()

    live = owner_client.get(reverse("campaigns:audience"), fields, headers={"HX-Request": "true"})
    assert b'data-audience-cards="2"' in live.content

    response = owner_client.post(reverse("campaigns:new"), fields)
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])
    _start(campaign)

    page = owner_client.get(response["Location"])
    assert page.status_code == 200
    assert b'data-metric="targeted" data-value="2"' in page.content
    assert b"Double stamps &lt;b&gt;this weekend&lt;/b&gt;" in page.content
    progress = owner_client.get(response["Location"], headers={"HX-Request": "true"})
    assert progress.content.lstrip().startswith(b"<section")
    listing = owner_client.get(reverse("campaigns:list"))
    assert f'data-campaign="{campaign.pk}"'.encode() in listing.content


def test_a_campaign_form_with_errors_changes_nothing(
    owner_client: Client, stamp_program: Any
) -> None:
    response = owner_client.post(
        reverse("campaigns:new"),
        {"program": stamp_program.pk, "audience": "segments", "body": ""},
    )
    assert response.status_code == 422
    assert b"Type the message to send." in response.content
    assert not Campaign.objects.exists()


def test_the_list_link_carries_its_filter_into_a_new_campaign(
    owner_client: Client, stamp_program: Any
) -> None:
    _card(stamp_program)
    listing = owner_client.get(reverse("customers:list"), {"segment": Segment.CHAMPIONS})
    assert b'data-action="customer_campaign"' in listing.content
    response = owner_client.get(
        reverse("campaigns:new"), {"audience": "filter", "segment": Segment.CHAMPIONS, "q": "ann"}
    )
    assert b'value="filter" checked' in response.content or b'value="filter"' in response.content
    assert response.context["form"].initial["filter_segment"] == Segment.CHAMPIONS
    assert response.context["form"].initial["filter_q"] == "ann"


def test_another_merchants_campaign_is_not_found(
    outsider_client: Client, world: dict[str, Any]
) -> None:
    campaign = world["campaign"]
    for name in ("campaigns:detail", "campaigns:edit"):
        assert outsider_client.get(reverse(name, args=[campaign.pk])).status_code == 404
    assert outsider_client.post(reverse("campaigns:cancel", args=[campaign.pk])).status_code == 404
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED


def test_message_settings_need_both_ends_of_the_quiet_hours(
    owner_client: Client, merchant: Any
) -> None:
    url = reverse("settings:messages")
    refused = owner_client.post(url, {"quiet_start": "21:00", "weekly_cap": "3"})
    assert refused.status_code == 422
    assert not MessageSettings.objects.exists()
    saved = owner_client.post(
        url, {"quiet_start": "21:00", "quiet_end": "09:00", "weekly_cap": "3"}
    )
    assert saved.status_code == 302
    rules = MessageSettings.objects.get(merchant=merchant)
    assert (rules.quiet_start, rules.quiet_end, rules.weekly_cap) == (
        datetime.time(21),
        datetime.time(9),
        3,
    )


def test_a_campaign_message_is_changed_with_its_campaign_not_alone(stamp_program: Any) -> None:
    _card(stamp_program)
    campaign = _start(_campaign(stamp_program, body="Hello", audience="program"))
    message = PushMessage.objects.get(campaign=campaign)
    assert not message.is_editable
    with pytest.raises(ValidationError, match="part of a campaign"):
        message_cancel(message=message, actor=None)


def test_a_scheduled_campaign_shows_who_it_would_reach_now(
    owner_client: Client, stamp_program: Any
) -> None:
    _card(stamp_program)
    _card(stamp_program, devices=0)
    with clock.frozen_at(NOON):
        campaign = _campaign(
            stamp_program, body="Later", audience="program", send_at=NOON + datetime.timedelta(1)
        )
    page = owner_client.get(reverse("campaigns:detail", args=[campaign.pk]))
    assert b'data-audience-now data-audience-cards="2" data-audience-reachable="1"' in page.content
