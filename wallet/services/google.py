"""Google Wallet: a card's LoyaltyObject, its program's LoyaltyClass, live updates, messages.

- **Saving.** The card page's "Save to Google Wallet" link (``google_object_ensure``) gives
  the card its object id and a ``PushSubscription`` (channel ``google_wallet``) and marks the
  card as held in Google Wallet: opening the link is the one step of saving we can observe.
- **Live updates.** Every change of the card bumps its pass's version; ``google_object_sync``
  claims the newest version with one conditional UPDATE (so the tasks of a burst of changes
  make one PATCH), makes sure the class is current (inserted when new, patched when its
  design's fingerprint changed), then PATCHes the whole object (inserting it when Google does
  not have it: the holder never finished saving). Each PATCH is a ``GoogleUpdate`` row.
- **Retries.** 401 (after google-auth fetched a fresh token and tried again), 429, 5xx and
  no answer are retried with exponential backoff by a task, up to ``WALLET_MAX_ATTEMPTS``;
  a retry sends the card as it is then, and changes made while it waited ride along. A PATCH
  is idempotent, so sending it again is always safe. Other answers fail with their reason.
- **Messages** from the Send push tab are added to the object (``addMessage``, with a
  notification), one attempt per call; ``pushes`` keeps the at-most-once bookkeeping.
- **A replaced link** retires the object (``google_object_retire``): made INACTIVE at Google,
  its subscription expired, and the rightful holder saves a new one from the new link.
"""

from __future__ import annotations

import datetime
import logging
import random
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cards.models import Card, Device, Program
from cards.services import card_mark_installed, card_mark_removed
from loyalty import clock
from loyalty.celery import app as celery_app
from pushes.channels import DeliveryResult, Outcome, parse_retry_after
from pushes.models import Channel, PushMessage, PushSubscription
from wallet import conf
from wallet.google import client
from wallet.google.credentials import google_credentials
from wallet.google.objects import (
    fingerprint,
    loyalty_class,
    loyalty_object,
    program_icon_store,
)
from wallet.models import GoogleClass, GoogleObject, GoogleUpdate, UpdateStatus, WalletPass
from wallet.services.passes import wallet_pass_ensure

logger = logging.getLogger(__name__)

# Queued by name: wallet.tasks imports these services.
UPDATE_RETRY_TASK = "wallet.tasks.google_update_retry"

# Optional fields a PATCH must clear when the card no longer has them (a PATCH leaves alone
# what it does not name).
_CLEARABLE = {"validTimeInterval": None}


def endpoint_for(object_id: str) -> str:
    return f"google-wallet:{object_id}"


# ---------------------------------------------------------------------------------------------
# Saving


def _live_object(wallet_pass_id: int) -> GoogleObject | None:
    return (
        GoogleObject.objects.select_related("subscription")
        .filter(wallet_pass_id=wallet_pass_id, retired_at__isnull=True)
        .first()
    )


def google_object_ensure(*, card: Card) -> GoogleObject:
    """The card's live object (created on the first save link), its subscription live, and
    the card marked as held in Google Wallet."""
    wallet_pass = wallet_pass_ensure(card=card)
    google_object = _live_object(wallet_pass.pk)
    if google_object is None:
        google_object = _object_create(card, wallet_pass)
    elif not google_object.subscription.is_active:
        # Saved again (after Google answered that it did not have the object): messages may
        # reach it again.
        PushSubscription.objects.filter(pk=google_object.subscription_id).update(
            expired_at=None, expired_reason=""
        )
    card_mark_installed(card=card, device=Device.GOOGLE_WALLET)
    return google_object


