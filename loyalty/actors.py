"""Who did something: the one type every service takes as ``actor``.

A service is called by a signed-in member (the dashboard), by nobody in particular (the public
card page, the worker, a management command) or by an anonymous request; it records a user only
for the first.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

Actor = AbstractBaseUser | AnonymousUser | None


def user_or_none(actor: Actor) -> Any:
    """The signed-in user behind ``actor``, or None (typed loosely: it fills user foreign keys)."""
    return actor if actor is not None and actor.is_authenticated else None
