"""Apple Wallet: devices registering a card's pass, live updates through APNs, and messages
from the Send push tab.

A registration is also a ``PushSubscription`` (channel ``apple_wallet``, endpoint
``passkit:<device library identifier>``), so the Send push tab counts and reaches the device
like a browser. Live updates are coalesced: a task claims the newest version of a pass with
one conditional UPDATE, so a burst of ledger changes makes one push per device; each push is
an ``ApplePush`` row (unique per registration and version) with the answer of APNs.
"""

from __future__ import annotations

import logging
import random
import re

from django.db import connection, transaction
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cards.models import Card, Device
from cards.services import card_mark_installed, card_mark_removed
from loyalty import clock
from loyalty.celery import app as celery_app
from pushes.channels import DeliveryResult, Outcome
from pushes.models import Channel, PushMessage, PushSubscription
from wallet import conf
from wallet.apple import apns
from wallet.apple.credentials import apple_credentials
from wallet.models import AppleDevice, ApplePush, AppleRegistration, UpdateStatus, WalletPass
from wallet.selectors import PassKitRefused, passkit_pass, token_matches

logger = logging.getLogger(__name__)

# Queued by name: wallet.tasks imports these services.
APPLE_PUSH_RETRY_TASK = "wallet.tasks.apple_push_retry"

# Apple's identifiers: a device library identifier and an APNs device token (hex).
_DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_PUSH_TOKEN = re.compile(r"[0-9A-Fa-f]{16,200}")
# APNs reasons meaning the token will never work again (besides status 410).
_GONE_REASONS = frozenset({"Unregistered", "BadDeviceToken", "ExpiredToken"})


def _endpoint(device_id: str) -> str:
    return f"passkit:{device_id}"


# ---------------------------------------------------------------------------------------------
# Registrations (the PassKit web service)


def _lock_card(wallet_pass: WalletPass, token: str | None) -> Card:
    """Lock the pass's card (ledger changes and link replacements lock it first too) and check
    the token again under the lock: a link replaced meanwhile changed it."""
    card = Card.objects.select_for_update().select_related("merchant").get(pk=wallet_pass.card_id)
    wallet_pass.refresh_from_db(fields=["authentication_token"])
    if not token_matches(wallet_pass, token):
        raise PassKitRefused(401)
    return card


def _device_upsert(device_id: str, push_token: str) -> AppleDevice:
    # One statement (INSERT ... ON CONFLICT UPDATE): the same device registering two cards at
    # once (two locks, not one) cannot collide.
    return AppleDevice.objects.bulk_create(
        [AppleDevice(device_library_identifier=device_id, push_token=push_token)],
        update_conflicts=True,
        unique_fields=["device_library_identifier"],
        update_fields=["push_token", "updated_at"],
    )[0]


def _subscription_for(card: Card, device_id: str, user_agent: str) -> PushSubscription:
    """The device's subscription to the card, made active again if it had ended."""
    subscription, _created = PushSubscription.objects.update_or_create(
        card=card,
        endpoint=_endpoint(device_id),
        defaults={
            "merchant_id": card.merchant_id,
            "channel": Channel.APPLE_WALLET,
            "p256dh": "",
            "auth": "",
            "user_agent": user_agent[:300],
            "expired_at": None,
            "expired_reason": "",
        },
    )
    return subscription


def apple_device_register(
    *,
    device_id: str,
    pass_type_id: str,
    serial: str,
    token: str | None,
    push_token: str,
    user_agent: str = "",
) -> bool:
    """A device added the pass (or refreshes its push token). Returns True when the device
    was not registered for it yet."""
    wallet_pass = passkit_pass(pass_type_id=pass_type_id, serial=serial, token=token)
    if not _DEVICE_ID.fullmatch(device_id) or not _PUSH_TOKEN.fullmatch(push_token):
        raise PassKitRefused(400)
    with transaction.atomic():
        card = _lock_card(wallet_pass, token)
        device = _device_upsert(device_id, push_token)
        registration = (
            AppleRegistration.objects.filter(device=device, wallet_pass=wallet_pass)
            .only("pk", "subscription_id")
            .first()
        )
        if registration is None:
            registration_new = AppleRegistration.objects.create(
                merchant_id=card.merchant_id,
                device=device,
                wallet_pass=wallet_pass,
                subscription=_subscription_for(card, device_id, user_agent),
            )
            _end_beyond_cap(wallet_pass, card=card, keep=registration_new)
        else:
            PushSubscription.objects.filter(
                pk=registration.subscription_id, expired_at__isnull=False
            ).update(expired_at=None, expired_reason="")
        card_mark_installed(card=card, device=Device.APPLE_WALLET)
    return registration is None


