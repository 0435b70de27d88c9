"""A small fixed-window rate limiter on Django's cache, for the public (customer) forms.

Each (scope, identity) pair gets a counter per window of ``window`` seconds; the attempt that
makes the counter pass ``limit`` is refused, and so is every later one until the window ends.
Identities (an IP address, a card id, an email) are hashed so no personal data sits in cache
keys. The cache is the ``ratelimit`` alias when configured, else ``default``; with several
processes it must be a shared cache (Redis), not local memory, for the limits to be global.

When that cache cannot be reached the limiter counts in the process instead (and logs it):
a Redis outage must not turn every public form into an error page, and per-process limits
still hold back a flood, only a few times looser (one counter per worker process).

``client_ip`` is the one answer to "who is asking" for these limits and for the login
throttling (django-axes' ``AXES_CLIENT_IP_CALLABLE``).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.http import HttpRequest
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_GENERATION_KEY = "ratelimit:generation"
# What a Redis that is down, unreachable or refusing writes raises through Django's cache.
_CACHE_ERRORS = (RedisError, OSError)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window: int  # seconds


def _cache() -> BaseCache:
    return caches["ratelimit" if "ratelimit" in settings.CACHES else "default"]


def _generation(cache: BaseCache) -> int:
    return int(cache.get_or_set(_GENERATION_KEY, 0, timeout=None) or 0)


def _shared_count(rule: Limit, digest: str, bucket: int) -> int:
    """This attempt's number in its window, counted in the shared cache."""
    cache = _cache()
    key = f"ratelimit:{_generation(cache)}:{rule.scope}:{digest}:{bucket}"
    # add() is atomic: the first attempt of a window creates the counter, later ones incr it.
    if cache.add(key, 1, timeout=rule.window + 1):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=rule.window + 1)
        return 1


class _LocalCounters:
    """Fixed windows in this process's memory, used only while the shared cache is down."""

    # Bounded so a flood of fresh identities cannot grow the process without limit; when
    # full of live windows it starts over, which at worst lets some attempts through.
    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def count(self, rule: Limit, digest: str, bucket: int) -> int:
        key = (rule.scope, digest, bucket)
        now = time.time()
        with self._lock:
            if key not in self._counts and len(self._counts) >= self.MAX_KEYS:
                self._drop_expired(now)
            count = self._counts.get(key, (0, 0.0))[0] + 1
            self._counts[key] = (count, (bucket + 1) * rule.window)
            return count

    def _drop_expired(self, now: float) -> None:
        self._counts = {key: value for key, value in self._counts.items() if value[1] > now}
        if len(self._counts) >= self.MAX_KEYS:
            self._counts.clear()

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_local = _LocalCounters()


class _Outage:
    """Whether the shared cache is known to be down. While it is, requests count locally
    without trying it again for ``RETRY_AFTER`` seconds: an unreachable host would otherwise
    cost every request a connect timeout. Logged once when it goes and once when it is back."""

    RETRY_AFTER = 5.0

    def __init__(self) -> None:
        self._until = 0.0  # time.monotonic() before which the cache is not tried

    def skip_cache(self) -> bool:
        return time.monotonic() < self._until

    def failed(self, error: Exception) -> None:
        if not self._until:
            logger.warning(
                "Rate-limit cache unreachable (%s); counting in this process until it is back.",
                error,
            )
        self._until = time.monotonic() + self.RETRY_AFTER

    def succeeded(self) -> None:
        if self._until:
            self._until = 0.0
            logger.warning("Rate-limit cache reachable again; counting in the cache.")

    def clear(self) -> None:
        self._until = 0.0


_outage = _Outage()


def _count(rule: Limit, digest: str, bucket: int) -> int:
    if _outage.skip_cache():
        return _local.count(rule, digest, bucket)
    try:
        count = _shared_count(rule, digest, bucket)
    except _CACHE_ERRORS as error:
        _outage.failed(error)
        return _local.count(rule, digest, bucket)
    _outage.succeeded()
    return count


def hit(rule: Limit, identity: str) -> bool:
    """Count one attempt; True while within the limit, False once over it."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    bucket = int(time.time()) // rule.window
    return _count(rule, digest, bucket) <= rule.limit


def allowed(*checks: tuple[Limit, str]) -> bool:
    """Count the attempt against every (rule, identity); refused if any is over its limit.

    Every rule is counted even when an earlier one refuses, so hammering one scope cannot be
    used to keep another's counter low.
    """
    results = [hit(rule, identity) for rule, identity in checks]
    return all(results)


def _ip(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack proxy may write an IPv4 client as ::ffff:a.b.c.d: the same client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: IPAddress, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in proxies)


def client_ip(request: HttpRequest) -> str:
    """The address of the client: REMOTE_ADDR, unless that is a trusted proxy.

    From a proxy in ``settings.TRUSTED_PROXIES``, X-Forwarded-For is read from the right (each
    proxy appends the address it saw), past every trusted proxy, and the first address not
    trusted is the client. Only the proxies' own entries are believed: whatever a client writes
    sits further left. An entry that is not an IP address means a header we cannot read, so
    the answer falls back to REMOTE_ADDR. Never trusting the header from anyone else is what
    keeps a client from picking a fresh identity per request.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    peer = _ip(remote)
    if peer is None:
        return remote  # not an IP (a unix socket): nothing to go on
    proxies = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _is_trusted(peer, proxies):
        return str(peer)
    client = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _ip(hop)
        if address is None:
            return str(peer)
        client = address
        if not _is_trusted(address, proxies):
            break
    # Every hop trusted: the leftmost is the client a trusted proxy reported (an internal one).
    return str(client)


def reset() -> None:
    """Forget every counter (tests): old keys become unreachable and expire on their own,
    which works on any cache backend without flushing what else the cache holds."""
    _local.clear()
    _outage.clear()
    try:
        cache = _cache()
        _generation(cache)
        try:
            cache.incr(_GENERATION_KEY)
        except ValueError:
            cache.set(_GENERATION_KEY, 1, timeout=None)
    except _CACHE_ERRORS:
        pass  # no shared counters to forget
