"""Resolve ``request.merchant`` for every dashboard request and guard views by role.

Every dashboard object is fetched through ``request.merchant``, so another merchant's id is
a 404 (no information leak), while a role that is too low is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.http import MerchantRequest, TenantRequest
from loyalty.models import MANAGER_ROLES, Membership, Merchant

SESSION_KEY = "merchant_id"

# Any response: pages, redirects and streamed CSV downloads alike.
View = Callable[..., HttpResponseBase]


class MerchantMiddleware:
    """Sets ``request.membership`` and ``request.merchant`` (or None) from the session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = None
        if request.user.is_authenticated:
            membership = _current_membership(request)
        tenant = cast(TenantRequest, request)
        tenant.membership = membership
        tenant.merchant = membership.merchant if membership else None
        if membership is None:
            return self.get_response(request)
        # Dates on the dashboard are the shop's dates, whatever the server's time zone.
        with timezone.override(membership.merchant.tz):
            return self.get_response(request)


def _current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the merchant chosen in the session, else the first by name."""
    assert request.user.pk is not None  # only called for authenticated users
    memberships = user_memberships(request)
    wanted = request.session.get(SESSION_KEY)
    chosen = next((m for m in memberships if m.merchant_id == wanted), None)
    return chosen or (memberships[0] if memberships else None)


def user_memberships(request: HttpRequest) -> list[Membership]:
    """Every membership of the signed-in user, merchants by name, loaded once per request.

    ``loyalty.authentication.MembershipBackend`` loads them with the user; a user signed in
    through another backend gets them here (with the user's preference, which the language
    middleware reads).
    """
    loaded = getattr(request.user, "loaded_memberships", None)
    if loaded is None:
        loaded = list(
            Membership.objects.select_related("merchant", "user__preference")
            .filter(user_id=cast(int, request.user.pk))
            .order_by("merchant__name", "merchant_id")
        )
        setattr(request.user, "loaded_memberships", loaded)  # noqa: B010 (a lazy object)
    return loaded


def merchant_required(view: View) -> View:
    """Login plus a membership; the view can rely on ``request.merchant``."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "merchant", None) is None:
            raise PermissionDenied(_("Your account is not a member of any merchant."))
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(view: View) -> View:
    """Owners and admins only; staff get a 403 from the server whatever the page showed."""

    @merchant_required
    @wraps(view)
    def wrapper(request: MerchantRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.membership.role not in MANAGER_ROLES:
            raise PermissionDenied(_("Only owners and admins can do this."))
        return view(request, *args, **kwargs)

    return wrapper


def owner_required(view: View) -> View:
    @merchant_required
    @wraps(view)
    def wrapper(request: MerchantRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.membership.role != "owner":
            raise PermissionDenied(_("Only owners can do this."))
        return view(request, *args, **kwargs)

    return wrapper


def switch_merchant(request: HttpRequest, merchant: Merchant) -> None:
    request.session[SESSION_KEY] = merchant.pk


def merchant_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: the current merchant, the role, and the merchants to switch to."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "merchant": membership.merchant,
        "membership": membership,
        "is_manager": membership.role in MANAGER_ROLES,
        "is_owner": membership.role == "owner",
        # For the header's merchant switcher: no query of its own.
        "memberships": user_memberships(request),
    }
