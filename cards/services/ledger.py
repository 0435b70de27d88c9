"""Every balance change, through one path.

Staff actions (``card_apply`` and its named entry points) and the system's bonuses all go
through ``_record``: lock the card row, replay the idempotency key if it was seen (and refuse
it if it was seen with another action or other inputs), refuse deleted and expired cards, let
the pure rule validate and compute the deltas against the *locked* values, then
``ledger_append`` inserts the entries and updates the aggregates in the same transaction.
Concurrent staff therefore queue on the row lock and no update is lost; a double click (same
key, same inputs) changes things once. Which rule an action runs is the table in
``cards.actions``.

A referred card's first purchase also credits its referrer, in the same transaction (see
``_referrer_due``): a join alone earns nothing, so sign-ups that never buy pay nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model, Q, sql
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cards import rules
from cards.actions import action_for
from cards.models import BALANCE_FIELDS, Card, LedgerEntry, Source
from cards.rules import Delta, Kind, LedgerError
from cards.services import guards
from cards.signals import ledger_recorded
from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.models import Merchant

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 64
MAX_COMMENT_LENGTH = 500
# The system writes its own operations under keys with a colon ("issue:<card>",
# "welcome:<card>", "referral:<new card>"); a key a request brings (a dialog's hidden field, a
# caller's retry key) may not contain one. So a request can neither take a system key first
# (and so block a bonus) nor replay one: the two namespaces cannot meet.
SYSTEM_KEY_SEPARATOR = ":"


@dataclass(frozen=True)
class LedgerResult:
    card: Card
    entries: list[LedgerEntry]
    replayed: bool = False


def request_fingerprint(action: str, inputs: Mapping[str, str] | None = None) -> str:
    """A hash of what an operation was asked to do, stored with its idempotency key.

    A key seen again with the same fingerprint is a resent request (replayed); with another,
    a form reused for a different change (refused).
    """
    payload = json.dumps(
        {"action": action, "inputs": dict(inputs or {})}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _request_key(raw: str | None) -> str:
    key = (raw or "").strip()
    if not key:
        return uuid.uuid4().hex
    if len(key) > MAX_KEY_LENGTH or SYSTEM_KEY_SEPARATOR in key:
        raise LedgerError("idempotency_key", _("The form expired; reload the page and try again."))
    return key


def _clean_comment(raw: str | None) -> str:
    comment = (raw or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise LedgerError(
            "comment",
            _("Keep the comment under %(max)s characters.") % {"max": MAX_COMMENT_LENGTH},
        )
    return comment


# ---------------------------------------------------------------------------------------------
# The one path for balance changes


def _record(
    *,
    card: Card,
    actor: Actor,
    key: str,
    fingerprint: str,
    source: str,
    compute: Callable[[Card], list[Delta]],
    comment: str = "",
    guard: Callable[[Card, list[Delta]], bool] | None = None,
    reverses: LedgerEntry | None = None,
) -> LedgerResult:
    """Lock, replay or refuse, compute, guard, write: see the module's docstring.

    ``guard`` runs under the lock after ``compute`` (the counter's double-scan and daily-cap
    checks); it raises to refuse and answers whether a cap was overridden, which the entries
    record. ``reverses`` is the entry a reversal undoes.
    """
    comment = _clean_comment(comment)
    held = _held_lock(card, key)
    # A card the caller locked in this transaction (``card_lock``) is not read again, and its
    # writes need no savepoint of their own: a refusal rolls the caller's transaction back.
    with transaction.atomic(savepoint=held is None):
        locked = held or _lock(card.pk)
        # Its own statement, after the lock is granted: a statement that waited for the lock
        # still reads the ledger as it was when it started, without a concurrent double
        # click's entries.
        previous = _entries_of_operation(locked, key)
        if previous:
            _ensure_same_request(previous, fingerprint)
            return LedgerResult(card=locked, entries=previous, replayed=True)
        _ensure_open(locked)
        deltas = compute(locked)
        overridden = guard(locked, deltas) if guard is not None else False
        write = partial(
            ledger_append,
            card=locked,
            deltas=deltas,
            key=key,
            request_hash=fingerprint,
            actor=actor,
            comment=comment,
            source=source,
            reverses=reverses,
            cap_overridden=overridden,
        )
        referrer = _referrer_due(locked, deltas)
        entries = write() if referrer is None else _write_with_referral(write, locked, referrer)
    _copy_balances(locked, card)
    return LedgerResult(card=locked, entries=entries)


def _lock(pk: int) -> Card:
    return (
        Card.objects.select_for_update(of=("self",))
        .select_related("program", "merchant")
        .get(pk=pk)
    )


def _entries_of_operation(card: Card, key: str) -> list[LedgerEntry]:
    """The entries an earlier request with this key wrote; almost always none.

    The usual answer costs a one-column query; the entries themselves are read only when
    there is something to replay.
    """
    entries = card.entries.filter(operation_key=key)
    if not entries.values_list("pk", flat=True)[:1]:
        return []
    return list(entries.order_by("sequence"))


def card_lock(*, merchant: Merchant, serial: str, idempotency_key: str | None) -> Card:
    """This merchant's card, its row locked until the caller's transaction ends.

    For the counter's hot path (the dialogs' Apply): the view reads the card once, by this
    locking query, and ``card_apply`` on the returned instance, in the same transaction and
    with the same key, neither locks nor reads it again. Raises ``Card.DoesNotExist`` for an
    unknown serial or another merchant's. Must run inside ``transaction.atomic``.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("card_lock needs a transaction.")
    key = (idempotency_key or "").strip()
    card = (
        Card.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(merchant=merchant, serial=serial)
    )
    card.merchant = merchant  # the caller's, already loaded: no join for it
    # The innermost atomic block holds the lock: it ends when that block ends (a savepoint
    # rolled back releases it too), and then the block is off the connection's stack.
    card._held_lock = (connection.atomic_blocks[-1], key)  # type: ignore[attr-defined]
    return card


