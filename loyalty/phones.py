"""Phone numbers, one way for the whole project: stored in E.164, shown internationally.

Customers' phones (the CRM) and the merchant's contact phone are read and stored alike, so a
number typed with spaces, dashes or without its +country code means one thing everywhere.
"""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

INVALID_PHONE = gettext_lazy("Enter a valid phone number, e.g. +1 415 555 0123.")


def normalize_phone(raw: str, *, region: str) -> str:
    """Any common way of writing a number (spaces, dashes, +country code) to E.164; without a
    +country code it is read as one of ``region`` (the merchant's country)."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region.upper() or None)
    except phonenumbers.NumberParseException:
        raise ValidationError({"phone": str(INVALID_PHONE)}) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError({"phone": str(INVALID_PHONE)})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(e164: str) -> str:
    """A stored number as people write it (+1 415-555-0123)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
