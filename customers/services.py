"""Writes to the CRM: registering customers (at the counter and through a program's join page,
each issuing a card), editing them, removing their personal data, and the segment thresholds.

These flows sit above card issuing (``cards.services``), which they call; the ledger reports
each change back through ``cards.signals.ledger_recorded`` (see ``customer_record_activity``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils.translation import gettext, gettext_lazy

from cards.models import Card, CardStatus, Device, Program, Source
from cards.rules import LedgerError
from cards.services import (
    LinkReason,
    LinkRotation,
    card_credit_welcome_bonus,
    card_issue,
    card_rotate_link,
    card_send_link,
)
from customers.contacts import same_person
from customers.models import Customer, Segment
from customers.segments import SegmentBands, segment_bands_clean, segments_recompute
from customers.tasks import recompute_merchant_segments
from loyalty import clock
from loyalty.actors import Actor
from loyalty.audit import audit_record, log_text
from loyalty.celery import delay_or_run
from loyalty.models import AuditAction, Merchant
from loyalty.phones import normalize_phone

if TYPE_CHECKING:  # the selectors import this module (normalize_phone)
    from customers.selectors import CustomerFilters


def _clean_email(raw: str) -> str:
    email = (raw or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": gettext("Enter a valid email address.")}) from None
    return email


def _email_taken(merchant: Merchant, email: str, exclude_pk: int | None = None) -> bool:
    if not email:
        return False
    others = Customer.objects.filter(merchant=merchant, email__iexact=email)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


EMAIL_TAKEN = gettext_lazy("Another customer of yours already uses this email address.")


def customer_create(
    *,
    merchant: Merchant,
    first_name: str,
    last_name: str = "",
    email: str = "",
    phone: str = "",
    birthday: datetime.date | None = None,
    custom_fields: dict[str, Any] | None = None,
    language: str = "",
    email_verified: bool = False,
) -> Customer:
    """A new customer. ``email_verified``: the merchant's team typed the email in the
    dashboard, which vouches for it; an address typed on the public join form is not."""
    first_name = (first_name or "").strip()
    if not first_name:
        raise ValidationError({"first_name": gettext("Enter the customer's first name.")})
    email = _clean_email(email)
    phone = normalize_phone(phone, region=merchant.country)
    if _email_taken(merchant, email):
        raise ValidationError({"email": str(EMAIL_TAKEN)})
    try:
        with transaction.atomic():
            return Customer.objects.create(
                merchant=merchant,
                first_name=first_name,
                last_name=(last_name or "").strip(),
                email=email,
                phone=phone,
                birthday=birthday,
                custom_fields=custom_fields or {},
                language=language,
                email_verified_at=clock.now() if email and email_verified else None,
            )
    except IntegrityError:  # a concurrent registration won the race for this email
        raise ValidationError({"email": str(EMAIL_TAKEN)}) from None


def customer_update(
    *,
    customer: Customer,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    birthday: datetime.date | None,
    actor: Actor = None,
) -> Customer:
    """Edit personal details. The holder name printed on the customer's cards stays as issued.

    The audit log records which fields changed, never their values: it keeps no personal data.
    """
    first_name = (first_name or "").strip()
    if not first_name:
        raise ValidationError({"first_name": gettext("Enter the customer's first name.")})
    email = _clean_email(email)
    phone = normalize_phone(phone, region=customer.merchant.country)
    if _email_taken(customer.merchant, email, exclude_pk=customer.pk):
        raise ValidationError({"email": str(EMAIL_TAKEN)})
    changed = _changed_fields(
        customer,
        first_name=first_name,
        last_name=(last_name or "").strip(),
        email=email,
        phone=phone,
        birthday=birthday,
    )
    customer.first_name = first_name
    customer.last_name = (last_name or "").strip()
    if email.lower() != customer.email.lower():
        # Typed by the merchant's team in the dashboard: vouched for from now on.
        customer.email_verified_at = clock.now() if email else None
    customer.email = email
    customer.phone = phone
    customer.birthday = birthday
    try:
        with transaction.atomic():
            customer.save(
                update_fields=[
                    "first_name",
                    "last_name",
                    "email",
                    "email_verified_at",
                    "phone",
                    "birthday",
                ]
            )
            if changed:
                audit_record(
                    merchant=customer.merchant,
                    actor=actor,
                    action=AuditAction.CUSTOMER_UPDATED,
                    summary=(
                        f"Edited the personal information of customer #{customer.pk}: "
                        + ", ".join(name.replace("_", " ") for name in changed)
                    ),
                    details={"customer_id": customer.pk, "fields": changed},
                )
    except IntegrityError:
        raise ValidationError({"email": str(EMAIL_TAKEN)}) from None
    return customer


def _changed_fields(customer: Customer, **values: Any) -> list[str]:
    """The names of the fields whose new value differs from the customer's current one."""
    return [name for name, value in values.items() if getattr(customer, name) != value]


