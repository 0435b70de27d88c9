"""Another merchant's ids and tokens inside an otherwise valid request of ours.

The permission matrix (tests/test_permission_matrix.py) puts this merchant's objects in the URL
of another merchant's owner. Here the owner of this merchant (``world``) sends requests whose
body, query or one URL argument names the other merchant's object (``other_world``): the program
chosen for a new customer, the card a push goes to, the merchant to switch to, a referral
token, a push endpoint, a message or a join-form field. Each is refused (a form error or a
404, as the view answers) or ignored, and nothing of the other merchant changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cards import services as card_services
from cards.models import Card
from loyalty.tenancy import SESSION_KEY
from pushes.models import PushSubscription
from tests.factories import PUSH_SERVICE, subscribe_device, subscription_json
from tests.merchant_data import merchant_data

pytestmark = pytest.mark.django_db

World = dict[str, Any]


def _theirs_unchanged(theirs: World) -> Callable[[], None]:
    """Call the returned function after the request: it fails if their data changed."""
    before = merchant_data(theirs["merchant"])

    def check() -> None:
        assert merchant_data(theirs["merchant"]) == before, "the other merchant's data changed"

    return check


# Forms whose field names one of the merchant's objects -----------------------------------


@dataclass(frozen=True)
class Swap:
    """A form of ours whose ``body(ours, whose)`` names an object of ``whose``."""

    name: str
    body: Callable[[World, World], dict[str, Any]]
    refused: int  # with the other merchant's object
    ok: int = 302  # with ours: the same body is otherwise valid
    arguments: tuple[str, ...] = ()  # the URL's, from our world


def _new_customer(ours: World, whose: World) -> dict[str, Any]:
    return {"program": whose["program_pk"], "first_name": "Ada", "email": "ada@example.com"}


def _push(ours: World, whose: World) -> dict[str, Any]:
    subscribe_device(whose["card"], whose["serial"])  # a card that can receive
    return {"card": whose["serial"], "body": "Hello"}


def _switch(ours: World, whose: World) -> dict[str, Any]:
    return {"merchant": whose["merchant"].pk}


def _import_file(ours: World, whose: World) -> dict[str, Any]:
    upload = SimpleUploadedFile("clients.csv", b"Name\nAda Lovelace\n", "text/csv")
    return {"program": whose["program_pk"], "file": upload}


SWAPS = [
    Swap("customers:add", _new_customer, refused=422),
    Swap("customers:import", _import_file, refused=422),
    Swap("pushes:tab", _push, refused=422, arguments=("serial",)),
    Swap("merchant_switch", _switch, refused=404),
]


@pytest.mark.parametrize("swap", SWAPS, ids=lambda swap: swap.name)
def test_another_merchants_object_in_our_form_is_refused_and_nothing_changes(
    swap: Swap, world: World, other_world: World, owner_client: Client
) -> None:
    url = reverse(swap.name, args=[world[key] for key in swap.arguments])
    body = swap.body(world, other_world)
    theirs_unchanged = _theirs_unchanged(other_world)
    ours_before = merchant_data(world["merchant"])

    response = owner_client.post(url, body)

    assert response.status_code == swap.refused
    theirs_unchanged()
    assert merchant_data(world["merchant"]) == ours_before
    assert owner_client.post(url, swap.body(world, world)).status_code == swap.ok


def test_a_session_naming_another_merchant_still_shows_only_ours(
    world: World, other_world: World, owner_client: Client
) -> None:
    """What the switch would have stored, had it let the merchant through: the membership is
    looked up again on every request, so it is not trusted either."""
    session = owner_client.session
    session[SESSION_KEY] = other_world["merchant"].pk
    session.save()

    page = owner_client.get(reverse("customers:list")).content.decode()

    assert world["customer"].last_name in page
    assert other_world["customer"].last_name not in page


# Query strings: filters and the add-customer form's questions ----------------------------


def test_the_new_customer_form_never_shows_another_merchants_questions(
    world: World, other_world: World, owner_client: Client
) -> None:
    url = reverse("customers:add_fields")

    ours = owner_client.get(url, {"program": world["program_pk"]})
    theirs = owner_client.get(url, {"program": other_world["program_pk"]})

    assert ours.status_code == theirs.status_code == 200
    assert world["field"].label in ours.content.decode()
    assert other_world["field"].label not in theirs.content.decode()


@pytest.mark.parametrize("name", ["customers:list", "customers:export"])
def test_filtering_by_another_merchants_program_shows_none_of_their_customers(
    name: str, world: World, other_world: World, owner_client: Client
) -> None:
    response = owner_client.get(reverse(name), {"program": other_world["program_pk"]})

    assert response.status_code == 200
    content = response.getvalue().decode()
    assert other_world["customer"].last_name not in content
    assert world["customer"].last_name in content  # the unknown filter is ignored


# Keys and tokens that are looked up within one card or program ---------------------------


def test_an_idempotency_key_used_on_another_merchants_card_replays_nothing_of_theirs(
    world: World, other_world: World, owner_client: Client
) -> None:
    card_services.card_add_stamps(
        card=other_world["card"], value="3", actor=None, idempotency_key="shared-key"
    )
    theirs_unchanged = _theirs_unchanged(other_world)
    url = reverse("cards:dialog", args=[world["serial"], "stamps_add"])
    before = Card.objects.get(pk=world["card"].pk).stamps_balance

    response = owner_client.post(url, {"value": "1", "idempotency_key": "shared-key"})

    assert (response.status_code, response["Location"]) == (302, world["card"].get_absolute_url())
    assert Card.objects.get(pk=world["card"].pk).stamps_balance == before + 1
    theirs_unchanged()


def test_a_referral_token_of_another_merchants_card_brings_them_nothing(
    world: World, other_world: World, client: Client
) -> None:
    theirs_unchanged = _theirs_unchanged(other_world)
    url = reverse("public:join", args=[world["join_token"]])

    response = client.post(
        url,
        {"first_name": "Grace", "email": "grace@example.com", "ref": other_world["referral_token"]},
    )

    joined = Card.objects.latest("pk")
    assert (response.status_code, joined.merchant_id) == (302, world["merchant"].pk)
    assert joined.referred_by is None
    theirs_unchanged()


def test_the_email_of_another_merchants_customer_joins_as_a_new_customer_of_ours(
    world: World, other_world: World, client: Client
) -> None:
    theirs_unchanged = _theirs_unchanged(other_world)
    email = other_world["customer"].email
    url = reverse("public:join", args=[world["join_token"]])

    response = client.post(url, {"first_name": "Bernadette", "email": email})

    joined = Card.objects.latest("pk")
    assert response.status_code == 302
    assert (joined.merchant_id, joined.customer.email) == (world["merchant"].pk, email)
    assert joined.customer != other_world["customer"]
    theirs_unchanged()


def test_a_device_cannot_end_another_merchants_push_subscription(
    world: World, other_world: World, client: Client
) -> None:
    theirs = subscribe_device(other_world["card"], "their-phone")
    theirs_unchanged = _theirs_unchanged(other_world)
    ours = subscription_json(f"{PUSH_SERVICE}/our-phone", old_endpoint=theirs.endpoint)
    url = reverse("pushes_public:subscribe", args=[world["install_token"]])

    response = client.post(url, json.dumps(ours), content_type="application/json")

    assert response.status_code == 201
    assert PushSubscription.objects.get(endpoint=ours["endpoint"]).card == world["card"]
    theirs_unchanged()


# URLs that pair one of our objects with one of theirs -------------------------------------


def _our_card_their_message(ours: World, theirs: World) -> list[Any]:
    return [ours["serial"], theirs["message_id"]]


def _our_program_their_field(ours: World, theirs: World) -> list[Any]:
    return [ours["program_pk"], theirs["field_pk"]]


MIXED_URLS = [
    ("pushes:edit", "get", _our_card_their_message, {}),
    ("pushes:edit", "post", _our_card_their_message, {"body": "Changed"}),
    ("pushes:cancel", "post", _our_card_their_message, {}),
    ("settings:custom_field_edit", "get", _our_program_their_field, {}),
    ("settings:custom_field_edit", "post", _our_program_their_field, {"label": "Cake"}),
    ("settings:custom_field_delete", "post", _our_program_their_field, {}),
    ("settings:custom_field_move", "post", _our_program_their_field, {"direction": "up"}),
]


@pytest.mark.parametrize(
    ("name", "method", "arguments", "body"),
    MIXED_URLS,
    ids=[f"{name}-{method}" for name, method, _, _ in MIXED_URLS],
)
def test_our_object_with_another_merchants_in_one_url_is_not_found(
    name: str,
    method: str,
    arguments: Callable[[World, World], list[Any]],
    body: dict[str, Any],
    world: World,
    other_world: World,
    owner_client: Client,
) -> None:
    theirs_unchanged = _theirs_unchanged(other_world)
    url = reverse(name, args=arguments(world, other_world))

    response = getattr(owner_client, method)(url, body)

    assert response.status_code == 404
    theirs_unchanged()


def test_another_merchants_entry_cannot_be_reversed_through_ones_own_card(
    world: World, other_world: World, owner_client: Client
) -> None:
    theirs_unchanged = _theirs_unchanged(other_world)
    url = reverse("cards:entry_reverse", args=[world["serial"], other_world["entry_id"]])

    response = owner_client.post(url, {"reason": "Wrong card", "idempotency_key": "k"})

    assert response.status_code == 404
    theirs_unchanged()
