"""A local stand-in for Google's OAuth 2.0 token endpoint and the Google Wallet REST API, on
127.0.0.1, strict like the real ones.

- ``POST /token``: the JWT-bearer grant a service account makes (RFC 7523):
  ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an ``assertion`` signed RS256
  by a trusted key (checked against its public half, by its ``kid``), issued by the key's
  address, for Google's token audience, with the Wallet scope, not expired. Answers an access
  token, as Google does.
- ``/walletobjects/v1/...``: ``loyaltyClass`` (insert, get, patch) and ``loyaltyObject``
  (insert, get, patch, addMessage), each only with ``Authorization: Bearer <a token it
  issued>`` (401 otherwise), checking the JSON bodies' required fields and values, keeping
  classes and objects in memory (a PATCH replaces the fields it names, ``null`` clears one),
  and answering with the resource (or 404, 409, 400 like Google).
- ``save(jwt)`` plays the holder tapping "Save to Google Wallet": the JWT is checked like
  Google's save page does (RS256 by a trusted key, ``aud`` google, ``typ`` savetowallet) and
  its objects are created when missing and marked as held (``hasUsers``).

Every request is recorded; ``answer_next`` scripts the next API answers (401, 429, 500..., or
``HANG_UP``: no answer at all).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from google.auth import crypt, jwt

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# What google-auth puts in the assertion's ``aud``, and what Google's endpoint expects.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
API_PREFIX = "/walletobjects/v1"

RESOURCE_ID = re.compile(r"^(\d+)\.([A-Za-z0-9._-]+)$")
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
REVIEW_STATUSES = {"DRAFT", "UNDER_REVIEW"}
STATES = {"ACTIVE", "COMPLETED", "EXPIRED", "INACTIVE"}
BARCODE_TYPES = {"AZTEC", "CODE_39", "CODE_128", "CODABAR", "DATA_MATRIX", "EAN_8", "EAN_13",
                 "ITF_14", "PDF_417", "QR_CODE", "UPC_A", "TEXT_ONLY"}  # fmt: skip
MESSAGE_TYPES = {"TEXT", "TEXT_AND_NOTIFY", "EXPIRATION_NOTIFICATION"}
BALANCE_KINDS = {"string", "int", "double", "money"}
# ``answer_next(HANG_UP)``: the request is read, then the connection closed without an answer.
HANG_UP = 0


class Invalid(Exception):
    """A request Google would refuse with 400 INVALID_ARGUMENT."""


class SaveRefused(Exception):
    """A save link Google's save page would not accept."""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorization: str
    body: Any
    status: int

    @property
    def bearer(self) -> str:
        return self.authorization.removeprefix("Bearer ")


@dataclass(frozen=True)
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    path_contains: str = ""


@dataclass(frozen=True)
class Account:
    """A service account the stand-in trusts: its address, key id and public key."""

    email: str
    key_id: str
    public_pem: str
    issuer_id: str


