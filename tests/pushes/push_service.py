"""A local web push service on 127.0.0.1, strict like the real ones.

It plays the browser vendor's push service AND the browser: for every fake subscription it
holds a real P-256 key pair and auth secret, so it can check the request the way a push
service does (VAPID JWT signed ES256 by the expected key, for this origin, not expired; TTL,
Urgency, Topic; ``Content-Encoding: aes128gcm``) and then decrypt the body the way the browser
does (RFC 8291). Each subscription answers from a script: a status with headers, or a hang;
or, as a hostile endpoint would, a huge body or an answer trickled a byte at a time.

``host`` names the service in its endpoints (the tests make that name resolve to 127.0.0.1),
``tls`` serves https with that context (``server_names`` records the names asked for by SNI);
``connections`` counts every TCP connection accepted, whatever came over it.

Used by the tests and by bench/push_throughput.py.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

URGENCIES = {"very-low", "low", "normal", "high"}
TOPIC_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Reply:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    # A body of this many bytes (``BODY_TEXT`` over and over), written as fast as it is taken.
    body_size: int = 0
    # Seconds between single bytes of the answer: from its status line on, or with
    # ``trickle_body`` after the status and headers (sent at once).
    trickle: float = 0.0
    trickle_body: bool = False


# What a hostile endpoint's body says: it must never reach what staff read.
BODY_TEXT = b"INTERNAL-SECRET db-password=hunter2 "


@dataclass
class Answered:
    """How much of a long or trickled answer got written before the sender hung up."""

    total: int
    written: int = 0
    cut: bool = False


CREATED = Reply(201)
HANG = Reply(0, hang=True)


@dataclass
class FakeSubscription:
    """A browser's subscription: what the card page would POST, plus its private half."""

    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def as_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass
class Received:
    subscription_id: str
    headers: dict[str, str]
    payload: dict[str, Any] | None
    answered: int  # 0 for a hang
    errors: list[str]
    at: float


