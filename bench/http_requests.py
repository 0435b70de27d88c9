"""What the HTTP load benchmark (bench/http_load.py) sends, and what counts as success.

Plain data, no sockets and no Django at import time: the load generator (bench/http_client.py)
turns these requests into bytes on a socket, and tests/loyalty/test_http_load_requests.py
sends the very same ones through Django's test client and checks the app answers them with
success. So the benchmark cannot time a page of 403s or 400s without a test failing first.

A success check reads the status, the headers (lowercased) and the body: ``(status, headers,
body)``; most need only the first two.

URLs come from the URLconf once (``Routes.from_django``, in a process that has Django set up)
and travel to the load generator as JSON.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

import phonenumbers

# The action of the plus/minus dialog that adds a purchase amount to a stamp card.
PURCHASE_ACTION = "transaction_amount_add"
PURCHASE_AMOUNT = "12.50"
# Stands for a serial in the URL templates (reverse() needs a value that fits the pattern).
SERIAL_SLOT = "0000-SERIAL-0000"
# What the live search is typed as, per kind of query (bench/http_load.py picks real rows).
SEARCH_KINDS = ("serial", "email", "phone", "name")
NAME_FRAGMENT_LENGTH = 4
# The home page's period presets, as its buttons send them (analytics.periods.PRESETS less
# "custom"), and what only the statistics answer holds: a staff member's redirect to the
# customer list, or a page that fell over, has no figure.
HOME_PRESETS = ("today", "7d", "30d", "90d", "12m")
HOME_MARKER = b'data-metric="revenue"'


@dataclass(frozen=True)
class Routes:
    """The paths the benchmark requests; ``{serial}`` marks where a card's serial goes."""

    login: str
    profile: str
    history: str
    dialog: str
    customers: str
    home: str
    csrf_cookie: str = "csrftoken"
    session_cookie: str = "sessionid"
    # What the browser's address bar starts with (htmx sends it in HX-Current-URL).
    origin: str = "http://testserver"

    @classmethod
    def from_django(cls) -> Routes:
        # Django loads only here: the load generator imports this module without it.
        from django.conf import settings
        from django.urls import reverse

        def template(name: str, *args: str) -> str:
            return reverse(name, args=[SERIAL_SLOT, *args]).replace(SERIAL_SLOT, "{serial}")

        return cls(
            login=reverse("login"),
            profile=template("cards:profile"),
            history=template("cards:history"),
            dialog=template("cards:dialog", PURCHASE_ACTION),
            customers=reverse("customers:list"),
            home=reverse("home"),
            csrf_cookie=settings.CSRF_COOKIE_NAME,
            session_cookie=settings.SESSION_COOKIE_NAME,
        )

    def at(self, origin: str) -> Routes:
        return replace(self, origin=origin)

    def card(self, template: str, serial: str) -> str:
        return template.format(serial=quote(serial))

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Routes:
        return cls(**data)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with its query string
    headers: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()

    def body(self) -> bytes:
        return urlencode(self.form).encode() if self.form else b""


# ---------------------------------------------------------------------------------------------
# Logging in, as the login form does


def login_page(routes: Routes) -> Request:
    """GET the login form: it sets the CSRF cookie the POST needs."""
    return Request("GET", routes.login)


def login_post(routes: Routes, *, username: str, password: str, csrf_token: str) -> Request:
    form = (
        ("csrfmiddlewaretoken", csrf_token),
        ("username", username),
        ("password", password),
        ("next", ""),
    )
    return Request("POST", routes.login, form=form)


def login_succeeded(status: int, headers: Mapping[str, str]) -> bool:
    """A good login redirects away from the form; a refused one shows the form again (200)."""
    return status == 302 and headers.get("location", "") != ""


# ---------------------------------------------------------------------------------------------
# The measured requests


def purchase_post(routes: Routes, *, serial: str, csrf_token: str, key: str) -> Request:
    """Apply in the "Add transaction amount" dialog of a stamp card's profile, as its htmx
    form posts it: the form fields, the CSRF header <body hx-headers> adds, the htmx headers.
    """
    profile = routes.card(routes.profile, serial)
    headers = (
        ("HX-Request", "true"),
        ("HX-Current-URL", routes.origin + profile),
        # The form (id "ledger-form") triggers the request and is its own target.
        ("HX-Trigger", "ledger-form"),
        ("HX-Target", "ledger-form"),
        ("X-CSRFToken", csrf_token),
    )
    form = (
        ("csrfmiddlewaretoken", csrf_token),
        ("idempotency_key", key),
        ("value", PURCHASE_AMOUNT),
        ("purchase_amount", ""),
        ("comment", ""),
    )
    return Request("POST", routes.card(routes.dialog, serial), headers=headers, form=form)


def purchase_succeeded(status: int, headers: Mapping[str, str], body: bytes = b"") -> bool:
    """The dialog's success: 204 with the ``ledger-changed`` event (headers lowercased);
    a refusal re-renders the form with 422."""
    if status != 204:
        return False
    try:
        events = json.loads(headers.get("hx-trigger", ""))
    except ValueError:
        return False
    return isinstance(events, dict) and "ledger-changed" in events


def profile_get(routes: Routes, *, serial: str) -> Request:
    return Request("GET", routes.card(routes.profile, serial))


def history_get(routes: Routes, *, serial: str) -> Request:
    """The card's history as a page of its own (the first 25 entries)."""
    return Request("GET", routes.card(routes.history, serial))


def customers_get(routes: Routes, *, q: str = "") -> Request:
    """The customers list: the first page, or the results for ``q`` (the page a search's
    URL opens)."""
    return Request("GET", routes.customers + (f"?{urlencode({'q': q})}" if q else ""))


def page_succeeded(status: int, headers: Mapping[str, str], body: bytes = b"") -> bool:
    return status == 200


def home_get(routes: Routes, *, period: str, program: int | None = None) -> Request:
    """The home page's statistics for a period preset, over all the merchant's programs or
    the one given (the filter form's GET)."""
    query = {"period": period, **({"program": str(program)} if program is not None else {})}
    return Request("GET", f"{routes.home}?{urlencode(query)}")


def home_succeeded(status: int, headers: Mapping[str, str], body: bytes = b"") -> bool:
    """The statistics themselves: 200 with the revenue figure (owners and admins only)."""
    return status == 200 and HOME_MARKER in body


# ---------------------------------------------------------------------------------------------
# Search queries, written as staff type them


def phone_typed(e164: str) -> str:
    """An E.164 number the way people write it: "+1 (415) 555-0123" for North America, the
    international format elsewhere ("+44 20 7946 0958")."""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 1:
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return f"+1 {national}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def search_queries(
    *, serial: str, email: str, phone: str, first_name: str, last_name: str
) -> dict[str, str]:
    """The queries of ``SEARCH_KINDS`` that find this customer (a blank contact has none)."""
    queries = {"serial": serial, "name": (last_name or first_name)[:NAME_FRAGMENT_LENGTH]}
    if email:
        queries["email"] = email
    if phone:
        with contextlib.suppress(phonenumbers.NumberParseException):
            queries["phone"] = phone_typed(phone)
    return queries


def lower_headers(headers: Any) -> dict[str, str]:
    """Response headers keyed in lower case (what the success checks read)."""
    return {str(name).lower(): str(value) for name, value in headers.items()}
