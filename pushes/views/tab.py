"""The Send push tab of a customer's profile, and the card page's part: its last message and
the subscription endpoint.

Dashboard views are thin: resolve the card through ``request.merchant`` (via
``profile_context``), bind a form, call one service, then redirect (POST) or render. Times
show in the merchant's time zone.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cards.models import Card
from cards.profile import profile_context
from cards.selectors import card_by_install_token, card_get
from loyalty import i18n, ratelimit
from loyalty.http import MerchantRequest
from loyalty.ratelimit import Limit
from loyalty.tenancy import merchant_required
from pushes import conf, selectors, services, vapid
from pushes.forms import MessageForm, SendForm, local_input_value
from pushes.models import MESSAGE_MAX_LENGTH, MessageStatus, PushMessage

SUBSCRIBE_PER_CARD = Limit("push-subscribe-card", limit=30, window=600)
SUBSCRIBE_PER_IP = Limit("push-subscribe-ip", limit=60, window=600)
MAX_SUBSCRIPTION_BYTES = 4096


def _list_context(card: Card) -> dict[str, Any]:
    push_messages = selectors.messages_for_holder(card=card)
    return {
        "push_messages": push_messages,
        "push_messages_active": any(
            m.status in (MessageStatus.SCHEDULED, MessageStatus.SENDING) for m in push_messages
        ),
        "push_messages_limit": selectors.MESSAGE_LIST_LIMIT,
    }


@merchant_required
@require_http_methods(["GET", "POST"])
def tab(request: MerchantRequest, serial: str) -> HttpResponse:
    """Pick one of the customer's cards, type a message, send it now or schedule it."""
    context = profile_context(request, serial, "push")
    card: Card = context["card"]
    options = selectors.card_push_options(card=card)
    receivable = [o for o in options if o.receivable]
    # The card on screen when it can receive, else the customer's newest card that can.
    default = next(
        (o for o in receivable if o.card.pk == card.pk), receivable[0] if receivable else None
    )
    form = SendForm(
        request.POST or None,
        options=options,
        tz=request.merchant.tz,
        initial={"card": default.card.serial if default else None},
    )
    if request.method == "POST" and form.is_valid():
        try:
            message = services.message_create(
                card=form.chosen_card(),
                body=form.cleaned_data["body"],
                send_at=form.cleaned_data["send_at"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _sent_notice(message, request))
            return redirect("pushes:tab", serial)
    context.update(
        form=form,
        options=options,
        has_receivable=bool(receivable),
        max_length=MESSAGE_MAX_LENGTH,
        push_dev_inbox=bool(conf.dev_inbox_url()),
        **_list_context(card),
    )
    return render(request, "pushes/tab.html", context, status=422 if form.errors else 200)


def _sent_notice(message: PushMessage, request: MerchantRequest) -> str:
    if not message.scheduled:
        return _("Sending the message to card %(serial)s.") % {"serial": message.card.serial}
    local = timezone.localtime(message.send_at, request.merchant.tz)
    # Translators: %(time_zone)s is a time zone's name, e.g. Europe/Paris.
    return _("Message scheduled for %(when)s (%(time_zone)s).") % {
        "when": formats.date_format(local, "SHORT_DATETIME_FORMAT"),
        "time_zone": local.tzinfo,
    }


@merchant_required
@require_GET
def message_list(request: MerchantRequest, serial: str) -> HttpResponse:
    """The message list alone; the tab re-fetches it while messages are scheduled or sending."""
    card = card_get(merchant=request.merchant, serial=serial)
    context = {"card": card, **_list_context(card)}
    return render(request, "pushes/tab.html#message_list", context)


@merchant_required
@require_http_methods(["GET", "POST"])
def message_edit(request: MerchantRequest, serial: str, message_id: int) -> HttpResponse:
    context = profile_context(request, serial, "push")
    message = selectors.message_get(card=context["card"], message_id=message_id)
    if not message.is_editable:
        messages.error(request, services.not_editable_error(message.status, "change"))
        return redirect("pushes:tab", serial)
    tz = request.merchant.tz
    initial = {"body": message.body}
    if message.scheduled:
        initial["send_at"] = local_input_value(message.send_at, tz)
    form = MessageForm(request.POST or None, tz=tz, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            message = services.message_update(
                message=message,
                body=form.cleaned_data["body"],
                send_at=form.cleaned_data["send_at"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _sent_notice(message, request))
            return redirect("pushes:tab", serial)
    context.update(form=form, message=message, max_length=MESSAGE_MAX_LENGTH)
    return render(request, "pushes/edit.html", context, status=422 if form.errors else 200)


@merchant_required
@require_POST
def message_cancel(request: MerchantRequest, serial: str, message_id: int) -> HttpResponse:
    card = card_get(merchant=request.merchant, serial=serial)
    message = selectors.message_get(card=card, message_id=message_id)
    try:
        services.message_cancel(message=message, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Message cancelled; it will not be sent."))
    return redirect("pushes:tab", serial)


# ---------------------------------------------------------------------------------------------
# The card page (customers): /c/<install_token>/push/subscribe/


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, install_token: str) -> HttpResponse:
    """GET: what a page or the service worker needs to subscribe (the VAPID public key and a
    CSRF token). POST (CSRF-protected JSON ``{endpoint, keys: {p256dh, auth}}``, optionally
    ``old_endpoint``): store the device's subscription for this card."""
    card = card_by_install_token(install_token)
    i18n.activate_for_customer(request, card.merchant)
    if card.is_deleted:
        return JsonResponse({"error": _("This card is no longer valid.")}, status=410)
    if request.method == "GET":
        return JsonResponse(
            {"vapid_public_key": vapid.public_key(), "csrf_token": get_token(request)}
        )
    if not ratelimit.allowed(
        (SUBSCRIBE_PER_CARD, str(card.pk)), (SUBSCRIBE_PER_IP, ratelimit.client_ip(request))
    ):
        return JsonResponse({"error": _("Too many attempts; try again later.")}, status=429)
    data = _subscription_json(request)
    if data is None:
        return JsonResponse({"error": _("Send the subscription as JSON.")}, status=400)
    keys: dict[str, Any] = data["keys"] if isinstance(data.get("keys"), dict) else {}
    try:
        services.subscription_save(
            card=card,
            endpoint=str(data.get("endpoint") or ""),
            p256dh=str(keys.get("p256dh") or ""),
            auth=str(keys.get("auth") or ""),
            user_agent=request.headers.get("User-Agent", ""),
            old_endpoint=str(data.get("old_endpoint") or ""),
        )
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    return JsonResponse({"subscribed": True}, status=201)


def _subscription_json(request: HttpRequest) -> dict[str, Any] | None:
    if len(request.body) > MAX_SUBSCRIPTION_BYTES:
        return None
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------------
# The card page's part (registered in PushesConfig.ready): the last message and the
# "turn on notifications" control.

PUSH_SNIPPET = "pushes/card_push.html"


@dataclass(frozen=True)
class LastMessage:
    body: str
    sent_at: datetime.datetime


def card_page_part(card: Card) -> dict[str, Any]:
    message = selectors.last_message_for(card)
    last = None
    if message is not None:
        last = LastMessage(
            body=message.body, sent_at=getattr(message, "delivered_at", None) or message.send_at
        )
    return {"last_message": last, "push_snippet": PUSH_SNIPPET}
