"""The current time, overridable for one block of code.

The demo data generator replays four months of history through the real services; it sets
the clock for each action instead of reaching around the services to backdate rows.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from contextvars import ContextVar

from django.utils import timezone

_override: ContextVar[datetime.datetime | None] = ContextVar("clock_override", default=None)


def now() -> datetime.datetime:
    return _override.get() or timezone.now()


@contextlib.contextmanager
def frozen_at(moment: datetime.datetime) -> Iterator[None]:
    token = _override.set(moment)
    try:
        yield
    finally:
        _override.reset(token)
