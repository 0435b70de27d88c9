"""How the wallet app reacts to changes in cards and in the merchant (connected in
``WalletConfig.ready``).

Each receiver runs inside the transaction that changed the card, so the pass's new version
commits with the change; the APNs push and the Google PATCH are queued after commit.
"""

from __future__ import annotations

import datetime
from typing import Any

from cards.models import Card, Device, Program
from cards.services import card_mark_removed
from loyalty.models import Merchant
from wallet.models import AppleRegistration, WalletPass
from wallet.services import wallet_pass_rotate_token, wallet_passes_mark_updated
from wallet.services.google import google_object_retire

WALLET_DEVICES = frozenset({Device.APPLE_WALLET, Device.GOOGLE_WALLET})


def _held_in_a_wallet(card: Card) -> bool:
    # The card row is at hand: a card in no wallet (most of them) costs no query at all.
    return bool(WALLET_DEVICES.intersection(card.devices))


def card_entries_recorded(sender: Any, *, card: Card, **kwargs: Any) -> None:
    if _held_in_a_wallet(card):
        wallet_passes_mark_updated(passes=WalletPass.objects.filter(card_id=card.pk))


def card_changed(sender: Any, *, card: Card, **kwargs: Any) -> None:
    """The expiration date moved, or the card was deleted (its pass becomes void)."""
    if _held_in_a_wallet(card):
        wallet_passes_mark_updated(passes=WalletPass.objects.filter(card_id=card.pk))


def program_changed(sender: Any, *, program: Program, **kwargs: Any) -> None:
    """Design or rules changed: every pass of the program is issued again."""
    wallet_passes_mark_updated(passes=WalletPass.objects.filter(card__program_id=program.pk))


def merchant_changed(sender: Any, *, merchant: Merchant, **kwargs: Any) -> None:
    """The merchant's contact details changed: every pass of the merchant shows them."""
    wallet_passes_mark_updated(passes=WalletPass.objects.filter(merchant_id=merchant.pk))


def card_link_rotated(
    sender: Any, *, card: Card, reason: str, at: datetime.datetime, **kwargs: Any
) -> None:
    """Whoever held the old link loses the card: the pass's token changes (a device holding
    the old pass can no longer fetch it), its Apple registrations end (pushes expires their
    subscriptions in the same transaction) and its Google object is withdrawn (INACTIVE). The
    rightful holder adds the card again from the new link."""
    wallet_pass_rotate_token(card=card)
    AppleRegistration.objects.filter(wallet_pass__card_id=card.pk).delete()
    if Device.APPLE_WALLET in card.devices:
        card_mark_removed(card=card, device=Device.APPLE_WALLET)
    google_object_retire(card=card)