def _held_lock(card: Card, key: str) -> Card | None:
    """``card`` if ``card_lock`` locked it, for this key, in a block that is still open."""
    held = getattr(card, "_held_lock", None)
    if held is None:
        return None
    block, locked_key = held
    open_blocks = transaction.get_connection().atomic_blocks
    if locked_key != key or not any(open_block is block for open_block in open_blocks):
        return None
    return card


def _ensure_same_request(previous: list[LedgerEntry], fingerprint: str) -> None:
    stored = previous[0].request_hash
    # Entries written before keys carried a fingerprint (blank) replay as they always did.
    if stored and stored != fingerprint:
        raise LedgerError(
            "idempotency_key",
            _("This form was already used for another change; reload the page and try again."),
        )


def _ensure_open(card: Card) -> None:
    if card.is_deleted:
        raise LedgerError("value", _("This card was deleted; its balances can no longer change."))
    if card.is_expired:
        assert card.expires_on is not None
        raise LedgerError(
            "value",
            _("This card expired on %(date)s. Move the expiration date to change its balances.")
            % {"date": date_format(card.expires_on, "DATE_FORMAT")},
        )


def card_check_open(*, card: Card) -> None:
    """Raise the refusal every balance change on a deleted or expired card gets.

    Read-only; lets a dialog's preview say what Apply would say.
    """
    _ensure_open(card)


