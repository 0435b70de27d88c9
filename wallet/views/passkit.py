"""Apple's PassKit web service (the pass's ``webServiceURL``), as Apple's "Wallet Passes"
reference specifies it:

- ``POST/DELETE v1/devices/<device>/registrations/<pass type>/<serial>``: a device registers
  for (201, or 200 when it already was) or leaves a pass's updates;
- ``GET v1/devices/<device>/registrations/<pass type>?passesUpdatedSince=<tag>``: the serials
  that changed since the tag (204: none);
- ``GET v1/passes/<pass type>/<serial>``: the latest pass (304 when not modified);
- ``POST v1/log``: the device's error messages about this service.

Wallet sends ``Authorization: ApplePass <authenticationToken>`` where the protocol asks for it;
a wrong or missing token is 401, an unknown pass type or serial 404. These endpoints are
called by Wallet, not by a browser: they answer JSON or nothing, never HTML, and the two
that accept a POST or DELETE without a CSRF token are the registration (which requires the
pass's own token) and the log (which stores nothing). Every request counts against a limit
per client address.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from loyalty import ratelimit
from loyalty.ratelimit import Limit
from wallet.apple.pkpass import pkpass_build
from wallet.selectors import (
    PassKitRefused,
    is_our_pass_type,
    pass_http_last_modified,
    pass_modified_since,
    passkit_pass,
    serials_updated_since,
)
from wallet.services import apple_device_register, apple_device_unregister

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]

# A phone asks twice per update (what changed, then the pass); a shared address (a carrier's
# NAT) carries many phones.
PASSKIT_PER_IP = Limit("passkit-ip", limit=300, window=300)
# Bodies Wallet sends are tiny: a push token, a few log lines.
MAX_REGISTRATION_BODY = 4 * 1024
MAX_LOG_BODY = 64 * 1024
MAX_LOG_LINES = 50
MAX_LOG_LINE = 1000
PKPASS_TYPE = "application/vnd.apple.pkpass"


def _empty(status: int) -> HttpResponse:
    response = HttpResponse(status=status)
    del response["Content-Type"]
    return response


def passkit_endpoint(view: View) -> View:
    """Every request counts against the address's limit (a refused method too); an answer
    without a body says no content type (Django's 405 would say HTML)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not ratelimit.allowed((PASSKIT_PER_IP, ratelimit.client_ip(request))):
            response = _empty(429)
            response["Retry-After"] = str(PASSKIT_PER_IP.window)
            return response
        response = view(request, *args, **kwargs)
        # (A HEAD answer describes the body it leaves out.)
        if not response.content and request.method != "HEAD" and "Content-Type" in response:
            del response["Content-Type"]
        return response

    return wrapper


def _token(request: HttpRequest) -> str | None:
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "ApplePass" or not token.strip():
        return None
    return token.strip()


def _too_large(request: HttpRequest, limit: int) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return True


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


@csrf_exempt
@passkit_endpoint
@require_http_methods(["POST", "DELETE"])
def registration(
    request: HttpRequest, device_id: str, pass_type_id: str, serial: str
) -> HttpResponse:
    if _too_large(request, MAX_REGISTRATION_BODY):
        return _empty(413)
    try:
        if request.method == "DELETE":
            apple_device_unregister(
                device_id=device_id, pass_type_id=pass_type_id, serial=serial, token=_token(request)
            )
            return _empty(200)
        body = _json_body(request)
        push_token = body.get("pushToken") if isinstance(body, dict) else None
        created = apple_device_register(
            device_id=device_id,
            pass_type_id=pass_type_id,
            serial=serial,
            token=_token(request),
            push_token=push_token if isinstance(push_token, str) else "",
            user_agent=request.headers.get("User-Agent", ""),
        )
    except PassKitRefused as refused:
        return _empty(refused.status)
    return _empty(201 if created else 200)


@passkit_endpoint
@require_GET
def updated_serials(request: HttpRequest, device_id: str, pass_type_id: str) -> HttpResponse:
    if not is_our_pass_type(pass_type_id):
        return _empty(404)
    updated = serials_updated_since(
        device_id=device_id, tag=request.GET.get("passesUpdatedSince", "")
    )
    if updated is None:
        return _empty(204)
    response = JsonResponse(
        {"serialNumbers": updated.serial_numbers, "lastUpdated": updated.last_updated}
    )
    add_never_cache_headers(response)
    return response


@passkit_endpoint
@require_safe
def latest_pass(request: HttpRequest, pass_type_id: str, serial: str) -> HttpResponse:
    try:
        wallet_pass = passkit_pass(pass_type_id=pass_type_id, serial=serial, token=_token(request))
    except PassKitRefused as refused:
        return _empty(refused.status)
    # HTTP dates have whole seconds: the pass is compared at that resolution.
    last_modified = pass_http_last_modified(wallet_pass)
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if since is not None and not pass_modified_since(wallet_pass, since):
        response = _empty(304)
    elif request.method == "HEAD":
        # Wallet sometimes only asks whether the pass changed: no need to sign it for that.
        response = _empty(200)
        response["Content-Type"] = PKPASS_TYPE
    else:
        response = HttpResponse(pkpass_build(wallet_pass=wallet_pass))
        response["Content-Type"] = PKPASS_TYPE
    response["Last-Modified"] = http_date(last_modified)
    # Held only by the device: no shared cache may keep it, and it is always revalidated.
    response["Cache-Control"] = "private, no-cache"
    return response


def _log_line(entry: Any) -> str:
    text = entry if isinstance(entry, str) else json.dumps(entry, ensure_ascii=True)[:MAX_LOG_LINE]
    # One line per entry, without control characters: the text is the device's, not ours.
    printable = "".join(ch if ch.isprintable() else " " for ch in text[:MAX_LOG_LINE])
    return printable.strip()


@csrf_exempt
@passkit_endpoint
@require_POST
def log(request: HttpRequest) -> HttpResponse:
    if _too_large(request, MAX_LOG_BODY):
        return _empty(413)
    body = _json_body(request)
    logs = body.get("logs") if isinstance(body, dict) else None
    if not isinstance(logs, list):
        return _empty(400)
    for entry in logs[:MAX_LOG_LINES]:
        logger.warning("Apple Wallet device log: %s", _log_line(entry))
    return _empty(200)
