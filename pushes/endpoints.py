"""Where a push may be sent: the one place that decides which addresses a push endpoint may
reach, and the HTTP client that connects only there.

A push endpoint is a URL the customer's browser hands us, so it is untrusted: left alone, it
could point the server at anything its network reaches (a database port, a cloud metadata
service, an admin page on the intranet). So:

- ``endpoint_check`` parses the URL (https only), optionally matches the host against
  ``PUSH_ENDPOINT_HOSTS``, resolves it with the system resolver and refuses it unless EVERY
  address is global. The resolver's own reading of the name is what gets checked, so
  ``127.1``, ``2130706433`` or ``0x7f.1`` are seen as the loopback address they are.
- ``endpoint_post`` sends to the addresses that check returned, and nowhere else: the socket
  connects to a checked address while TLS (SNI, certificate) and the Host header still use
  the name. It never follows a redirect, reads at most ``ANSWER_LIMIT`` bytes of an answer and
  gives up once ``deadline`` seconds have passed, however slowly the server trickles bytes.

The check runs when a device subscribes AND before every send (DNS answers can change in
between). ``PUSH_ALLOW_PRIVATE_ENDPOINTS`` lets development use http and private addresses
(a local push service); ``manage.py check --deploy`` refuses it (``pushes/checks.py``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from django.utils.translation import gettext as _
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.util import connection as urllib3_connection

# An answer's body is never used; read a little so a keep-alive connection can be reused.
ANSWER_LIMIT = 4096
MAX_ENDPOINT_LENGTH = 1000
# Push services embed no address in another (6to4, Teredo): refuse those outright.
_TUNNELLED = (ipaddress.ip_network("2002::/16"), ipaddress.ip_network("2001::/32"))
# NAT64 (DNS64 networks): the IPv4 address inside is the one that counts.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EndpointRefused(Exception):
    """The endpoint may not be used. ``message`` is translated (the active language when it
    was raised); ``temporary`` says a later attempt might succeed (the name did not resolve)."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.temporary = temporary


class DeadlineExceeded(Exception):
    """The push service had not answered when the send's deadline passed."""


@dataclass(frozen=True)
class Endpoint:
    """A checked endpoint: where to connect (``addresses``) and what to ask for."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None


# ---------------------------------------------------------------------------------------------
# Checking


def allow_private() -> bool:
    return bool(getattr(settings, "PUSH_ALLOW_PRIVATE_ENDPOINTS", False))


def endpoint_check(url: str) -> Endpoint:
    """Parse and resolve ``url``; raise ``EndpointRefused`` unless it may be used."""
    private_ok = allow_private()
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise EndpointRefused(_("The push endpoint is too long."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EndpointRefused(_("The push endpoint must be an https URL.")) from None
    schemes = {"https", "http"} if private_ok else {"https"}
    if (
        parts.scheme not in schemes
        or not parts.hostname
        or parts.username is not None
        # Push services' URLs are plain ASCII; anything else could not go in a request line.
        or not url.isascii()
        or any(char.isspace() or not char.isprintable() for char in url)
    ):
        raise EndpointRefused(_("The push endpoint must be an https URL."))
    host = parts.hostname.rstrip(".")
    if not _host_allowed(host):
        raise EndpointRefused(_("The push endpoint is not a known push service."))
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not private_ok and not all(_is_public(address) for address in addresses):
        raise EndpointRefused(_("The push endpoint must be a public host."))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Endpoint(parts.scheme, host, port, target, addresses)


def _host_allowed(host: str) -> bool:
    """With ``PUSH_ENDPOINT_HOSTS`` set, the host must be one of them or a subdomain of one."""
    allowed = getattr(settings, "PUSH_ENDPOINT_HOSTS", None) or []
    if isinstance(allowed, str):  # a single name set by hand instead of a list
        allowed = [allowed]
    suffixes = [entry.strip().lower().strip(".") for entry in allowed if entry.strip(" .")]
    if not suffixes:
        return True
    host = host.lower()
    return any(host == suffix or host.endswith(f".{suffix}") for suffix in suffixes)


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address the system resolver gives for ``host``, in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise EndpointRefused(
            _("The push endpoint's host cannot be found."), temporary=True
        ) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise EndpointRefused(_("The push endpoint's host cannot be found."), temporary=True)
    return addresses


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif any(ip in network for network in _TUNNELLED):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


# ---------------------------------------------------------------------------------------------
# Sending


def endpoint_post(
    endpoint: Endpoint,
    *,
    body: bytes,
    headers: Mapping[str, str],
    connect_timeout: float,
    read_timeout: float,
    deadline: float,
) -> Answer:
    """POST ``body`` to the checked ``endpoint``; the status (and Retry-After) of its answer.

    Raises urllib3's errors when the request fails (``NewConnectionError`` and
    ``ConnectTimeoutError``: it never left) and ``DeadlineExceeded`` when ``deadline`` seconds
    passed before the answer's status arrived.
    """
    with _Deadline(deadline) as watch:
        pool = _pool_for(endpoint)
        remaining = max(watch.remaining(), 0.001)
        try:
            response = pool.urlopen(
                "POST",
                endpoint.target,
                body=body,
                headers=dict(headers),
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=Timeout(
                    connect=min(connect_timeout, remaining), read=min(read_timeout, remaining)
                ),
                preload_content=False,
                decode_content=False,
                release_conn=False,
            )
        except (HTTPError, OSError) as error:
            if watch.expired:
                raise DeadlineExceeded from error
            raise
        answer = Answer(response.status, response.headers.get("Retry-After"))
        # What it says is not kept (staff see the status only); the few bytes read let a
        # short answer leave the connection reusable. A longer one, or one cut off by the
        # deadline, closes it.
        try:
            whole = len(response.read(ANSWER_LIMIT + 1, decode_content=False)) <= ANSWER_LIMIT
        except (HTTPError, OSError):
            whole = False
        if not whole or watch.expired:
            response.close()
        response.release_conn()
    return answer


class _Deadline:
    """Cuts the connection in use when the send's time is up.

    Timeouts apply to each socket operation, so a server sending a byte a second would never
    trigger them; this timer shuts the socket down from outside instead, whatever the request
    is waiting for (connecting, the TLS handshake, the status line, the body)."""

    _current = threading.local()

    def __init__(self, seconds: float) -> None:
        self.expires_at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        # A second descriptor of the socket in use: shutting it down ends the connection for
        # whoever reads it (TLS or plain, the response included), and it stays valid when
        # the connection object lets go of its socket.
        self._socket: socket.socket | None = None
        self._finished = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _Deadline._current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._finished = True
            self._forget()
        _Deadline._current.deadline = None

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._finished:
                return
            self._forget()
            self._socket = socket.socket(fileno=os.dup(sock.fileno()))
            if self.expired:
                self._cut()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            self._cut()

    def _cut(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def _forget(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    @classmethod
    def watch_current(cls, sock: socket.socket | None) -> None:
        """Put the socket a request is about to use under the running send's deadline."""
        deadline: _Deadline | None = getattr(cls._current, "deadline", None)
        if deadline is not None and sock is not None:
            deadline.watch(sock)


