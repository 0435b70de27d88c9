"""A local Web Push service for development and tests: a mail catcher for pushes.

It plays the browser vendor's push service AND the browser: for every subscription it holds a
real P-256 key pair and auth secret, so it checks each request the way a push service does
(RFC 8030 and 8292: a VAPID JWT signed ES256, for this origin, not expired; TTL, Urgency,
Topic; ``Content-Encoding: aes128gcm``) and then decrypts the body the way the browser does
(RFC 8291). Nothing here needs Django, so it also runs on its own::

    python -m pushes.devinbox [--port N] [--state FILE] [--vapid-public-key KEY]

``python3 dev.py run`` starts it that way and names it to the web server, worker and beat in
``PUSH_DEV_INBOX_URL``; ``seed_demo`` subscribes a few demo cards to it, and the dashboard's
development page (``pushes.views.devinbox``) shows what it received. Its HTTP interface, on
127.0.0.1 only:

- ``POST /push/<id>``: a push message for one subscription (what pywebpush sends);
- ``POST /subscriptions``: a new subscription, answered like a browser's
  ``PushSubscription.toJSON()`` (``endpoint`` and ``keys``); the private half stays here;
- ``GET /subscriptions``: the endpoints it holds keys for;
- ``GET /messages``: what it received, decrypted, newest first.

With ``--state`` the subscriptions' keys are kept in that file, so the demo cards subscribed
on an earlier run still reach it; messages are kept in memory only. ``host`` names the service
in its endpoints, ``tls`` serves https with that context (``server_names`` records the names
asked for by SNI); ``connections`` counts every TCP connection accepted.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import ssl
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

URGENCIES = {"very-low", "low", "normal", "high"}
TOPIC_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
PUSH_PATH = "/push/"
# Messages a long-running inbox keeps (the oldest go first).
KEEP_MESSAGES = 500
# Seconds a client of the inbox waits for its answer.
CLIENT_TIMEOUT = 3.0


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Reply:
    """How the service answers one push request."""

    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)


CREATED = Reply(201)


@dataclass
class InboxSubscription:
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


class PushInbox:
    """The push service: subscriptions, the checks of every request, what it received.

    ``vapid_public_key`` is the site's key every request must be signed with; None accepts
    any key whose signature verifies (the inbox of ``dev.py run`` does not know the site's).
    """

    def __init__(
        self,
        vapid_public_key: str | None = None,
        *,
        verify_every: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        state_file: Path | None = None,
        keep: int | None = None,
    ) -> None:
        self.vapid_public_key = vapid_public_key
        self.host = host
        self.scheme = "https" if tls else "http"
        self.server_names: list[str | None] = []
        # The benchmark checks a sample so the push service is not what it measures.
        self.verify_every = max(1, verify_every)
        self.state_file = state_file
        self.keep = keep
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._subscriptions: dict[str, InboxSubscription] = {}
        self._scripts: dict[str, list[Reply]] = {}
        self._received: list[Received] = []
        self._count = 0
        self.connections = 0
        self._server = _CountingServer(("127.0.0.1", port), _handler_for(self), service=self)
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._load_state()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        port = self._server.server_address[1]
        return f"{self.scheme}://{self.host}:{port}"

    def start(self) -> PushInbox:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PushInbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- subscriptions -----------------------------------------------------------------------

    def subscribe(self, *replies: Reply) -> InboxSubscription:
        """A new browser subscription answering ``replies`` in order, then 201 forever."""
        sub_id = b64url(os.urandom(12))
        subscription = InboxSubscription(
            id=sub_id,
            endpoint=self._endpoint(sub_id),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        with self._lock:
            self._subscriptions[sub_id] = subscription
            self._scripts[sub_id] = list(replies)
            self._save_state()
        return subscription

    def endpoints(self) -> list[str]:
        with self._lock:
            return [s.endpoint for s in self._subscriptions.values()]

    def _endpoint(self, sub_id: str) -> str:
        return f"{self.origin}{PUSH_PATH}{sub_id}"

    def _load_state(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        saved = json.loads(self.state_file.read_text())
        for sub_id, keys in saved.get("subscriptions", {}).items():
            secret = int.from_bytes(b64url_decode(keys["private_key"]), "big")
            self._subscriptions[sub_id] = InboxSubscription(
                id=sub_id,
                endpoint=self._endpoint(sub_id),
                private_key=ec.derive_private_key(secret, ec.SECP256R1()),
                auth_secret=b64url_decode(keys["auth"]),
            )

    def _save_state(self) -> None:
        """Called with the lock held."""
        if self.state_file is None:
            return
        keys = {
            sub_id: {
                "private_key": b64url(
                    s.private_key.private_numbers().private_value.to_bytes(32, "big")
                ),
                "auth": s.auth,
            }
            for sub_id, s in self._subscriptions.items()
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_file.with_suffix(".tmp")
        partial.write_text(json.dumps({"subscriptions": keys}))
        partial.chmod(0o600)
        partial.replace(self.state_file)

    # -- what happened -----------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def received_for(self, subscription: InboxSubscription) -> list[Received]:
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

    def messages(self) -> list[dict[str, Any]]:
        """What ``GET /messages`` answers: every request received, newest first."""
        return [
            {
                "endpoint": self._endpoint(r.subscription_id),
                "received_at": datetime.datetime.fromtimestamp(r.at, datetime.UTC).isoformat(),
                "ttl": r.headers.get("ttl", ""),
                "urgency": r.headers.get("urgency", ""),
                "topic": r.headers.get("topic", ""),
                "status": r.answered,
                "errors": r.errors,
                "payload": r.payload,
            }
            for r in reversed(self.received)
        ]

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
                if self.keep is not None and len(self._received) > self.keep:
                    del self._received[: len(self._received) - self.keep]
            self._changed.notify_all()

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        sub_id = path.rsplit("/", 1)[-1]
        with self._lock:
            subscription = self._subscriptions.get(sub_id)
            number = self._count
        if subscription is None or not path.startswith(PUSH_PATH):
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

    def answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        """Write ``reply`` to the sender (a stand-in with stranger answers overrides this)."""
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

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
        if self.vapid_public_key is not None and key != self.vapid_public_key:
            return ["the VAPID key is not the site's public key"]
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            signature = b64url_decode(signature_b64)
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b64url_decode(key)
            )
        except ValueError:
            return ["the VAPID token or key is malformed"]
        if header.get("alg") != "ES256" or len(signature) != 64:
            return [f"the VAPID token is not ES256: {header}"]
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
        self, subscription: InboxSubscription, body: bytes, errors: list[str]
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
    def __init__(self, *args: Any, service: PushInbox) -> None:
        self.service = service
        super().__init__(*args)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.service._lock:
            self.service.connections += 1
        return True


def _handler_for(service: PushInbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real push services

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path == "/subscriptions":
                self._json(201, service.subscribe().as_json())
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            service.answer(self, service.handle(self.path, headers, body))

        def do_GET(self) -> None:
            if self.path == "/messages":
                self._json(200, {"messages": service.messages()})
            elif self.path == "/subscriptions":
                self._json(200, {"endpoints": service.endpoints()})
            else:
                self._json(404, {"error": "not found"})

        def _json(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --------------------------------------------------------------------------- clients


def _call(url: str, *, method: str = "GET") -> Any:
    # The inbox's own URL from the settings, never one a user typed; http(s) only.
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the push inbox's URL is not http(s): {url!r}")
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310
    with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as answer:  # noqa: S310
        return json.loads(answer.read().decode("utf-8"))


def inbox_subscribe(inbox_url: str) -> dict[str, Any]:
    """A new subscription at the inbox: ``{"endpoint": ..., "keys": {"p256dh", "auth"}}``."""
    return dict(_call(f"{inbox_url}/subscriptions", method="POST"))


def inbox_endpoints(inbox_url: str) -> set[str]:
    return set(_call(f"{inbox_url}/subscriptions")["endpoints"])


def inbox_messages(inbox_url: str) -> list[dict[str, Any]]:
    """What the inbox received, newest first (raises ``OSError`` when it does not answer)."""
    return list(_call(f"{inbox_url}/messages")["messages"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pushes.devinbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="default: any free port")
    parser.add_argument("--state", type=Path, help="file keeping the subscriptions' keys")
    parser.add_argument("--vapid-public-key", help="accept only this site's key")
    args = parser.parse_args(argv)
    inbox = PushInbox(
        args.vapid_public_key, port=args.port, state_file=args.state, keep=KEEP_MESSAGES
    )
    print(f"push inbox: listening on {inbox.origin}", file=sys.stderr, flush=True)
    try:
        inbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        inbox._server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
