"""Reads for the settings: the team, pending invitations and the audit log."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When

from loyalty import clock
from loyalty.models import AuditEvent, Invitation, Membership, Merchant, Role

AUDIT_PAGE_SIZE = 50


def team_members(*, merchant: Merchant) -> QuerySet[Membership]:
    """Owners first, then admins, then staff; alphabetical within a role."""
    rank = Case(
        When(role=Role.OWNER, then=Value(0)),
        When(role=Role.ADMIN, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        Membership.objects.filter(merchant=merchant)
        .select_related("user")
        .annotate(rank=rank)
        .order_by("rank", "user__username")
    )


def pending_invitations(*, merchant: Merchant) -> QuerySet[Invitation]:
    """Invitations neither accepted nor revoked (expired ones too: they can be resent)."""
    return (
        Invitation.objects.filter(
            merchant=merchant, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("-sent_at", "-id")
    )


def invitation_is_expired(invitation: Invitation) -> bool:
    return invitation.expires_at <= clock.now()


def audit_page(*, merchant: Merchant, number: str | int | None) -> Page:
    events = AuditEvent.objects.filter(merchant=merchant).order_by("-created_at", "-id")
    return Paginator(events, AUDIT_PAGE_SIZE).get_page(number)
