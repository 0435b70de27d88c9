"""Every route of the project (a URL and a method), walked with every persona.

``ROUTES`` is the one table: for each URL and each method its view accepts, who may use it,
the body of a valid request and the exact answer of success (a status, or a redirect to a
given place). Each persona must get exactly:

- owner, admin, staff: the success answer where their role is enough, else a 403;
- the owner of another merchant: a 404 when the URL names one of this merchant's objects (no
  information leak), else what an owner gets on their own merchant's page;
- an anonymous visitor: a redirect to the login page (``next=`` the URL) on the dashboard, the
  success answer on public pages (public pages are for them, so only they are walked there).

A refused request changes none of the merchant's data; an accepted POST changes some (unless
its line says it only reads). Every case gets a fresh ``world`` (the fixture is per test), so a
POST that deletes or archives finds its object whoever went before. A URL without a line, a
line whose URL no longer exists and a method a view accepts without a line all fail. Ids of
another merchant sent in a request's body are tried in tests/test_cross_tenant_bodies.py.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cards import services as card_services
from cards.models import Card, CustomField, Program
from customers.models import ImportJob
from pushes.models import Campaign
from tests.factories import (
    PASSWORD,
    PUSH_SERVICE,
    stamp_program_form,
    subscribe_device,
    subscription_json,
)
from tests.merchant_data import merchant_data
from wallet import services as wallet_services

pytestmark = pytest.mark.django_db

PUBLIC, MEMBER, MANAGER, OWNER = "public", "member", "manager", "owner"
GET, POST, DELETE = "get", "post", "delete"

World = dict[str, Any]
Body = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Redirect:
    """A 302 to ``to(world)``, read after the request (so it can name what the request made)."""

    to: Callable[[World], str]
    # The Location only starts with ``to(world)`` (it ends with something signed just now).
    prefix: bool = False


@dataclass(frozen=True)
class Route:
    name: str
    access: str
    method: str = GET
    # The valid body; it may prepare the world first (delete the card a customer must lose).
    body: Body | None = None
    ok: int | Redirect = 200
    # False for a POST that only reads or changes the session (a preview, the language switch).
    writes: bool = True
    # What another merchant's owner gets where the body names one of this merchant's objects.
    outsider: int | None = None
    json: bool = False
    # Request headers the success needs (Apple Wallet's "Authorization: ApplePass <token>").
    headers: Callable[[World], dict[str, str]] | None = None
    # What a member whose role is too low gets: a 403, or a page of their own (the home sends
    # staff to the customer list).
    refused: int | Redirect = 403


def to(name: str, *keys: str, anchor: str = "") -> Redirect:
    """A redirect to the URL ``name`` with the world's values of ``keys`` as its arguments."""
    return Redirect(lambda world: reverse(name, args=[world[k] for k in keys]) + anchor)


HOME = to("home")
LOGIN = to("login")
CUSTOMERS = to("customers:list")
INFORMATION = to("customers:information", "serial")
PROFILE = to("cards:profile", "serial")
PUSH_TAB = to("pushes:tab", "serial")
RATED = to("public:card", "install_token", anchor="#feedback")
PROGRAM = to("settings:program_edit", "program_pk")
JOIN_FORM = to("settings:program_edit", "program_pk", anchor="#join-form")
TEAM = to("settings:team")


def _newest_card(world: World) -> Card:
    return Card.objects.latest("pk")


NEW_CARD_PROFILE = Redirect(lambda world: _newest_card(world).get_absolute_url())
# A new customer's card page opens on its "Your card is ready" step.
NEW_CARD_PAGE = Redirect(
    lambda world: reverse("public:card", args=[_newest_card(world).install_token]) + "?joined=1"
)
NEW_PROGRAM = Redirect(
    lambda world: reverse("settings:program_edit", args=[Program.objects.latest("pk").pk])
)
# Google's save page, with a JWT signed at the time of the request.
GOOGLE_SAVE_PAGE = Redirect(lambda world: settings.GOOGLE_WALLET_SAVE_URL, prefix=True)
# The card's page at its new link (the old one no longer opens it).
NEW_LINK = Redirect(
    lambda world: reverse("public:card", args=[Card.objects.get(pk=world["card"].pk).install_token])
)
REFERRED = Redirect(
    lambda world: (
        f"{reverse('public:join', args=[world['join_token']])}?ref={world['referral_token']}"
    )
)


