"""Push subscriptions: a device of a card's holder subscribing from the card page, and the
end of a subscription (replaced by the browser, or gone at the push service)."""

from __future__ import annotations

import base64
import binascii
import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cards.models import Card
from loyalty import clock
from pushes import conf
from pushes.endpoints import EndpointRefused, endpoint_check
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
    """Refuse an endpoint that is not https or leads to an address inside the network (see
    ``pushes.endpoints``); sending checks it again."""
    try:
        endpoint_check(endpoint)
    except EndpointRefused as refused:
        raise ValidationError({"endpoint": refused.message}) from None


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
    subscription sends the old endpoint, which stops receiving. A card keeps at most
    ``PUSH_MAX_DEVICES_PER_CARD`` live devices: past it, the ones least recently refreshed (the
    card page refreshes its device on every visit) stop receiving, so nobody can make one
    message fan out to any number of endpoints.
    """
    if card.is_deleted:
        raise ValidationError(_("This card is no longer valid."))
    endpoint = (endpoint or "").strip()
    _validate_endpoint(endpoint)
    _decode_key(p256dh or "", length=65, field="p256dh")
    _decode_key(auth or "", length=16, field="auth")
    now = clock.now()
    with transaction.atomic():
        # One subscription of a card at a time, so the device count below is exact.
        Card.objects.select_for_update(of=("self",)).only("pk").get(pk=card.pk)
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
        _expire_beyond_cap(card, keep=subscription, now=now)
    return subscription


def _expire_beyond_cap(card: Card, *, keep: PushSubscription, now: datetime.datetime) -> None:
    cap = max(1, conf.get_int("PUSH_MAX_DEVICES_PER_CARD"))
    # Per channel: a browser past the cap must not end an Apple Wallet registration.
    live = PushSubscription.objects.filter(
        card=card, channel=keep.channel, expired_at__isnull=True
    ).exclude(pk=keep.pk)
    surplus = list(live.order_by("-updated_at", "-id").values_list("pk", flat=True)[cap - 1 :])
    if not surplus:
        return
    with translation.override(card.merchant.language):
        # Translators: %(count)d is the most devices one card keeps receiving pushes.
        reason = ngettext(
            "Replaced by a newer device (a card keeps at most %(count)d device).",
            "Replaced by a newer device (a card keeps at most %(count)d devices).",
            cap,
        ) % {"count": cap}
    PushSubscription.objects.filter(pk__in=surplus).update(expired_at=now, expired_reason=reason)


def subscription_expire(*, subscription: PushSubscription, reason: str) -> None:
    PushSubscription.objects.filter(pk=subscription.pk, expired_at__isnull=True).update(
        expired_at=clock.now(), expired_reason=reason[:200]
    )
