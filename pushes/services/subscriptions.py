"""Push subscriptions: a device of a card's holder subscribing from the card page, and the
end of a subscription (replaced by the browser, or gone at the push service)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from cards.models import Card
from loyalty import clock
from pushes.models import PushSubscription


def _decode_key(value: str, *, length: int, field: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != length or (field == "p256dh" and raw[:1] != b"\x04"):
        raise ValidationError({field: _("The browser sent an invalid push key.")})
    return raw


def _validate_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    allow_http = bool(getattr(settings, "PUSH_ALLOW_HTTP_ENDPOINTS", settings.DEBUG))
    if parts.scheme not in ({"https", "http"} if allow_http else {"https"}) or not parts.hostname:
        raise ValidationError({"endpoint": _("The push endpoint must be an https URL.")})
    if len(endpoint) > 1000:
        raise ValidationError({"endpoint": _("The push endpoint is too long.")})
    if not allow_http:
        # Push services are public hosts; never let a browser point our server at an address
        # inside the network.
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return
        if not address.is_global:
            raise ValidationError({"endpoint": _("The push endpoint must be a public host.")})


def subscription_save(
    *,
    card: Card,
    endpoint: str,
    p256dh: str,
    auth: str,
    user_agent: str = "",
    old_endpoint: str = "",
) -> PushSubscription:
    """Store (or refresh) a device's subscription to the card's pushes.

    Re-subscribing with the same endpoint updates the keys; a browser that replaced its
    subscription sends the old endpoint, which stops receiving.
    """
    if card.is_deleted:
        raise ValidationError(_("This card is no longer valid."))
    endpoint = (endpoint or "").strip()
    _validate_endpoint(endpoint)
    _decode_key(p256dh or "", length=65, field="p256dh")
    _decode_key(auth or "", length=16, field="auth")
    now = clock.now()
    with transaction.atomic():
        if old_endpoint and old_endpoint != endpoint:
            # Stored for staff: in the merchant's language, not the customer's.
            with translation.override(card.merchant.language):
                reason = _("Replaced by a new subscription.")
            PushSubscription.objects.filter(
                card=card, endpoint=old_endpoint, expired_at__isnull=True
            ).update(expired_at=now, expired_reason=reason)
        subscription, _created = PushSubscription.objects.update_or_create(
            card=card,
            endpoint=endpoint,
            defaults={
                "merchant_id": card.merchant_id,
                "p256dh": p256dh,
                "auth": auth,
                "user_agent": (user_agent or "")[:300],
                "expired_at": None,
                "expired_reason": "",
            },
        )
    return subscription


def subscription_expire(*, subscription: PushSubscription, reason: str) -> None:
    PushSubscription.objects.filter(pk=subscription.pk, expired_at__isnull=True).update(
        expired_at=clock.now(), expired_reason=reason[:200]
    )
