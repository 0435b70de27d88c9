"""Who the signed-in user is, and which merchants they belong to, in one query per request.

Django's ``ModelBackend`` loads the user by id; the merchant middleware then loads the user's
memberships, and the page header loads them again for the merchant switcher. This backend loads
the memberships with their merchant, the user and the user's preferences in one joined query,
and hands the list to ``loyalty.tenancy`` on the user (``loaded_memberships``). Passwords,
active flags and the session's password hash are checked exactly as Django checks them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User

from loyalty.models import Membership


class MembershipBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        memberships = list(
            Membership.objects.select_related("merchant", "user__preference")
            .filter(user_id=user_id)
            .order_by("merchant__name", "merchant_id")
        )
        user: User | None = None
        if memberships:
            user = memberships[0].user
            for membership in memberships:
                membership.user = user  # one instance, so the request sees one user
        else:
            user = get_user_model()._default_manager.filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        setattr(user, "loaded_memberships", memberships)  # noqa: B010 (read by loyalty.tenancy)
        return user
