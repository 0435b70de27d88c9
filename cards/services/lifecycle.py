"""A card's life: issuing, installing, expiring, deleting, and emailing and replacing its link."""

from __future__ import annotations

import datetime
import logging
from typing import Any, Protocol

from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards import rules
from cards.models import (
    Card,
    CardStatus,
    Device,
    Program,
    RetiredCardLink,
    Source,
    new_serial,
    new_token,
)
from cards.rules import LedgerError
from cards.selectors import card_install_url
from cards.services.ledger import ledger_append
from cards.signals import card_changed, card_link_rotated, holder_email_confirmed
from loyalty import clock
from loyalty.actors import Actor
from loyalty.audit import audit_record, log_text
from loyalty.models import AuditAction

logger = logging.getLogger(__name__)
UTM_KEYS = ("source", "medium", "campaign", "term", "content")


# ---------------------------------------------------------------------------------------------
# Lifecycle


class Holder(Protocol):
    """Whom a card is issued to: a CRM customer (cards never import the CRM, see the README)."""

    pk: Any
    merchant_id: Any

    @property
    def full_name(self) -> str: ...


def card_issue(
    *,
    program: Program,
    customer: Holder,
    actor: Actor,
    source: str = Source.DASHBOARD,
    utm: dict[str, str] | None = None,
    referred_by: Card | None = None,
    issued_at: datetime.datetime | None = None,
) -> Card:
    """Issue a card of ``program`` to ``customer`` with its first ledger entry."""
    if program.merchant_id != customer.merchant_id:
        raise LedgerError("program", _("That program belongs to another merchant."))
    if program.archived_at is not None:
        raise LedgerError("program", _("That program is archived; it no longer issues cards."))
    issued_at = issued_at or clock.now()
    utm = utm or {}
    with transaction.atomic():
        card = Card(
            merchant=program.merchant,  # loaded above: the ledger's receivers read its tz
            program=program,
            customer_id=customer.pk,
            holder_name=customer.full_name,
            issued_at=issued_at,
            expires_on=program.expiration_for(
                timezone.localdate(issued_at, timezone=program.merchant.tz)
            ),
            referred_by=referred_by,
            **{f"utm_{key}": (utm.get(key) or "")[:100] for key in UTM_KEYS},
        )
        _save_with_unique_serial(card)
        # The first entry takes the same write path as every later one.
        ledger_append(
            card=card,
            deltas=[rules.issue_delta(program.rule_set())],
            key=f"issue:{card.pk}",
            actor=actor,
            source=source,
            at=issued_at,
        )
    return card


def _save_with_unique_serial(card: Card, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                card.save()
            return
        except IntegrityError as error:
            if "serial" not in str(error) or attempt == attempts - 1:
                raise
            card.serial = new_serial()


def _lock_card(card: Card) -> Card:
    # The merchant and program ride along (unlocked) for is_expired and the audit summary.
    return (
        Card.objects.select_for_update(of=("self",))
        .select_related("merchant", "program")
        .get(pk=card.pk)
    )


def card_delete(*, card: Card, actor: Actor) -> Card:
    """Final: the card refuses every later change and its install link stops working."""
    with transaction.atomic():
        locked = _lock_card(card)
        if locked.is_deleted:
            return locked
        locked.status = CardStatus.DELETED
        locked.deleted_at = clock.now()
        locked.save(update_fields=["status", "deleted_at"])
        card_changed.send(sender=Card, card=locked, at=locked.deleted_at)
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.CARD_DELETED,
            summary=f"Deleted card {locked.serial} of {locked.program.name}",
            details={"serial": locked.serial, "customer_id": locked.customer_id},
        )
    card.status, card.deleted_at = locked.status, locked.deleted_at
    return locked


