"""Every write to a card: issuing, lifecycle, and every balance change through the ledger.

Balance changes all go through ``_record``: lock the card row, replay the idempotency key if it
was seen, refuse deleted and expired cards, let the pure rule in ``cards.rules`` validate and
compute the deltas against the *locked* values, then insert the entries and update the
aggregates in the same transaction. Concurrent staff therefore queue on the row lock and no
update is lost; a double click (same key) changes things once.
"""

from __future__ import annotations

import datetime
import io
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, UnidentifiedImageError

from cards import rules
from cards.models import (
    BALANCE_FIELDS,
    Card,
    CardStatus,
    CustomField,
    Device,
    FieldType,
    LedgerEntry,
    Mechanism,
    Program,
    ProgramKind,
    Source,
    Tier,
    Validity,
    new_serial,
)
from cards.rules import Delta, Kind, LedgerError
from customers.models import Customer
from loyalty import clock
from loyalty.models import AuditAction, Merchant
from loyalty.services import audit_record

logger = logging.getLogger(__name__)
Actor = AbstractBaseUser | AnonymousUser | None
UTM_KEYS = ("source", "medium", "campaign", "term", "content")


@dataclass(frozen=True)
class LedgerResult:
    card: Card
    entries: list[LedgerEntry]
    replayed: bool = False


# ---------------------------------------------------------------------------------------------
# The one path for balance changes


def _record(
    *,
    card: Card,
    actor: Actor,
    idempotency_key: str | None,
    comment: str,
    source: str,
    compute: Callable[[rules.Balances, Any], list[Delta]],
    referred_card: Card | None = None,
) -> LedgerResult:
    key = (idempotency_key or "").strip() or uuid.uuid4().hex
    if len(key) > 64:
        raise LedgerError("idempotency_key", "The form expired; reload the page and try again.")
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise LedgerError("comment", "Keep the comment under 500 characters.")
    with transaction.atomic():
        locked = (
            Card.objects.select_for_update(of=("self",))
            .select_related("program", "merchant")
            .get(pk=card.pk)
        )
        previous = list(locked.entries.filter(operation_key=key).order_by("sequence"))
        if previous:
            return LedgerResult(card=locked, entries=previous, replayed=True)
        _ensure_open(locked)
        deltas = compute(locked.balances(), locked.program.rule_set())
        entries = _write(
            locked,
            deltas,
            key=key,
            actor=actor,
            comment=comment,
            source=source,
            referred_card=referred_card,
        )
    _copy_balances(locked, card)
    return LedgerResult(card=locked, entries=entries)


def _ensure_open(card: Card) -> None:
    if card.is_deleted:
        raise LedgerError("value", "This card was deleted; its balances can no longer change.")
    if card.is_expired:
        assert card.expires_on is not None
        raise LedgerError(
            "value",
            f"This card expired on {card.expires_on:%B %-d, %Y}. "
            "Move the expiration date to change its balances.",
        )


def card_check_open(*, card: Card) -> None:
    """Raise the refusal every balance change on a deleted or expired card gets.

    Read-only; lets a dialog's preview say what Apply would say.
    """
    _ensure_open(card)


def _write(
    card: Card,
    deltas: list[Delta],
    *,
    key: str,
    actor: Actor,
    comment: str,
    source: str,
    referred_card: Card | None,
) -> list[LedgerEntry]:
    now = clock.now()
    user = actor if actor is not None and actor.is_authenticated else None
    entries = []
    balances = card.balances()
    for sequence, delta in enumerate(deltas):
        balances = rules.apply(balances, delta)
        entries.append(
            LedgerEntry(
                merchant_id=card.merchant_id,
                card=card,
                kind=delta.kind,
                source=Source.REFERRAL if delta.is_referral else source,
                actor_id=user.pk if user is not None else None,
                created_at=now,
                operation_key=key,
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
            )
        )
    if not balances.is_valid():  # the rules never allow it; the CHECK constraints agree
        raise LedgerError("value", "That change would make a balance negative.")
    try:
        LedgerEntry.objects.bulk_create(entries)
    except IntegrityError as error:
        if "ledger_one_referral_per_new_card" in str(error):
            raise LedgerError("value", "This new card already credited a referrer.") from None
        raise
    for name in BALANCE_FIELDS:
        setattr(card, name, getattr(balances, name))
    dates = sorted({name for delta in deltas for name in rules.dates_moved(delta)})
    for name in dates:
        setattr(card, name, now)
    card.save(update_fields=[*BALANCE_FIELDS, *dates])
    _touch_customer(card, visits=sum(d.visits for d in deltas), now=now)
    return entries


def _touch_customer(card: Card, *, visits: int, now: datetime.datetime) -> None:
    if card.customer_id is None:
        return
    updates: dict[str, Any] = {"last_activity_at": now}
    if visits:
        updates["total_visits"] = Greatest(F("total_visits") + visits, 0)
    if visits > 0:
        updates["last_visit_at"] = now
    Customer.objects.filter(pk=card.customer_id).update(**updates)


def _copy_balances(source: Card, target: Card) -> None:
    """Refresh the caller's instance so it sees what was written."""
    for name in (*BALANCE_FIELDS, *(f.attname for f in Card._meta.concrete_fields)):
        setattr(target, name, getattr(source, name))


