"""How a message reaches a device: the ``Channel`` interface and its web-push implementation.

A channel makes ONE attempt and says what happened; retries, backoff and bookkeeping belong
to ``pushes.services``. The ``detail`` is stored and shown to staff: it is written in the
language active when ``send`` runs (the services switch to the merchant's). Wallet passes
(Apple Wallet, Google Wallet) will be further channels; pushes/README.md lists what each needs.
There is deliberately no fake channel: a channel that cannot really deliver must not exist.
"""

from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from pywebpush import WebPushException, webpush
from urllib3.exceptions import NewConnectionError

from pushes import conf, vapid
from pushes.models import Channel as ChannelName
from pushes.models import PushMessage, PushSubscription


class Outcome(models.TextChoices):
    DELIVERED = "delivered", pgettext_lazy("push attempt", "Delivered")
    # the subscription is gone for good (404/410)
    EXPIRED = "expired", pgettext_lazy("push attempt", "Subscription expired")
    # try again later (429, 5xx, could not connect)
    RETRY = "retry", pgettext_lazy("push attempt", "Retry later")
    # refused for good (413, other 4xx, bad keys)
    FAILED = "failed", pgettext_lazy("push attempt", "Failed")
    # sent, but no answer: it may have arrived
    UNKNOWN = "unknown", pgettext_lazy("push attempt", "No answer")


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    status_code: int | None = None
    retry_after: float | None = None
    detail: str = ""


class Channel(Protocol):
    name: str

    def send(self, message: PushMessage, subscription: PushSubscription) -> DeliveryResult: ...


def card_page_path(message: PushMessage) -> str:
    return f"/c/{message.card.install_token}/"


def payload_for(message: PushMessage) -> bytes:
    """What the service worker receives (sw-push.js reads these keys)."""
    data = {
        "title": message.merchant.name,
        "body": message.body,
        "url": card_page_path(message),
        "tag": f"push-{message.pk}",
        "id": message.pk,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (now if now is not None else time.time()))


_local = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per thread and process (a forked worker builds its own)."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != os.getpid():
        session = requests.Session()
        _local.session, _local.pid = session, os.getpid()
    return session


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def _never_sent(error: requests.RequestException) -> bool:
    """True when the request cannot have reached the push service (safe to retry)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


def classify(status: int, retry_after: str | None, body: str = "") -> DeliveryResult:
    if status in (200, 201, 202):
        return DeliveryResult(Outcome.DELIVERED, status)
    if status in (404, 410):
        return DeliveryResult(Outcome.EXPIRED, status, detail=_("The browser unsubscribed."))
    if status == 429 or status >= 500:
        return DeliveryResult(
            Outcome.RETRY,
            status,
            retry_after=parse_retry_after(retry_after),
            # Translators: %(status)s is an HTTP status code (429, 503...).
            detail=_("The push service answered %(status)s; retrying.") % {"status": status},
        )
    if status == 413:
        return DeliveryResult(Outcome.FAILED, status, detail=_("The message is too large."))
    # Translators: %(status)s is an HTTP status code; %(answer)s the push service's own words.
    detail = _("The push service refused it (%(status)s) %(answer)s") % {
        "status": status,
        "answer": body[:120],
    }
    return DeliveryResult(Outcome.FAILED, status, detail=detail)


class WebPushChannel:
    """Web push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291)."""

    name: str = ChannelName.WEB_PUSH.value

    def send(self, message: PushMessage, subscription: PushSubscription) -> DeliveryResult:
        keys = vapid.keys()
        # A fresh claims dict every time: pywebpush writes ``aud`` and ``exp`` into the dict
        # it is given, so a shared one would sign for the first endpoint's origin forever.
        claims: dict[str, str | int] = {
            "sub": settings.VAPID_SUBJECT,
            "aud": _origin(subscription.endpoint),
            "exp": int(time.time()) + 12 * 60 * 60,
        }
        try:
            response = webpush(
                subscription_info={
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                data=payload_for(message).decode("utf-8"),
                vapid_private_key=keys.signer,
                vapid_claims=claims,
                content_encoding="aes128gcm",
                ttl=conf.get_int("PUSH_TTL_SECONDS"),
                headers={"Urgency": "normal", "Topic": message.topic},
                timeout=(conf.get("PUSH_CONNECT_TIMEOUT"), conf.get("PUSH_READ_TIMEOUT")),
                requests_session=_session(),
            )
        except WebPushException as error:
            if error.response is None:
                return DeliveryResult(Outcome.FAILED, detail=str(error.message)[:300])
            return classify(
                error.status_code or 0, error.retry_after, getattr(error.response, "text", "")
            )
        except ValueError as error:
            # Keys that are not a P-256 point or a 16-byte secret: the subscription is unusable.
            # Translators: %(error)s is a technical message, in English.
            detail = _("The device's keys are invalid: %(error)s") % {"error": error}
            return DeliveryResult(Outcome.FAILED, detail=detail)
        except requests.RequestException as error:
            if _never_sent(error):
                return DeliveryResult(
                    Outcome.RETRY, detail=_("Could not reach the push service; retrying.")
                )
            if isinstance(error, requests.Timeout):
                detail = _(
                    "The push service timed out before answering; not resent, so it cannot "
                    "arrive twice."
                )
            else:
                detail = _(
                    "The push service broke off before answering; not resent, so it cannot "
                    "arrive twice."
                )
            return DeliveryResult(Outcome.UNKNOWN, detail=detail)
        assert isinstance(response, requests.Response)
        return classify(response.status_code, response.headers.get("Retry-After"))


CHANNELS: dict[str, Channel] = {ChannelName.WEB_PUSH.value: WebPushChannel()}


def channel_for(subscription: PushSubscription) -> Channel:
    return CHANNELS[subscription.channel]
