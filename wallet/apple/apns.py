"""The APNs client of Apple Wallet passes: one HTTP/2 request per notification.

Apple's Wallet push is an empty JSON dictionary posted to ``/3/device/<push token>`` with the
Pass Type ID as ``apns-topic``, over a TLS connection authenticated with the pass certificate
itself (the same one that signs the passes). The payload says nothing: the device asks the
web service which passes changed and downloads them. No ``apns-push-type`` is sent: Apple's
list of push types has none for passes, and the Wallet documentation asks for none.

One ``httpx.Client`` per process and thread keeps its HTTP/2 connection open between
notifications, as Apple asks (a connection per notification is treated as a denial of
service). ``APNS_URL`` is Apple's gateway; ``APNS_CA_FILE`` optionally names the CA bundle
the gateway's certificate is verified with (default: the system's trust store).
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from dataclasses import dataclass

import httpx
from django.conf import settings

from pushes.channels import parse_retry_after
from wallet import conf
from wallet.apple.credentials import apple_tls_client_files


@dataclass(frozen=True)
class APNsAnswer:
    status: int
    apns_id: str = ""
    # Apple's reason for a refusal ("Unregistered", "BadDeviceToken", "TooManyRequests"...).
    reason: str = ""
    retry_after: float | None = None


class APNsUnreachable(Exception):
    """No connection to APNs: the notification never left, so sending it again is safe."""


class APNsNoAnswer(Exception):
    """The notification was sent (or may have been) but no answer came back."""


_ClientKey = tuple[object, ...]
_local = threading.local()


def _client_key() -> _ClientKey:
    # A forked worker process must not share its parent's connection; a changed setting
    # (tests, a renewed certificate) gets a new client.
    return (
        os.getpid(),
        settings.APNS_URL,
        getattr(settings, "APNS_CA_FILE", None),
        apple_tls_client_files(),
        conf.get("WALLET_CONNECT_TIMEOUT"),
        conf.get("WALLET_READ_TIMEOUT"),
    )


def _ssl_context(certificate: str, key: str) -> ssl.SSLContext:
    ca_file = getattr(settings, "APNS_CA_FILE", None)
    context = (
        ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    )
    context.load_cert_chain(certificate, key)
    return context


def _client() -> httpx.Client:
    key = _client_key()
    if getattr(_local, "key", None) != key:
        old = getattr(_local, "client", None)
        if old is not None and getattr(_local, "key", (None,))[0] == os.getpid():
            old.close()
        certificate, private_key = apple_tls_client_files()
        _local.client = httpx.Client(
            # HTTP/2 only: APNs speaks nothing else.
            http1=False,
            http2=True,
            verify=_ssl_context(certificate, private_key),
            timeout=httpx.Timeout(
                conf.get("WALLET_READ_TIMEOUT"), connect=conf.get("WALLET_CONNECT_TIMEOUT")
            ),
            follow_redirects=False,
            trust_env=False,
        )
        _local.key = key
    client: httpx.Client = _local.client
    return client


def close() -> None:
    """Close this thread's connection (tests stopping their APNs stand-in)."""
    client = getattr(_local, "client", None)
    if client is not None:
        client.close()
    _local.client = None
    _local.key = None


def _reason(response: httpx.Response) -> str:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return ""
    reason = body.get("reason", "") if isinstance(body, dict) else ""
    return str(reason)[:200]


def push(*, push_token: str, topic: str) -> APNsAnswer:
    """Tell one device that passes of ``topic`` changed."""
    url = f"{settings.APNS_URL}/3/device/{push_token}"
    headers = {"apns-topic": topic, "content-type": "application/json"}
    try:
        response = _client().post(url, content=b"{}", headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        raise APNsUnreachable(str(error)) from error
    except httpx.TransportError as error:
        # Read or write timeouts, a connection reset or a protocol error mid-request.
        raise APNsNoAnswer(str(error)) from error
    return APNsAnswer(
        status=response.status_code,
        apns_id=response.headers.get("apns-id", "")[:64],
        reason=_reason(response) if response.status_code != 200 else "",
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )
