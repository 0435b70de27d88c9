"""The merchants of the specs in the database: merchants, teams, programs and tiers.

``tenants_create`` writes them through the ORM (a few hundred rows at most) and returns each as
a ``Tenant``, its spec with the ids the rows refer to.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from cards.models import Program, ProgramKind, Tier
from customers.generator.columns import money
from customers.generator.specs import HISTORY_DAYS, MerchantSpec, ProgramSpec
from loyalty.models import Membership, Merchant, Role


@dataclass(frozen=True)
class Tenant:
    """A merchant as the rows need it: its spec and the ids the database gave it."""

    spec: MerchantSpec
    merchant_id: int
    program_ids: tuple[int, int]  # indexed by STAMP and CASHBACK
    actor_ids: tuple[int, ...]  # who works the counter: staff and admins


def tenants_create(*, specs: Sequence[MerchantSpec], now: datetime.datetime) -> list[Tenant]:
    """The merchants, their teams (unusable passwords: no slow hashing), programs and tiers."""
    founded = now - datetime.timedelta(days=HISTORY_DAYS + 30)
    merchants = Merchant.objects.bulk_create(
        Merchant(
            name=spec.name,
            slug=spec.slug,
            currency=spec.locale.currency,
            time_zone=spec.locale.time_zone,
            country=spec.locale.country,
            language=spec.locale.language,
        )
        for spec in specs
    )
    users = _team_create(specs, merchants, founded)
    programs = Program.objects.bulk_create(
        _program(program, merchant)
        for spec, merchant in zip(specs, merchants, strict=True)
        for program in spec.programs
    )
    Tier.objects.bulk_create(
        Tier(
            program=program,
            name=tier.name,
            threshold=_decimal(tier.threshold),
            percentage=_decimal(tier.percentage),
        )
        for spec_program, program in zip(
            (p for spec in specs for p in spec.programs), programs, strict=True
        )
        for tier in spec_program.tiers
    )
    for model, ids in ((Merchant, merchants), (Program, programs)):
        model.objects.filter(pk__in=[row.pk for row in ids]).update(created_at=founded)
    return [
        Tenant(
            spec=spec,
            merchant_id=merchant.pk,
            program_ids=(programs[2 * index].pk, programs[2 * index + 1].pk),
            actor_ids=tuple(
                users[member.username].pk for member in spec.members if member.role != Role.OWNER
            ),
        )
        for index, (spec, merchant) in enumerate(zip(specs, merchants, strict=True))
    ]


def _team_create(
    specs: Sequence[MerchantSpec], merchants: Sequence[Merchant], founded: datetime.datetime
) -> dict[str, Any]:
    user_model = get_user_model()
    users = []
    for spec in specs:
        for member in spec.members:
            user = user_model(
                username=member.username,
                email=f"{member.username}@example.com",
                first_name=member.first_name,
                last_name=member.last_name,
                date_joined=founded,
            )
            user.set_unusable_password()
            users.append(user)
    by_name = {user.username: user for user in user_model.objects.bulk_create(users)}
    memberships = Membership.objects.bulk_create(
        Membership(user=by_name[member.username], merchant=merchant, role=member.role)
        for spec, merchant in zip(specs, merchants, strict=True)
        for member in spec.members
    )
    Membership.objects.filter(pk__in=[m.pk for m in memberships]).update(created_at=founded)
    return by_name


def _program(spec: ProgramSpec, merchant: Merchant) -> Program:
    is_stamp = spec.kind == ProgramKind.STAMP
    return Program(
        merchant=merchant,
        name=spec.name,
        kind=spec.kind,
        mechanism=spec.mechanism,
        spend_per_stamp=_decimal(spec.spend_per_stamp) if spec.spend_per_stamp else None,
        stamps_per_visit=spec.stamps_per_visit,
        stamps_per_reward=spec.stamps_per_reward,
        referral_bonus=_decimal(spec.referral_bonus * 100 if is_stamp else spec.referral_bonus),
        welcome_bonus=_decimal(spec.welcome_bonus * 100 if is_stamp else spec.welcome_bonus),
        background_color=spec.color,
    )


def _decimal(cents: int) -> Decimal:
    """Cents (or hundredths of a percent) as a Decimal with 2 places."""
    return Decimal(money(cents))