# Valid bodies ------------------------------------------------------------------------------

BANDS = {
    "recency_band_1": "20",
    "recency_band_2": "40",
    "recency_band_3": "80",
    "frequency_band_1": "2",
    "frequency_band_2": "5",
}
PROGRAM_FORM = stamp_program_form(name="Renamed")
NEW_PASSWORD = "a-long-passphrase-of-ours"


def fixed(**data: Any) -> Body:
    return lambda world: data


SIGN_IN = fixed(username="staff", password=PASSWORD)
NEW_ACCOUNT = fixed(username="newbie", password1=NEW_PASSWORD, password2=NEW_PASSWORD)
SPANISH_HEADER = fixed(language="es", next="/login/")
ONE_STAMP = fixed(value="1", idempotency_key="matrix")
REVERSAL = fixed(reason="Wrong card", idempotency_key="matrix")
EXPIRY = fixed(expires_on="2031-12-31")
JOINER = fixed(first_name="Grace", email="grace@example.com")
WALK_IN = fixed(first_name="Ada")
QUESTION = fixed(label="Drink", field_type="text")
INVITE = fixed(email="ben@example.com", role="staff")


def this_merchant(world: World) -> dict[str, Any]:
    return {"merchant": world["merchant"].pk}


def new_customer(world: World) -> dict[str, Any]:
    return {"program": world["program_pk"], "first_name": "Ada", "email": "ada@example.com"}


