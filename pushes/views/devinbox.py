"""The development push inbox page: what the local push service started by ``python3 dev.py
run`` (``pushes.devinbox``) received, decrypted, like a mail catcher's inbox for pushes.

Only this merchant's devices' messages are listed (the inbox serves every merchant). The page
does not exist (404) unless DEBUG is on and ``PUSH_DEV_INBOX_URL`` names the inbox.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from cards.models import Card
from loyalty.http import MerchantRequest
from loyalty.tenancy import merchant_required
from pushes import conf
from pushes.devinbox import inbox_messages
from pushes.models import PushSubscription


@dataclass(frozen=True)
class InboxMessage:
    card: Card
    received_at: datetime.datetime | None
    title: str
    body: str
    url: str
    ttl: str
    urgency: str
    topic: str
    errors: list[str]


def _message(card: Card, received: dict[str, Any]) -> InboxMessage:
    payload = received.get("payload") or {}
    return InboxMessage(
        card=card,
        received_at=parse_datetime(received.get("received_at") or ""),
        title=str(payload.get("title", "")),
        body=str(payload.get("body", "")),
        url=str(payload.get("url", "")),
        ttl=str(received.get("ttl", "")),
        urgency=str(received.get("urgency", "")),
        topic=str(received.get("topic", "")),
        errors=[str(error) for error in received.get("errors") or []],
    )


@merchant_required
@require_GET
def push_inbox(request: MerchantRequest) -> HttpResponse:
    """Newest first: title, body, link, the card, when, and the TTL and Urgency headers."""
    inbox_url = conf.dev_inbox_url()
    if not inbox_url:
        raise Http404
    try:
        received = inbox_messages(inbox_url)
    except (OSError, ValueError):
        received, reachable = [], False
    else:
        reachable = True
    devices = PushSubscription.objects.filter(
        merchant=request.merchant, endpoint__in={r.get("endpoint", "") for r in received}
    ).select_related("card")
    card_of = {device.endpoint: device.card for device in devices}
    inbox = [_message(card_of[r["endpoint"]], r) for r in received if r.get("endpoint") in card_of]
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    inbox.sort(key=lambda message: message.received_at or epoch, reverse=True)
    context = {"inbox": inbox, "reachable": reachable, "inbox_url": inbox_url}
    return render(request, "pushes/dev_inbox.html", context)