def google_error(status: int, message: str, reason: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": reason}}


def _b64_json(part: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def jwt_header(token: str) -> dict[str, Any]:
    return _b64_json(token.split(".")[0])


def save_jwt_claims(token: str, public_pem: str) -> dict[str, Any]:
    """The claims of a save link's JWT once its RS256 signature verifies with ``public_pem``,
    for audience ``google`` (ValueError otherwise). Save JWTs have no ``exp`` (Google's
    reference lists none), which ``google.auth.jwt.decode`` insists on, so the signature is
    checked with google-auth's verifier directly."""
    header, payload, signature = token.split(".")
    if _b64_json(header).get("alg") != "RS256":
        raise ValueError("Not an RS256 JWT.")
    signed = f"{header}.{payload}".encode("ascii")
    raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    if not crypt.RSAVerifier.from_string(public_pem).verify(signed, raw_signature):
        raise ValueError("Could not verify the JWT's signature.")
    claims = _b64_json(payload)
    if claims.get("aud") != "google":
        raise ValueError(f"Audience {claims.get('aud')!r} is not google.")
    return claims


class GoogleWalletStandIn:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, float] = {}
        self.token_grants: list[dict[str, Any]] = []
        self.classes: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self._script: list[Scripted] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stand_in = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.token_uri = f"{self.base_url}/token"
        self.api_url = f"{self.base_url}{API_PREFIX}"

    def __enter__(self) -> GoogleWalletStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- set-up and scripting --------------------------------------------------------------

    def trust(self, key_file: Path, issuer_id: str) -> Account:
        """Accept this service account key (a JSON key file) for ``issuer_id``."""
        info = json.loads(key_file.read_text())
        private = serialization.load_pem_private_key(info["private_key"].encode(), None)
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )
        account = Account(info["client_email"], info["private_key_id"], public_pem, issuer_id)
        with self.lock:
            self.accounts[account.email] = account
        return account

    def answer_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        path_contains: str = "",
    ) -> None:
        """The next ``times`` API requests (with a valid token, and whose path contains
        ``path_contains``) get ``status`` instead of their real answer."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        with self.lock:
            self._script.extend(Scripted(status, headers, path_contains) for _ in range(times))

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (as when one expires early)."""
        with self.lock:
            self.tokens.clear()

    # -- what happened ---------------------------------------------------------------------

    def api_requests(self, method: str = "", path_contains: str = "") -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (not method or r.method == method) and path_contains in r.path
            ]

    def object_patches(self, object_id: str) -> list[Recorded]:
        return self.api_requests("PATCH", f"/loyaltyObject/{object_id}")

    # -- the holder saving a link ----------------------------------------------------------

    def save(self, token: str, *, origin: str = "") -> list[dict[str, Any]]:
        """What Google's save page does with ``https://pay.google.com/gp/v/save/<token>``."""
        header = jwt_header(token)
        if header.get("alg") != "RS256":
            raise SaveRefused(f"alg {header.get('alg')!r}")
        with self.lock:
            by_kid = {a.key_id: a for a in self.accounts.values()}
        account = by_kid.get(header.get("kid", ""))
        if account is None:
            raise SaveRefused(f"unknown key {header.get('kid')!r}")
        try:
            claims = save_jwt_claims(token, account.public_pem)
        except ValueError as error:
            raise SaveRefused(str(error)) from error
        if claims.get("iss") != account.email:
            raise SaveRefused("not issued by the key's service account")
        if not isinstance(claims.get("iat"), int) or claims["iat"] > time.time() + 300:
            raise SaveRefused("iat missing or in the future")
        if claims.get("typ") != "savetowallet":
            raise SaveRefused(f"typ {claims.get('typ')!r}")
        if origin and origin not in claims.get("origins", []):
            raise SaveRefused(f"origin {origin} not allowed")
        payload = claims.get("payload") or {}
        saved = []
        with self.lock:
            for data in payload.get("loyaltyClasses", []):
                if data.get("id") not in self.classes:
                    self._check_class(data, account.issuer_id, insert=True)
                    self.classes[data["id"]] = {"kind": "walletobjects#loyaltyClass", **data}
            for data in payload.get("loyaltyObjects", []):
                stored = self.objects.get(data.get("id", ""))
                if stored is None:
                    self._check_object(data, account.issuer_id, insert=True)
                    stored = {"kind": "walletobjects#loyaltyObject", **data}
                    self.objects[data["id"]] = stored
                stored["hasUsers"] = True
                saved.append(dict(stored))
        return saved

    # -- the token endpoint ----------------------------------------------------------------

    def grant(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type", [""])[0] != JWT_BEARER:
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Invalid grant_type",
            }
        assertion = form.get("assertion", [""])[0]
        try:
            claims = self._verify_assertion(assertion)
        except (ValueError, KeyError, IndexError) as error:
            return 400, {"error": "invalid_grant", "error_description": str(error)}
        token = f"ya29.{secrets.token_urlsafe(32)}"
        with self.lock:
            self.tokens[token] = time.time() + 3599
            self.token_grants.append(claims)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _verify_assertion(self, assertion: str) -> dict[str, Any]:
        header = jwt_header(assertion)
        if header.get("alg") != "RS256":
            raise ValueError("Invalid JWT Signature.")
        with self.lock:
            by_kid = {a.key_id: a for a in self.accounts.values()}
        account = by_kid[header["kid"]]
        claims: dict[str, Any] = jwt.decode(
            assertion, certs=account.public_pem, audience=TOKEN_AUDIENCE
        )
        if claims.get("iss") != account.email:
            raise ValueError("Invalid JWT: iss is not the key's service account.")
        if SCOPE not in str(claims.get("scope", "")).split():
            raise ValueError("Invalid OAuth scope or ID token audience provided.")
        if "exp" not in claims or "iat" not in claims:
            raise ValueError("Invalid JWT: no expiry.")
        return claims

    # -- the API ---------------------------------------------------------------------------

    def authorized(self, authorization: str) -> bool:
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        with self.lock:
            expiry = self.tokens.get(token)
        return expiry is not None and expiry > time.time()

    def scripted(self, path: str) -> Scripted | None:
        with self.lock:
            for index, reply in enumerate(self._script):
                if reply.path_contains in path:
                    return self._script.pop(index)
        return None

    def api(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        route = path.removeprefix(API_PREFIX).strip("/").split("/")
        route = [unquote(part) for part in route]
        with self.lock:
            issuer_ids = {a.issuer_id for a in self.accounts.values()}
            try:
                return self._route(method, route, body, issuer_ids)
            except Invalid as error:
                return 400, google_error(400, str(error), "INVALID_ARGUMENT")

    def _route(
        self, method: str, route: list[str], body: Any, issuer_ids: set[str]
    ) -> tuple[int, dict[str, Any]]:
        kind = route[0] if route else ""
        if kind == "loyaltyClass":
            store, check = self.classes, self._check_class
        elif kind == "loyaltyObject":
            store, check = self.objects, self._check_object
        else:
            return 404, google_error(404, "Not Found", "NOT_FOUND")
        if len(route) == 1 and method == "POST":
            return self._insert(kind, store, check, body, issuer_ids)
        if len(route) == 2 and method in ("GET", "PATCH"):
            resource = store.get(route[1])
            if resource is None:
                return 404, google_error(404, f"Resource not found: {route[1]}", "NOT_FOUND")
            if method == "GET":
                return 200, dict(resource)
            return self._patch(resource, route[1], check, body, issuer_ids)
        if kind == "loyaltyObject" and len(route) == 3 and route[2] == "addMessage":
            if method != "POST":
                return 405, google_error(405, "Method Not Allowed", "METHOD_NOT_ALLOWED")
            return self._add_message(route[1], body)
        return 405, google_error(405, "Method Not Allowed", "METHOD_NOT_ALLOWED")

    def _insert(
        self, kind: str, store: dict[str, Any], check: Any, body: Any, issuer_ids: set[str]
    ) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object.")
        issuer_id = self._issuer_of(body.get("id"), issuer_ids)
        check(body, issuer_id, insert=True)
        if body["id"] in store:
            return 409, google_error(
                409, f"Resource already exists: {body['id']}", "ALREADY_EXISTS"
            )
        if kind == "loyaltyObject" and body["classId"] not in self.classes:
            return 404, google_error(404, f"Class not found: {body['classId']}", "NOT_FOUND")
        resource = {"kind": f"walletobjects#{kind}", **body}
        if kind == "loyaltyObject":
            resource["hasUsers"] = False
        store[body["id"]] = resource
        return 200, dict(resource)

    def _patch(
        self,
        resource: dict[str, Any],
        resource_id: str,
        check: Any,
        body: Any,
        issuer_ids: set[str],
    ) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object.")
        if body.get("id", resource_id) != resource_id:
            raise Invalid("The id in the body does not match the resource's.")
        if "classId" in body and body["classId"] != resource.get("classId", body["classId"]):
            raise Invalid("An object cannot move to another class.")
        check(body, self._issuer_of(resource_id, issuer_ids), insert=False)
        for name, value in body.items():
            if value is None:
                resource.pop(name, None)
            else:
                resource[name] = value
        return 200, dict(resource)

    def _add_message(self, object_id: str, body: Any) -> tuple[int, dict[str, Any]]:
        resource = self.objects.get(object_id)
        if resource is None:
            return 404, google_error(404, f"Resource not found: {object_id}", "NOT_FOUND")
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict):
            raise Invalid("AddMessageRequest needs a message.")
        for name in ("header", "body", "id"):
            if not isinstance(message.get(name), str) or not message[name]:
                raise Invalid(f"message.{name} is required.")
        if message.get("messageType") not in MESSAGE_TYPES:
            raise Invalid(f"message.messageType {message.get('messageType')!r} is invalid.")
        messages = resource.setdefault("messages", [])
        if any(m["id"] == message["id"] for m in messages):
            return 409, google_error(409, "A message with this id exists.", "ALREADY_EXISTS")
        messages.append(message)
        return 200, {"resource": dict(resource)}

    @staticmethod
    def _issuer_of(resource_id: Any, issuer_ids: set[str]) -> str:
        match = RESOURCE_ID.match(resource_id) if isinstance(resource_id, str) else None
        if match is None:
            raise Invalid(f"Invalid resource id {resource_id!r}: expected <issuer id>.<suffix>.")
        if match.group(1) not in issuer_ids:
            raise Invalid(f"Issuer {match.group(1)} is not this service account's.")
        return match.group(1)

    # -- the resources' rules (what the reference marks required, and the enums) ---------

    def _check_class(self, data: dict[str, Any], issuer_id: str, *, insert: bool) -> None:
        if insert:
            for name in ("id", "issuerName", "programName", "programLogo", "reviewStatus"):
                _require(data, name)
        if "reviewStatus" in data and data["reviewStatus"] not in REVIEW_STATUSES:
            raise Invalid(f"reviewStatus {data['reviewStatus']!r} cannot be set.")
        if "programLogo" in data:
            uri = (data["programLogo"].get("sourceUri") or {}).get("uri", "")
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise Invalid(f"programLogo.sourceUri.uri {uri!r} is not an absolute URL.")
        if "hexBackgroundColor" in data and not HEX_COLOR.match(data["hexBackgroundColor"]):
            raise Invalid(f"hexBackgroundColor {data['hexBackgroundColor']!r} is invalid.")
        for name in ("localizedAccountNameLabel", "localizedAccountIdLabel"):
            if name in data:
                _check_localized(data[name], name)

    def _check_object(self, data: dict[str, Any], issuer_id: str, *, insert: bool) -> None:
        if insert:
            for name in ("id", "classId", "state"):
                _require(data, name)
            if self._issuer_of(data["classId"], {issuer_id}) != issuer_id:
                raise Invalid("The class belongs to another issuer.")
        if "state" in data and data["state"] not in STATES:
            raise Invalid(f"state {data['state']!r} is invalid.")
        barcode = data.get("barcode")
        if barcode is not None and barcode.get("type") not in BARCODE_TYPES:
            raise Invalid(f"barcode.type {barcode.get('type')!r} is invalid.")
        for name in ("loyaltyPoints", "secondaryLoyaltyPoints"):
            if data.get(name) is not None:
                kinds = set(data[name].get("balance") or {})
                if len(kinds) != 1 or not kinds <= BALANCE_KINDS:
                    raise Invalid(f"{name}.balance must have exactly one of {BALANCE_KINDS}.")
        for module in data.get("textModulesData") or []:
            if not module.get("header") and not module.get("body"):
                raise Invalid("A text module needs a header or a body.")
        for uri in (data.get("linksModuleData") or {}).get("uris", []):
            if not urlsplit(uri.get("uri", "")).scheme:
                raise Invalid(f"linksModuleData uri {uri.get('uri')!r} is not absolute.")
        interval = data.get("validTimeInterval")
        if interval is not None:
            for edge in ("start", "end"):
                if edge in interval:
                    try:
                        datetime.datetime.fromisoformat(interval[edge]["date"])
                    except (KeyError, TypeError, ValueError) as error:
                        raise Invalid(f"validTimeInterval.{edge}.date: {error}") from error


