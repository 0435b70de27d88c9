"""``{{ amount|money:merchant.currency }}``: money in the active language's way of writing it.

Machine-readable copies (``data-value``, CSV) keep the plain number: use ``|unlocalize`` there.
"""

from __future__ import annotations

from decimal import Decimal

from django import template

from loyalty.i18n import format_money

register = template.Library()


@register.filter
def money(value: Decimal | int | None, currency: str) -> str:
    return format_money(value, currency)