class PushService:
    def __init__(
        self,
        vapid_public_key: str,
        *,
        verify_every: int = 1,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.vapid_public_key = vapid_public_key
        self.host = host
        self.scheme = "https" if tls else "http"
        self.server_names: list[str | None] = []
        # The benchmark checks a sample so the push service is not what it measures.
        self.verify_every = max(1, verify_every)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._subscriptions: dict[str, FakeSubscription] = {}
        self._scripts: dict[str, list[Reply]] = {}
        self._received: list[Received] = []
        self._count = 0
        self.connections = 0
        self.answered: list[Answered] = []
        self._release = threading.Event()
        self._server = _CountingServer(("127.0.0.1", 0), _handler_for(self), service=self)
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        port = self._server.server_address[1]
        return f"{self.scheme}://{self.host}:{port}"

    def start(self) -> PushService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------

    def subscribe(self, *replies: Reply) -> FakeSubscription:
        """A new browser subscription answering ``replies`` in order, then 201 forever."""
        sub_id = b64url(os.urandom(12))
        subscription = FakeSubscription(
            id=sub_id,
            endpoint=f"{self.origin}/push/{sub_id}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        with self._lock:
            self._subscriptions[sub_id] = subscription
            self._scripts[sub_id] = list(replies)
        return subscription

    def release_hangs(self) -> None:
        self._release.set()

    # -- what happened -----------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def received_for(self, subscription: FakeSubscription) -> list[Received]:
        return [r for r in self.received if r.subscription_id == subscription.id]

    def counts(self) -> Counter[str]:
        return Counter(r.subscription_id for r in self.received)

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def errors(self) -> list[str]:
        return [error for r in self.received for error in r.errors]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Block until ``count`` requests arrived (or fail after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._count < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"the push service got {self._count} requests, expected {count}"
                    )
                self._changed.wait(remaining)
            return list(self._received)

    # -- the request -------------------------------------------------------------------------

    def _next_reply(self, sub_id: str) -> Reply:
        with self._lock:
            script = self._scripts.get(sub_id)
            return script.pop(0) if script else CREATED

    def _record(self, received: Received | None) -> None:
        with self._changed:
            self._count += 1
            if received is not None:
                self._received.append(received)
            self._changed.notify_all()

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        sub_id = path.rsplit("/", 1)[-1]
        with self._lock:
            subscription = self._subscriptions.get(sub_id)
            number = self._count
        if subscription is None:
            self._record(Received(sub_id, headers, None, 404, ["unknown endpoint"], time.time()))
            return Reply(404)
        if number % self.verify_every:
            reply = self._next_reply(sub_id)
            self._record(None)
            return reply
        errors: list[str] = []
        self._check_headers(headers, errors)
        payload = self._decrypt(subscription, body, errors)
        reply = Reply(400) if errors else self._next_reply(sub_id)
        self._record(Received(sub_id, headers, payload, reply.status, errors, time.time()))
        return reply

    def _check_headers(self, headers: dict[str, str], errors: list[str]) -> None:
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            errors.append(f"TTL missing or not a number: {ttl!r}")
        if headers.get("urgency") not in URGENCIES:
            errors.append(f"bad Urgency: {headers.get('urgency')!r}")
        topic = headers.get("topic", "")
        if not topic or len(topic) > 32 or set(topic) - TOPIC_ALPHABET:
            errors.append(f"bad Topic: {topic!r}")
        if headers.get("content-encoding") != "aes128gcm":
            errors.append(f"Content-Encoding is {headers.get('content-encoding')!r}")
        errors.extend(self._check_vapid(headers.get("authorization", "")))

    def _check_vapid(self, authorization: str) -> list[str]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return [f"Authorization is not vapid: {authorization[:40]!r}"]
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        token, key = parts.get("t", ""), parts.get("k", "")
        if key != self.vapid_public_key:
            return ["the VAPID key is not the site's public key"]
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            signature = b64url_decode(signature_b64)
        except ValueError:
            return ["the VAPID token is not a JWT"]
        if header.get("alg") != "ES256" or len(signature) != 64:
            return [f"the VAPID token is not ES256: {header}"]
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return ["the VAPID signature does not verify"]
        errors = []
        if claims.get("aud") != self.origin:
            errors.append(f"VAPID aud is {claims.get('aud')!r}, not {self.origin!r}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or not time.time() < exp <= time.time() + 24 * 3600:
            errors.append(f"VAPID exp is not within 24 hours: {exp!r}")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            errors.append(f"VAPID sub is not a contact: {claims.get('sub')!r}")
        return errors

    def _decrypt(
        self, subscription: FakeSubscription, body: bytes, errors: list[str]
    ) -> dict[str, Any] | None:
        if len(body) > 4096:
            errors.append(f"the body is {len(body)} bytes, over 4096")
            return None
        try:
            plain = http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth_secret,
                version="aes128gcm",
            )
            return json.loads(plain.decode("utf-8"))
        except Exception as error:
            errors.append(f"the body does not decrypt: {error!r}")
            return None


class _CountingServer(ThreadingHTTPServer):
    def __init__(self, *args: Any, service: PushService) -> None:
        self.service = service
        super().__init__(*args)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.service._lock:
            self.service.connections += 1
        return True


def _long_answer(service: PushService, sock: Any, reply: Reply) -> None:
    """Write a huge body, or trickle the answer, until done or the sender hangs up."""
    reason = BaseHTTPRequestHandler.responses.get(reply.status, ("",))[0]
    head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in reply.headers.items()
    )
    head += f"Content-Length: {reply.body_size}\r\nConnection: close\r\n\r\n"
    answered = Answered(total=len(head) + reply.body_size)
    with service._lock:
        service.answered.append(answered)
    try:
        for piece in _pieces(head.encode("latin-1"), reply):
            sock.sendall(piece)
            answered.written += len(piece)
            if reply.trickle and service._release.wait(reply.trickle):
                return
    except OSError:
        answered.cut = True


def _pieces(head: bytes, reply: Reply) -> Iterator[bytes]:
    if not reply.trickle:
        yield head
        yield from _body(reply.body_size)
        return
    if reply.trickle_body:
        yield head
    else:
        yield from _bytes_of(head)
    for block in _body(reply.body_size):
        yield from _bytes_of(block)


def _body(size: int) -> Iterator[bytes]:
    block = BODY_TEXT * (64 * 1024 // len(BODY_TEXT))
    for start in range(0, size, len(block)):
        yield block[: size - start]


def _bytes_of(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


def _handler_for(service: PushService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real push services

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = service.handle(self.path, headers, body)
            if reply.hang:
                # Never answer: the sender's read timeout fires. Released at teardown.
                service._release.wait(120)
                self.close_connection = True
                return
            if reply.body_size or reply.trickle:
                _long_answer(service, self.connection, reply)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