def _registration_end(registration: AppleRegistration, *, card: Card, reason: str) -> bool:
    """Delete the registration (under the card's lock) and end its subscription; the card
    leaves Apple Wallet when no device holds it any more."""
    deleted, _rows = AppleRegistration.objects.filter(pk=registration.pk).delete()
    if not deleted:
        return False
    PushSubscription.objects.filter(
        pk=registration.subscription_id, expired_at__isnull=True
    ).update(expired_at=clock.now(), expired_reason=reason[:200])
    if not AppleRegistration.objects.filter(wallet_pass__card_id=card.pk).exists():
        card_mark_removed(card=card, device=Device.APPLE_WALLET)
    return True


def _end_beyond_cap(wallet_pass: WalletPass, *, card: Card, keep: AppleRegistration) -> None:
    """Whoever holds the pass's token can register any number of made-up devices: past
    ``WALLET_MAX_DEVICES_PER_PASS`` the oldest registrations end, so a card's update never
    fans out to more pushes than that."""
    cap = max(1, conf.get_int("WALLET_MAX_DEVICES_PER_PASS"))
    surplus = list(
        AppleRegistration.objects.filter(wallet_pass=wallet_pass)
        .exclude(pk=keep.pk)
        .order_by("-created_at", "-id")[cap - 1 :]
    )
    if not surplus:
        return
    with translation.override(card.merchant.language):
        # Translators: %(count)d is the most Apple Wallet devices one card keeps.
        reason = ngettext(
            "Replaced by a newer device (a card keeps at most %(count)d device).",
            "Replaced by a newer device (a card keeps at most %(count)d devices).",
            cap,
        ) % {"count": cap}
    for registration in surplus:
        _registration_end(registration, card=card, reason=reason)


def apple_device_unregister(
    *, device_id: str, pass_type_id: str, serial: str, token: str | None
) -> bool:
    """The device removed the pass (or turned its updates off). Returns whether it was
    registered."""
    wallet_pass = passkit_pass(pass_type_id=pass_type_id, serial=serial, token=token)
    with transaction.atomic():
        card = _lock_card(wallet_pass, token)
        registration = AppleRegistration.objects.filter(
            device__device_library_identifier=device_id, wallet_pass=wallet_pass
        ).first()
        if registration is None:
            return False
        # Stored for staff: in the merchant's language.
        with translation.override(card.merchant.language):
            reason = _("Removed from Apple Wallet on the device.")
        return _registration_end(registration, card=card, reason=reason)


def _registration_expire(*, registration_id: int, push_token: str, apns_reason: str) -> None:
    """APNs says the device token is dead: the device no longer holds the pass. Unless the
    device registered again meanwhile with a new token."""
    registration = (
        AppleRegistration.objects.select_related("wallet_pass").filter(pk=registration_id).first()
    )
    if registration is None:
        return
    with transaction.atomic():
        card = (
            Card.objects.select_for_update()
            .select_related("merchant")
            .get(pk=registration.wallet_pass.card_id)
        )
        # Read under the card's lock, which the device registering this card again takes too.
        current = AppleDevice.objects.filter(pk=registration.device_id).values_list(
            "push_token", flat=True
        )
        if list(current) != [push_token]:
            return
        with translation.override(card.merchant.language):
            # Translators: %(reason)s is Apple's code for it, e.g. Unregistered.
            reason = _("Apple Wallet no longer holds the card (%(reason)s).") % {
                "reason": apns_reason or "410"
            }
        _registration_end(registration, card=card, reason=reason)


def _is_gone(answer: apns.APNsAnswer) -> bool:
    return answer.status == 410 or answer.reason in _GONE_REASONS