def _object_create(card: Card, wallet_pass: WalletPass) -> GoogleObject:
    issuer_id = google_credentials().issuer_id
    try:
        with transaction.atomic():
            # Each retired object keeps its id at Google: a new one takes the next number.
            retired = GoogleObject.objects.filter(
                wallet_pass=wallet_pass, retired_at__isnull=False
            ).count()
            object_id = f"{issuer_id}.{card.serial.replace('-', '')}-{retired}"
            subscription = PushSubscription.objects.create(
                merchant_id=card.merchant_id,
                card=card,
                channel=Channel.GOOGLE_WALLET,
                endpoint=endpoint_for(object_id),
                p256dh="",
                auth="",
            )
            return GoogleObject.objects.create(
                merchant_id=card.merchant_id,
                wallet_pass=wallet_pass,
                object_id=object_id,
                subscription=subscription,
            )
    except IntegrityError:  # two first saves at once: the other one created it
        existing = _live_object(wallet_pass.pk)
        if existing is None:
            raise
        return existing


def google_class_ensure(*, program: Program) -> bool:
    """Make the program's class current at Google before a save link is handed out.
    False when that could not be confirmed (the link then carries the class itself)."""
    try:
        return _class_ensure(program) is None
    except client.ApiError as error:
        logger.warning("Google Wallet class of program %s not sent: %s", program.pk, error)
        return False


# ---------------------------------------------------------------------------------------------
# Live updates


def google_object_sync(*, wallet_pass_id: int) -> GoogleUpdate | None:
    """Send the pass's newest version to its object, once. None when there is nothing to send
    (no object, or another task already claimed this version)."""
    with transaction.atomic():
        version = _claim_newest_version(wallet_pass_id)
        if version is None:
            return None
        # Claimed even without an object (nobody saved the card to Google Wallet): the pass
        # is not behind, and the sweep for lost tasks leaves it alone.
        google_object = _live_object(wallet_pass_id)
        if google_object is None:
            return None
        waiting = (
            GoogleUpdate.objects.select_for_update()
            .filter(google_object=google_object, status=UpdateStatus.RETRY)
            .order_by("-id")
            .first()
        )
        if waiting is not None:
            # Google asked us to wait: the scheduled retry sends this newer version, and the
            # backoff holds.
            GoogleUpdate.objects.filter(pk=waiting.pk).update(version=version)
            waiting.version = version
            return waiting
        update = GoogleUpdate.objects.create(
            google_object=google_object, version=version, status=UpdateStatus.PENDING, attempts=1
        )
    return _attempt(update)


def _claim_newest_version(wallet_pass_id: int) -> int | None:
    """Mark the pass's current version as sent to Google, if no task did yet; the version
    claimed, or None. Runs inside a transaction: the UPDATE's row lock holds until commit, so
    the version read back is the one claimed."""
    claimed = WalletPass.objects.filter(
        pk=wallet_pass_id, google_synced_version__lt=F("version")
    ).update(google_synced_version=F("version"))
    if not claimed:
        return None
    return int(
        WalletPass.objects.values_list("google_synced_version", flat=True).get(pk=wallet_pass_id)
    )


def google_update_retry(*, update_id: int) -> GoogleUpdate | None:
    """The next attempt of an update waiting in ``retry``; None when it is not waiting (a
    duplicate task, or it was already sent)."""
    with transaction.atomic():
        update = (
            GoogleUpdate.objects.select_for_update()
            .select_related("google_object")
            .filter(pk=update_id, status=UpdateStatus.RETRY)
            .first()
        )
        if update is None:
            return None
        google_object = update.google_object
        if google_object.retired_at is None:
            # Changes made while it waited: this attempt sends them too.
            newer = _claim_newest_version(google_object.wallet_pass_id)
            if newer is not None:
                update.version = newer
        update.status = UpdateStatus.PENDING
        update.attempts += 1
        update.next_attempt_at = None
        update.save(update_fields=["version", "status", "attempts", "next_attempt_at"])
    return _attempt(update)


