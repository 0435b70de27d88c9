"""The counter's guards: a double scan asks first, and the program's daily caps hold.

Both run inside ``card_apply``, under the card's row lock and after the action's deltas are
computed, so two staff applying to one card at once queue on the lock and the second sees the
first's entry: the check cannot be raced past, and a page that skipped it (an old tab, a script)
is held to it all the same.

- **Double scan**: the same action on the same card again within the program's
  ``repeat_guard_seconds`` raises ``RepeatSuspected`` (what, how long ago, by whom) unless the
  caller confirms. A resent request (the same idempotency key) is a replay, never a repeat.
- **Daily caps**: stamps or points earned per card and day (``daily_earn_cap``) and purchases per
  card and day (``daily_purchase_cap``), in the merchant's day. Beyond them ``CapReached``,
  unless an owner or admin overrides with a comment; the entries record the override.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cards import rules
from cards.models import Card, LedgerEntry, Source
from cards.rules import Delta, LedgerError
from loyalty import clock
from loyalty.models import MANAGER_ROLES


class RepeatSuspected(LedgerError):
    """The same action was applied to this card moments ago; confirm to apply it again."""

    def __init__(self, message: str, *, previous: LedgerEntry) -> None:
        super().__init__("confirm", message)
        self.previous = previous


class CapReached(LedgerError):
    """A daily cap would be passed; ``can_override`` says whether this member may go past it."""

    def __init__(self, message: str, *, can_override: bool) -> None:
        super().__init__("override", message)
        self.can_override = can_override


# Words an earlier operation's entries ("+2 stamps") the way its dialog does.
DescribeEntries = Callable[[list[LedgerEntry]], str]


@dataclass(frozen=True)
class Guard:
    """What the member asked for: to apply again after a warning, or to go past a cap."""

    confirm_repeat: bool = False
    override_cap: bool = False
    role: str | None = None
    comment: str = ""
    key: str = ""


def guard_counter_action(
    card: Card, deltas: list[Delta], *, guard: Guard, describe: DescribeEntries
) -> bool:
    """Refuse a suspected double scan or a change past a daily cap; whether a cap was overridden.

    ``card`` is locked by the caller; ``describe`` words the earlier entries for the warning.
    """
    now = clock.now()
    if not guard.confirm_repeat:
        _refuse_repeat(card, deltas, guard.key, now, describe)
    return _check_caps(card, deltas, guard, now)


def _refuse_repeat(
    card: Card,
    deltas: list[Delta],
    key: str,
    now: datetime.datetime,
    describe: DescribeEntries,
) -> None:
    seconds = card.program.repeat_guard_seconds
    if seconds <= 0 or not deltas:
        return
    previous = (
        card.entries.filter(
            kind=deltas[0].kind,
            sequence=0,
            source=Source.DASHBOARD,
            created_at__gte=now - datetime.timedelta(seconds=seconds),
            reversal__isnull=True,
        )
        .exclude(operation_key=key)
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    if previous is None:
        return
    entries = list(card.entries.filter(operation_key=previous.operation_key).order_by("sequence"))
    ago = max(int((now - previous.created_at).total_seconds()), 0)
    who = previous.actor.get_username() if previous.actor is not None else _("someone")
    message = ngettext(
        "This card got %(what)s %(count)s second ago by %(who)s. Apply it again?",
        "This card got %(what)s %(count)s seconds ago by %(who)s. Apply it again?",
        ago,
    ) % {"what": describe(entries), "count": ago, "who": who}
    raise RepeatSuspected(message, previous=previous)


def _day_start(card: Card, now: datetime.datetime) -> datetime.datetime:
    """Midnight of the merchant's day that ``now`` falls in."""
    local = timezone.localtime(now, card.merchant.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _earned(card: Card, deltas: list[Delta]) -> Decimal | int:
    if card.program.is_stamp:
        return sum(delta.stamps_earned for delta in deltas)
    return sum((delta.points_earned for delta in deltas), rules.ZERO)


def _check_caps(card: Card, deltas: list[Delta], guard: Guard, now: datetime.datetime) -> bool:
    program = card.program
    earned = _earned(card, deltas)
    earn_cap = program.daily_earn_cap if earned > 0 else None
    purchase_cap = program.daily_purchase_cap if any(rules.is_purchase(d) for d in deltas) else None
    if earn_cap is None and purchase_cap is None:
        return False
    today = _today(card, now)
    reasons = []
    if earn_cap is not None and today.earned + earned > earn_cap:
        reasons.append(_earn_cap_text(card, earn_cap, today.earned))
    if purchase_cap is not None and today.purchases + 1 > purchase_cap:
        reasons.append(
            ngettext(
                "This card already has %(count)s purchase today; the daily cap is %(cap)s.",
                "This card already has %(count)s purchases today; the daily cap is %(cap)s.",
                today.purchases,
            )
            % {"count": today.purchases, "cap": purchase_cap}
        )
    if not reasons:
        return False
    can_override = guard.role in MANAGER_ROLES
    if guard.override_cap and can_override:
        if not guard.comment.strip():
            raise LedgerError("comment", _("Say in the comment why the daily cap is overridden."))
        return True
    if can_override:
        reasons.append(_("To go past it, tick Override and say why in the comment."))
    else:
        reasons.append(_("Only an owner or admin can go past a daily cap."))
    raise CapReached(" ".join(reasons), can_override=can_override)


def _earn_cap_text(card: Card, cap: int, earned_today: Decimal | int) -> str:
    if card.program.is_stamp:
        return ngettext(
            "The daily cap is %(cap)s stamp per card; this card earned %(earned)s today.",
            "The daily cap is %(cap)s stamps per card; this card earned %(earned)s today.",
            cap,
        ) % {"cap": cap, "earned": earned_today}
    return _("The daily cap is %(cap)s points per card; this card earned %(earned)s today.") % {
        "cap": cap,
        "earned": number_format(earned_today),
    }


@dataclass(frozen=True)
class Today:
    earned: Decimal | int
    purchases: int


def _today(card: Card, now: datetime.datetime) -> Today:
    """What the card earned and bought today from the counter: one query.

    Counter entries only (the dashboard's; their reversals carry the same source and net them
    out); a reversed purchase no longer counts.
    """
    purchase = Q(purchase_amount__gt=0, amount_delta__gte=0, ltv_delta__gte=0)
    earned_field = "stamps_earned_delta" if card.program.is_stamp else "points_earned_delta"
    totals = card.entries.filter(
        created_at__gte=_day_start(card, now), source=Source.DASHBOARD
    ).aggregate(
        earned=Sum(earned_field),
        purchases=Count("pk", filter=purchase & Q(reversal__isnull=True)),
    )
    return Today(earned=totals["earned"] or 0, purchases=totals["purchases"])
