"""Template filters for the ledger metrics: stamp slots and percentages."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def stamp_slots(balance: int, per_reward: int) -> list[bool]:
    """One flag per slot on the card: True for a stamped slot, False for an empty one."""
    total = max(int(per_reward or 0), 0)
    filled = min(max(int(balance or 0), 0), total)
    return [True] * filled + [False] * (total - filled)


@register.filter
def percent(value: Decimal | None) -> str:
    """5.00 -> "5 %", 7.50 -> "7.5 %" ("7,5 %" in Spanish and German); empty for no value."""
    if value is None:
        return ""
    # normalize() drops the trailing zeros; quantize(1) undoes its exponent on whole numbers.
    number = Decimal(value).normalize()
    if number == number.to_integral_value():
        number = number.quantize(Decimal(1))
    return f"{number_format(number)} %"
