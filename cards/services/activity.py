"""Writes of the activity page: its CSV download is audited, like every export of the ledger."""

from __future__ import annotations

from cards.activity import ActivityFilters
from loyalty.actors import Actor
from loyalty.audit import audit_record
from loyalty.models import AuditAction, Merchant


def activity_export_record(
    *, merchant: Merchant, actor: Actor, rows: int, filters: ActivityFilters
) -> None:
    """Audit a download of the activity list: who, when, how many rows and for which days.

    Recorded before the first row is sent, so an export cut short is in the log too. The
    details hold counts and the period, never a name: which member was filtered on is only
    flagged (the rows themselves name the team).
    """
    period = f"{filters.start.isoformat()} to {filters.end.isoformat()}"
    audit_record(
        merchant=merchant,
        actor=actor,
        action=AuditAction.ACTIVITY_EXPORTED,
        summary=f"Exported the team's activity from {period} as CSV ({rows} rows)",
        details={
            "rows": rows,
            "start": filters.start.isoformat(),
            "end": filters.end.isoformat(),
            "type": filters.kind or "all",
            "one_member": filters.member is not None,
        },
    )