class _PinnedHTTPConnection(HTTPConnection):
    """A connection that connects to the checked addresses only, never asking DNS again."""

    def __init__(self, *args: Any, addresses: tuple[str, ...], **kwargs: Any) -> None:
        self._addresses = addresses
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        timed_out: OSError | None = None
        failure: OSError | None = None
        for address in self._addresses:
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                timed_out = error
            except OSError as error:
                failure = error
            else:
                # Before TLS wraps it: the handshake is under the deadline too.
                _Deadline.watch_current(sock)
                return sock
        if failure is None and timed_out is not None:
            raise ConnectTimeoutError(self, f"Connection timed out: {timed_out}")
        raise NewConnectionError(self, f"Failed to establish a new connection: {failure}")

    def request(self, *args: Any, **kwargs: Any) -> None:
        # A kept-alive connection is reused without connecting again.
        _Deadline.watch_current(self.sock)
        super().request(*args, **kwargs)


class _PinnedHTTPSConnection(_PinnedHTTPConnection, HTTPSConnection):
    """The same over TLS: SNI and the certificate's check use the host's name."""


class _PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


# Pools kept per thread and process (a forked worker builds its own), at most this many:
# one per push service host and address set, each holding one keep-alive connection.
_MAX_POOLS = 32
_local = threading.local()


def _pools() -> OrderedDict[tuple[str, str, int, tuple[str, ...]], HTTPConnectionPool]:
    if getattr(_local, "pid", None) != os.getpid():
        _local.pools, _local.pid = OrderedDict(), os.getpid()
    pools: OrderedDict[tuple[str, str, int, tuple[str, ...]], HTTPConnectionPool] = _local.pools
    return pools


def _pool_for(endpoint: Endpoint) -> HTTPConnectionPool:
    """The pool connecting to exactly these addresses (a new set means a new pool)."""
    key = (endpoint.scheme, endpoint.host, endpoint.port, endpoint.addresses)
    pools = _pools()
    pool = pools.pop(key, None)
    if pool is None:
        pool = _new_pool(endpoint)
    pools[key] = pool
    while len(pools) > _MAX_POOLS:
        pools.popitem(last=False)[1].close()
    return pool


def _new_pool(endpoint: Endpoint) -> HTTPConnectionPool:
    if endpoint.scheme == "https":
        return _PinnedHTTPSConnectionPool(
            endpoint.host,
            endpoint.port,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            addresses=endpoint.addresses,
        )
    return _PinnedHTTPConnectionPool(
        endpoint.host, endpoint.port, maxsize=1, addresses=endpoint.addresses
    )
