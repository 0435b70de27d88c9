"""A small fixed-window rate limiter on Django's cache, for the public (customer) forms.

Each (scope, identity) pair gets a counter per window of ``window`` seconds; the attempt that
makes the counter pass ``limit`` is refused, and so is every later one until the window ends.
Identities (an IP address, a card id, an email) are hashed so no personal data sits in cache
keys. The cache is the ``ratelimit`` alias when configured, else ``default``; with several
processes it must be a shared cache (Redis), not local memory, for the limits to be global.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.http import HttpRequest

_GENERATION_KEY = "ratelimit:generation"


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window: int  # seconds


def _cache() -> BaseCache:
    return caches["ratelimit" if "ratelimit" in settings.CACHES else "default"]


def _generation(cache: BaseCache) -> int:
    return int(cache.get_or_set(_GENERATION_KEY, 0, timeout=None) or 0)


def hit(rule: Limit, identity: str) -> bool:
    """Count one attempt; True while within the limit, False once over it."""
    cache = _cache()
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    bucket = int(time.time()) // rule.window
    key = f"ratelimit:{_generation(cache)}:{rule.scope}:{digest}:{bucket}"
    # add() is atomic: the first attempt of a window creates the counter, later ones incr it.
    if cache.add(key, 1, timeout=rule.window + 1):
        return rule.limit >= 1
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=rule.window + 1)
        count = 1
    return count <= rule.limit


def allowed(*checks: tuple[Limit, str]) -> bool:
    """Count the attempt against every (rule, identity); refused if any is over its limit.

    Every rule is counted even when an earlier one refuses, so hammering one scope cannot be
    used to keep another's counter low.
    """
    results = [hit(rule, identity) for rule, identity in checks]
    return all(results)


def client_ip(request: HttpRequest) -> str:
    """The connecting address. Behind a proxy, the proxy must set REMOTE_ADDR for us (gunicorn
    with ``--forwarded-allow-ips`` does not); trusting X-Forwarded-For blindly would let anyone
    pick a fresh identity per request."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def reset() -> None:
    """Forget every counter (tests): old keys become unreachable and expire on their own,
    which works on any cache backend without flushing what else the cache holds."""
    cache = _cache()
    _generation(cache)
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:
        cache.set(_GENERATION_KEY, 1, timeout=None)
