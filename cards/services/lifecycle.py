"""A card's life: issuing, installing, expiring, deleting, and emailing its link."""

from __future__ import annotations

import datetime
import logging
from typing import Any, Protocol

from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards import rules
from cards.models import (
    Card,
    CardStatus,
    Device,
    Program,
    Source,
    new_serial,
)
from cards.rules import LedgerError
from cards.selectors import card_install_url
from cards.services.ledger import ledger_append
from loyalty import clock
from loyalty.actors import Actor

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
            merchant_id=program.merchant_id,
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


def card_delete(*, card: Card, actor: Actor) -> Card:
    """Final: the card refuses every later change and its install link stops working."""
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if locked.is_deleted:
            return locked
        locked.status = CardStatus.DELETED
        locked.deleted_at = clock.now()
        locked.save(update_fields=["status", "deleted_at"])
    card.status, card.deleted_at = locked.status, locked.deleted_at
    return locked


def card_set_expiration(*, card: Card, expires_on: datetime.date | None, actor: Actor) -> Card:
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if locked.is_deleted:
            raise LedgerError("expires_on", _("This card was deleted; it cannot be changed."))
        locked.expires_on = expires_on
        locked.save(update_fields=["expires_on"])
    card.expires_on = expires_on
    return locked


def card_mark_installed(*, card: Card, device: str) -> Card:
    """Record the device a card was installed on (PWA, Google Wallet, Apple Wallet)."""
    if device not in {Device.PWA, Device.GOOGLE_WALLET, Device.APPLE_WALLET}:
        raise LedgerError("device", _("Unknown device."))
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        if locked.is_deleted:
            return locked
        locked.status = CardStatus.INSTALLED
        locked.device = device
        locked.installed_at = locked.installed_at or clock.now()
        locked.save(update_fields=["status", "device", "installed_at"])
    return locked


# ---------------------------------------------------------------------------------------------
# The card's link


class LinkReason(models.TextChoices):
    """Why a card's link is emailed (the email's wording follows)."""

    RESTORE = "restore", gettext_lazy("The customer asked for their card again")
    NEW_CARD = "new_card", gettext_lazy("A new card on a known customer's record")


def card_send_link(*, card: Card, reason: str) -> bool:
    """Email the card's personalized link to the holder's address on file.

    False when there is no address (the customer then asks at the counter). Plain text through
    Django's email framework: the console in development, the outbox in tests.
    """
    customer = card.customer
    if customer is None or not customer.email:
        return False
    context = {
        "card": card,
        "program": card.program,
        "merchant_name": card.merchant.name,
        "first_name": customer.first_name,
        "link": card_install_url(card),
        "reason": reason,
    }
    # In the language the customer joined in, whoever's dashboard sends it.
    with translation.override(customer.language or card.merchant.language):
        subject = " ".join(
            render_to_string("cards/public/email/card_link_subject.txt", context).split()
        )
        body = render_to_string("cards/public/email/card_link_body.txt", context)
    send_mail(subject, body, None, [customer.email])
    return True