def card_set_expiration(
    *,
    card: Card,
    expires_on: datetime.date | None,
    actor: Actor,
    may_move_expired: bool = False,
) -> Card:
    """Move (or clear) the expiration date; a date in the past expires the card at once.

    The date of a card that has already expired moves only with ``may_move_expired`` (owners
    and admins): reviving a card brings its balance back into use, so the counter staff
    cannot do it. Staff still extend or shorten a card that is valid today.
    """
    with transaction.atomic():
        locked = _lock_card(card)
        if locked.is_deleted:
            raise LedgerError("expires_on", _("This card was deleted; it cannot be changed."))
        before = locked.expires_on
        if before == expires_on:
            return locked
        if locked.is_expired and not may_move_expired:
            raise LedgerError(
                "expires_on",
                _(
                    "This card has expired. Only an owner or an admin can move its expiration "
                    "date: ask one of them."
                ),
            )
        locked.expires_on = expires_on
        locked.save(update_fields=["expires_on"])
        card_changed.send(sender=Card, card=locked, at=clock.now())
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.CARD_EXPIRATION_CHANGED,
            summary=(
                f"Changed the expiration date of card {locked.serial} from "
                f"{_date_text(before)} to {_date_text(expires_on)}"
            ),
            details={
                "serial": locked.serial,
                "from": before.isoformat() if before else None,
                "to": expires_on.isoformat() if expires_on else None,
            },
        )
    card.expires_on = expires_on
    return locked


def _date_text(day: datetime.date | None) -> str:
    return day.isoformat() if day else "never"


def card_history_export_record(*, card: Card, actor: Actor, rows: int) -> None:
    """Audit a download of a card's history (it names who did what for the customer)."""
    audit_record(
        merchant=card.merchant,
        actor=actor,
        action=AuditAction.CARD_HISTORY_EXPORTED,
        summary=f"Exported the history of card {card.serial} as CSV ({rows} entries)",
        details={"serial": card.serial, "rows": rows},
    )


def card_mark_installed(*, card: Card, device: str) -> Card:
    """Record a device the card is now held on (PWA, Google Wallet, Apple Wallet); a card can
    be on several at once."""
    if device not in INSTALLABLE_DEVICES:
        raise LedgerError("device", _("Unknown device."))
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if locked.is_deleted:
            return locked
        if locked.status == CardStatus.INSTALLED and device in locked.devices:
            return locked
        locked.status = CardStatus.INSTALLED
        if device not in locked.devices:
            locked.devices = [*locked.devices, device]
        locked.installed_at = locked.installed_at or clock.now()
        locked.save(update_fields=["status", "devices", "installed_at"])
    card.status, card.devices = locked.status, locked.devices
    card.installed_at = locked.installed_at
    return locked


def card_mark_removed(*, card: Card, device: str) -> Card:
    """The card left a device kind (the last Apple Wallet holding it unregistered). It stays
    "installed": it was, and its install date is history."""
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if device not in locked.devices:
            return locked
        locked.devices = [d for d in locked.devices if d != device]
        locked.save(update_fields=["devices"])
    card.devices = locked.devices
    return locked


INSTALLABLE_DEVICES = frozenset({Device.PWA, Device.GOOGLE_WALLET, Device.APPLE_WALLET})


# ---------------------------------------------------------------------------------------------
# The card's link


class LinkReason(models.TextChoices):
    """Why a card's link is emailed (the email's wording follows)."""

    RESTORE = "restore", gettext_lazy("The customer asked for their card again")
    NEW_CARD = "new_card", gettext_lazy("A new card on a known customer's record")
    IMPORTED = "imported", gettext_lazy("A card carried over from the merchant's former system")


def card_send_link(*, card: Card, reason: str, replaced: bool = False) -> bool:
    """Email the card's personalized link to the holder's address on file.

    The link carries a signed, expiring confirmation naming the card and the address: opening
    it proves the address is the holder's (``card_confirm_email``). ``replaced`` says the link
    was just replaced (``card_rotate_link``), so the email tells that older links stopped
    working. False when there is no address (the customer then asks at the counter). Plain
    text through Django's email framework: the console in development, the outbox in tests.
    """
    customer = card.customer
    if customer is None or not customer.email:
        return False
    context = {
        "card": card,
        "program": card.program,
        "merchant_name": card.merchant.name,
        "first_name": customer.first_name,
        "link": _confirming_link(card, customer.email),
        "reason": reason,
        "replaced": replaced,
    }
    # In the language the customer joined in, whoever's dashboard sends it.
    with translation.override(customer.language or card.merchant.language):
        subject = " ".join(
            render_to_string("cards/public/email/card_link_subject.txt", context).split()
        )
        body = render_to_string("cards/public/email/card_link_body.txt", context)
    send_mail(subject, body, None, [customer.email])
    return True