def google_updates_requeue_due(*, grace_seconds: float = 60.0) -> list[int]:
    """Queue again the retries whose task was lost (a worker killed, a broker restart): those
    still waiting well after their time. A duplicate task finds the row taken and stops."""
    due = clock.now() - datetime.timedelta(seconds=grace_seconds)
    update_ids = list(
        GoogleUpdate.objects.filter(status=UpdateStatus.RETRY, next_attempt_at__lte=due)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
    for update_id in update_ids:
        celery_app.send_task(UPDATE_RETRY_TASK, args=(update_id,))
    return update_ids


@dataclass(frozen=True)
class _Result:
    status: UpdateStatus
    status_code: int | None = None
    reason: str = ""
    retry_after: float | None = None
    has_users: bool | None = None


def _attempt(update: GoogleUpdate) -> GoogleUpdate:
    google_object = GoogleObject.objects.select_related(
        "wallet_pass__card__program__merchant", "wallet_pass__card__merchant"
    ).get(pk=update.google_object_id)
    merchant = google_object.wallet_pass.card.merchant
    # The reasons are stored for staff: in the merchant's language.
    with translation.override(merchant.language):
        try:
            result = _send(google_object)
        except client.ApiUnreachable:
            result = _Result(UpdateStatus.RETRY, reason=_("Could not reach Google Wallet."))
        except client.ApiBrokenOff:
            # Sending the whole object again is harmless, so unlike a message it is retried.
            result = _Result(UpdateStatus.RETRY, reason=_("Google Wallet did not answer."))
        except ImproperlyConfigured as error:
            logger.error("Google Wallet update %s not sent: %s", update.pk, error)
            result = _Result(UpdateStatus.FAILED, reason=_("Google Wallet is not configured."))
        return _record(update, google_object, result)


def _send(google_object: GoogleObject) -> _Result:
    if google_object.retired_at is not None:
        return _send_retirement(google_object)
    wallet_pass = google_object.wallet_pass
    card = wallet_pass.card
    failed_class = _class_ensure(card.program)
    if failed_class is not None:
        return _classify(failed_class, of_class=True)
    body = loyalty_object(card, wallet_pass, google_object.object_id)
    answer = client.object_patch(google_object.object_id, {**_CLEARABLE, **body})
    if answer.status == 404:
        # Never saved (the holder stopped before the end): Google learns it now, ready for
        # when they save it.
        answer = client.object_insert(body)
        if answer.status == 409:  # saved in the meantime
            answer = client.object_patch(google_object.object_id, {**_CLEARABLE, **body})
        elif answer.status == 404:
            # The class itself is missing at Google: send it again next time.
            GoogleClass.objects.filter(program_id=card.program_id).update(synced_fingerprint="")
            return _Result(
                UpdateStatus.RETRY,
                404,
                _("Google Wallet does not know the program; it will be sent again."),
            )
    return _classify(answer)


def _send_retirement(google_object: GoogleObject) -> _Result:
    answer = client.object_patch(google_object.object_id, {"state": "INACTIVE"})
    if answer.status == 404:
        return _Result(
            UpdateStatus.SENT, 404, _("Google Wallet never had this card; nothing to withdraw.")
        )
    return _classify(answer)


def _classify(answer: client.ApiAnswer, *, of_class: bool = False) -> _Result:
    has_users = answer.data.get("hasUsers")
    has_users = has_users if isinstance(has_users, bool) else None
    if answer.ok:
        return _Result(UpdateStatus.SENT, answer.status, has_users=has_users)
    if answer.status in (401, 429) or answer.status >= 500:
        return _Result(
            UpdateStatus.RETRY,
            answer.status,
            # Translators: %(status)s is an HTTP status code (429, 503...).
            _("Google Wallet answered %(status)s; retrying.") % {"status": answer.status},
            retry_after=parse_retry_after(answer.retry_after),
        )
    if of_class:
        # Translators: %(status)s is an HTTP status code; %(message)s is Google's
        # explanation, in English.
        refused = _("Google Wallet refused the program's design (%(status)s): %(message)s")
    else:
        # Translators: %(status)s is an HTTP status code; %(message)s is Google's
        # explanation, in English.
        refused = _("Google Wallet refused the card (%(status)s): %(message)s")
    reason = refused % {"status": answer.status, "message": _error_message(answer)}
    return _Result(UpdateStatus.FAILED, answer.status, reason)


def _error_message(answer: client.ApiAnswer) -> str:
    error = answer.data.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return str(message)[:200] if message else ""


def _record(update: GoogleUpdate, google_object: GoogleObject, result: _Result) -> GoogleUpdate:
    now = clock.now()
    status, reason, delay = result.status, result.reason, None
    if status == UpdateStatus.RETRY:
        if update.attempts >= conf.get_int("WALLET_MAX_ATTEMPTS"):
            status, reason = UpdateStatus.FAILED, _gave_up(update.attempts, result)
        else:
            delay = _backoff(update.attempts, result.retry_after)
    fields = {
        "status": status,
        "status_code": result.status_code,
        "reason": reason[:300],
        "next_attempt_at": now + datetime.timedelta(seconds=delay) if delay is not None else None,
        "finished_at": None if delay is not None else now,
    }
    with transaction.atomic():
        # Only while the attempt is still ours (a retry claims the row again).
        GoogleUpdate.objects.filter(
            pk=update.pk, status=UpdateStatus.PENDING, attempts=update.attempts
        ).update(**fields)
        if result.has_users is not None:
            GoogleObject.objects.filter(pk=google_object.pk).update(has_users=result.has_users)
        if delay is not None:
            update_id = update.pk
            transaction.on_commit(
                lambda: celery_app.send_task(UPDATE_RETRY_TASK, args=(update_id,), countdown=delay),
                robust=True,
            )
    for name, value in fields.items():
        setattr(update, name, value)
    return update


def _backoff(attempts: int, retry_after: float | None) -> float:
    # Jittered, so the cards of one program that all met the same 429 do not return together.
    delay = conf.get("WALLET_BACKOFF_BASE") * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def _gave_up(attempts: int, result: _Result) -> str:
    if result.status_code:
        # Translators: %(status)s is an HTTP status code (429, 503...).
        return ngettext(
            "Google Wallet kept refusing (%(status)s); gave up after %(count)d attempt.",
            "Google Wallet kept refusing (%(status)s); gave up after %(count)d attempts.",
            attempts,
        ) % {"status": result.status_code, "count": attempts}
    return ngettext(
        "Google Wallet could not be reached; gave up after %(count)d attempt.",
        "Google Wallet could not be reached; gave up after %(count)d attempts.",
        attempts,
    ) % {"count": attempts}


# ---------------------------------------------------------------------------------------------
# The class


def _class_ensure(program: Program) -> client.ApiAnswer | None:
    """None when the class at Google matches the program's design; else the failed answer.
    Raises ``client.ApiError`` when Google cannot be reached."""
    design = loyalty_class(program)
    design_fingerprint = fingerprint(design)
    google_class = _class_row(program, design["id"])
    if google_class.synced_fingerprint == design_fingerprint:
        return None
    program_icon_store(program)  # the logo's URL answers before Google fetches it
    if google_class.synced_fingerprint:
        answer = client.class_patch(design["id"], design)
        if answer.status == 404:
            answer = client.class_insert(design)
    else:
        answer = client.class_insert(design)
        if answer.status == 409:  # inserted by another process, or before this database
            answer = client.class_patch(design["id"], design)
    if not answer.ok:
        return answer
    GoogleClass.objects.filter(pk=google_class.pk).update(
        synced_fingerprint=design_fingerprint, synced_at=clock.now()
    )
    return None


def _class_row(program: Program, class_id: str) -> GoogleClass:
    google_class = GoogleClass.objects.filter(program=program).first()
    if google_class is None:
        try:
            with transaction.atomic():
                return GoogleClass.objects.create(program=program, class_id=class_id)
        except IntegrityError:
            return GoogleClass.objects.get(program=program)
    if google_class.class_id != class_id:
        # Another issuer (test credentials replaced by real ones): a class it never had.
        google_class.class_id, google_class.synced_fingerprint = class_id, ""
        google_class.save(update_fields=["class_id", "synced_fingerprint"])
    return google_class


# ---------------------------------------------------------------------------------------------
# A replaced link


def google_object_retire(*, card: Card) -> GoogleObject | None:
    """The card's link was replaced: whoever saved the card from the old link loses it. The
    object is made INACTIVE at Google (after commit, by the retry task, with its backoff), its
    subscription expires, the card no longer counts as held in Google Wallet, and the next
    save link creates a new object. Runs inside the replacing transaction."""
    now = clock.now()
    with transaction.atomic():
        google_object = (
            GoogleObject.objects.select_for_update()
            .select_related("wallet_pass")
            .filter(wallet_pass__card_id=card.pk, retired_at__isnull=True)
            .first()
        )
        if google_object is None:
            return None
        google_object.retired_at = now
        google_object.save(update_fields=["retired_at"])
        # Stored for staff: in the merchant's language.
        with translation.override(card.merchant.language):
            reason = _("The card's link was replaced.")
        PushSubscription.objects.filter(
            pk=google_object.subscription_id, expired_at__isnull=True
        ).update(expired_at=now, expired_reason=reason)
        # Waiting for the worker, due now: the HTTP request never runs inside this transaction.
        update, _created = GoogleUpdate.objects.update_or_create(
            google_object=google_object,
            version=google_object.wallet_pass.version,
            defaults={
                "status": UpdateStatus.RETRY,
                "attempts": 0,
                "status_code": None,
                "reason": "",
                "next_attempt_at": now,
                "finished_at": None,
            },
        )
        card_mark_removed(card=card, device=Device.GOOGLE_WALLET)
        update_id = update.pk
        transaction.on_commit(
            lambda: celery_app.send_task(UPDATE_RETRY_TASK, args=(update_id,)), robust=True
        )
    return google_object


# ---------------------------------------------------------------------------------------------
# Messages


def google_message_send(*, message: PushMessage, subscription: PushSubscription) -> DeliveryResult:
    """One ``addMessage`` on the subscription's object: Google shows it on the card and
    notifies the holder's phone."""
    google_object = GoogleObject.objects.filter(subscription_id=subscription.pk).first()
    if google_object is None or google_object.retired_at is not None:
        return DeliveryResult(
            Outcome.EXPIRED, detail=_("The card was withdrawn from Google Wallet.")
        )
    body = {
        "header": message.merchant.name,
        "body": message.body,
        # One id per message: Google keeps one copy of each.
        "id": f"m{message.pk}",
        "messageType": "TEXT_AND_NOTIFY",
    }
    try:
        answer = client.object_add_message(google_object.object_id, body)
    except client.ApiUnreachable:
        return DeliveryResult(Outcome.RETRY, detail=_("Could not reach Google Wallet; retrying."))
    except client.ApiBrokenOff:
        detail = _(
            "Google Wallet broke off before answering; not resent, so it cannot arrive twice."
        )
        return DeliveryResult(Outcome.UNKNOWN, detail=detail)
    _note_users(google_object, answer)
    return _message_result(answer)


def _note_users(google_object: GoogleObject, answer: client.ApiAnswer) -> None:
    resource = answer.data.get("resource")
    has_users = resource.get("hasUsers") if isinstance(resource, dict) else None
    if isinstance(has_users, bool):
        GoogleObject.objects.filter(pk=google_object.pk).update(has_users=has_users)


def _message_result(answer: client.ApiAnswer) -> DeliveryResult:
    status = answer.status
    if answer.ok:
        return DeliveryResult(Outcome.DELIVERED, status)
    if status == 409:
        # A message with this id is on the object already: an earlier attempt arrived.
        return DeliveryResult(
            Outcome.DELIVERED, status, detail=_("Already on the card in Google Wallet.")
        )
    if status == 404:
        return DeliveryResult(
            Outcome.EXPIRED, status, detail=_("Google Wallet does not have this card.")
        )
    if status in (401, 429) or status >= 500:
        return DeliveryResult(
            Outcome.RETRY,
            status,
            retry_after=parse_retry_after(answer.retry_after),
            # Translators: %(status)s is an HTTP status code (429, 503...).
            detail=_("Google Wallet answered %(status)s; retrying.") % {"status": status},
        )
    # Translators: %(status)s is an HTTP status code; %(message)s is Google's explanation, in
    # English.
    detail = _("Google Wallet refused the message (%(status)s): %(message)s") % {
        "status": status,
        "message": _error_message(answer),
    }
    return DeliveryResult(Outcome.FAILED, status, detail=detail)
