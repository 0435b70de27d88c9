"""Which language a request is answered in, and money written the way that language writes it.

Dashboard: the user's saved choice, else the browser's ``Accept-Language``, else the merchant's
default language. Customer pages: the browser's, else the merchant's default; public views call
``activate_for_customer`` once they know whose card it is. What merchants type (program names,
messages, custom field labels) is shown as typed, in no particular language.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

# Django's own parser of the header, the one its LocaleMiddleware uses; it has no public name.
from django.utils.translation.trans_real import parse_accept_lang_header

from loyalty.http import TenantRequest
from loyalty.models import Membership, Merchant, UserPreference
from loyalty.numbers import money_writer


def supported_language(code: str | None) -> str | None:
    """The shipped language for a code ("es-MX" -> "es"), or None for one we do not ship."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def browser_language(request: HttpRequest) -> str | None:
    """The first shipped language of the browser's ``Accept-Language``, by preference."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in parse_accept_lang_header(header):
        language = supported_language(code) if code != "*" else None
        if language:
            return language
    return None


def saved_language(membership: Membership | None) -> str | None:
    """The language the signed-in user chose in the header, if any."""
    if membership is None:
        return None
    try:
        return supported_language(membership.user.preference.language)
    except UserPreference.DoesNotExist:
        return None


def customer_language(request: HttpRequest, merchant: Merchant | None) -> str:
    """What someone who chose nothing on their account reads: the language picked before
    signing in, else the browser's, else the merchant's default, else English."""
    return (
        _explicit_language(request)
        or browser_language(request)
        or (supported_language(merchant.language) if merchant else None)
        or settings.LANGUAGE_CODE
    )


def activate_for_customer(request: HttpRequest, merchant: Merchant) -> str:
    """Switch a public page to its customer's language once the card's merchant is known."""
    language = customer_language(request, merchant)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def _explicit_language(request: HttpRequest) -> str | None:
    # Set by the header's switch for someone signed out (the sign-in page).
    return supported_language(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))


def request_language(request: HttpRequest) -> str:
    """A dashboard user's own choice first; then as for a customer of their merchant."""
    tenant = cast(TenantRequest, request)
    return saved_language(getattr(tenant, "membership", None)) or customer_language(
        request, getattr(tenant, "merchant", None)
    )


class LanguageMiddleware:
    """Activates the request's language; says which in ``Content-Language``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        # A public view may have switched to its merchant's default meanwhile.
        response.headers.setdefault("Content-Language", translation.get_language() or language)
        patch_vary_headers(response, ("Accept-Language",))
        return response


def format_money(value: Decimal | int | None, currency: str, *, language: str | None = None) -> str:
    """``12,50 €`` in Spanish and German, ``$12.50`` in English; empty for no value."""
    if value is None or value == "":
        return ""
    locale = translation.to_locale(language or translation.get_language() or "en")
    return money_writer(currency, locale)(Decimal(value))


def language_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: the language the signed-in user chose (blank: the browser's), and the
    shipped languages each named in itself (Django's own list names them in the active one)."""
    return {
        "user_language": saved_language(getattr(request, "membership", None)) or "",
        "language_names": settings.LANGUAGES,
    }