def person(world: World) -> dict[str, Any]:
    return {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


def customer_without_cards(world: World) -> dict[str, Any]:
    card_services.card_delete(card=world["card"], actor=None)
    return {}


def archived_program(world: World) -> dict[str, Any]:
    card_services.program_archive(program=world["program"], actor=None)
    return {}


def field_with_one_below(world: World) -> dict[str, Any]:
    CustomField.objects.create(program=world["program"], key="cake", label="Cake", position=1)
    return {"direction": "down"}


def push_to_a_subscribed_card(world: World) -> dict[str, Any]:
    subscribe_device(world["card"], "phone")
    return {"card": world["serial"], "body": "Hello"}


def push_later(world: World) -> dict[str, Any]:
    later = timezone.localtime(timezone.now() + datetime.timedelta(days=2), world["merchant"].tz)
    return {"body": "Later", "send_at": later.strftime("%Y-%m-%dT%H:%M")}


def new_subscription(world: World) -> dict[str, Any]:
    return subscription_json(f"{PUSH_SERVICE}/new-phone")


def campaign_to_everyone(world: World) -> dict[str, Any]:
    return {"program": world["program_pk"], "audience": "program", "body": "Double stamps"}


def campaign_later(world: World) -> dict[str, Any]:
    return {**campaign_to_everyone(world), **push_later(world)}


NEW_CAMPAIGN = Redirect(
    lambda world: reverse("campaigns:detail", args=[Campaign.objects.latest("pk").pk])
)
CAMPAIGN = Redirect(lambda world: reverse("campaigns:detail", args=[world["campaign"].pk]))
AUTOMATIC = to("campaigns:automatic")
IMPORT_JOB = Redirect(lambda world: reverse("customers:import_job", args=[world["import_job"].pk]))
NEW_IMPORT = Redirect(
    lambda world: reverse("customers:import_job", args=[ImportJob.objects.latest("pk").pk])
)


def spreadsheet(world: World) -> dict[str, Any]:
    upload = SimpleUploadedFile("clients.csv", b"Name,Stamps\nAda Lovelace,3\n", "text/csv")
    return {"program": world["program_pk"], "file": upload}


def name_and_email(world: World) -> dict[str, Any]:
    return {"column_0": "first_name", "column_1": "email"}


def birthday_message(world: World) -> dict[str, Any]:
    return {"birthday-enabled": "on", "birthday-body": "Happy birthday {first_name}"}


def rating_after_a_visit(world: World) -> dict[str, Any]:
    card_services.card_add_transaction_amount(card=world["card"], value="12", actor=None)
    return {"rating": "5"}


def _wallet_pass(world: World) -> Any:
    return wallet_services.wallet_pass_ensure(card=world["card"])


def apple_pass_token(world: World) -> dict[str, str]:
    return {"Authorization": f"ApplePass {_wallet_pass(world).authentication_token}"}


def new_push_token(world: World) -> dict[str, Any]:
    _wallet_pass(world)
    return {"pushToken": "ab" * 32}


def registered_device(world: World) -> dict[str, Any]:
    wallet_services.apple_device_register(
        device_id=world["device_id"],
        pass_type_id=world["pass_type_id"],
        serial=world["serial"],
        token=_wallet_pass(world).authentication_token,
        push_token="cd" * 32,
    )
    return {}


# The table ---------------------------------------------------------------------------------

ROUTES = [
    # Campaigns: owners and admins.
    Route("campaigns:list", MANAGER),
    Route("campaigns:new", MANAGER),
    Route("campaigns:new", MANAGER, POST, campaign_to_everyone, NEW_CAMPAIGN, outsider=422),
    Route("campaigns:audience", MANAGER),
    Route("campaigns:detail", MANAGER),
    Route("campaigns:edit", MANAGER),
    Route("campaigns:edit", MANAGER, POST, campaign_later, CAMPAIGN),
    Route("campaigns:cancel", MANAGER, POST, ok=CAMPAIGN),
    Route("campaigns:automatic", MANAGER),
    Route("campaigns:automatic_edit", MANAGER),
    Route("campaigns:automatic_edit", MANAGER, POST, birthday_message, AUTOMATIC),
    Route("campaigns:automatic_preview", MANAGER),
    # Imports from a spreadsheet
    Route("customers:import", MANAGER),
    Route("customers:import", MANAGER, POST, spreadsheet, NEW_IMPORT, outsider=422),
    Route("customers:import_job", MANAGER),
    Route("customers:import_mapping", MANAGER, POST, name_and_email, IMPORT_JOB),
    Route("customers:import_apply", MANAGER, POST, ok=IMPORT_JOB),
    Route("customers:import_discard", MANAGER, POST, ok=to("customers:import")),
    Route("customers:import_problems", MANAGER),
    # The statistics: staff, who see no money, land on the customer list instead.
    Route("home", MANAGER, refused=CUSTOMERS),
    Route("analytics:revenue_csv", MANAGER),
    Route("analytics:visits_csv", MANAGER),
    Route("analytics:new_cards_csv", MANAGER),
    Route("analytics:rating_csv", MANAGER),
    Route("analytics:segments_csv", MANAGER),
    Route("analytics:tiers_csv", MANAGER),
    Route("analytics:reversal_reasons_csv", MANAGER),
    Route("login", PUBLIC),
    Route("login", PUBLIC, POST, SIGN_IN, HOME, writes=False),
    Route("logout", PUBLIC, POST, ok=LOGIN, writes=False),
    Route("merchant_switch", MEMBER, POST, this_merchant, HOME, writes=False, outsider=404),
    Route("healthz", PUBLIC),
    Route("javascript_catalog", PUBLIC),
    Route("language_update", PUBLIC, POST, SPANISH_HEADER, LOGIN, writes=False),
    Route("invitation_accept", PUBLIC),
    Route("invitation_accept", PUBLIC, POST, NEW_ACCOUNT, HOME),
    # The CRM
    Route("customers:list", MEMBER),
    Route("customers:export", MANAGER),
    Route("customers:add", MEMBER),
    Route("customers:add", MEMBER, POST, new_customer, NEW_CARD_PROFILE, outsider=422),
    Route("customers:add_fields", MEMBER),
    Route("customers:segments", MEMBER),
    Route("customers:segments_recompute", OWNER, POST, ok=CUSTOMERS, writes=False),
    Route("customers:remove", MANAGER),
    Route("customers:remove", MANAGER, POST, customer_without_cards, CUSTOMERS),
    Route("customers:information", MEMBER),
    Route("customers:information", MEMBER, POST, person, INFORMATION),
    # A card's profile
    Route("cards:profile", MEMBER),
    Route("cards:metrics", MEMBER),
    Route("cards:history", MEMBER),
    Route("cards:history_csv", MANAGER),
    Route("cards:delete", MANAGER),
    Route("cards:delete", MANAGER, POST, ok=PROFILE),
    Route("cards:expiration", MEMBER),
    Route("cards:expiration", MEMBER, POST, EXPIRY, PROFILE),
    Route("cards:replace_link", MEMBER),
    Route("cards:replace_link", MEMBER, POST, ok=PROFILE),
    Route("cards:dialog", MEMBER),
    Route("cards:dialog", MEMBER, POST, ONE_STAMP, PROFILE),
    Route("cards:dialog_preview", MEMBER, POST, ONE_STAMP, writes=False),
    Route("activity", MANAGER),
    Route("activity_csv", MANAGER),
    Route("cards:counter", MEMBER),
    Route("scan", MEMBER),
    Route("cards:entry_reverse", MEMBER),
    Route("cards:entry_reverse", MEMBER, POST, REVERSAL, PROFILE),
    Route("feedback:tab", MEMBER),
    Route("pushes:tab", MEMBER),
    Route("pushes:tab", MEMBER, POST, push_to_a_subscribed_card, PUSH_TAB),
    Route("pushes:messages", MEMBER),
    Route("pushes:edit", MEMBER),
    Route("pushes:edit", MEMBER, POST, push_later, PUSH_TAB),
    Route("pushes:cancel", MEMBER, POST, ok=PUSH_TAB),
    # Development only: absent without DEBUG and a push inbox, as here (switched on in
    # tests/pushes/test_dev_inbox.py).
    Route("push_dev_inbox", MEMBER, ok=404),
    # What customers see
    Route("pushes_public:subscribe", PUBLIC),
    Route("pushes_public:subscribe", PUBLIC, POST, new_subscription, 201, json=True),
    Route("public:join", PUBLIC),
    Route("public:join", PUBLIC, POST, JOINER, NEW_CARD_PAGE),
    Route("public:join_qr", PUBLIC),
    Route("public:join_theme", PUBLIC),
    Route("public:referral", PUBLIC, ok=REFERRED),
    Route("public:card", PUBLIC),
    Route("public:card_feedback", PUBLIC, POST, rating_after_a_visit, RATED),
    Route("public:card_installed", PUBLIC, POST, ok=204),
    Route("public:card_replace_link", PUBLIC, POST, ok=NEW_LINK),
    Route("public:card_manifest", PUBLIC),
    Route("public:card_sw", PUBLIC),
    Route("public:card_icon_png", PUBLIC),
    Route("public:card_icon_svg", PUBLIC),
    Route("public:card_theme", PUBLIC),
    Route("wallet_public:apple_pass", PUBLIC),
    Route("wallet_public:google_save", PUBLIC, ok=GOOGLE_SAVE_PAGE),
    # Apple Wallet's web service: authenticated by the pass's own token, not a session.
    Route(
        "passkit:registration",
        PUBLIC,
        POST,
        new_push_token,
        201,
        json=True,
        headers=apple_pass_token,
    ),
    Route("passkit:registration", PUBLIC, DELETE, registered_device, headers=apple_pass_token),
    Route("passkit:updated_serials", PUBLIC, GET, registered_device),
    Route("passkit:latest_pass", PUBLIC, headers=apple_pass_token),
    Route("passkit:log", PUBLIC, POST, fixed(logs=["matrix"]), json=True, writes=False),
    Route("media", PUBLIC),
    # Settings
    Route("settings:home", MANAGER),
    Route("settings:programs", MANAGER),
    Route("settings:program_create", MANAGER),
    Route("settings:program_create", MANAGER, POST, fixed(**PROGRAM_FORM), NEW_PROGRAM),
    Route("settings:program_edit", MANAGER),
    Route("settings:program_edit", MANAGER, POST, fixed(**PROGRAM_FORM), PROGRAM),
    Route("settings:program_archive", MANAGER, POST, ok=to("settings:programs")),
    Route("settings:program_restore", MANAGER, POST, archived_program, PROGRAM),
    Route("settings:program_logo", MANAGER),
    Route("settings:program_issue_card", MANAGER),
    Route("settings:program_issue_card", MANAGER, POST, WALK_IN, NEW_CARD_PROFILE),
    Route("settings:custom_field_create", MANAGER, POST, QUESTION, JOIN_FORM),
    Route("settings:custom_field_edit", MANAGER),
    Route("settings:custom_field_edit", MANAGER, POST, QUESTION, JOIN_FORM),
    Route("settings:custom_field_delete", MANAGER, POST, ok=JOIN_FORM),
    Route("settings:custom_field_move", MANAGER, POST, field_with_one_below, JOIN_FORM),
    Route("settings:team", MANAGER),
    Route("settings:invite", MANAGER, POST, INVITE, TEAM),
    Route("settings:invitation_resend", MANAGER, POST, ok=TEAM),
    Route("settings:invitation_revoke", MANAGER, POST, ok=TEAM),
    Route("settings:member_role", MANAGER, POST, fixed(role="admin"), TEAM),
    Route("settings:member_remove", MANAGER, POST, ok=TEAM),
    Route("settings:audit", OWNER),
    Route("settings:language", MANAGER),
    Route("settings:language", MANAGER, POST, fixed(language="de"), to("settings:language")),
    Route("settings:contact", MANAGER),
    Route("settings:contact", MANAGER, POST, fixed(phone="+14155550123"), to("settings:contact")),
    Route("settings:messages", MANAGER),
    Route("settings:messages", MANAGER, POST, fixed(weekly_cap="3"), to("settings:messages")),
    Route("settings:segments", MANAGER),
    Route("settings:segments", MANAGER, POST, fixed(**BANDS, save="1"), to("settings:segments")),
    Route("settings:segments_preview", MANAGER, POST, fixed(**BANDS), writes=False),
]

# URL arguments that name one of *this* merchant's objects: another merchant gets a 404.
OBJECT_ARGUMENTS = {"serial", "pk", "message_id", "field_pk"}


def _named_urls(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, set[str]]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _named_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, set(pattern.pattern.converters)


ARGUMENTS = dict(_named_urls(get_resolver().url_patterns))

# Who may use each URL, for tests that walk the pages (tests/test_translated_pages.py): its
# GET line where it has one.
ACCESS = {route.name: route for route in ROUTES if route.method != GET}
ACCESS.update({route.name: route for route in ROUTES if route.method == GET})
URLS = sorted((name, arguments) for name, arguments in ARGUMENTS.items() if name in ACCESS)


def _url(name: str, arguments: set[str], world: World) -> str:
    kwargs = {}
    for argument in arguments:
        value = world[argument]
        if argument == "pk":
            value = value.get(name, world["program_pk"])
        kwargs[argument] = value
    return reverse(name, kwargs=kwargs)


# The table's own checks --------------------------------------------------------------------


def test_every_url_has_a_line_and_every_line_names_a_url() -> None:
    assert set(ARGUMENTS) == {route.name for route in ROUTES}


def test_no_route_has_two_lines() -> None:
    lines = [(route.name, route.method) for route in ROUTES]
    assert sorted(lines) == sorted(set(lines))


# Django's LoginView: it redirects a signed-in member before any method check (and its form
# view would accept PUT as POST); its two lines are GET and POST.
UNDECLARED_METHODS = {"login"}


@pytest.mark.parametrize("name", sorted(set(ARGUMENTS) - UNDECLARED_METHODS))
def test_every_method_a_view_accepts_has_a_line(
    name: str, world: World, owner_client: Client
) -> None:
    """A view names its methods: it answers any other with 405 and the list (``Allow``)."""
    response = owner_client.options(_url(name, ARGUMENTS[name], world))
    assert "Allow" in response, "declare the view's methods (require_GET, require_POST...)"
    accepted = {method.strip().lower() for method in response["Allow"].split(",")}
    assert accepted - {"head", "options"} == {r.method for r in ROUTES if r.name == name}


# Who gets what ------------------------------------------------------------------------------

PERSONAS = {
    "owner": "owner_client",
    "admin": "admin_client_",
    "staff": "staff_client",
    "outsider": "outsider_client",
    "anonymous": "client",
}
ROLE_OF = {"owner": OWNER, "admin": MANAGER, "staff": MEMBER}
RANK = {PUBLIC: 0, MEMBER: 1, MANAGER: 2, OWNER: 3}


def _personas(route: Route) -> list[str]:
    return ["anonymous"] if route.access == PUBLIC else list(PERSONAS)


CASES = [(route, persona) for route in ROUTES for persona in _personas(route)]


def _names_an_object(route: Route) -> bool:
    return bool(ARGUMENTS.get(route.name, set()) & OBJECT_ARGUMENTS)


def _login(url: str) -> Redirect:
    return Redirect(lambda world: f"{reverse('login')}?next={quote(url)}")


def _expected(route: Route, persona: str, url: str) -> int | Redirect:
    if route.access == PUBLIC:
        return route.ok
    if persona == "anonymous":
        return _login(url)
    if persona == "outsider":
        if _names_an_object(route):
            return 404
        return route.outsider or route.ok  # on their own merchant
    return route.ok if _role_is_enough(persona, route) else route.refused


def _role_is_enough(persona: str, route: Route) -> bool:
    return persona in ROLE_OF and RANK[ROLE_OF[persona]] >= RANK[route.access]


def _acts_on_this_merchant(persona: str, route: Route) -> bool:
    """The request is accepted on behalf of this merchant (whose data it may then change)."""
    return route.access == PUBLIC or _role_is_enough(persona, route)


def _answer(expected: int | Redirect, world: World) -> tuple[int, str | None]:
    if isinstance(expected, Redirect):
        return 302, expected.to(world)
    return expected, None


def _send(client: Client, route: Route, url: str, data: dict[str, Any], world: World) -> Any:
    headers = route.headers(world) if route.headers else {}
    if route.json:
        return client.post(url, json.dumps(data), content_type="application/json", headers=headers)
    return getattr(client, route.method)(url, data, headers=headers)


@pytest.mark.parametrize(
    ("route", "persona"), CASES, ids=[f"{r.name}-{r.method}-{p}" for r, p in CASES]
)
def test_each_persona_gets_exactly_its_answer(
    route: Route, persona: str, world: World, request: pytest.FixtureRequest
) -> None:
    client = request.getfixturevalue(PERSONAS[persona])
    url = _url(route.name, ARGUMENTS[route.name], world)
    data = route.body(world) if route.body else {}
    before = merchant_data(world["merchant"])

    response = _send(client, route, url, data, world)

    expected = _expected(route, persona, url)
    location = response.get("Location")
    if isinstance(expected, Redirect) and expected.prefix and location:
        location = location[: len(expected.to(world))]
    assert (response.status_code, location) == _answer(expected, world)
    changed = merchant_data(world["merchant"]) != before
    if not _acts_on_this_merchant(persona, route):
        assert not changed, "a refused request changed the merchant's data"
    elif route.method == POST:
        assert changed is route.writes
