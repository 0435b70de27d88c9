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
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from pywebpush import WebPusher, WebPushException
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ReadTimeoutError

from pushes import conf, vapid
from pushes.endpoints import DeadlineExceeded, EndpointRefused, endpoint_check, endpoint_post
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


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def classify(status: int, retry_after: str | None) -> DeliveryResult:
    """What an answer means. Only its status is kept: the push service's own words (a body
    staff would read) could be anything a hostile endpoint chose to show."""
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
    if 300 <= status < 400:
        # Translators: %(status)s is an HTTP status code (301, 302...).
        detail = _("The push service answered with a redirect (%(status)s); not followed.")
        return DeliveryResult(Outcome.FAILED, status, detail=detail % {"status": status})
    # Translators: %(status)s is an HTTP status code.
    detail = _("The push service refused it (%(status)s).") % {"status": status}
    return DeliveryResult(Outcome.FAILED, status, detail=detail)


def _request(message: PushMessage, subscription: PushSubscription) -> tuple[bytes, dict[str, str]]:
    """The encrypted body and the headers of one push (RFC 8030, 8291, 8292)."""
    pusher = WebPusher(
        {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
    )
    body: bytes = pusher.encode(payload_for(message), "aes128gcm")["body"]
    # A fresh claims dict for every request, signed for this push service's origin.
    claims: dict[str, str | int] = {
        "sub": settings.VAPID_SUBJECT,
        "aud": _origin(subscription.endpoint),
        "exp": int(time.time()) + 12 * 60 * 60,
    }
    headers = {
        "TTL": str(conf.get_int("PUSH_TTL_SECONDS")),
        "Urgency": "normal",
        "Topic": message.topic,
        "Content-Encoding": "aes128gcm",
        **vapid.keys().signer.sign(claims),
    }
    return body, headers


class WebPushChannel:
    """Web push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291).

    pywebpush encrypts; ``pushes.endpoints`` checks where the endpoint leads (again: DNS may
    have changed since the device subscribed) and makes the request to that address only."""

    name: str = ChannelName.WEB_PUSH.value

    def send(self, message: PushMessage, subscription: PushSubscription) -> DeliveryResult:
        try:
            endpoint = endpoint_check(subscription.endpoint)
        except EndpointRefused as refused:
            # A name that does not resolve may again later; an endpoint leading somewhere
            # forbidden is never tried.
            outcome = Outcome.RETRY if refused.temporary else Outcome.FAILED
            return DeliveryResult(outcome, detail=refused.message)
        try:
            body, headers = _request(message, subscription)
        except WebPushException as error:
            return DeliveryResult(Outcome.FAILED, detail=str(error.message)[:300])
        except ValueError as error:
            # Keys that are not a P-256 point or a 16-byte secret: the subscription is unusable.
            # Translators: %(error)s is a technical message, in English.
            detail = _("The device's keys are invalid: %(error)s") % {"error": error}
            return DeliveryResult(Outcome.FAILED, detail=detail)
        try:
            answer = endpoint_post(
                endpoint,
                body=body,
                headers=headers,
                connect_timeout=conf.get("PUSH_CONNECT_TIMEOUT"),
                read_timeout=conf.get("PUSH_READ_TIMEOUT"),
                deadline=conf.get("PUSH_SEND_DEADLINE"),
            )
        except DeadlineExceeded:
            # Translators: %(seconds)s is a number of seconds (15 unless configured).
            detail = _(
                "The push service did not answer within %(seconds)s seconds; not resent, so it "
                "cannot arrive twice."
            ) % {"seconds": f"{conf.get('PUSH_SEND_DEADLINE'):g}"}
            return DeliveryResult(Outcome.UNKNOWN, detail=detail)
        except ConnectTimeoutError:
            # NewConnectionError included: the request never left, so it is safe to retry.
            return DeliveryResult(
                Outcome.RETRY, detail=_("Could not reach the push service; retrying.")
            )
        except ReadTimeoutError:
            detail = _(
                "The push service timed out before answering; not resent, so it cannot "
                "arrive twice."
            )
            return DeliveryResult(Outcome.UNKNOWN, detail=detail)
        except (HTTPError, OSError):
            detail = _(
                "The push service broke off before answering; not resent, so it cannot "
                "arrive twice."
            )
            return DeliveryResult(Outcome.UNKNOWN, detail=detail)
        return classify(answer.status, answer.retry_after)


CHANNELS: dict[str, Channel] = {ChannelName.WEB_PUSH.value: WebPushChannel()}


def channel_for(subscription: PushSubscription) -> Channel:
    return CHANNELS[subscription.channel]
