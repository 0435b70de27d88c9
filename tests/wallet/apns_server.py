"""A local stand-in for Apple's push gateway (APNs) on 127.0.0.1, speaking what APNs speaks:
HTTP/2 only (ALPN ``h2``), over TLS that REQUIRES a client certificate issued under the CAs
it is given (the pass certificate's chain), to ``POST /3/device/<token>``.

Like APNs it refuses a request without ``apns-topic`` (``MissingTopic``), a topic other than the
one the client certificate was issued for (``TopicDisallowed``, read from its UID), an empty or
non-JSON payload (``PayloadEmpty``, ``BadPayload``), a bad path or method; it answers every
request with an ``apns-id`` (the one sent, else a fresh UUID). Otherwise it answers from a
script: ``reply(...)`` queues answers for any device, ``reply_for(token, ...)`` for one; with
nothing queued it answers 200. ``DROP`` closes the connection without answering.

Every request is recorded (``requests``): method, path, headers, body, the client
certificate's subject and the protocol negotiated. Handshakes it refused are in ``refused``.

The server's own certificate (for the IP address 127.0.0.1) is issued by a CA generated here;
clients trust it through ``ca_file``.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Reply:
    status: int = 200
    # APNs's reason for a refusal, sent as {"reason": ...}.
    reason: str = ""
    retry_after: str | None = None
    # Close the connection instead of answering (the request arrived; no answer leaves).
    drop: bool = False


OK = Reply(200)
UNREGISTERED = Reply(410, "Unregistered")
BAD_DEVICE_TOKEN = Reply(400, "BadDeviceToken")
TOO_MANY = Reply(429, "TooManyRequests")
SERVER_ERROR = Reply(500, "InternalServerError")
DROP = Reply(0, drop=True)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    # The client certificate's subject, e.g. {"userId": "pass.x.y", "commonName": "..."}.
    client_subject: dict[str, str]
    # The protocol agreed by ALPN ("h2").
    protocol: str
    status: int
    # The apns-id answered (the one sent, else a fresh UUID).
    apns_id: str

    @property
    def push_token(self) -> str:
        return self.path.removeprefix("/3/device/")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "APNs stand-in"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _server_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA, server certificate, server key) files: a CA and a certificate for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("APNs stand-in CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    paths = directory / "apns-ca.pem", directory / "apns-server.pem", directory / "apns-key.pem"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(server.public_bytes(pem))
    paths[2].write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def _subject(certificate: dict[str, Any]) -> dict[str, str]:
    return {key: value for rdn in certificate.get("subject", ()) for key, value in rdn}


class APNsServer:
    def __init__(self, *, client_ca_files: list[str], directory: Path) -> None:
        ca, certificate, key = _server_certificates(directory)
        self.ca_file = str(ca)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        # Like APNs: no client certificate of the right chain, no connection.
        self.context.verify_mode = ssl.CERT_REQUIRED
        for ca_file in client_ca_files:
            self.context.load_verify_locations(cafile=ca_file)
        self.context.set_alpn_protocols(["h2"])
        self.requests: list[Received] = []
        self.refused: list[str] = []
        self.connections = 0
        self._script: deque[Reply] = deque()
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    # -- the script -------------------------------------------------------------------------

    def reply(self, *replies: Reply) -> None:
        """The next answers, to any device."""
        with self._lock:
            self._script.extend(replies)

    def reply_for(self, push_token: str, *replies: Reply) -> None:
        """The next answers to this device (before the general script)."""
        with self._lock:
            self._scripts.setdefault(push_token, deque()).extend(replies)

    def _next_reply(self, push_token: str) -> Reply:
        with self._lock:
            queue = self._scripts.get(push_token)
            if queue:
                return queue.popleft()
            return self._script.popleft() if self._script else OK

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    # -- serving ----------------------------------------------------------------------------

    def __enter__(self) -> APNsServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                raw, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            tls = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as error:
            with self._lock:
                self.refused.append(str(error))
            raw.close()
            return
        with self._lock:
            self._open.add(tls)
        try:
            self._speak_h2(tls)
        except (OSError, h2.exceptions.ProtocolError) as error:
            # A client certificate refused after a TLS 1.3 handshake shows up here.
            if isinstance(error, ssl.SSLError):
                with self._lock:
                    self.refused.append(str(error))
        finally:
            with self._lock:
                self._open.discard(tls)
            tls.close()

    def _speak_h2(self, tls: ssl.SSLSocket) -> None:
        connection = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        connection.initiate_connection()
        tls.sendall(connection.data_to_send())
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        while not self._stopping.is_set():
            data = tls.recv(65535)
            if not data:
                return
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    headers = {str(name): str(value) for name, value in event.headers or []}
                    streams[event.stream_id] = (headers, bytearray())
                elif isinstance(event, h2.events.DataReceived):
                    streams[event.stream_id][1].extend(event.data or b"")
                    connection.acknowledge_received_data(
                        event.flow_controlled_length or 0, event.stream_id
                    )
                elif isinstance(event, h2.events.StreamEnded):
                    headers, body = streams.pop(event.stream_id)
                    if not self._answer(connection, tls, event.stream_id, headers, bytes(body)):
                        return
                elif isinstance(event, h2.events.ConnectionTerminated):
                    tls.sendall(connection.data_to_send())
                    return
            tls.sendall(connection.data_to_send())

    def _answer(
        self,
        connection: h2.connection.H2Connection,
        tls: ssl.SSLSocket,
        stream_id: int,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        """Answer one request; False when the connection is to be dropped instead."""
        path = headers.get(":path", "")
        subject = _subject(tls.getpeercert() or {})
        reply = self._refusal(headers, body, subject) or self._next_reply(
            path.removeprefix("/3/device/")
        )
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        with self._lock:
            self.requests.append(
                Received(
                    method=headers.get(":method", ""),
                    path=path,
                    headers={k: v for k, v in headers.items() if not k.startswith(":")},
                    body=body,
                    client_subject=subject,
                    protocol=tls.selected_alpn_protocol() or "",
                    status=reply.status,
                    apns_id=apns_id,
                )
            )
        if reply.drop:
            return False
        response_headers = [(":status", str(reply.status)), ("apns-id", apns_id)]
        if reply.retry_after is not None:
            response_headers.append(("retry-after", reply.retry_after))
        if reply.status == 200:
            connection.send_headers(stream_id, response_headers, end_stream=True)
            return True
        answer: dict[str, Any] = {"reason": reply.reason}
        if reply.status == 410:
            answer["timestamp"] = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
        payload = json.dumps(answer).encode()
        response_headers += [
            ("content-type", "application/json"),
            ("content-length", str(len(payload))),
        ]
        connection.send_headers(stream_id, response_headers)
        connection.send_data(stream_id, payload, end_stream=True)
        return True

    @staticmethod
    def _refusal(headers: dict[str, str], body: bytes, subject: dict[str, str]) -> Reply | None:
        """What APNs itself refuses, whatever the script says."""
        if headers.get(":method") != "POST":
            return Reply(405, "MethodNotAllowed")
        if not headers.get(":path", "").startswith("/3/device/"):
            return Reply(404, "BadPath")
        topic = headers.get("apns-topic")
        if not topic:
            return Reply(400, "MissingTopic")
        if topic != subject.get("userId"):
            return Reply(400, "TopicDisallowed")
        if not body:
            return Reply(400, "PayloadEmpty")
        try:
            payload = json.loads(body)
        except ValueError:
            return Reply(400, "BadPayload")
        if not isinstance(payload, dict):
            return Reply(400, "BadPayload")
        if len(body) > 4096:
            return Reply(413, "PayloadTooLarge")
        return None