def ledger_append(
    *,
    card: Card,
    deltas: list[Delta],
    key: str,
    actor: Actor,
    source: str,
    comment: str = "",
    at: datetime.datetime | None = None,
    referred_card: Card | None = None,
    request_hash: str | None = None,
    reverses: LedgerEntry | None = None,
    cap_overridden: bool = False,
) -> list[LedgerEntry]:
    """Write ``deltas`` as the card's next entries and fold them into its aggregates.

    The only code that writes entries. The caller holds the card's row lock (or has just
    created the card) inside a transaction. ``request_hash`` is the operation's
    ``request_fingerprint``; a system entry written directly (a card's first) is fingerprinted
    by its kinds.
    """
    if request_hash is None:
        request_hash = request_fingerprint(",".join(delta.kind for delta in deltas))
    now = at or clock.now()
    user = user_or_none(actor)
    balances = card.balances()
    previous = WrittenOver(last_visit_at=card.last_visit_at, tier_name=card.tier_name)
    entries = []
    for sequence, delta in enumerate(deltas):
        balances = rules.apply(balances, delta)
        entries.append(
            LedgerEntry(
                merchant_id=card.merchant_id,
                card=card,
                kind=delta.kind,
                source=source,
                actor_id=user.pk if user is not None else None,
                created_at=now,
                operation_key=key,
                request_hash=request_hash,
                sequence=sequence,
                # The comment belongs to the operation; shown once, on its first row.
                comment=comment if sequence == 0 else "",
                purchase_amount=delta.purchase_amount,
                amount_delta=delta.amount,
                ltv_delta=delta.ltv,
                stamps_delta=delta.stamps,
                stamps_earned_delta=delta.stamps_earned,
                rewards_earned_delta=delta.rewards_earned,
                rewards_available_delta=delta.rewards_available,
                rewards_redeemed_delta=delta.rewards_redeemed,
                points_delta=delta.points,
                points_earned_delta=delta.points_earned,
                points_redeemed_delta=delta.points_redeemed,
                visits_delta=delta.visits,
                cashback_percentage=delta.cashback_percentage,
                tier_name=delta.tier.name if delta.tier else "",
                tier_threshold=delta.tier.threshold if delta.tier else None,
                tier_percentage=delta.tier.percentage if delta.tier else None,
                referred_card=referred_card,
                reverses=reverses if sequence == 0 else None,
                peak_transaction_amount=delta.peak,
                cap_overridden=cap_overridden,
            )
        )
    if not balances.is_valid():  # the rules never allow it; the CHECK constraints agree
        raise LedgerError("value", _("That change would make a balance negative."))
    if not (balances.fits() and all(delta.fits() for delta in deltas)):
        # Out of reach with the per-entry limits, short of millions of entries on one card;
        # refused in words rather than left to overflow a column.
        raise LedgerError(
            "value", _("That change would take a balance past the largest a card can hold.")
        )
    for name in BALANCE_FIELDS:
        setattr(card, name, getattr(balances, name))
    dates = sorted({name for delta in deltas for name in rules.dates_moved(delta)})
    for name in dates:
        setattr(card, name, now)
    try:
        parts = [
            part(card=card, entries=entries, previous=previous) for part in LEDGER_WRITE_PARTS.parts
        ]
        _write(card, entries, [*BALANCE_FIELDS, *dates], parts)
    except IntegrityError as error:
        if "ledger_one_referral_per_new_card" in str(error):
            raise LedgerError("value", _("This new card already credited a referrer.")) from None
        if "reverses_id" in str(error):
            raise LedgerError("entry", _("This entry was already reversed.")) from None
        raise
    ledger_recorded.send(
        sender=Card, card=card, entries=entries, visits=sum(d.visits for d in deltas), at=now
    )
    return entries


@dataclass(frozen=True)
class WrittenOver:
    """What the card held before a write, for the write parts that need it."""

    last_visit_at: datetime.datetime | None
    tier_name: str


class WriteParts:
    """Statements that apps above cards add to every ledger write's own statement.

    A part is called with the locked card (already carrying its new balances), the entries
    about to be inserted and the card's ``WrittenOver``, and returns a data-modifying common
    table expression ``name AS (...)`` with its ``%s`` parameters. It runs in the same round
    trip and transaction as the entries: the statistics' daily rollup is kept this way, so a
    counter's purchase still costs one statement.
    """

    def __init__(self) -> None:
        self.parts: list[Callable[..., tuple[str, list[Any]]]] = []

    def register(self, part: Callable[..., tuple[str, list[Any]]]) -> None:
        if part not in self.parts:
            self.parts.append(part)


LEDGER_WRITE_PARTS = WriteParts()


