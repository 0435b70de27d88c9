"""Every URL of the CRM and the profile, for every persona: owner, admin, staff, the owner of
another merchant, and an anonymous visitor. Another merchant's objects are a 404 (never a 403);
a role that is too low is a 403; anonymous visitors are sent to the login page."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cards import services
from cards.models import Card, Program
from customers.imports import services as imports
from tests.factories import issue_card

pytestmark = pytest.mark.django_db

PERSONAS = ("owner", "admin", "staff", "outsider", "anonymous")

MAPPING = {"column_0": "full_name", "column_1": "email"}
PERSON = {"first_name": "Ann", "last_name": "Lee", "email": "", "phone": "", "birthday": ""}

# (URL name, method, what the URL is about, POST data, status per persona in PERSONAS order)
CASES: list[tuple[str, str, str, dict[str, Any], tuple[int, ...]]] = [
    ("customers:list", "get", "", {}, (200, 200, 200, 200, 302)),
    ("customers:export", "get", "", {}, (200, 200, 403, 200, 302)),
    ("customers:add", "get", "", {}, (200, 200, 200, 200, 302)),
    ("customers:add", "post", "", {"first_name": "Ann"}, (422, 422, 422, 422, 302)),
    ("customers:add_fields", "get", "", {}, (200, 200, 200, 200, 302)),
    ("customers:segments", "get", "", {}, (200, 200, 200, 200, 302)),
    ("customers:segments", "post", "", {}, (405, 405, 405, 405, 302)),
    ("customers:segments_recompute", "get", "", {}, (405, 403, 403, 405, 302)),
    ("customers:segments_recompute", "post", "", {}, (302, 403, 403, 302, 302)),
    ("customers:remove", "get", "removable", {}, (200, 200, 403, 404, 302)),
    ("customers:remove", "post", "removable", {}, (302, 302, 403, 404, 302)),
    ("customers:information", "get", "card", {}, (200, 200, 200, 404, 302)),
    ("customers:information", "post", "card", PERSON, (302, 302, 302, 404, 302)),
    ("customers:import", "get", "", {}, (200, 200, 403, 200, 302)),
    ("customers:import", "post", "", {}, (422, 422, 403, 422, 302)),
    ("customers:import_job", "get", "import", {}, (200, 200, 403, 404, 302)),
    ("customers:import_mapping", "post", "import", MAPPING, (302, 302, 403, 404, 302)),
    ("customers:import_apply", "post", "import", {}, (302, 302, 403, 404, 302)),
    ("customers:import_discard", "post", "import", {}, (302, 302, 403, 404, 302)),
    ("customers:import_problems", "get", "import", {}, (200, 200, 403, 404, 302)),
    ("cards:profile", "get", "card", {}, (200, 200, 200, 404, 302)),
    ("cards:metrics", "get", "card", {}, (200, 200, 200, 404, 302)),
    ("cards:history", "get", "card", {}, (200, 200, 200, 404, 302)),
    ("cards:history_csv", "get", "card", {}, (200, 200, 403, 404, 302)),
    ("cards:delete", "get", "card", {}, (200, 200, 403, 404, 302)),
    ("cards:delete", "post", "card", {}, (302, 302, 403, 404, 302)),
    ("cards:expiration", "get", "card", {}, (200, 200, 200, 404, 302)),
    ("cards:expiration", "post", "card", {"expires_on": "2030-01-01"}, (302, 302, 302, 404, 302)),
]

# The profile's URL names in the cards namespace that this feature owns.
CARD_NAMES = {"profile", "metrics", "history", "history_csv", "delete", "expiration"}


@pytest.fixture
def clients(
    owner_client: Client, admin_client_: Client, staff_client: Client, outsider_client: Client
) -> dict[str, Client]:
    return {
        "owner": owner_client,
        "admin": admin_client_,
        "staff": staff_client,
        "outsider": outsider_client,
        "anonymous": Client(),
    }


@pytest.mark.parametrize(("name", "method", "about", "data", "expected"), CASES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix(
    clients: dict[str, Client],
    stamp_program: Program,
    owner: Any,
    persona: str,
    name: str,
    method: str,
    about: str,
    data: dict[str, Any],
    expected: tuple[int, ...],
) -> None:
    card: Card = issue_card(stamp_program)
    args: list[Any] = []
    if about == "card":
        args = [card.serial]
    elif about == "removable":
        services.card_delete(card=card, actor=owner)
        args = [card.customer_id]
    elif about == "import":
        upload = ContentFile(b"Name,Email\nAda,ada@example.com\n")
        job = imports.import_upload(
            merchant=stamp_program.merchant,
            program=stamp_program,
            file=upload,
            name="old.csv",
            size=upload.size,
            actor=owner,
        )
        imports.import_map(job=job, mapping=job.mapping, actor=owner)
        args = [job.pk]
    url = reverse(name, args=args)
    client = clients[persona]
    response = getattr(client, method)(url, data) if method == "post" else client.get(url)
    status = expected[PERSONAS.index(persona)]
    assert response.status_code == status, (persona, method, url)
    if persona == "anonymous":
        assert response["Location"].startswith("/login/?next=")


def test_an_outsider_changes_nothing(
    outsider_client: Client, stamp_program: Program, owner: Any
) -> None:
    card = issue_card(stamp_program)
    name = card.customer.full_name
    outsider_client.post(reverse("cards:delete", args=[card.serial]))
    outsider_client.post(
        reverse("cards:expiration", args=[card.serial]), {"expires_on": "2001-01-01"}
    )
    outsider_client.post(reverse("customers:information", args=[card.serial]), PERSON)
    fresh = Card.objects.select_related("customer").get(pk=card.pk)
    assert not fresh.is_deleted
    assert fresh.expires_on is None
    assert fresh.customer.full_name == name


def _names(patterns: list[Any], namespace: str) -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver) and pattern.namespace == namespace:
            names |= {p.name for p in pattern.url_patterns if isinstance(p, URLPattern)}
    return names


def test_the_matrix_covers_every_url_of_the_feature() -> None:
    resolver = get_resolver()
    covered = {name for name, *_ in CASES}
    customers = {f"customers:{n}" for n in _names(resolver.url_patterns, "customers")}
    assert customers <= covered, customers - covered
    cards = {f"cards:{n}" for n in _names(resolver.url_patterns, "cards") if n in CARD_NAMES}
    assert cards == {f"cards:{n}" for n in CARD_NAMES}
    assert cards <= covered
