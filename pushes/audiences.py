"""Who a campaign reaches: its audience as one set-based query over the merchant's cards.

An audience is always cards of one program (a push goes to a card): every live card, the cards
of customers in some RFM segments, the cards of the customers the CRM list's filter shows, or
the cards holding a tier. ``audience_cards`` builds the queryset; the campaign's start freezes
it into one message per card with a single ``INSERT ... SELECT`` (``services.campaigns``), so
later changes to segments or tiers do not move an audience already sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from cards.models import Card, CardStatus, Program, Tier
from customers.selectors import CustomerFilters, customer_matches
from loyalty.models import Merchant
from pushes.models import Audience, Campaign, Channel, PushSubscription

# The CRM filter's keys an audience keeps (the program is the campaign's own).
FILTER_KEYS = ("q", "status", "device", "segment")


@dataclass(frozen=True)
class AudienceSpec:
    """What the merchant picked; stored on the campaign as is."""

    program: Program
    audience: str = Audience.PROGRAM
    segments: tuple[str, ...] = ()
    tier_name: str = ""
    filters: dict[str, str] = field(default_factory=dict)


def campaign_spec(campaign: Campaign) -> AudienceSpec:
    """The audience a stored campaign describes."""
    return AudienceSpec(
        program=campaign.program,
        audience=campaign.audience,
        segments=tuple(campaign.segments),
        tier_name=campaign.tier_name,
        filters=dict(campaign.filters),
    )


def campaign_programs(*, merchant: Merchant) -> list[Program]:
    """The programs a new campaign can be for: the merchant's live ones."""
    return list(
        Program.objects.filter(merchant=merchant, archived_at__isnull=True).order_by("name", "id")
    )


def tier_names(*, programs: list[Program]) -> list[str]:
    """The tiers of these programs, lowest first, each name once."""
    names = Tier.objects.filter(program__in=programs).order_by("threshold", "name")
    return list(dict.fromkeys(names.values_list("name", flat=True)))


def audience_cards(*, merchant: Merchant, spec: AudienceSpec) -> QuerySet[Card]:
    """The live cards of the spec's program that the audience covers (not yet evaluated)."""
    cards = Card.objects.filter(merchant=merchant, program=spec.program).exclude(
        status=CardStatus.DELETED
    )
    if spec.audience == Audience.SEGMENTS:
        return cards.filter(customer__segment__in=list(spec.segments))
    if spec.audience == Audience.TIER:
        return cards.filter(tier_name=spec.tier_name)
    if spec.audience == Audience.FILTER:
        filters = CustomerFilters(
            program=spec.program.pk,
            status=spec.filters.get("status", ""),
            device=spec.filters.get("device", ""),
            segment=spec.filters.get("segment", ""),
        )
        customers = customer_matches(
            merchant=merchant, q=spec.filters.get("q", ""), filters=filters
        )
        cards = cards.filter(customer__in=customers)
        # The list's card filters pick customers through one of their cards; the message goes
        # to the matching card of this program itself.
        return cards.filter(**filters.card_conditions)
    return cards


@dataclass(frozen=True)
class AudienceSize:
    cards: int
    reachable: int  # cards with at least one device that receives
    by_channel: dict[str, int]  # channel -> cards with a device of that channel

    @property
    def unreachable(self) -> int:
        return self.cards - self.reachable


def _receives(channel: str | None = None) -> Exists:
    devices = PushSubscription.objects.filter(card=OuterRef("pk"), expired_at__isnull=True)
    if channel is not None:
        devices = devices.filter(channel=channel)
    return Exists(devices)


def audience_size(*, merchant: Merchant, spec: AudienceSpec) -> AudienceSize:
    """How many cards the audience holds and how many can receive, by channel (one query)."""
    counts: dict[str, Any] = audience_cards(merchant=merchant, spec=spec).aggregate(
        cards=Count("id"),
        reachable=Count("id", filter=Q(_receives())),
        **{channel.value: Count("id", filter=Q(_receives(channel))) for channel in Channel},
    )
    return AudienceSize(
        cards=counts["cards"],
        reachable=counts["reachable"],
        by_channel={channel.value: counts[channel.value] for channel in Channel},
    )
