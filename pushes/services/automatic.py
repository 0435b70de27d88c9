"""Automatic messages: a program's messages that send themselves.

- ``auto_messages_save``: a program's four kinds (on/off, text, days), from its settings page.
- ``auto_message_reward_ready``: called inside the ledger's transaction when an entry made a
  reward available; the message row commits with the entry and is sent after the commit.
- ``auto_messages_queue`` (one beat task per kind): finds the cards due a card-expiring,
  birthday or we-miss-you message with one set-based query across all merchants, and records
  one message per card, which the dispatcher sends like any other.

Each message carries its ``trigger`` and a ``trigger_key`` (the entry, the expiration date, the
year, the last visit's date), unique per card: finding a trigger again, in the next beat or a
repeated task, sends nothing twice, and a new lapse or a moved expiration date is a new key.
Only cards that can receive (a device subscribed) get a row. Quiet hours hold for automatic
messages as for campaigns: one due inside waits for their end.
"""

from __future__ import annotations

import calendar
import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists
from django.utils.translation import gettext as _

from cards.models import Card, CardStatus, LedgerEntry, Program
from cards.rules import Kind
from customers.models import Customer
from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.audit import audit_record, log_text
from loyalty.celery import app as celery_app
from loyalty.models import AuditAction, Merchant
from pushes.automatic import (
    DAYS_RANGE,
    DEFAULT_DAYS,
    card_values,
    check_placeholders,
    fill,
    triggers_of,
)
from pushes.models import (
    AutoMessage,
    MessageSettings,
    MessageStatus,
    PushMessage,
    PushSubscription,
    Trigger,
)
from pushes.services.campaigns import quiet_hours_end
from pushes.services.messages import DISPATCH_TASK, clean_body

logger = logging.getLogger(__name__)

# The scheduled kinds are looked for from this local time on, so a birthday is not wished at
# midnight; quiet hours, when set, may hold them longer.
SEND_FROM = datetime.time(10, 0)
# A we-miss-you message found up to this many days late (the worker was down) still goes out;
# older lapses are left alone, so turning the message on does not write to every customer
# who left years ago.
CATCH_UP_DAYS = 7
CHUNK = 500


@dataclass(frozen=True)
class AutoMessageInput:
    trigger: str
    enabled: bool
    body: str
    days: int | None = None


def _cleaned(program: Program, change: AutoMessageInput) -> dict[str, object]:
    """One kind's fields as stored; ``ValidationError`` keyed ``<trigger>-<field>``."""
    trigger = change.trigger
    if trigger not in triggers_of(program):
        raise ValidationError({"__all__": _("This program has no such automatic message.")})
    body = (change.body or "").replace("\r\n", "\n").strip()
    try:
        if change.enabled or body:
            body = clean_body(body)
        check_placeholders(body)
    except ValidationError as error:
        raise ValidationError({f"{trigger}-body": error.messages}) from None
    days = change.days
    if trigger in DAYS_RANGE:
        low, high = DAYS_RANGE[Trigger(trigger)]
        if days is None:
            days = DEFAULT_DAYS[Trigger(trigger)]
        if not low <= days <= high:
            raise ValidationError(
                {
                    f"{trigger}-days": _("Enter a number of days from %(low)d to %(high)d.")
                    % {"low": low, "high": high}
                }
            )
    else:
        days = None
    return {"enabled": change.enabled, "body": body, "days": days}


def auto_messages_save(
    *, program: Program, changes: Sequence[AutoMessageInput], actor: Actor
) -> list[AutoMessage]:
    """Save a program's automatic messages (all or none of them), with an audit entry naming
    what changed."""
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for change in changes:
        try:
            cleaned[change.trigger] = _cleaned(program, change)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    user = user_or_none(actor)
    with transaction.atomic():
        # The program's row is the lock: two first saves at once create each kind once.
        Program.objects.select_for_update().filter(pk=program.pk).first()
        current = {a.trigger: a for a in AutoMessage.objects.filter(program=program)}
        saved, changed = [], []
        for trigger, fields in cleaned.items():
            row = current.get(trigger) or AutoMessage(
                merchant_id=program.merchant_id, program=program, trigger=trigger
            )
            if row.pk is not None and all(getattr(row, k) == v for k, v in fields.items()):
                saved.append(row)
                continue
            for name, value in fields.items():
                setattr(row, name, value)
            # A kind saved for the first time while off (its suggested text kept) is no news.
            news = row.pk is not None or row.enabled
            row.updated_by = user
            row.save()
            saved.append(row)
            if news:
                changed.append(row)
        if changed:
            _audit(program, changed, actor)
    return saved