def _is_temporary(answer: apns.APNsAnswer) -> bool:
    return answer.status == 429 or answer.status >= 500


# ---------------------------------------------------------------------------------------------
# Live updates


def _claim_version(wallet_pass_id: int) -> int | None:
    """Take the pass's newest version for Apple, unless it was taken already."""
    table = WalletPass._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET apple_pushed_version = version "  # noqa: S608 (our table name)
            "WHERE id = %s AND apple_pushed_version < version RETURNING version",
            [wallet_pass_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def apple_pass_notify(*, wallet_pass_id: int) -> None:
    """Tell every device holding the pass that it changed: once per version, whatever the
    number of tasks a burst of changes queued."""
    with transaction.atomic():
        version = _claim_version(wallet_pass_id)
        if version is None:
            return
        registration_ids = AppleRegistration.objects.filter(
            wallet_pass_id=wallet_pass_id
        ).values_list("pk", flat=True)
        ApplePush.objects.bulk_create(
            [
                ApplePush(registration_id=pk, wallet_pass_id=wallet_pass_id, version=version)
                for pk in registration_ids
            ],
            ignore_conflicts=True,
        )
    # Committed: a task that dies from here on loses these pushes, it never repeats them.
    push_ids = ApplePush.objects.filter(
        wallet_pass_id=wallet_pass_id, version=version, status=UpdateStatus.PENDING, attempts=0
    ).values_list("pk", flat=True)
    for push_id in list(push_ids):
        _push_send(push_id, retry=False)


def apple_push_retry(*, push_id: int) -> None:
    """Another attempt at a push APNs asked to retry later (429, 5xx) or could not take."""
    _push_send(push_id, retry=True)


def _claim_push(push_id: int, *, retry: bool) -> bool:
    # A conditional UPDATE, committed before the request: a duplicate task finds nothing.
    pushes = ApplePush.objects.filter(pk=push_id)
    if retry:
        pushes = pushes.filter(status=UpdateStatus.RETRY)
    else:
        pushes = pushes.filter(status=UpdateStatus.PENDING, attempts=0)
    return bool(pushes.update(status=UpdateStatus.PENDING, attempts=F("attempts") + 1))


def _push_send(push_id: int, *, retry: bool) -> None:
    if not _claim_push(push_id, retry=retry):
        return
    push = ApplePush.objects.select_related("registration__device").get(pk=push_id)
    if push.registration is None:
        # The device unregistered since: nobody to tell.
        _push_finish(push, UpdateStatus.EXPIRED, reason="unregistered")
        return
    push_token = push.registration.device.push_token
    try:
        answer = apns.push(push_token=push_token, topic=apple_credentials().pass_type_id)
    except (apns.APNsUnreachable, apns.APNsNoAnswer) as error:
        # An empty pass push sent twice costs nothing (the device asks what changed and
        # finds the same answer), so even a request that may have arrived is tried again.
        _push_retry_or_fail(push, status_code=None, reason=str(error), retry_after=None)
        return
    if answer.status == 200:
        _push_finish(push, UpdateStatus.SENT, status_code=200, apns_id=answer.apns_id)
    elif _is_gone(answer):
        _push_finish(push, UpdateStatus.EXPIRED, status_code=answer.status, reason=answer.reason)
        assert push.registration_id is not None
        _registration_expire(
            registration_id=push.registration_id, push_token=push_token, apns_reason=answer.reason
        )
    elif _is_temporary(answer):
        _push_retry_or_fail(
            push,
            status_code=answer.status,
            reason=answer.reason,
            retry_after=answer.retry_after,
            apns_id=answer.apns_id,
        )
    else:
        _push_finish(
            push,
            UpdateStatus.FAILED,
            status_code=answer.status,
            reason=answer.reason,
            apns_id=answer.apns_id,
        )


def _push_finish(
    push: ApplePush,
    status: UpdateStatus,
    *,
    status_code: int | None = None,
    reason: str = "",
    apns_id: str = "",
) -> None:
    ApplePush.objects.filter(pk=push.pk).update(
        status=status,
        status_code=status_code,
        reason=reason[:300],
        apns_id=apns_id[:64],
        finished_at=clock.now(),
    )


def _retry_delay(attempts: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    base = conf.get("WALLET_BACKOFF_BASE")
    return base * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)


def _push_retry_or_fail(
    push: ApplePush,
    *,
    status_code: int | None,
    reason: str,
    retry_after: float | None,
    apns_id: str = "",
) -> None:
    if push.attempts >= conf.get_int("WALLET_MAX_ATTEMPTS"):
        _push_finish(
            push, UpdateStatus.FAILED, status_code=status_code, reason=reason, apns_id=apns_id
        )
        return
    ApplePush.objects.filter(pk=push.pk).update(
        status=UpdateStatus.RETRY, status_code=status_code, reason=reason[:300], apns_id=apns_id
    )
    push_id, countdown = push.pk, _retry_delay(push.attempts, retry_after)
    transaction.on_commit(
        lambda: celery_app.send_task(APPLE_PUSH_RETRY_TASK, args=(push_id,), countdown=countdown)
    )


# ---------------------------------------------------------------------------------------------
# Messages from the Send push tab (the ``apple_wallet`` channel)


def _pass_carry_message(wallet_pass_id: int, message: PushMessage) -> None:
    """Put the message on the pass as a new version (Wallet shows the changed field's
    changeMessage), already counted as pushed: this push announces it, the coalesced live
    update must not announce it again. The card's other devices get their own delivery of the
    same message, and find the pass already carrying it."""
    with transaction.atomic():
        wallet_pass = WalletPass.objects.select_for_update().get(pk=wallet_pass_id)
        started = message.started_at or message.send_at
        carried = wallet_pass.message_at is not None and wallet_pass.message_at >= started
        if carried and wallet_pass.message == message.body:
            return
        now = clock.now()
        WalletPass.objects.filter(pk=wallet_pass_id).update(
            message=message.body[:500],
            message_at=now,
            version=F("version") + 1,
            apple_pushed_version=F("version") + 1,
            updated_at=now,
        )


def apple_message_send(*, message: PushMessage, subscription: PushSubscription) -> DeliveryResult:
    """One attempt: the pass takes the message, then its device is told to fetch it."""
    registration = (
        AppleRegistration.objects.select_related("device")
        .filter(subscription_id=subscription.pk)
        .first()
    )
    if registration is None:
        return DeliveryResult(
            Outcome.EXPIRED, detail=_("The card is no longer in this Apple Wallet.")
        )
    _pass_carry_message(registration.wallet_pass_id, message)
    push_token = registration.device.push_token
    try:
        answer = apns.push(push_token=push_token, topic=apple_credentials().pass_type_id)
    except apns.APNsUnreachable:
        return DeliveryResult(
            Outcome.RETRY, detail=_("Could not reach Apple's push service; retrying.")
        )
    except apns.APNsNoAnswer:
        detail = _(
            "Apple's push service broke off before answering; not resent, so it cannot "
            "arrive twice."
        )
        return DeliveryResult(Outcome.UNKNOWN, detail=detail)
    return _message_result(answer, registration=registration, push_token=push_token)


def _message_result(
    answer: apns.APNsAnswer, *, registration: AppleRegistration, push_token: str
) -> DeliveryResult:
    status = answer.status
    if status == 200:
        return DeliveryResult(Outcome.DELIVERED, status)
    if _is_gone(answer):
        _registration_expire(
            registration_id=registration.pk, push_token=push_token, apns_reason=answer.reason
        )
        # Translators: %(reason)s is Apple's code for it, e.g. Unregistered.
        detail = _("Apple Wallet no longer holds the card (%(reason)s).") % {
            "reason": answer.reason or status
        }
        return DeliveryResult(Outcome.EXPIRED, status, detail=detail)
    if _is_temporary(answer):
        # Translators: %(status)s is an HTTP status code (429, 503...).
        detail = _("Apple's push service answered %(status)s; retrying.") % {"status": status}
        return DeliveryResult(Outcome.RETRY, status, retry_after=answer.retry_after, detail=detail)
    # Translators: %(status)s is an HTTP status code, %(reason)s Apple's code for the refusal.
    detail = _("Apple's push service refused it (%(status)s %(reason)s).") % {
        "status": status,
        "reason": answer.reason,
    }
    return DeliveryResult(Outcome.FAILED, status, detail=detail)
