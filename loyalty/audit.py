"""The audit log: every change a manager makes in the settings writes one ``AuditEvent``.

Services call ``audit_record`` inside their own transaction, so the event and the change it
describes are saved together or not at all.

Summaries are stored text, written in English whatever language the person who made the change
reads the dashboard in: build them with ``log_text`` around every translatable label (role,
program kind...) so that a label does not end up in the author's language.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.functional import Promise

from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.models import AuditEvent, Merchant

# The language audit summaries are stored in.
AUDIT_LANGUAGE = "en"


def log_text(text: str | Promise) -> str:
    """A (lazily) translated label as the audit log stores it: in ``AUDIT_LANGUAGE``."""
    with translation.override(AUDIT_LANGUAGE):
        return str(text)


def audit_record(
    *,
    merchant: Merchant,
    actor: Actor,
    action: str,
    summary: str,
    details: dict[str, Any] | None = None,
    actor_name: str = "System",
) -> AuditEvent:
    """``actor_name`` names who acted when no one is signed in (e.g. "Customer (card page)")."""
    user = user_or_none(actor)
    return AuditEvent.objects.create(
        merchant=merchant,
        actor=user,
        actor_name=user.get_username() if user is not None else actor_name,
        action=action,
        summary=summary[:300],
        details=details or {},
        created_at=clock.now(),
    )