def _require(data: dict[str, Any], name: str) -> None:
    if data.get(name) in (None, "", {}, []):
        raise Invalid(f"{name} is required.")


def _check_localized(value: Any, name: str) -> None:
    default = value.get("defaultValue") if isinstance(value, dict) else None
    if not isinstance(default, dict) or not default.get("language") or "value" not in default:
        raise Invalid(f"{name}.defaultValue needs a language and a value.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stand_in: GoogleWalletStandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    server: _Server

    @property
    def stand_in(self) -> GoogleWalletStandIn:
        return self.server.stand_in

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(
        self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        raw = self._body()
        path = urlsplit(self.path).path
        if path == "/token":
            if method != "POST":
                self._reply(405, {"error": "invalid_request"})
                return
            status, data = self.stand_in.grant(parse_qs(raw.decode("ascii", "replace")))
            self._reply(status, data)
            return
        authorization = self.headers.get("Authorization", "")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<not JSON>"
        status, data, headers = self._api(method, path, authorization, body)
        with self.stand_in.lock:
            self.stand_in.requests.append(Recorded(method, path, authorization, body, status))
        if status == HANG_UP:
            self.close_connection = True  # read the request, then drop it without a word
            return
        self._reply(status, data, headers)

    def _api(
        self, method: str, path: str, authorization: str, body: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not path.startswith(API_PREFIX + "/"):
            return 404, google_error(404, "Not Found", "NOT_FOUND"), {}
        if not self.stand_in.authorized(authorization):
            error = google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "UNAUTHENTICATED",
            )
            return 401, error, {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        scripted = self.stand_in.scripted(path)
        if scripted is not None and scripted.status == HANG_UP:
            return HANG_UP, {}, {}
        if scripted is not None:
            reason = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}.get(
                scripted.status, "INTERNAL" if scripted.status >= 500 else "FAILED_PRECONDITION"
            )
            error = google_error(scripted.status, "Scripted answer.", reason)
            return scripted.status, error, scripted.headers
        if body == "<not JSON>":
            return 400, google_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"), {}
        status, data = self.stand_in.api(method, path, body)
        return status, data, {}

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")
