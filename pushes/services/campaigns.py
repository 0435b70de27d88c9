"""Campaigns: one message to an audience of cards, now or at a time in the merchant's zone.

- ``campaign_create`` / ``campaign_update`` / ``campaign_cancel``: the campaigns page. A
  campaign can be changed until it starts; cancelling one that is sending cancels its messages
  not yet sent (their pending pairs are skipped when claimed).
- ``campaigns_start_due`` (beat): claims due campaigns with ``FOR UPDATE SKIP LOCKED``, lets
  those inside the merchant's quiet hours wait, and freezes each audience into one message per
  card in one ``INSERT ... SELECT`` (cards over the weekly cap are counted, not sent). The
  dispatcher then sends those messages like any other.
- ``campaigns_finish``: a sending campaign is sent once every one of its messages is final.
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.models import Program
from customers.models import Segment
from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.audit import audit_record
from loyalty.celery import app as celery_app
from loyalty.models import AuditAction, Merchant
from pushes.audiences import FILTER_KEYS, audience_cards, campaign_spec
from pushes.models import (
    Audience,
    Campaign,
    CampaignStatus,
    MessageSettings,
    MessageStatus,
    PushMessage,
)
from pushes.services.messages import DISPATCH_TASK, clean_body

START_CAMPAIGNS_TASK = "pushes.tasks.start_due_campaigns"
CAP_DAYS = 7


def _kick_start() -> None:
    """A campaign sent now starts at once instead of waiting for the next beat tick."""
    celery_app.send_task(START_CAMPAIGNS_TASK)


def _clean_spec(
    *,
    merchant: Merchant,
    program: Program,
    audience: str,
    segments: list[str],
    tier_name: str,
    filters: dict[str, Any],
) -> dict[str, Any]:
    """The audience's fields as stored; refuses a program of another merchant or an
    audience that names nothing."""
    if program.merchant_id != merchant.pk:
        raise ValidationError({"program": _("Pick one of your programs.")})
    if audience not in Audience.values:
        raise ValidationError({"audience": _("Pick who receives the message.")})
    fields: dict[str, Any] = {"audience": audience, "segments": [], "tier_name": "", "filters": {}}
    if audience == Audience.SEGMENTS:
        chosen = sorted(set(segments) & set(Segment.values))
        if not chosen:
            raise ValidationError({"segments": _("Pick at least one segment.")})
        fields["segments"] = chosen
    elif audience == Audience.TIER:
        if not tier_name or not program.tiers.filter(name=tier_name).exists():
            raise ValidationError({"tier_name": _("Pick one of the program's tiers.")})
        fields["tier_name"] = tier_name
    elif audience == Audience.FILTER:
        fields["filters"] = {
            key: str(filters.get(key) or "").strip()[:100]
            for key in FILTER_KEYS
            if filters.get(key)
        }
    return fields


def _check_send_at(send_at: datetime.datetime | None, now: datetime.datetime) -> None:
    if send_at is not None and send_at <= now:
        raise ValidationError({"send_at": _("Pick a time in the future, or leave it empty.")})


def _cleaned_fields(
    *,
    merchant: Merchant,
    program: Program,
    body: str,
    audience: str,
    segments: list[str] | None,
    tier_name: str,
    filters: dict[str, Any] | None,
    send_at: datetime.datetime | None,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The campaign's fields as stored, from what the merchant typed (``send_at`` None: now)."""
    body = clean_body(body)
    _check_send_at(send_at, now)
    spec = _clean_spec(
        merchant=merchant,
        program=program,
        audience=audience,
        segments=segments or [],
        tier_name=tier_name,
        filters=filters or {},
    )
    return {
        "program": program,
        "body": body,
        "send_at": send_at or now,
        "scheduled": send_at is not None,
        **spec,
    }


def campaign_create(
    *,
    merchant: Merchant,
    program: Program,
    body: str,
    audience: str,
    segments: list[str] | None = None,
    tier_name: str = "",
    filters: dict[str, Any] | None = None,
    send_at: datetime.datetime | None = None,
    actor: Actor,
) -> Campaign:
    """A campaign to send now (``send_at`` None) or at a future time."""
    fields = _cleaned_fields(
        merchant=merchant,
        program=program,
        body=body,
        audience=audience,
        segments=segments,
        tier_name=tier_name,
        filters=filters,
        send_at=send_at,
        now=clock.now(),
    )
    with transaction.atomic():
        campaign = Campaign.objects.create(
            merchant=merchant, created_by=user_or_none(actor), **fields
        )
        if send_at is None:
            transaction.on_commit(_kick_start, robust=True)
    return campaign