def _audit(program: Program, changed: list[AutoMessage], actor: Actor) -> None:
    states = ", ".join(
        f"{log_text(Trigger(row.trigger).label)} {'on' if row.enabled else 'off'}"
        for row in changed
    )
    audit_record(
        merchant=program.merchant,
        actor=actor,
        action=AuditAction.AUTO_MESSAGES_CHANGED,
        summary=f"Automatic messages of {program.name}: {states}",
        details={
            "program": program.pk,
            "messages": {
                row.trigger: {"enabled": row.enabled, "body": row.body, "days": row.days}
                for row in changed
            },
        },
    )


# ---------------------------------------------------------------------------------------------
# Reward ready: from the ledger's transaction


def auto_message_reward_ready(*, card: Card, entries: Iterable[LedgerEntry]) -> int | None:
    """Record the program's reward-ready message for the first entry that made a reward
    available, if the message is on and the card can receive; its id. Inside the ledger's
    transaction: the message exists exactly when the entry does, and is sent after commit."""
    # A reversal that gives back a redeemed reward is a correction, not news for the customer.
    entry = next(
        (e for e in entries if e.rewards_available_delta > 0 and e.kind != Kind.REVERSAL), None
    )
    if entry is None:
        return None
    # One query on a write that completed a reward (a stamp in ten or so), none otherwise.
    auto = (
        AutoMessage.objects.filter(
            program_id=card.program_id, trigger=Trigger.REWARD_READY, enabled=True
        )
        .filter(Exists(PushSubscription.objects.filter(card_id=card.pk, expired_at__isnull=True)))
        .first()
    )
    if auto is None:
        return None
    try:
        # A savepoint: whatever goes wrong with a message must not cost the customer a stamp.
        with transaction.atomic():
            ids = _record(
                [(card, auto, str(entry.pk))], trigger=Trigger.REWARD_READY, now=clock.now()
            )
    except DatabaseError:
        logger.exception("reward-ready message for card %s not recorded", card.pk)
        return None
    return ids[0] if ids else None


# ---------------------------------------------------------------------------------------------
# The scheduled kinds: one beat task each


_FIND_SQL = """
SELECT c.id, a.id, {key}
FROM {cards} c
JOIN {autos} a ON a.program_id = c.program_id AND a.trigger = %(trigger)s AND a.enabled
JOIN {programs} p ON p.id = c.program_id AND p.archived_at IS NULL
JOIN {merchants} m ON m.id = c.merchant_id
{join}
CROSS JOIN LATERAL (
    SELECT (%(now)s::timestamptz AT TIME ZONE m.time_zone) AS local_now,
           (%(now)s::timestamptz AT TIME ZONE m.time_zone)::date AS today
) t
WHERE c.status <> %(deleted)s
  AND t.local_now::time >= %(send_from)s
  AND (c.expires_on IS NULL OR c.expires_on >= t.today)
  AND EXISTS (SELECT 1 FROM {subscriptions} s WHERE s.card_id = c.id AND s.expired_at IS NULL)
  AND {condition}
  AND NOT EXISTS (
      SELECT 1 FROM {messages} pm
      WHERE pm.card_id = c.id AND pm.trigger = %(trigger)s AND pm.trigger_key = {key}
  )
ORDER BY c.id
"""

# Per kind: the key that makes it once (as text), the condition on today's local date ``t``,
# and a join it needs.
_KINDS = {
    Trigger.EXPIRING: (
        "c.expires_on::text",
        "c.expires_on IS NOT NULL AND c.expires_on - a.days <= t.today",
        "",
    ),
    Trigger.BIRTHDAY: (
        "extract(year FROM t.today)::int::text",
        # First the days that are today somewhere (customer_birthday_day's index), then the
        # merchant's own day; 29 February is wished on the 28th in other years.
        "cu.birthday IS NOT NULL AND extract(month FROM cu.birthday) = ANY(%(months)s::numeric[])"
        " AND extract(day FROM cu.birthday) = ANY(%(days)s::numeric[])"
        " AND (to_char(cu.birthday, 'MM-DD') = to_char(t.today, 'MM-DD')"
        " OR (to_char(cu.birthday, 'MM-DD') = '02-29' AND to_char(t.today, 'MM-DD') = '02-28'"
        " AND to_char(t.today + 1, 'MM-DD') = '03-01'))",
        "JOIN {customers} cu ON cu.id = c.customer_id",
    ),
    Trigger.LAPSED: (
        "(c.last_visit_at AT TIME ZONE m.time_zone)::date::text",
        "c.last_visit_at IS NOT NULL AND (c.last_visit_at AT TIME ZONE m.time_zone)::date"
        " BETWEEN t.today - a.days - %(catch_up)s AND t.today - a.days",
        "",
    ),
}


