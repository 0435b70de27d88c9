"""The audit log: every change a manager makes in the settings writes one ``AuditEvent``.

Services call ``audit_record`` inside their own transaction, so the event and the change it
describes are saved together or not at all.
"""

from __future__ import annotations

from typing import Any

from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.models import AuditEvent, Merchant


def audit_record(
    *,
    merchant: Merchant,
    actor: Actor,
    action: str,
    summary: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    user = user_or_none(actor)
    return AuditEvent.objects.create(
        merchant=merchant,
        actor=user,
        actor_name=user.get_username() if user is not None else "System",
        action=action,
        summary=summary[:300],
        details=details or {},
        created_at=clock.now(),
    )
