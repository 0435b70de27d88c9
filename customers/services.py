"""Writes to the CRM: registering customers, editing them, removing their personal data, and
the segment thresholds."""

from __future__ import annotations

import datetime
from typing import Any

import phonenumbers
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from cards.models import Card, CardStatus, Program, Source
from cards.services import card_issue
from customers.models import Customer
from customers.segments import SegmentBands, segment_bands_clean, segments_recompute
from customers.tasks import recompute_merchant_segments
from loyalty.actors import Actor
from loyalty.audit import audit_record
from loyalty.models import AuditAction, Merchant


def normalize_phone(raw: str, *, region: str) -> str:
    """Any common way of writing a number (spaces, dashes, +country code) to E.164."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region.upper() or None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            {"phone": "Enter a valid phone number, e.g. +1 415 555 0123."}
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError({"phone": "Enter a valid phone number, e.g. +1 415 555 0123."})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_email(raw: str) -> str:
    email = (raw or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": "Enter a valid email address."}) from None
    return email


def _email_taken(merchant: Merchant, email: str, exclude_pk: int | None = None) -> bool:
    if not email:
        return False
    others = Customer.objects.filter(merchant=merchant, email__iexact=email)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


EMAIL_TAKEN = "Another customer of yours already uses this email address."


def customer_create(
    *,
    merchant: Merchant,
    first_name: str,
    last_name: str = "",
    email: str = "",
    phone: str = "",
    birthday: datetime.date | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Customer:
    first_name = (first_name or "").strip()
    if not first_name:
        raise ValidationError({"first_name": "Enter the customer's first name."})
    email = _clean_email(email)
    phone = normalize_phone(phone, region=merchant.country)
    if _email_taken(merchant, email):
        raise ValidationError({"email": EMAIL_TAKEN})
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
            )
    except IntegrityError:  # a concurrent registration won the race for this email
        raise ValidationError({"email": EMAIL_TAKEN}) from None


def customer_update(
    *,
    customer: Customer,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    birthday: datetime.date | None,
) -> Customer:
    """Edit personal details. The holder name printed on the customer's cards stays as issued."""
    first_name = (first_name or "").strip()
    if not first_name:
        raise ValidationError({"first_name": "Enter the customer's first name."})
    email = _clean_email(email)
    phone = normalize_phone(phone, region=customer.merchant.country)
    if _email_taken(customer.merchant, email, exclude_pk=customer.pk):
        raise ValidationError({"email": EMAIL_TAKEN})
    customer.first_name = first_name
    customer.last_name = (last_name or "").strip()
    customer.email = email
    customer.phone = phone
    customer.birthday = birthday
    try:
        with transaction.atomic():
            customer.save(update_fields=["first_name", "last_name", "email", "phone", "birthday"])
    except IntegrityError:
        raise ValidationError({"email": EMAIL_TAKEN}) from None
    return customer


def customer_remove(*, customer: Customer) -> None:
    """Erase a customer whose cards are all deleted; the ledger stays, detached and anonymous."""
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.cards.exclude(status=CardStatus.DELETED).exists():
            raise ValidationError("Delete all of this customer's cards first.")
        # The name printed on the cards is personal data too.
        locked.cards.update(holder_name="", customer=None)
        locked.delete()


# ---------------------------------------------------------------------------------------------
# Walk-in registration


def customer_register(
    *,
    merchant: Merchant,
    program: Program,
    actor: AbstractBaseUser | AnonymousUser | None,
    first_name: str,
    last_name: str = "",
    email: str = "",
    phone: str = "",
    birthday: datetime.date | None = None,
    custom_fields: dict[str, str] | None = None,
) -> Card:
    """Register a customer at the counter and issue them a card of ``program``, atomically."""
    if program.merchant_id != merchant.pk:
        raise ValidationError({"program": "Choose one of your programs."})
    with transaction.atomic():
        customer = customer_create(
            merchant=merchant,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            birthday=birthday,
            custom_fields=custom_fields,
        )
        return card_issue(program=program, customer=customer, actor=actor, source=Source.DASHBOARD)


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
            transaction.on_commit(lambda: recompute_merchant_segments.delay(merchant_id))
            return None
        return segments_recompute(merchant=merchant)


def _bands_text(values: tuple[int, ...]) -> str:
    return "/".join(str(v) for v in values)