def _find_sql(trigger: Trigger) -> str:
    key, condition, join = _KINDS[trigger]
    tables = {
        "cards": Card._meta.db_table,
        "autos": AutoMessage._meta.db_table,
        "programs": Program._meta.db_table,
        "merchants": Merchant._meta.db_table,
        "customers": Customer._meta.db_table,
        "subscriptions": PushSubscription._meta.db_table,
        "messages": PushMessage._meta.db_table,
    }
    return _FIND_SQL.format(key=key, condition=condition, join=join.format(**tables), **tables)


def _birthdays_somewhere(now: datetime.datetime) -> tuple[list[int], list[int]]:
    """The months and days of the birthdays that may be today in some merchant's zone: every
    local date is within a day of UTC's (and 29 February counts on a common year's 28th)."""
    utc = now.astimezone(datetime.UTC).date()
    dates = [utc + datetime.timedelta(days=shift) for shift in (-1, 0, 1)]
    pairs = {(d.month, d.day) for d in dates}
    if any((d.month, d.day) == (2, 28) and not calendar.isleap(d.year) for d in dates):
        pairs.add((2, 29))
    return sorted({m for m, _d in pairs}), sorted({d for _m, d in pairs})


def _find_params(trigger: Trigger, now: datetime.datetime) -> dict[str, Any]:
    months, days = _birthdays_somewhere(now)
    return {
        "trigger": trigger.value,
        "now": now,
        "deleted": CardStatus.DELETED.value,
        "send_from": SEND_FROM,
        "catch_up": CATCH_UP_DAYS,
        "months": months,
        "days": days,
    }


def auto_messages_due(*, trigger: Trigger, now: datetime.datetime) -> list[tuple[int, int, str]]:
    """(card, automatic message, key) of every card due this kind of message and not sent it
    yet, across all merchants: one query."""
    with connection.cursor() as cursor:
        cursor.execute(_find_sql(trigger), _find_params(trigger, now))
        return [(card_id, auto_id, key) for card_id, auto_id, key in cursor.fetchall()]


def auto_messages_queue(*, trigger: Trigger, now: datetime.datetime | None = None) -> int:
    """Record one message per card due ``trigger`` (one of the scheduled kinds); how many.
    Running it again finds nothing new: the messages recorded are what it looks for."""
    now = now or clock.now()
    due = auto_messages_due(trigger=trigger, now=now)
    recorded = 0
    for start in range(0, len(due), CHUNK):
        chunk = due[start : start + CHUNK]
        cards = Card.objects.select_related("merchant", "program", "customer").in_bulk(
            [card_id for card_id, _auto, _key in chunk]
        )
        autos = AutoMessage.objects.in_bulk({auto_id for _card, auto_id, _key in chunk})
        with transaction.atomic():
            rows = [(cards[card_id], autos[auto_id], key) for card_id, auto_id, key in chunk]
            recorded += len(_record(rows, trigger=trigger, now=now))
    return recorded


_INSERT_SQL = """
INSERT INTO {messages} (merchant_id, card_id, trigger, trigger_key, body, status, send_at,
                        scheduled, created_at, failure_reason)
SELECT u.merchant_id, u.card_id, %s, u.key, u.body, %s, u.send_at, false, %s, ''
FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::timestamptz[])
     AS u(merchant_id, card_id, key, body, send_at)
ON CONFLICT DO NOTHING
RETURNING id
"""


def _record(
    rows: list[tuple[Card, AutoMessage, str]], *, trigger: Trigger, now: datetime.datetime
) -> list[int]:
    """Insert the messages (a key already sent is skipped by the unique constraint: a beat
    racing another records each once) and wake the dispatcher after commit; the ids."""
    merchants = {card.merchant_id for card, _auto, _key in rows}
    rules = {r.merchant_id: r for r in MessageSettings.objects.filter(merchant_id__in=merchants)}
    send_at = [quiet_hours_end(rules.get(c.merchant_id), now, c.merchant.tz) for c, _a, _k in rows]
    columns: list[list[Any]] = [
        [card.merchant_id for card, _auto, _key in rows],
        [card.pk for card, _auto, _key in rows],
        [key for _card, _auto, key in rows],
        [fill(auto.body, card_values(card)) for card, auto, _key in rows],
        send_at,
    ]
    sql = _INSERT_SQL.format(messages=PushMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [trigger.value, MessageStatus.SCHEDULED.value, now, *columns])
        ids = [pk for (pk,) in cursor.fetchall()]
    if ids:
        transaction.on_commit(lambda: celery_app.send_task(DISPATCH_TASK), robust=True)
    return ids
