"""Reads of the campaigns pages: the list, and one campaign's progress and results.

Each runs a fixed number of aggregate queries whatever the size of the audience.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from loyalty.models import Merchant
from pushes.models import (
    Campaign,
    Channel,
    Delivery,
    DeliveryStatus,
    MessageStatus,
    PushMessage,
)

# How a device's pair counts in the results, by its status.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
REASONS_SHOWN = 10


def campaign_list(*, merchant: Merchant) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(merchant=merchant)
        .select_related("program", "created_by")
        .order_by("-send_at", "-id")
    )


def campaign_get(*, merchant: Merchant, pk: int) -> Campaign:
    """Another merchant's campaign is a 404 (``Campaign.DoesNotExist``)."""
    return Campaign.objects.select_related("program", "created_by", "cancelled_by").get(
        merchant=merchant, pk=pk
    )


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    label: str
    devices: int
    delivered: int
    failed: int
    expired: int
    unknown: int
    waiting: int
    skipped: int


@dataclass(frozen=True)
class CampaignResults:
    targeted: int  # cards in the audience when it started
    capped: int  # of them, held back by the weekly cap
    messages: int  # cards a message was written for
    unreachable: int  # of them, with no device that receives
    cancelled: int  # messages cancelled before they went out
    channels: list[ChannelResult]
    reasons: list[tuple[str, int]]  # why devices were not reached, most frequent first

    @property
    def devices(self) -> int:
        return sum(c.devices for c in self.channels)

    @property
    def delivered(self) -> int:
        return sum(c.delivered for c in self.channels)

    @property
    def waiting(self) -> int:
        return sum(c.waiting for c in self.channels)

    @property
    def done(self) -> int:
        return self.devices - self.waiting


def campaign_results(*, campaign: Campaign) -> CampaignResults:
    """The campaign's progress and results (three queries)."""
    messages = PushMessage.objects.filter(campaign=campaign).aggregate(
        total=Count("id"),
        unreachable=Count(
            "id",
            filter=Q(status=MessageStatus.FAILED)
            & ~Q(Exists(Delivery.objects.filter(message=OuterRef("pk")))),
        ),
        cancelled=Count("id", filter=Q(status=MessageStatus.CANCELLED)),
    )
    pairs = Delivery.objects.filter(message__campaign=campaign)
    counts: dict[tuple[str, str], int] = {
        (row["subscription__channel"], row["status"]): row["n"]
        for row in pairs.values("subscription__channel", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    channels = []
    for channel in Channel:
        by_status = {status: counts.get((channel.value, status), 0) for status in DeliveryStatus}
        total = sum(by_status.values())
        if not total:
            continue
        channels.append(
            ChannelResult(
                channel=channel.value,
                label=str(channel.label),
                devices=total,
                delivered=by_status[DeliveryStatus.DELIVERED],
                failed=by_status[DeliveryStatus.FAILED],
                expired=by_status[DeliveryStatus.EXPIRED],
                unknown=by_status[DeliveryStatus.UNKNOWN],
                waiting=sum(by_status[s] for s in WAITING),
                skipped=by_status[DeliveryStatus.SKIPPED],
            )
        )
    reasons = [
        (row["reason"], row["n"])
        for row in pairs.exclude(reason="")
        .exclude(status=DeliveryStatus.DELIVERED)
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")[:REASONS_SHOWN]
    ]
    return CampaignResults(
        targeted=campaign.targeted or 0,
        capped=campaign.capped or 0,
        messages=messages["total"],
        unreachable=messages["unreachable"],
        cancelled=messages["cancelled"],
        channels=channels,
        reasons=reasons,
    )