def customer_export_record(
    *, merchant: Merchant, actor: Actor, query: str, filters: CustomerFilters, rows: int
) -> None:
    """Audit an export of customers' personal data: who, how many, and with which filters.

    Recorded before the first row is sent, so an export cut short is in the log too. The
    search text goes to the details only (it may be part of a name or an address).
    """
    described = _filters_text(merchant, query, filters)
    audit_record(
        merchant=merchant,
        actor=actor,
        action=AuditAction.CUSTOMERS_EXPORTED,
        summary=f"Exported {rows} customers as CSV" + (f", {described}" if described else ""),
        details={
            "rows": rows,
            "search": query,
            "program": filters.program,
            "status": filters.status,
            "segment": filters.segment,
            "device": filters.device,
        },
    )


def _filters_text(merchant: Merchant, query: str, filters: CustomerFilters) -> str:
    parts = []
    if query:
        parts.append("a search")
    if filters.program is not None:
        name = (
            Program.objects.filter(merchant=merchant, pk=filters.program)
            .values_list("name", flat=True)
            .first()
        )
        parts.append(f"program {name}")
    if filters.status:
        parts.append(f"status {log_text(CardStatus(filters.status).label)}")
    if filters.segment:
        parts.append(f"segment {log_text(Segment(filters.segment).label)}")
    if filters.device:
        # The filter's "none" (no device yet) is the blank Device.
        device = dict(Device.choices).get(filters.device, Device.NONE.label)
        parts.append(f"device {log_text(device)}")
    return "filtered by " + ", ".join(parts) if parts else ""


def customer_record_activity(*, customer_id: int, visits: int, at: datetime.datetime) -> None:
    """Keep the customer's aggregates (for sorting and segments) in step with their ledger.

    Called for every ledger write of one of the customer's cards, inside its transaction.
    """
    updates: dict[str, Any] = {"last_activity_at": at}
    if visits:
        updates["total_visits"] = Greatest(F("total_visits") + visits, 0)
    if visits > 0:
        updates["last_visit_at"] = at
    Customer.objects.filter(pk=customer_id).update(**updates)


def customer_remove(*, customer: Customer, actor: Actor = None) -> None:
    """Erase a customer whose cards are all deleted; the ledger stays, detached and anonymous.

    Audited with the cards' serials only: the log must not keep the personal data just erased.
    """
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.cards.exclude(status=CardStatus.DELETED).exists():
            raise ValidationError(gettext("Delete all of this customer's cards first."))
        serials = sorted(locked.cards.values_list("serial", flat=True))
        # The name printed on the cards is personal data too.
        locked.cards.update(holder_name="", customer=None)
        locked.delete()
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.CUSTOMER_REMOVED,
            summary="Removed a customer's personal data"
            + (f" (cards {', '.join(serials)})" if serials else ""),
            details={"customer_id": customer.pk, "serials": serials},
        )


# ---------------------------------------------------------------------------------------------
# Walk-in registration


def customer_register(
    *,
    merchant: Merchant,
    program: Program,
    actor: Actor,
    first_name: str,
    last_name: str = "",
    email: str = "",
    phone: str = "",
    birthday: datetime.date | None = None,
    custom_fields: dict[str, str] | None = None,
) -> Card:
    """Register a customer at the counter and issue them a card of ``program``, atomically."""
    if program.merchant_id != merchant.pk:
        raise ValidationError({"program": gettext("Choose one of your programs.")})
    with transaction.atomic():
        customer = customer_create(
            merchant=merchant,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            birthday=birthday,
            custom_fields=custom_fields,
            email_verified=True,  # typed by the merchant's team
        )
        return card_issue(program=program, customer=customer, actor=actor, source=Source.DASHBOARD)


# ---------------------------------------------------------------------------------------------
# Joining from a program's public page: a new or known customer gets a card


class JoinOutcome(models.TextChoices):
    ISSUED = "issued", "A new customer, shown their card at once"
    ISSUED_TO_EXISTING = "issued_to_existing", "A known customer; the link goes to their email"
    DUPLICATE = "duplicate", "Already holds a card of this program: nothing new"
    # Known by phone only, with no email on file to send a link to: the staff issue it.
    ASK_AT_COUNTER = "ask_at_counter", "Known by phone only: the staff issue it at the counter"


@dataclass(frozen=True)
class JoinResult:
    card: Card | None  # the new card, or for a duplicate the card already held
    outcome: str