def not_editable_error(status: str) -> str:
    if status == CampaignStatus.SENDING:
        return _("This campaign is sending; it can no longer be changed.")
    if status == CampaignStatus.SENT:
        return _("This campaign is sent; it can no longer be changed.")
    return _("This campaign is cancelled; it can no longer be changed.")


def campaign_update(
    *,
    campaign: Campaign,
    program: Program,
    body: str,
    audience: str,
    segments: list[str] | None = None,
    tier_name: str = "",
    filters: dict[str, Any] | None = None,
    send_at: datetime.datetime | None = None,
    actor: Actor,
) -> Campaign:
    """Change a campaign until it starts (empty ``send_at``: send it now)."""
    now = clock.now()
    fields = _cleaned_fields(
        merchant=campaign.merchant,
        program=program,
        body=body,
        audience=audience,
        segments=segments,
        tier_name=tier_name,
        filters=filters,
        send_at=send_at,
        now=now,
    )
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != CampaignStatus.SCHEDULED:
            raise ValidationError(not_editable_error(locked.status))
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.edited_at = now
        locked.save()
        if send_at is None:
            transaction.on_commit(_kick_start, robust=True)
    return locked


def campaign_cancel(*, campaign: Campaign, actor: Actor) -> Campaign:
    """Cancel a campaign that is scheduled, or stop one that is sending: its messages not yet
    sent are cancelled, and their devices not yet reached are skipped."""
    now = clock.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
            raise ValidationError(
                _("This campaign is sent; it can no longer be cancelled.")
                if locked.status == CampaignStatus.SENT
                else _("This campaign is already cancelled.")
            )
        locked.status = CampaignStatus.CANCELLED
        locked.cancelled_at = now
        locked.cancelled_by = user_or_none(actor)
        locked.finished_at = now if locked.started_at else None
        locked.save(update_fields=["status", "cancelled_at", "cancelled_by", "finished_at"])
        PushMessage.objects.filter(
            campaign=locked, status__in=(MessageStatus.SCHEDULED, MessageStatus.SENDING)
        ).update(
            status=MessageStatus.CANCELLED,
            cancelled_at=now,
            cancelled_by=user_or_none(actor),
            finished_at=now,
        )
    return locked


# ---------------------------------------------------------------------------------------------
# Starting (the beat tick)


def in_quiet_hours(
    rules: MessageSettings | None, moment: datetime.datetime, tz: zoneinfo.ZoneInfo
) -> bool:
    """Whether ``moment`` falls in the merchant's quiet hours (which may span midnight)."""
    if rules is None or rules.quiet_start is None or rules.quiet_end is None:
        return False
    start, end = rules.quiet_start, rules.quiet_end
    if start == end:
        return False
    local = timezone.localtime(moment, tz).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(
    rules: MessageSettings | None, moment: datetime.datetime, tz: zoneinfo.ZoneInfo
) -> datetime.datetime:
    """``moment``, or the end of the quiet hours it falls in."""
    if rules is None or rules.quiet_end is None or not in_quiet_hours(rules, moment, tz):
        return moment
    local = timezone.localtime(moment, tz)
    end = datetime.datetime.combine(local.date(), rules.quiet_end, tzinfo=tz)
    if end <= local:
        end += datetime.timedelta(days=1)
    return end


def campaigns_start_due(*, limit: int = 20) -> list[int]:
    """Start due campaigns outside their merchant's quiet hours; the ids started."""
    now = clock.now()
    started = []
    with transaction.atomic():
        due = list(
            Campaign.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("merchant", "program")
            .filter(status=CampaignStatus.SCHEDULED, send_at__lte=now)
            .order_by("send_at", "id")[:limit]
        )
        rules = {
            r.merchant_id: r
            for r in MessageSettings.objects.filter(merchant__in={c.merchant_id for c in due})
        }
        for campaign in due:
            merchant = campaign.merchant
            if in_quiet_hours(rules.get(merchant.pk), now, merchant.tz):
                continue  # it waits: the first tick after the quiet hours starts it
            _freeze(campaign, rules.get(merchant.pk), now)
            started.append(campaign.pk)
        if started:
            transaction.on_commit(lambda: celery_app.send_task(DISPATCH_TASK), robust=True)
    return started