# ---------------------------------------------------------------------------------------------
# Transaction amount (both kinds of card)


def card_add_transaction_amount(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_add_transaction_amount(
                balances, rule_set, value=value, purchase_amount=purchase_amount
            )
        return rules.cashback_add_transaction_amount(
            balances, rule_set, value=value, purchase_amount=purchase_amount
        )

    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


def card_subtract_transaction_amount(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    """The refund of amount spent (a correction of a mistyped purchase)."""

    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_refund_transaction_amount(
                balances, rule_set, value=value, purchase_amount=purchase_amount
            )
        return rules.cashback_subtract_transaction_amount(
            balances, rule_set, value=value, purchase_amount=purchase_amount
        )

    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


# ---------------------------------------------------------------------------------------------
# Stamp cards


def _stamp_compute(
    rule: Callable[..., list[Delta]], **inputs: Any
) -> Callable[[rules.Balances, Any], list[Delta]]:
    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if not isinstance(rule_set, rules.StampRules):
            raise LedgerError("value", "This action is for stamp cards only.")
        return rule(balances, rule_set, **inputs)

    return compute


def _cashback_compute(
    rule: Callable[..., list[Delta]], **inputs: Any
) -> Callable[[rules.Balances, Any], list[Delta]]:
    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if not isinstance(rule_set, rules.CashbackRules):
            raise LedgerError("value", "This action is for cashback cards only.")
        return rule(balances, rule_set, **inputs)

    return compute


def card_write_off_visits(
    *,
    card: Card,
    value: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=_stamp_compute(rules.stamp_write_off_visits, value=value),
    )


def card_add_stamps(
    *,
    card: Card,
    value: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=_stamp_compute(rules.stamp_add_stamps, value=value),
    )


def card_remove_stamps(
    *,
    card: Card,
    value: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=_stamp_compute(rules.stamp_remove_stamps, value=value),
    )


def card_add_rewards(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _stamp_compute(rules.stamp_add_rewards, value=value, purchase_amount=purchase_amount)
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


def card_redeem_rewards(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _stamp_compute(
        rules.stamp_redeem_rewards, value=value, purchase_amount=purchase_amount
    )
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


# ---------------------------------------------------------------------------------------------
# Cashback cards


def card_add_points(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _cashback_compute(
        rules.cashback_add_points, value=value, purchase_amount=purchase_amount
    )
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


def card_remove_points(
    *,
    card: Card,
    value: Any,
    purchase_amount: Any = None,
    comment: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    source: str = Source.DASHBOARD,
) -> LedgerResult:
    compute = _cashback_compute(
        rules.cashback_remove_points, value=value, purchase_amount=purchase_amount
    )
    return _record(
        card=card,
        actor=actor,
        idempotency_key=idempotency_key,
        comment=comment,
        source=source,
        compute=compute,
    )


# ---------------------------------------------------------------------------------------------
# Referral and welcome bonuses


def _bonus_compute(amount: Decimal, kind: str) -> Callable[[rules.Balances, Any], list[Delta]]:
    def compute(balances: rules.Balances, rule_set: Any) -> list[Delta]:
        if isinstance(rule_set, rules.StampRules):
            return rules.stamp_bonus(balances, rule_set, stamps=int(amount), kind=kind)
        return rules.cashback_bonus(balances, rule_set, points=rules.money(amount), kind=kind)

    return compute


def card_credit_referral(*, referrer: Card, new_card: Card) -> LedgerResult | None:
    """Credit the referrer once for a newcomer's card; None where nothing is due.

    Never for self-referral, never across programs, never twice for the same new card (the
    database's partial unique index is the last word on "twice").
    """
    program = referrer.program
    bonus = program.referral_bonus
    if (
        bonus <= 0
        or referrer.pk == new_card.pk
        or referrer.program_id != new_card.program_id
        or (referrer.customer_id is not None and referrer.customer_id == new_card.customer_id)
        or referrer.is_deleted
        or referrer.is_expired
    ):
        return None
    return _record(
        card=referrer,
        actor=None,
        idempotency_key=f"referral:{new_card.pk}",
        comment=f"Referred card {new_card.serial}",
        source=Source.REFERRAL,
        compute=_bonus_compute(bonus, Kind.REFERRAL_BONUS),
        referred_card=new_card,
    )


def card_credit_welcome_bonus(*, card: Card) -> LedgerResult | None:
    bonus = card.program.welcome_bonus
    if bonus <= 0:
        return None
    return _record(
        card=card,
        actor=None,
        idempotency_key=f"welcome:{card.pk}",
        comment="",
        source=Source.SYSTEM,
        compute=_bonus_compute(bonus, Kind.WELCOME_BONUS),
    )


# ---------------------------------------------------------------------------------------------
# Lifecycle


def card_issue(
    *,
    program: Program,
    customer: Customer,
    actor: Actor,
    source: str = Source.DASHBOARD,
    utm: dict[str, str] | None = None,
    referred_by: Card | None = None,
    issued_at: datetime.datetime | None = None,
) -> Card:
    """Issue a card of ``program`` to ``customer`` with its first ledger entry."""
    if program.merchant_id != customer.merchant_id:
        raise LedgerError("program", "That program belongs to another merchant.")
    if program.archived_at is not None:
        raise LedgerError("program", "That program is archived; it no longer issues cards.")
    issued_at = issued_at or clock.now()
    utm = utm or {}
    with transaction.atomic():
        card = Card(
            merchant_id=program.merchant_id,
            program=program,
            customer=customer,
            holder_name=customer.full_name,
            issued_at=issued_at,
            expires_on=program.expiration_for(
                timezone.localdate(issued_at, timezone=program.merchant.tz)
            ),
            referred_by=referred_by,
            **{f"utm_{key}": (utm.get(key) or "")[:100] for key in UTM_KEYS},
        )
        _save_with_unique_serial(card)
        user = actor if actor is not None and actor.is_authenticated else None
        delta = rules.issue_delta(program.rule_set())
        LedgerEntry.objects.create(
            merchant_id=card.merchant_id,
            card=card,
            kind=delta.kind,
            source=source,
            actor_id=user.pk if user is not None else None,
            created_at=issued_at,
            operation_key=f"issue:{card.pk}",
            tier_name=delta.tier.name if delta.tier else "",
            tier_threshold=delta.tier.threshold if delta.tier else None,
            tier_percentage=delta.tier.percentage if delta.tier else None,
        )
        balances = rules.apply(card.balances(), delta)
        for name in BALANCE_FIELDS:
            setattr(card, name, getattr(balances, name))
        card.save(update_fields=list(BALANCE_FIELDS))
    return card


def _save_with_unique_serial(card: Card, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                card.save()
            return
        except IntegrityError as error:
            if "serial" not in str(error) or attempt == attempts - 1:
                raise
            card.serial = new_serial()


def card_delete(*, card: Card, actor: Actor) -> Card:
    """Final: the card refuses every later change and its install link stops working."""
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if locked.is_deleted:
            return locked
        locked.status = CardStatus.DELETED
        locked.deleted_at = clock.now()
        locked.save(update_fields=["status", "deleted_at"])
    card.status, card.deleted_at = locked.status, locked.deleted_at
    return locked


def card_set_expiration(*, card: Card, expires_on: datetime.date | None, actor: Actor) -> Card:
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if locked.is_deleted:
            raise LedgerError("expires_on", "This card was deleted; it cannot be changed.")
        locked.expires_on = expires_on
        locked.save(update_fields=["expires_on"])
    card.expires_on = expires_on
    return locked


def card_mark_installed(*, card: Card, device: str) -> Card:
    """Record the device a card was installed on (PWA, Google Wallet, Apple Wallet)."""
    if device not in {Device.PWA, Device.GOOGLE_WALLET, Device.APPLE_WALLET}:
        raise LedgerError("device", "Unknown device.")
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if locked.is_deleted:
            return locked
        locked.status = CardStatus.INSTALLED
        locked.device = device
        locked.installed_at = locked.installed_at or clock.now()
        locked.save(update_fields=["status", "device", "installed_at"])
    return locked


# ---------------------------------------------------------------------------------------------
# Joining from the program's public page


class JoinOutcome:
    ISSUED = "issued"  # a new customer, shown their card at once
    ISSUED_TO_EXISTING = "issued_to_existing"  # a known customer; the link goes to their email
    DUPLICATE = "duplicate"  # already holds a card of this program: nothing new
    # Known by phone only, with no email on file to send a link to: the staff issue it.
    ASK_AT_COUNTER = "ask_at_counter"


@dataclass(frozen=True)
class JoinResult:
    card: Card | None  # the new card, or for a duplicate the card already held
    outcome: str


def card_join(
    *,
    program: Program,
    first_name: str,
    last_name: str = "",
    email: str = "",
    phone: str = "",
    custom_fields: dict[str, Any] | None = None,
    utm: dict[str, str] | None = None,
    referrer: Card | None = None,
) -> JoinResult:
    """A customer fills in a program's join form.

    An email or phone that already holds a live card of the program gets no second card (the
    caller offers to send its link). A known customer without one gets a card, on their CRM
    record, untouched by what was typed, whose link goes to the email on file (or, with none on
    file, the staff issue it at the counter). The welcome bonus and the referrer's bonus go only to
    someone who never had a card of this program; the referrer must hold a card of the same
    program and be someone else.
    """
    from customers.services import customer_create, normalize_phone  # customers -> cards

    merchant = program.merchant
    email = (email or "").strip()
    phone = normalize_phone(phone, region=merchant.country)
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _join(
                    program=program,
                    first_name=first_name,
                    last_name=last_name,
                    email=email,
                    phone=phone,
                    custom_fields=custom_fields or {},
                    utm=utm or {},
                    referrer=referrer,
                    create=customer_create,
                )
        except ValidationError as error:
            # Two first joins with one new email at once: the loser finds the winner's card.
            taken = "email" in getattr(error, "error_dict", {})
            if not (taken and attempt == 0 and email):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _join(
    *,
    program: Program,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    custom_fields: dict[str, Any],
    utm: dict[str, str],
    referrer: Card | None,
    create: Callable[..., Customer],
) -> JoinResult:
    matches = _matching_customers(program.merchant_id, email=email, phone=phone)
    held = (
        Card.objects.filter(program=program, customer__in=[c.pk for c in matches])
        .exclude(status=CardStatus.DELETED)
        .select_related("customer", "program", "merchant")
        .order_by("issued_at", "id")
        .first()
    )
    if held is not None:
        return JoinResult(card=held, outcome=JoinOutcome.DUPLICATE)
    by_email = [c for c in matches if email and c.email.lower() == email.lower()]
    # Emails are unique per merchant, phones are not: the email's owner comes first.
    customer = (by_email or matches)[0] if matches else None
    if customer is not None and not customer.email:
        # Showing a card here would tell whoever typed a phone number its owner's name.
        return JoinResult(card=None, outcome=JoinOutcome.ASK_AT_COUNTER)
    outcome = JoinOutcome.ISSUED_TO_EXISTING
    newcomer = (
        customer is None or not Card.objects.filter(program=program, customer=customer).exists()
    )
    if customer is None:
        customer = create(
            merchant=program.merchant,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            custom_fields=custom_fields,
        )
        outcome = JoinOutcome.ISSUED
    credit_referrer = (
        referrer is not None
        and newcomer
        and not referrer.is_deleted
        and referrer.program_id == program.pk
        and referrer.customer_id != customer.pk
    )
    card = card_issue(
        program=program,
        customer=customer,
        actor=None,
        source=Source.CARD_PAGE,
        utm=utm,
        referred_by=referrer if credit_referrer else None,
    )
    if newcomer:
        card_credit_welcome_bonus(card=card)
    if credit_referrer:
        assert referrer is not None
        try:
            card_credit_referral(referrer=referrer, new_card=card)
        except LedgerError:  # e.g. the referrer's card expired meanwhile: the join still stands
            logger.warning("Referral bonus refused for card %s", card.pk, exc_info=True)
    return JoinResult(card=card, outcome=outcome)


def _matching_customers(merchant_id: int, *, email: str, phone: str) -> list[Customer]:
    """Customers with this email or phone, locked so two joins of one person queue up."""
    match = Q(pk__in=[])
    if email:
        match |= Q(email__iexact=email)
    if phone:
        match |= Q(phone=phone)
    return list(
        Customer.objects.select_for_update().filter(match, merchant_id=merchant_id).order_by("id")
    )


class LinkReason:
    RESTORE = "restore"
    NEW_CARD = "new_card"


def card_send_link(*, card: Card, reason: str) -> bool:
    """Email the card's personalized link to the holder's address on file.

    False when there is no address (the customer then asks at the counter). Plain text through
    Django's email framework: the console in development, the outbox in tests.
    """
    from cards.selectors import card_install_url

    customer = card.customer
    if customer is None or not customer.email:
        return False
    context = {
        "card": card,
        "program": card.program,
        "merchant_name": card.merchant.name,
        "first_name": customer.first_name,
        "link": card_install_url(card),
        "reason": reason,
    }
    subject = " ".join(
        render_to_string("cards/public/email/card_link_subject.txt", context).split()
    )
    body = render_to_string("cards/public/email/card_link_body.txt", context)
    send_mail(subject, body, None, [customer.email])
    return True


# ---------------------------------------------------------------------------------------------
# Programs: creating, editing and archiving card templates and their rules (settings)
#
# A rule change applies to later entries only: every ledger entry stores its own deltas (and
# cashback entries the tier in force), so nothing here touches an existing entry or balance.

MAX_TIERS = 10
MAX_BONUS_STAMPS = 1000
MAX_VALID_DAYS = 3650
MAX_STAMPS_PER_VISIT = 100
MAX_STAMPS_PER_REWARD = 100
MAX_LOGO_BYTES = 1024 * 1024
MAX_CUSTOM_FIELDS = 20
MAX_CHOICES = 30
# Keys of the join form's own questions; a custom field never takes one of these.
RESERVED_FIELD_KEYS = frozenset(
    {"first_name", "last_name", "name", "email", "phone", "birthday", "consent"}
)
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
ProgramErrors = dict[str, list[str]]


@dataclass(frozen=True)
class TierSpec:
    name: str
    threshold: Decimal | None
    percentage: Decimal | None


@dataclass(frozen=True)
class ProgramSpec:
    """Everything a merchant sets on a program, as parsed by the form (not yet validated)."""

    name: str
    kind: str
    mechanism: str = Mechanism.SPEND
    spend_per_stamp: Decimal | None = None
    stamps_per_visit: int | None = 1
    stamps_per_reward: int | None = 10
    tiers: tuple[TierSpec, ...] = ()
    referral_bonus: Decimal | None = None
    welcome_bonus: Decimal | None = None
    validity: str = Validity.NONE
    valid_until: datetime.date | None = None
    valid_days: int | None = None
    background_color: str = "#5b3a29"
    foreground_color: str = "#ffffff"


def _add(errors: ProgramErrors, field_name: str, message: str) -> None:
    errors.setdefault(field_name, []).append(message)


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_money(
    errors: ProgramErrors, field_name: str, value: Decimal | None, *, label: str, low: Decimal
) -> None:
    if value is None:
        return
    if _decimal_places(value.normalize()) > 2:
        _add(errors, field_name, f"{label}: use at most 2 decimal places.")
    elif value < low:
        _add(errors, field_name, f"{label} must be at least {low}.")
    elif value > rules.MAX_AMOUNT:
        _add(errors, field_name, f"{label} can be at most {rules.MAX_AMOUNT:,}.")


def _check_stamp_rules(spec: ProgramSpec, errors: ProgramErrors) -> None:
    if spec.mechanism not in Mechanism.values:
        _add(errors, "mechanism", "Choose how stamps are earned: per amount spent or per visit.")
    elif spec.mechanism == Mechanism.SPEND:
        if spec.spend_per_stamp is None:
            _add(errors, "spend_per_stamp", "Enter the amount a customer spends to earn a stamp.")
        else:
            _check_money(
                errors,
                "spend_per_stamp",
                spec.spend_per_stamp,
                label="The spend per stamp",
                low=Decimal("0.01"),
            )
    elif spec.stamps_per_visit is None:
        _add(errors, "stamps_per_visit", "Enter how many stamps a visit earns.")
    elif not 1 <= spec.stamps_per_visit <= MAX_STAMPS_PER_VISIT:
        _add(errors, "stamps_per_visit", f"A visit earns 1 to {MAX_STAMPS_PER_VISIT} stamps.")
    if spec.stamps_per_reward is None:
        _add(errors, "stamps_per_reward", "Enter how many stamps make a reward.")
    elif not 1 <= spec.stamps_per_reward <= MAX_STAMPS_PER_REWARD:
        _add(
            errors,
            "stamps_per_reward",
            f"A reward takes 1 to {MAX_STAMPS_PER_REWARD} stamps.",
        )


def _check_tiers(tiers: tuple[TierSpec, ...], errors: ProgramErrors) -> None:
    """Names unique, thresholds strictly increasing from 0, percentages 0-100 (2 decimals)."""
    if not tiers:
        _add(errors, "tiers", "Add at least one tier; the first starts at a threshold of 0.")
        return
    if len(tiers) > MAX_TIERS:
        _add(errors, "tiers", f"Use at most {MAX_TIERS} tiers.")
    seen: set[str] = set()
    previous: Decimal | None = None
    for number, tier in enumerate(tiers, start=1):
        label = f"Tier {number}"
        name = tier.name.strip()
        if not name:
            _add(errors, "tiers", f"{label}: enter a name (for example Bronze).")
        elif len(name) > 60:
            _add(errors, "tiers", f"{label}: keep the name under 60 characters.")
        elif name.casefold() in seen:
            _add(errors, "tiers", f"{label}: another tier is already called {name}.")
        seen.add(name.casefold())
        if tier.threshold is None:
            _add(errors, "tiers", f"{label}: enter the spend threshold.")
        elif _decimal_places(tier.threshold.normalize()) > 2:
            _add(errors, "tiers", f"{label}: use at most 2 decimal places in the threshold.")
        elif number == 1 and tier.threshold != 0:
            _add(errors, "tiers", "Tier 1 must start at a threshold of 0, where every card starts.")
        elif tier.threshold < 0 or tier.threshold > rules.MAX_AMOUNT:
            _add(
                errors,
                "tiers",
                f"{label}: the threshold must be between 0 and {rules.MAX_AMOUNT:,}.",
            )
        elif previous is not None and tier.threshold <= previous:
            _add(
                errors,
                "tiers",
                f"{label}: the threshold ({tier.threshold}) must be higher than the tier "
                f"before it ({previous}); thresholds increase from tier to tier.",
            )
        if tier.threshold is not None:
            previous = tier.threshold
        if tier.percentage is None:
            _add(errors, "tiers", f"{label}: enter the cashback percentage.")
        elif _decimal_places(tier.percentage.normalize()) > 2:
            _add(errors, "tiers", f"{label}: use at most 2 decimal places in the percentage.")
        elif not 0 <= tier.percentage <= 100:
            _add(errors, "tiers", f"{label}: the percentage must be between 0 and 100.")


def _check_bonus(spec: ProgramSpec, field_name: str, label: str, errors: ProgramErrors) -> None:
    value = getattr(spec, field_name)
    if value is None:
        return
    if value < 0:
        _add(errors, field_name, f"The {label} cannot be negative.")
    elif spec.kind == ProgramKind.STAMP:
        if value != value.to_integral_value():
            _add(errors, field_name, f"The {label} is a whole number of stamps on a stamp card.")
        elif value > MAX_BONUS_STAMPS:
            _add(errors, field_name, f"The {label} can be at most {MAX_BONUS_STAMPS} stamps.")
    else:
        _check_money(errors, field_name, value, label=f"The {label}", low=Decimal("0"))


def _check_validity(
    spec: ProgramSpec, program: Program | None, today: datetime.date, errors: ProgramErrors
) -> None:
    if spec.validity not in Validity.values:
        _add(errors, "validity", "Choose how long new cards stay valid.")
    elif spec.validity == Validity.FIXED_DATE:
        if spec.valid_until is None:
            _add(errors, "valid_until", "Enter the date the cards expire.")
        elif spec.valid_until < today and (
            program is None or spec.valid_until != program.valid_until
        ):
            _add(errors, "valid_until", "Choose a date from today on; new cards would be expired.")
    elif spec.validity == Validity.DAYS:
        if spec.valid_days is None:
            _add(errors, "valid_days", "Enter after how many days a new card expires.")
        elif not 1 <= spec.valid_days <= MAX_VALID_DAYS:
            _add(errors, "valid_days", f"Enter between 1 and {MAX_VALID_DAYS} days.")


def _relative_luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(background: str, foreground: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours, from 1 (same) to 21 (black on white)."""
    light, dark = sorted((_relative_luminance(background), _relative_luminance(foreground)))[::-1]
    return (light + 0.05) / (dark + 0.05)


def _check_colors(spec: ProgramSpec, errors: ProgramErrors) -> None:
    valid = True
    for field_name, label in (("background_color", "background"), ("foreground_color", "text")):
        if not _COLOR.match(getattr(spec, field_name) or ""):
            _add(errors, field_name, f"Enter the {label} colour as #rrggbb, e.g. #5b3a29.")
            valid = False
    if valid:
        ratio = contrast_ratio(spec.background_color, spec.foreground_color)
        if ratio < 3:
            _add(
                errors,
                "foreground_color",
                f"The text colour is too close to the background (contrast {ratio:.1f}:1, at "
                "least 3:1 needed): customers could not read their card.",
            )


def program_check(
    *, merchant: Merchant, spec: ProgramSpec, program: Program | None = None
) -> ProgramErrors:
    """Every problem with ``spec`` at once, keyed by form field (``tiers`` for the tier rows)."""
    errors: ProgramErrors = {}
    name = spec.name.strip()
    if not name:
        _add(errors, "name", "Enter a name for the program, e.g. Coffee card.")
    elif len(name) > 120:
        _add(errors, "name", "Keep the name under 120 characters.")
    else:
        same_name = Program.objects.active().filter(merchant=merchant, name__iexact=name)
        if program is not None:
            same_name = same_name.exclude(pk=program.pk)
        if same_name.exists():
            _add(errors, "name", f"You already have a program called {name}.")
    if spec.kind not in ProgramKind.values:
        _add(errors, "kind", "Choose a stamp card or a cashback card.")
    elif program is not None and spec.kind != program.kind and program.cards.exists():
        _add(
            errors,
            "kind",
            "This program has issued cards, so it stays a "
            f"{program.get_kind_display().lower()}. Create a new program for the other kind.",
        )
    elif spec.kind == ProgramKind.STAMP:
        _check_stamp_rules(spec, errors)
    else:
        _check_tiers(spec.tiers, errors)
    if spec.kind in ProgramKind.values:
        _check_bonus(spec, "referral_bonus", "referral bonus", errors)
        _check_bonus(spec, "welcome_bonus", "welcome bonus", errors)
    _check_validity(spec, program, timezone.localdate(timezone=merchant.tz), errors)
    _check_colors(spec, errors)
    return errors


def logo_clean(upload: Any) -> tuple[bytes, str]:
    """The bytes and extension of an uploaded logo, or a ValidationError for ``logo``.

    Accepts PNG, JPEG, GIF and WebP up to 1 MB, recognised by their content, not by the name
    the browser sent. Never SVG: it can carry scripts.
    """
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_LOGO_BYTES:
        raise ValidationError(
            {"logo": f"The logo is {size / 1024 / 1024:.1f} MB; the limit is 1 MB."}
        )
    data = upload.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError({"logo": "The logo is larger than the 1 MB limit."})
    if not data:
        raise ValidationError({"logo": "The file is empty."})
    extension = _image_extension(data)
    if extension is None:
        raise ValidationError({"logo": "Upload a PNG, JPEG, GIF or WebP image."})
    return data, extension


def _image_extension(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        extension: str | None = "webp"
    else:
        extension = next((ext for sig, ext in _IMAGE_SIGNATURES if data.startswith(sig)), None)
    if extension is None:
        return None
    # Decode it too: a valid header is not a valid image.
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return extension


_PROGRAM_FIELDS = (
    "name",
    "kind",
    "mechanism",
    "spend_per_stamp",
    "stamps_per_visit",
    "stamps_per_reward",
    "referral_bonus",
    "welcome_bonus",
    "validity",
    "valid_until",
    "valid_days",
    "background_color",
    "foreground_color",
)
_FIELD_LABELS = {
    "name": "name",
    "kind": "kind",
    "mechanism": "stamp mechanism",
    "spend_per_stamp": "spend per stamp",
    "stamps_per_visit": "stamps per visit",
    "stamps_per_reward": "stamps per reward",
    "referral_bonus": "referral bonus",
    "welcome_bonus": "welcome bonus",
    "validity": "card validity",
    "valid_until": "expiry date",
    "valid_days": "validity in days",
    "background_color": "background colour",
    "foreground_color": "text colour",
    "tiers": "tiers",
    "logo": "logo",
}


def _normalized(spec: ProgramSpec) -> dict[str, Any]:
    """The column values for ``spec``: rules of the other kind are cleared, not kept around."""
    stamp = spec.kind == ProgramKind.STAMP
    spend = stamp and spec.mechanism == Mechanism.SPEND
    values: dict[str, Any] = {
        "name": spec.name.strip(),
        "kind": spec.kind,
        "mechanism": spec.mechanism if stamp else "",
        "spend_per_stamp": rules.money(spec.spend_per_stamp)
        if spend and spec.spend_per_stamp is not None
        else None,
        "stamps_per_visit": (spec.stamps_per_visit or 1) if stamp and not spend else 1,
        "stamps_per_reward": spec.stamps_per_reward if stamp else 10,
        "referral_bonus": rules.money(spec.referral_bonus or Decimal(0)),
        "welcome_bonus": rules.money(spec.welcome_bonus or Decimal(0)),
        "validity": spec.validity,
        "valid_until": spec.valid_until if spec.validity == Validity.FIXED_DATE else None,
        "valid_days": spec.valid_days if spec.validity == Validity.DAYS else None,
        "background_color": spec.background_color.lower(),
        "foreground_color": spec.foreground_color.lower(),
    }
    return values


def _tier_rows(spec: ProgramSpec) -> list[tuple[str, Decimal, Decimal]]:
    if spec.kind != ProgramKind.CASHBACK:
        return []
    return [
        (t.name.strip(), rules.money(t.threshold), rules.money(t.percentage))  # type: ignore[arg-type]
        for t in spec.tiers
    ]


def _save_tiers(program: Program, rows: list[tuple[str, Decimal, Decimal]]) -> None:
    # Tiers are plain rows: ledger entries and cards keep their own copy of the tier in force.
    program.tiers.all().delete()
    Tier.objects.bulk_create(
        Tier(program=program, name=name, threshold=threshold, percentage=percentage)
        for name, threshold, percentage in rows
    )


def _clean_logo_into(errors: ProgramErrors, logo: Any) -> tuple[bytes, str] | None:
    if logo is None:
        return None
    try:
        return logo_clean(logo)
    except ValidationError as error:
        errors.update(error.message_dict)
        return None


def _store_logo(program: Program, logo: tuple[bytes, str]) -> str:
    """Attach a cleaned logo under a random name; returns the old file's name."""
    data, extension = logo
    old = program.logo.name or ""
    program.logo.save(f"{secrets.token_hex(12)}.{extension}", ContentFile(data), save=False)
    return old


def _delete_file_later(program: Program, name: str) -> None:
    if name:
        storage = program.logo.storage
        transaction.on_commit(lambda: storage.delete(name))


def program_create(
    *, merchant: Merchant, spec: ProgramSpec, actor: Actor, logo: Any = None
) -> Program:
    errors = program_check(merchant=merchant, spec=spec)
    logo_data = _clean_logo_into(errors, logo)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        program = Program(merchant=merchant, **_normalized(spec))
        if logo_data is not None:
            _store_logo(program, logo_data)
        program.save()
        _save_tiers(program, _tier_rows(spec))
        audit_record(
            merchant=merchant,
            actor=actor,
            action=AuditAction.PROGRAM_CREATED,
            summary=f"Created the {program.get_kind_display().lower()} program {program.name}",
            details={"program_id": program.pk},
        )
    return program


def _tiers_of(program: Program) -> list[tuple[str, Decimal, Decimal]]:
    return [(t.name, t.threshold, t.percentage) for t in program.tiers.order_by("threshold")]


def program_update(
    *,
    program: Program,
    spec: ProgramSpec,
    actor: Actor,
    logo: Any = None,
    remove_logo: bool = False,
) -> Program:
    """Change a program's rules; they apply to later entries only (history stays as it was)."""
    logo_errors: ProgramErrors = {}
    logo_data = _clean_logo_into(logo_errors, logo)
    with transaction.atomic():
        # Locked so a card issued meanwhile is seen by the "kind cannot change" check.
        locked = Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)
        errors = program_check(merchant=locked.merchant, spec=spec, program=locked)
        errors.update(logo_errors)
        if errors:
            raise ValidationError(errors)
        values = _normalized(spec)
        changed = [name for name in _PROGRAM_FIELDS if getattr(locked, name) != values[name]]
        old_tiers = _tiers_of(locked)
        new_tiers = _tier_rows(spec)
        if old_tiers != new_tiers:
            changed.append("tiers")
        for name, value in values.items():
            setattr(locked, name, value)
        old_logo = ""
        if logo_data is not None:
            old_logo = _store_logo(locked, logo_data)
            changed.append("logo")
        elif remove_logo and locked.logo:
            old_logo = locked.logo.name or ""
            locked.logo = ""
            changed.append("logo")
        if not changed:
            return locked
        locked.save()
        if "tiers" in changed:
            _save_tiers(locked, new_tiers)
        _delete_file_later(locked, old_logo)
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_UPDATED,
            summary=f"Changed the {', '.join(_FIELD_LABELS[c] for c in changed)} of {locked.name}",
            details={"program_id": locked.pk, "changed": changed},
        )
    _copy_program(locked, program)
    return locked


def _copy_program(source: Program, target: Program) -> None:
    for field in Program._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    if hasattr(target, "_prefetched_objects_cache"):
        target._prefetched_objects_cache.pop("tiers", None)


def program_archive(*, program: Program, actor: Actor) -> Program:
    """Stop issuing cards of this program; cards already issued keep working."""
    with transaction.atomic():
        locked = Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)
        if locked.archived_at is not None:
            return locked
        locked.archived_at = clock.now()
        locked.save(update_fields=["archived_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_ARCHIVED,
            summary=f"Archived the program {locked.name}",
            details={"program_id": locked.pk},
        )
    program.archived_at = locked.archived_at
    return locked


def program_restore(*, program: Program, actor: Actor) -> Program:
    with transaction.atomic():
        locked = Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)
        if locked.archived_at is None:
            return locked
        clash = Program.objects.active().filter(
            merchant_id=locked.merchant_id, name__iexact=locked.name
        )
        if clash.exists():
            raise ValidationError(
                f"Another active program is called {locked.name}; rename it first."
            )
        locked.archived_at = None
        locked.save(update_fields=["archived_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_RESTORED,
            summary=f"Restored the program {locked.name}",
            details={"program_id": locked.pk},
        )
    program.archived_at = None
    return locked


# ---------------------------------------------------------------------------------------------
# Custom fields of a program's join form


def _clean_label(label: str) -> str:
    label = (label or "").strip()
    if not label:
        raise ValidationError({"label": "Enter the question customers see, e.g. Favourite drink."})
    if len(label) > 80:
        raise ValidationError({"label": "Keep the label under 80 characters."})
    return label


def _clean_choices(field_type: str, choices: list[str] | None) -> list[str]:
    if field_type != FieldType.CHOICE:
        return []
    options = [c.strip() for c in (choices or []) if c and c.strip()]
    if len(options) < 2:
        raise ValidationError({"choices": "A choice field needs at least 2 options, one per line."})
    if len(options) > MAX_CHOICES:
        raise ValidationError({"choices": f"Use at most {MAX_CHOICES} options."})
    too_long = next((o for o in options if len(o) > 80), None)
    if too_long is not None:
        raise ValidationError(
            {"choices": f"Keep each option under 80 characters: {too_long[:20]}…"}
        )
    seen: set[str] = set()
    for option in options:
        if option.casefold() in seen:
            raise ValidationError({"choices": f"The option {option} appears twice."})
        seen.add(option.casefold())
    return options


def _unique_key(program: Program, label: str) -> str:
    base = (slugify(label).replace("-", "_") or "field")[:32]
    if base in RESERVED_FIELD_KEYS:
        base = f"{base}_extra"
    taken = set(program.custom_fields.values_list("key", flat=True))
    key, suffix = base, 2
    while key in taken:
        key = f"{base}_{suffix}"
        suffix += 1
    return key


def _label_taken(program: Program, label: str, exclude_pk: int | None = None) -> bool:
    others = program.custom_fields.filter(label__iexact=label)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


def _fields_changed(program: Program, actor: Actor, summary: str) -> None:
    audit_record(
        merchant=program.merchant,
        actor=actor,
        action=AuditAction.CUSTOM_FIELDS_CHANGED,
        summary=summary,
        details={"program_id": program.pk},
    )


def _lock_program(program: Program) -> Program:
    return Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)


def custom_field_create(
    *,
    program: Program,
    label: str,
    field_type: str,
    required: bool,
    choices: list[str] | None,
    actor: Actor,
) -> CustomField:
    label = _clean_label(label)
    if field_type not in FieldType.values:
        raise ValidationError({"field_type": "Choose text, number, date or choice."})
    options = _clean_choices(field_type, choices)
    with transaction.atomic():
        locked = _lock_program(program)
        count = locked.custom_fields.count()
        if count >= MAX_CUSTOM_FIELDS:
            raise ValidationError(f"A join form has at most {MAX_CUSTOM_FIELDS} custom fields.")
        if _label_taken(locked, label):
            raise ValidationError({"label": f"This form already asks {label}."})
        field = CustomField.objects.create(
            program=locked,
            key=_unique_key(locked, label),
            label=label,
            field_type=field_type,
            required=required,
            choices=options,
            position=count,
        )
        _fields_changed(locked, actor, f"Added the field {label} to the join form of {locked.name}")
    return field


def custom_field_update(
    *,
    field: CustomField,
    label: str,
    required: bool,
    choices: list[str] | None,
    actor: Actor,
) -> CustomField:
    """Rename, make required or not, change options. The type and the key stay: answers
    already collected are stored under the key in that type."""
    label = _clean_label(label)
    options = _clean_choices(field.field_type, choices)
    with transaction.atomic():
        program = _lock_program(field.program)
        if _label_taken(program, label, exclude_pk=field.pk):
            raise ValidationError({"label": f"This form already asks {label}."})
        field.label, field.required, field.choices = label, required, options
        field.save(update_fields=["label", "required", "choices"])
        _fields_changed(
            program, actor, f"Changed the field {label} on the join form of {program.name}"
        )
    return field


def custom_field_delete(*, field: CustomField, actor: Actor) -> None:
    """Remove the question; answers customers already gave stay on their records."""
    with transaction.atomic():
        program = _lock_program(field.program)
        field.delete()
        _renumber(list(program.custom_fields.order_by("position", "pk")))
        _fields_changed(
            program, actor, f"Removed the field {field.label} from the join form of {program.name}"
        )


def custom_field_move(*, field: CustomField, direction: str, actor: Actor) -> None:
    """Move a question one place up or down the join form."""
    if direction not in {"up", "down"}:
        raise ValidationError("Move a field up or down.")
    with transaction.atomic():
        program = _lock_program(field.program)
        fields = list(program.custom_fields.order_by("position", "pk"))
        index = next(i for i, f in enumerate(fields) if f.pk == field.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(fields):
            return
        fields[index], fields[other] = fields[other], fields[index]
        _renumber(fields)
        _fields_changed(
            program, actor, f"Moved the field {field.label} {direction} on {program.name}"
        )


def _renumber(fields: list[CustomField]) -> None:
    for position, item in enumerate(fields):
        item.position = position
    CustomField.objects.bulk_update(fields, ["position"])