def _write(
    card: Card,
    entries: list[LedgerEntry],
    fields: list[str],
    parts: Sequence[tuple[str, list[Any]]] = (),
) -> None:
    """Insert the entries and save the card's folded columns, in one statement.

    The ORM's INSERT and UPDATE, joined by a common table expression: every balance change
    costs one round trip instead of two, and the database refuses exactly what the two
    statements alone would refuse (the ledger's unique keys, the card's CHECK constraints).
    The registered ``LEDGER_WRITE_PARTS`` join it as further expressions.
    """
    connection = transaction.get_connection()
    insert = sql.InsertQuery(LedgerEntry)
    columns = [f for f in LedgerEntry._meta.concrete_fields if not f.primary_key]
    insert.insert_values(columns, list[Model](entries))
    compiler = insert.get_compiler(connection=connection)
    compiler.returning_fields = [LedgerEntry._meta.pk]
    ((insert_sql, insert_params),) = compiler.as_sql()
    update = sql.UpdateQuery(Card)
    update.add_update_values({name: getattr(card, name) for name in fields})
    update.add_q(Q(pk=card.pk))
    update_sql, update_params = update.get_compiler(connection=connection).as_sql()
    extra = "".join(f", {sql_part}" for sql_part, _ in parts)
    statement = (
        # Both parts are the ORM's own compiled SQL, with their values as parameters.
        f"WITH written AS ({insert_sql}){extra} {update_sql} "  # noqa: S608
        "RETURNING (SELECT array_agg(written.id ORDER BY written.id) FROM written)"
    )
    extra_params = [param for _, params in parts for param in params]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*insert_params, *extra_params, *update_params])
        (ids,) = cursor.fetchone()
    for entry, pk in zip(entries, ids, strict=True):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = connection.alias


def _copy_balances(source: Card, target: Card) -> None:
    """Refresh the caller's instance so it sees what was written."""
    for field in Card._meta.concrete_fields:  # the balance columns among them
        setattr(target, field.attname, getattr(source, field.attname))


# ---------------------------------------------------------------------------------------------
# Staff actions


def card_apply(
    *,
    card: Card,
    action: str,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
    role: str | None = None,
    confirm_repeat: bool = False,
    override_cap: bool = False,
) -> LedgerResult:
    """Apply the action ``action`` of ``cards.actions`` (e.g. "stamps_add") to the card.

    ``value`` and ``purchase_amount`` may be raw text: the action's rule parses them and
    refuses bad input with a ``LedgerError`` naming the field, and nothing is written. The
    idempotency key is bound to the action and its inputs: resent with them it replays the
    first result; with others it is refused.

    The counter's guards (``cards.services.guards``) hold under the card's lock: the same
    action again within the program's window raises ``RepeatSuspected`` unless
    ``confirm_repeat``; a daily cap raises ``CapReached`` unless ``override_cap`` comes from an
    owner or admin (``role``) with a comment.
    """
    inputs: Mapping[str, Any] = {"value": value, "purchase_amount": purchase_amount}
    key = _request_key(idempotency_key)
    # The kind never changes once a program has cards, so the unlocked instance can say it.
    spec = action_for(card.program.kind, action)
    fingerprint = request_fingerprint(
        action, {**spec.canonical_inputs(inputs), "comment": (comment or "").strip()}
    )

    def compute(locked: Card) -> list[Delta]:
        spec = action_for(locked.program.kind, action)
        if not spec.purchase and purchase_amount not in (None, ""):
            raise TypeError(f"{spec.title} takes no purchase amount.")
        return spec.compute(locked.balances(), locked.program.rule_set(), inputs)

    def describe(entries: list[LedgerEntry]) -> str:
        rule_set = card.program.rule_set()
        deltas = [entry.delta() for entry in entries]
        return spec.describe(deltas, None, rule_set, card.merchant.currency)

    counter = guards.Guard(
        confirm_repeat=confirm_repeat,
        override_cap=override_cap,
        role=role,
        comment=(comment or "").strip(),
        key=key,
    )
    return _record(
        card=card,
        actor=actor,
        key=key,
        fingerprint=fingerprint,
        comment=comment,
        source=source,
        compute=compute,
        guard=partial(guards.guard_counter_action, guard=counter, describe=describe),
    )


# The names callers outside the dialogs use: card_apply with the action fixed.
card_add_transaction_amount = partial(card_apply, action="transaction_amount_add")
card_subtract_transaction_amount = partial(card_apply, action="transaction_amount_subtract")
card_write_off_visits = partial(card_apply, action="visits_write_off")
card_add_stamps = partial(card_apply, action="stamps_add")
card_remove_stamps = partial(card_apply, action="stamps_subtract")
card_add_rewards = partial(card_apply, action="rewards_add")
card_redeem_rewards = partial(card_apply, action="rewards_subtract")
card_add_points = partial(card_apply, action="points_add")
card_remove_points = partial(card_apply, action="points_subtract")


# ---------------------------------------------------------------------------------------------
# Referral and welcome bonuses


