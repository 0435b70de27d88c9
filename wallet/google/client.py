"""The Google Wallet REST API (``walletobjects/v1``), the few calls the wallet makes.

Requests go through google-auth's ``AuthorizedSession``: it gets an OAuth 2.0 access token
from the service account key's ``token_uri`` (a JWT-bearer grant signed with the key), sends
it as ``Authorization: Bearer``, and on a 401 fetches a fresh token and sends the request
once more. Each call returns the answer's status and JSON, whatever the status; the services
decide what it means. Redirects are never followed (the API has no reason to send one).

Two failures are told apart, because they mean different things for a message: the request
never left (``ApiUnreachable``: safe to send again) or it left and the answer never came
(``ApiBrokenOff``: it may have been applied).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession
from urllib3.exceptions import MaxRetryError, NewConnectionError

from wallet import conf
from wallet.google.credentials import GoogleCredentials, google_credentials


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    data: dict[str, Any] = field(default_factory=dict)
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ApiError(Exception):
    """No answer from the API; ``str()`` is a technical description, in English."""


class ApiUnreachable(ApiError):
    """The request was never sent (no connection, no access token)."""


class ApiBrokenOff(ApiError):
    """The request was sent, but no complete answer came back."""


_sessions = threading.local()


def _session(credentials: GoogleCredentials) -> AuthorizedSession:
    """One keep-alive session per thread and per credentials (tests switch keys)."""
    cached: tuple[GoogleCredentials, AuthorizedSession] | None = getattr(_sessions, "pair", None)
    if cached is not None and cached[0] is credentials:
        return cached[1]
    if cached is not None:
        cached[1].close()
    timeout = (conf.get("WALLET_CONNECT_TIMEOUT"), conf.get("WALLET_READ_TIMEOUT"))
    session = AuthorizedSession(credentials.credentials, refresh_timeout=timeout[1])
    _sessions.pair = (credentials, session)
    return session


def _never_sent(error: requests.RequestException) -> bool:
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        reason = error.args[0] if error.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError)
    return False


def _request(method: str, path: str, body: dict[str, Any] | None = None) -> ApiAnswer:
    session = _session(google_credentials())
    url = f"{settings.GOOGLE_WALLET_API_URL}/{path}"
    timeout = (conf.get("WALLET_CONNECT_TIMEOUT"), conf.get("WALLET_READ_TIMEOUT"))
    try:
        response = session.request(method, url, json=body, timeout=timeout, allow_redirects=False)
    except (auth_exceptions.RefreshError, auth_exceptions.TransportError) as error:
        raise ApiUnreachable(f"no access token from the token endpoint: {error}") from error
    except requests.RequestException as error:
        if _never_sent(error):
            raise ApiUnreachable(f"could not connect: {error}") from error
        raise ApiBrokenOff(f"no answer: {error}") from error
    return ApiAnswer(
        status=response.status_code,
        data=_json(response),
        retry_after=response.headers.get("Retry-After"),
    )


def _json(response: requests.Response) -> dict[str, Any]:
    if "json" not in response.headers.get("Content-Type", ""):
        return {}
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _id(resource_id: str) -> str:
    return quote(resource_id, safe="")


# ---------------------------------------------------------------------------------------------
# loyaltyClass


def class_insert(body: dict[str, Any]) -> ApiAnswer:
    return _request("POST", "loyaltyClass", body)


def class_patch(class_id: str, body: dict[str, Any]) -> ApiAnswer:
    return _request("PATCH", f"loyaltyClass/{_id(class_id)}", body)


# ---------------------------------------------------------------------------------------------
# loyaltyObject


def object_insert(body: dict[str, Any]) -> ApiAnswer:
    return _request("POST", "loyaltyObject", body)


def object_get(object_id: str) -> ApiAnswer:
    return _request("GET", f"loyaltyObject/{_id(object_id)}")


def object_patch(object_id: str, body: dict[str, Any]) -> ApiAnswer:
    return _request("PATCH", f"loyaltyObject/{_id(object_id)}", body)


def object_add_message(object_id: str, message: dict[str, Any]) -> ApiAnswer:
    """Answers ``{"resource": <the LoyaltyObject>}`` when it worked."""
    return _request("POST", f"loyaltyObject/{_id(object_id)}/addMessage", {"message": message})
