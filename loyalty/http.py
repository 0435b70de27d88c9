"""What every dashboard view shares: the typed request, htmx answers, service errors on forms.

``MerchantMiddleware`` sets ``merchant`` and ``membership`` on every request (None when signed
out or without a membership); behind ``merchant_required`` both are set, which is what
``MerchantRequest`` says, so views read ``request.merchant`` without a cast.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from loyalty.models import MANAGER_ROLES, Membership, Merchant


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


class TenantRequest(HtmxRequest):
    """Any request once ``MerchantMiddleware`` ran."""

    merchant: Merchant | None
    membership: Membership | None


class MerchantRequest(HtmxRequest):
    """A dashboard request behind ``merchant_required``: a signed-in member of ``merchant``."""

    merchant: Merchant
    membership: Membership


def is_manager(request: MerchantRequest) -> bool:
    """Owner or admin: may delete cards and customers and run the settings."""
    return request.membership.role in MANAGER_ROLES


def wants_partial(request: HtmxRequest) -> bool:
    """An htmx request that swaps a fragment (a history restore needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def redirect_for(request: HtmxRequest, url: str) -> HttpResponse:
    """A redirect that htmx follows as a full page load, and a plain one without JavaScript."""
    if wants_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def service_errors_on_fields(form: forms.BaseForm, error: ValidationError) -> list[str]:
    """Put a service's refusal on the form fields it names; return the messages naming none."""
    if not hasattr(error, "error_dict"):
        return list(error.messages)
    others: list[str] = []
    for field_name, field_messages in error.message_dict.items():
        if field_name in form.fields:
            form.add_error(field_name, field_messages)
        else:
            others.extend(field_messages)
    return others


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's refusal on the form: on the fields it names, the rest on top."""
    for message in service_errors_on_fields(form, error):
        form.add_error(None, message)
