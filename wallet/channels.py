"""The wallet channels of ``pushes``: a message from the Send push tab to a card held in a
wallet. Registered into ``pushes.channels.CHANNELS`` by ``WalletConfig.ready``; pushes keeps
the at-most-once bookkeeping, a channel makes one attempt and says what happened.
"""

from __future__ import annotations

from pushes.channels import DeliveryResult
from pushes.models import Channel, PushMessage, PushSubscription
from wallet.services import apple, google


class AppleWalletChannel:
    """Apple Wallet shows a message as a changed pass field with a ``changeMessage``: the
    pass gets the text, then its device is told (APNs) to fetch it."""

    name: str = Channel.APPLE_WALLET.value

    def send(self, message: PushMessage, subscription: PushSubscription) -> DeliveryResult:
        return apple.apple_message_send(message=message, subscription=subscription)


class GoogleWalletChannel:
    """Google Wallet shows a message added to the object with a notification."""

    name: str = Channel.GOOGLE_WALLET.value

    def send(self, message: PushMessage, subscription: PushSubscription) -> DeliveryResult:
        return google.google_message_send(message=message, subscription=subscription)
