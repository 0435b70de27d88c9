"""Writes to the CRM: registering customers, editing them, removing their personal data."""

from __future__ import annotations

import datetime
from typing import Any

import phonenumbers
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction

from cards.models import Card, CardStatus, Program, Source
from cards.services import card_issue
from customers.models import Customer
from loyalty import clock
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
# RFM segments

SEGMENT_BAND_FIELDS = (
    "recency_band_1",
    "recency_band_2",
    "recency_band_3",
    "frequency_band_1",
    "frequency_band_2",
)

# A customer's cell of the grid from the aggregates the ledger keeps on the customer row.
# Recency counts calendar days in the merchant's time zone (the Settings preview,
# ``customers.selectors.segment_counts_for_bands``, counts the same way; a test holds them equal).
SEGMENT_CASE_SQL = """
CASE
    WHEN c.total_visits <= 0 OR c.last_visit_at IS NULL THEN 'no_visits'
    WHEN d.days <= %(r1)s THEN CASE WHEN c.total_visits <= %(f1)s THEN 'beginners'
        WHEN c.total_visits <= %(f2)s THEN 'growing' ELSE 'champions' END
    WHEN d.days <= %(r2)s THEN CASE WHEN c.total_visits <= %(f1)s THEN 'doubtful'
        WHEN c.total_visits <= %(f2)s THEN 'medium' ELSE 'loyal' END
    WHEN d.days <= %(r3)s THEN CASE WHEN c.total_visits <= %(f1)s THEN 'sleeping'
        WHEN c.total_visits <= %(f2)s THEN 'at_risk' ELSE 'needs_attention' END
    ELSE 'lost'
END
"""
SEGMENT_FROM_SQL = """
FROM customers_customer c
CROSS JOIN LATERAL (
    SELECT (%(now)s AT TIME ZONE %(tz)s)::date
         - (c.last_visit_at AT TIME ZONE %(tz)s)::date AS days
) d
WHERE c.merchant_id = %(merchant)s
"""

# One statement per merchant: compute every customer's segment, update only the customers
# whose segment changed, and record each move.
_RECOMPUTE_SQL = f"""
WITH computed AS (
    SELECT c.id, c.segment AS old_segment, {SEGMENT_CASE_SQL} AS new_segment
    {SEGMENT_FROM_SQL}
),
moved AS (
    UPDATE customers_customer t
    SET segment = computed.new_segment, segment_changed_at = %(now)s
    FROM computed
    WHERE t.id = computed.id AND computed.new_segment <> computed.old_segment
    RETURNING t.id, computed.old_segment, computed.new_segment
)
INSERT INTO customers_segmentchange (merchant_id, customer_id, changed_at, from_segment, to_segment)
SELECT %(merchant)s, moved.id, %(now)s, moved.old_segment, moved.new_segment FROM moved
"""  # noqa: S608 (constants only; values are parameters)


def segment_sql_params(
    *,
    merchant: Merchant,
    now: datetime.datetime,
    recency: tuple[int, int, int],
    frequency: tuple[int, int],
) -> dict[str, Any]:
    return {
        "merchant": merchant.pk,
        "now": now,
        "tz": merchant.time_zone,
        "r1": recency[0],
        "r2": recency[1],
        "r3": recency[2],
        "f1": frequency[0],
        "f2": frequency[1],
    }


def segments_recompute(*, merchant: Merchant, now: datetime.datetime | None = None) -> int:
    """Recompute every customer's segment of ``merchant``; returns how many moved."""
    params = segment_sql_params(
        merchant=merchant,
        now=now or clock.now(),
        recency=(merchant.recency_band_1, merchant.recency_band_2, merchant.recency_band_3),
        frequency=(merchant.frequency_band_1, merchant.frequency_band_2),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RECOMPUTE_SQL, params)
        return cursor.rowcount


def merchant_set_segment_bands(*, merchant: Merchant, **bands: int) -> Merchant:
    """Edit the RFM thresholds (days of recency, numbers of visits); they must increase."""
    unknown = set(bands) - set(SEGMENT_BAND_FIELDS)
    if unknown:
        raise TypeError(f"Unknown segment bands: {sorted(unknown)}")
    values = {name: bands.get(name, getattr(merchant, name)) for name in SEGMENT_BAND_FIELDS}
    errors: dict[str, str] = {}
    for name, value in values.items():
        if value is None or value < 1 or value > 3650:
            errors[name] = "Enter a whole number between 1 and 3650."
    if not errors:
        if not values["recency_band_1"] < values["recency_band_2"] < values["recency_band_3"]:
            errors["recency_band_2"] = "Each recency band must end later than the one before."
        if not values["frequency_band_1"] < values["frequency_band_2"]:
            errors["frequency_band_2"] = "The second visits band must be higher than the first."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        for name, value in values.items():
            setattr(merchant, name, value)
        merchant.save(update_fields=list(SEGMENT_BAND_FIELDS))
    return merchant