# The frozen audience: one scheduled message per card, due now, unless the card already got
# ``cap`` campaign messages in the last 7 days. Column names from the models; every value is a
# parameter (the audience's own SQL comes from the ORM with its parameters).
_FREEZE_SQL = """
INSERT INTO {messages} (merchant_id, card_id, campaign_id, body, status, send_at, scheduled,
                        created_by_id, created_at, failure_reason)
SELECT %s, k.id, %s, %s, %s, %s, false, %s, %s, ''
FROM ({audience}) AS k
WHERE %s::int IS NULL OR (
    SELECT count(*) FROM {messages} m
    WHERE m.card_id = k.id AND m.campaign_id IS NOT NULL AND m.send_at > %s
      AND m.status <> %s
) < %s::int
"""


def _freeze(campaign: Campaign, rules: MessageSettings | None, now: datetime.datetime) -> None:
    cards = audience_cards(merchant=campaign.merchant, spec=campaign_spec(campaign))
    targeted = cards.count()
    audience_sql, audience_params = cards.values("id").query.sql_with_params()
    cap = rules.weekly_cap if rules else None
    sql = _FREEZE_SQL.format(messages=PushMessage._meta.db_table, audience=audience_sql)
    params = [
        campaign.merchant_id,
        campaign.pk,
        campaign.body,
        MessageStatus.SCHEDULED.value,
        now,
        campaign.created_by_id,
        now,
        *audience_params,
        cap,
        now - datetime.timedelta(days=CAP_DAYS),
        MessageStatus.CANCELLED.value,
        cap,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        created = cursor.rowcount
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = now
    campaign.targeted = targeted
    campaign.capped = targeted - created
    campaign.save(update_fields=["status", "started_at", "targeted", "capped"])


def campaigns_finish() -> list[int]:
    """Sending campaigns whose every message is final are sent; the ids finished."""
    open_messages = PushMessage.objects.filter(
        campaign=OuterRef("pk"), status__in=(MessageStatus.SCHEDULED, MessageStatus.SENDING)
    )
    finishing = Campaign.objects.filter(status=CampaignStatus.SENDING).exclude(
        Exists(open_messages)
    )
    ids = list(finishing.values_list("id", flat=True))
    if ids:
        Campaign.objects.filter(pk__in=ids, status=CampaignStatus.SENDING).update(
            status=CampaignStatus.SENT, finished_at=clock.now()
        )
    return ids


# ---------------------------------------------------------------------------------------------
# Settings > Messages


def message_settings_get(*, merchant: Merchant) -> MessageSettings:
    """The merchant's rules, or unsaved defaults (no quiet hours, no cap)."""
    return MessageSettings.objects.filter(merchant=merchant).first() or MessageSettings(
        merchant=merchant
    )


def message_settings_save(
    *,
    merchant: Merchant,
    quiet_start: datetime.time | None,
    quiet_end: datetime.time | None,
    weekly_cap: int | None,
    actor: Actor,
) -> MessageSettings:
    if (quiet_start is None) != (quiet_end is None):
        raise ValidationError(_("Give both ends of the quiet hours, or leave both empty."))
    if weekly_cap is not None and not 1 <= weekly_cap <= 100:
        raise ValidationError({"weekly_cap": _("Enter a number from 1 to 100, or leave it empty.")})
    fields = {"quiet_start": quiet_start, "quiet_end": quiet_end, "weekly_cap": weekly_cap}
    with transaction.atomic():
        before = MessageSettings.objects.select_for_update().filter(merchant=merchant).first()
        unchanged = before is not None and all(getattr(before, k) == v for k, v in fields.items())
        rules, _created = MessageSettings.objects.update_or_create(
            merchant=merchant, defaults=fields
        )
        if not unchanged:
            _audit_rules(merchant, rules, actor)
    return rules


def _audit_rules(merchant: Merchant, rules: MessageSettings, actor: Actor) -> None:
    quiet = (
        f"quiet hours {rules.quiet_start:%H:%M}-{rules.quiet_end:%H:%M}"
        if rules.quiet_start is not None and rules.quiet_end is not None
        else "no quiet hours"
    )
    cap = f"at most {rules.weekly_cap} per card a week" if rules.weekly_cap else "no weekly cap"
    audit_record(
        merchant=merchant,
        actor=actor,
        action=AuditAction.MESSAGE_RULES_CHANGED,
        summary=f"Message rules: {quiet}, {cap}",
        details={
            "quiet_start": rules.quiet_start.isoformat() if rules.quiet_start else None,
            "quiet_end": rules.quiet_end.isoformat() if rules.quiet_end else None,
            "weekly_cap": rules.weekly_cap,
        },
    )
