"""Writes to the CRM: registering customers, editing them, removing their personal data."""

from __future__ import annotations

import datetime
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from cards.models import CardStatus
from customers.models import Customer
from loyalty.models import Merchant


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
