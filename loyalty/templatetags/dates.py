"""``<time datetime="{{ when|isodatetime }}">``: a date or moment as HTML's ``datetime`` attribute
takes it.

Django's ``|date:'c'`` writes microseconds (six digits), which HTML refuses (at most three): a
moment is written to the second, in the active time zone as ``|date`` would show it; a date as
``YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def isodatetime(value: datetime.date | None) -> str:
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return ""
