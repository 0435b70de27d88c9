"""Every write of the wallet app. Callers import from ``wallet.services``.

- ``passes``: a card's pass (created on first request), marked updated when the card changes.
"""

from __future__ import annotations

from wallet.services.apple import apple_device_register, apple_device_unregister
from wallet.services.passes import (
    PASS_CHANGED_TASK,
    wallet_pass_ensure,
    wallet_pass_rotate_token,
    wallet_passes_mark_updated,
    wallet_passes_requeue_behind,
)

__all__ = [
    "PASS_CHANGED_TASK",
    "apple_device_register",
    "apple_device_unregister",
    "wallet_pass_ensure",
    "wallet_pass_rotate_token",
    "wallet_passes_mark_updated",
    "wallet_passes_requeue_behind",
]