# The card page's query parameter that carries an emailed link's confirmation.
CONFIRM_PARAMETER = "confirm"
CONFIRM_SALT = "cards.card-link-email"
# Long enough for an email read a few days late; the link itself keeps working after that,
# it just no longer vouches for the address.
CONFIRM_MAX_AGE = datetime.timedelta(days=14)


def _address_digest(email: str) -> str:
    # Names the address without putting it in URLs (server logs, browser history).
    return salted_hmac(CONFIRM_SALT, email.strip().lower()).hexdigest()[:32]


def _confirming_link(card: Card, email: str) -> str:
    token = signing.dumps({"card": card.pk, "to": _address_digest(email)}, salt=CONFIRM_SALT)
    return f"{card_install_url(card)}?{urlencode({CONFIRM_PARAMETER: token})}"


def card_confirm_email(*, card: Card, token: str) -> bool:
    """The holder opened a link emailed to their address on file: the address is theirs.

    True when ``token`` is a confirmation of this card for the holder's current address, not
    expired; the CRM then records the address as verified (``holder_email_confirmed``). An
    address changed since the email was sent is not confirmed by it.
    """
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:  # also an expired one (SignatureExpired)
        return False
    customer = card.customer
    if not isinstance(data, dict) or data.get("card") != card.pk:
        return False
    if customer is None or not customer.email:
        return False
    if not constant_time_compare(str(data.get("to", "")), _address_digest(customer.email)):
        return False
    with transaction.atomic():
        holder_email_confirmed.send(sender=Card, card=card, email=customer.email, at=clock.now())
    return True


class LinkRotation(models.TextChoices):
    """Why a card's install link was replaced (the audit log says it, in English)."""

    DASHBOARD = "dashboard", gettext_lazy("replaced from the dashboard")
    CARD_PAGE = "card_page", gettext_lazy("replaced by the customer on the card page")
    UNCONFIRMED_EMAIL = (
        "unconfirmed_email",
        gettext_lazy("asked for again with an email address the customer never confirmed"),
    )


# Who replaced a link when nobody is signed in, as the audit log names them.
ROTATION_ACTOR_NAMES = {
    LinkRotation.CARD_PAGE: "Customer (card page)",
    LinkRotation.UNCONFIRMED_EMAIL: "System (join page)",
}


def card_rotate_link(*, card: Card, actor: Actor, reason: str) -> Card:
    """Give the card a new install link; the old one answers 410 on every page under it.

    Whoever held the old link loses the card: the old token is kept as a ``RetiredCardLink``,
    the change is audited, and apps above drop what the old link set up (``card_link_rotated``:
    pushes expires the card's subscriptions). The caller hands the new link to the rightful
    holder (the email on file, the profile, a redirect). ``card`` gets the new token too.
    """
    rotation = LinkRotation(reason)
    with transaction.atomic():
        locked = Card.objects.select_for_update().select_related("merchant").get(pk=card.pk)
        if locked.is_deleted:
            raise LedgerError("card", _("This card was deleted; it cannot be changed."))
        now = clock.now()
        RetiredCardLink.objects.create(card=locked, token=locked.install_token, retired_at=now)
        locked.install_token = new_token()
        locked.save(update_fields=["install_token"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            actor_name=ROTATION_ACTOR_NAMES.get(rotation, "System"),
            action=AuditAction.CARD_LINK_ROTATED,
            summary=(
                f"Replaced the install link of card {locked.serial}: {log_text(rotation.label)}"
            ),
            details={"serial": locked.serial, "reason": rotation.value},
        )
        card_link_rotated.send(sender=Card, card=locked, reason=rotation.value, at=now)
    card.install_token = locked.install_token
    return locked
