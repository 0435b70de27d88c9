"""Every write of the pushes app. Callers import from ``pushes.services``.

- ``subscriptions``: a device subscribing from the card page, and a subscription ending.
- ``messages``: messages to one card, created, edited and cancelled from the Send push tab.
- ``delivery``: the dispatcher (the beat tick) and sending pairs in batches, each at most once.
- ``campaigns`` (imported as a module): campaigns, their start and the message rules.
- ``automatic`` (imported as a module): programs' automatic messages and their triggers.
"""

from __future__ import annotations

from pushes.services.delivery import (
    INTERRUPTED,
    SEND_DELIVERIES_TASK,
    SEND_DELIVERY_TASK,
    DispatchReport,
    deliveries_not_yet_due,
    deliveries_send,
    delivery_send,
    delivery_wait,
    messages_dispatch_due,
)

# Not public: the dispatcher tests queue every pair a second time through it, as a beat
# restart or a redelivered task would.
from pushes.services.delivery import _enqueue as _enqueue
from pushes.services.messages import (
    DISPATCH_TASK,
    cannot_receive_reason,
    message_cancel,
    message_create,
    message_update,
    not_editable_error,
)
from pushes.services.subscriptions import subscription_expire, subscription_save

__all__ = [
    "DISPATCH_TASK",
    "INTERRUPTED",
    "SEND_DELIVERIES_TASK",
    "SEND_DELIVERY_TASK",
    "DispatchReport",
    "cannot_receive_reason",
    "deliveries_not_yet_due",
    "deliveries_send",
    "delivery_send",
    "delivery_wait",
    "message_cancel",
    "message_create",
    "message_update",
    "messages_dispatch_due",
    "not_editable_error",
    "subscription_expire",
    "subscription_save",
]
