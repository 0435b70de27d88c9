"""Tunables of push sending, each overridable from Django settings (``PUSH_*``).

Read through functions, not module constants, so tests and a worker started with other
settings see their own values.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS: dict[str, float] = {
    # How long the push service keeps a message for an offline device.
    "PUSH_TTL_SECONDS": 24 * 60 * 60,
    # (connect, read) timeouts of one request to a push service.
    "PUSH_CONNECT_TIMEOUT": 5.0,
    "PUSH_READ_TIMEOUT": 10.0,
    # ... and one request in all, however slowly the push service trickles its answer.
    "PUSH_SEND_DEADLINE": 15.0,
    # 429 and 5xx answers are retried up to this many attempts in all ...
    "PUSH_MAX_ATTEMPTS": 5,
    # ... with exponential backoff from this base when the service gives no Retry-After ...
    "PUSH_BACKOFF_BASE": 30.0,
    # ... and never waiting longer than this: a later push is stale, so it fails instead.
    "PUSH_MAX_RETRY_DELAY": 60 * 60,
    # A pending delivery whose task was queued this long ago is queued again by the tick
    # (a lost or stuck broker message); the pair's claim makes a duplicate task harmless.
    "PUSH_REQUEUE_AFTER": 60.0,
    # A delivery still "sending" this long after its claim was interrupted (worker killed).
    # It must exceed the send deadline by a wide margin.
    "PUSH_SENDING_TIMEOUT": 120.0,
    # Messages claimed per beat tick.
    "PUSH_DISPATCH_BATCH": 200,
    # Pairs per sending task: claimed, read and written together ...
    "PUSH_SEND_BATCH": 100,
    # ... with their answers written every this many requests (and at the batch's end). A
    # worker killed in between leaves those pairs "unknown": sent once, never resent.
    "PUSH_RESULT_FLUSH": 25,
    # Live devices per card; a new one past it ends the least recently refreshed.
    "PUSH_MAX_DEVICES_PER_CARD": 10,
}


def get(name: str) -> float:
    return float(getattr(settings, name, DEFAULTS[name]))


def get_int(name: str) -> int:
    return int(get(name))


def dev_inbox_url() -> str:
    """The development push inbox's URL (``python3 dev.py run`` starts one); "" when there is
    none or DEBUG is off: then its page does not exist and no link leads to it."""
    if not settings.DEBUG:
        return ""
    return str(getattr(settings, "PUSH_DEV_INBOX_URL", "") or "")