def customer_join(
    *,
    program: Program,
    first_name: str,
    last_name: str = "",
    email: str = "",
    phone: str = "",
    custom_fields: dict[str, Any] | None = None,
    utm: dict[str, str] | None = None,
    referrer: Card | None = None,
    language: str = "",
) -> JoinResult:
    """A customer fills in a program's join form.

    An email or phone that already holds a live card of the program gets no second card (the
    caller sends its link to the email on file: ``customer_join_send_link``). A known customer
    without one gets a card, on their CRM record, untouched by what was typed, whose link goes
    to the email on file (or, with none on file, the staff issue it at the counter). Only a new
    customer sees their card at once; their email stays unverified until they open a link
    sent to it. The welcome bonus goes only to someone who never had a card of this program,
    and only such a newcomer is recorded as referred: the referrer must hold a card of the same
    program and be someone else, reached at none of the same addresses or numbers
    (``customers.contacts``). The referrer's bonus comes with the new card's first purchase,
    not with the join (``cards.services.ledger``). A new customer keeps ``language``, the
    language the join page spoke, for what is sent to them later; a known customer's stays as
    it was.
    """
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
                    language=language,
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
    language: str,
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
            language=language,
        )
        outcome = JoinOutcome.ISSUED
    referred = (
        referrer is not None
        and newcomer
        and not referrer.is_deleted
        and referrer.program_id == program.pk
        and referrer.customer_id != customer.pk
        # An alias of the referrer's own email or phone is the referrer again.
        and not same_person(referrer.customer, customer, (email, phone))
    )
    card = card_issue(
        program=program,
        customer=customer,
        actor=None,
        source=Source.CARD_PAGE,
        utm=utm,
        referred_by=referrer if referred else None,
    )
    if newcomer:
        card_credit_welcome_bonus(card=card)
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


def customer_join_send_link(*, result: JoinResult) -> bool:
    """Email the card of a known customer's join to their address on file, never to the page.

    A card held before this join may have been shown at once to whoever first typed this
    address on the join form. Unless the address was proven since (``email_verified_at``), the
    card gets a new link before it is sent, so from now on only the inbox's owner holds it.
    False when there is nowhere to send it (the customer then asks at the counter).
    """
    card = result.card
    customer = card.customer if card is not None else None
    if card is None or customer is None or not customer.email:
        return False
    held_before = result.outcome == JoinOutcome.DUPLICATE
    replace = held_before and customer.email_verified_at is None
    if replace:
        try:
            card_rotate_link(card=card, actor=None, reason=LinkRotation.UNCONFIRMED_EMAIL)
        except LedgerError:  # deleted meanwhile: nothing left to send
            return False
    reason = LinkReason.RESTORE if held_before else LinkReason.NEW_CARD
    return card_send_link(card=card, reason=reason, replaced=replace)


def customer_confirm_email(*, customer_id: int, email: str, at: datetime.datetime) -> None:
    """The customer opened a link sent to ``email``: the address is theirs (unless it changed)."""
    Customer.objects.filter(
        pk=customer_id, email__iexact=email, email_verified_at__isnull=True
    ).update(email_verified_at=at)


# ---------------------------------------------------------------------------------------------
# Segment thresholds

# Up to this many customers the new segments are computed in the request, so the merchant sees
# the result at once; a larger merchant's recompute (tens of seconds at a million customers)
# goes to the Celery worker instead of holding a web request.
INLINE_SEGMENT_RECOMPUTE_LIMIT = 50_000


def segment_bands_update(*, merchant: Merchant, bands: SegmentBands, actor: Actor) -> int | None:
    """Save new thresholds, record who changed them, and move every customer to their new cell.

    Returns how many customers changed segment (each move is kept), or None when the merchant
    is large enough that the recompute was queued for the worker.
    """
    bands = segment_bands_clean(recency=bands.recency, frequency=bands.frequency)
    previous = SegmentBands.of(merchant)
    if previous == bands:
        return 0
    with transaction.atomic():
        for name, value in bands.fields().items():
            setattr(merchant, name, value)
        merchant.save(update_fields=list(bands.fields()))
        audit_record(
            merchant=merchant,
            actor=actor,
            action=AuditAction.SEGMENTS_CHANGED,
            summary=(
                "Changed the segment thresholds: recency "
                f"{_bands_text(previous.recency)} to {_bands_text(bands.recency)} days, "
                f"frequency {_bands_text(previous.frequency)} to "
                f"{_bands_text(bands.frequency)} visits"
            ),
            details={
                "from": {"recency": previous.recency, "frequency": previous.frequency},
                "to": {"recency": bands.recency, "frequency": bands.frequency},
            },
        )
        if Customer.objects.filter(merchant=merchant).count() > INLINE_SEGMENT_RECOMPUTE_LIMIT:
            merchant_id = merchant.pk
            # Robust, and run here when the broker is down: the thresholds are saved either way,
            # and the customers must not stay in their old segments.
            transaction.on_commit(
                lambda: delay_or_run(recompute_merchant_segments, merchant_id), robust=True
            )
            return None
        return segments_recompute(merchant=merchant)


def _bands_text(values: tuple[int, ...]) -> str:
    return "/".join(str(v) for v in values)