def _bonus(amount: Decimal, kind: str) -> Callable[[Card], list[Delta]]:
    def compute(locked: Card) -> list[Delta]:
        rule_set = locked.program.rule_set()
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_bonus(locked.balances(), rule_set, stamps=int(amount), kind=kind)
        return rules.cashback_bonus(
            locked.balances(), rule_set, points=rules.money(amount), kind=kind
        )

    return compute


def _referrer_due(new_card: Card, deltas: list[Delta]) -> Card | None:
    """The referrer to credit for this operation, locked; None where no bonus is due.

    A bonus is due once, when the referred card records its first purchase (an entry
    ``rules.is_purchase`` accepts), to a live card of the same program and another holder,
    within the program's monthly cap. The caller holds the new card's lock, so two first
    purchases of one card queue and the second sees the first.

    Lock order: the new card is locked first, its referrer second. A card can only be referred
    by a card that existed before it, so a referrer always has the smaller id: every
    transaction holding two card locks takes them from the higher id to the lower, and no two
    of them can wait on each other. Every other writer holds a single card lock.
    """
    if new_card.referred_by_id is None or not any(rules.is_purchase(d) for d in deltas):
        return None
    # The same test as rules.is_purchase, over the entries already written.
    bought_before = new_card.entries.filter(
        purchase_amount__gt=0, amount_delta__gte=0, ltv_delta__gte=0
    ).exists()
    if bought_before:
        return None
    referrer = _lock(new_card.referred_by_id)
    program = referrer.program
    if (
        program.referral_bonus <= 0
        or referrer.program_id != new_card.program_id
        or (referrer.customer_id is not None and referrer.customer_id == new_card.customer_id)
        or referrer.is_deleted
        or referrer.is_expired
        # Cards referred before bonuses waited for a purchase were credited at join.
        or LedgerEntry.objects.filter(kind=Kind.REFERRAL_BONUS, referred_card=new_card).exists()
        or _referrals_this_month(referrer) >= program.referral_cap
    ):
        return None
    return referrer


def _referrals_this_month(referrer: Card) -> int:
    """Referral bonuses the card earned this calendar month, in the merchant's time zone.

    Counted under the referrer's row lock, so concurrent first purchases cannot both take the
    last place under the cap.
    """
    local = timezone.localtime(clock.now(), referrer.merchant.tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + datetime.timedelta(days=32)).replace(day=1)
    return referrer.entries.filter(
        kind=Kind.REFERRAL_BONUS, created_at__gte=start, created_at__lt=end
    ).count()


def _write_with_referral(
    write: Callable[[], list[LedgerEntry]], new_card: Card, referrer: Card
) -> list[LedgerEntry]:
    """The new card's entries and its referrer's bonus, in one transaction.

    Each write also updates its holder's CRM row (``ledger_recorded``), which locks it; the two
    rows are taken in ascending id, the order the join flow locks customers in, so two first
    purchases of customers who referred each other (on two programs) cannot deadlock there.
    """

    def credit() -> None:
        try:
            # A savepoint: a refused bonus (say, a balance at its limit) leaves the purchase.
            with transaction.atomic():
                ledger_append(
                    card=referrer,
                    deltas=_bonus(referrer.program.referral_bonus, Kind.REFERRAL_BONUS)(referrer),
                    key=f"referral:{new_card.pk}",
                    request_hash=request_fingerprint(Kind.REFERRAL_BONUS),
                    actor=None,
                    comment=f"Referred card {new_card.serial}",
                    source=Source.REFERRAL,
                    referred_card=new_card,
                )
        except LedgerError:
            logger.warning("Referral bonus refused for card %s", new_card.pk, exc_info=True)

    if (referrer.customer_id or 0) < (new_card.customer_id or 0):
        credit()
        return write()
    entries = write()
    credit()
    return entries


def card_credit_welcome_bonus(*, card: Card) -> LedgerResult | None:
    bonus = card.program.welcome_bonus
    if bonus <= 0:
        return None
    return _record(
        card=card,
        actor=None,
        key=f"welcome:{card.pk}",
        fingerprint=request_fingerprint(Kind.WELCOME_BONUS),
        source=Source.SYSTEM,
        compute=_bonus(bonus, Kind.WELCOME_BONUS),
    )
