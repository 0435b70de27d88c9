"""A card's life: issuing, joining from the public page, installing, expiring, deleting."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from cards import rules
from cards.models import (
    BALANCE_FIELDS,
    Card,
    CardStatus,
    Device,
    LedgerEntry,
    Program,
    Source,
    new_serial,
)
from cards.rules import LedgerError
from cards.selectors import card_install_url
from cards.services.ledger import card_credit_referral, card_credit_welcome_bonus
from customers.models import Customer
from loyalty import clock
from loyalty.actors import Actor, user_or_none

logger = logging.getLogger(__name__)
UTM_KEYS = ("source", "medium", "campaign", "term", "content")


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
        user = user_or_none(actor)
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
