"""Who may open and post each program settings URL.

Owners and admins manage programs; staff get a 403; the owner of another merchant gets a 404
for this merchant's programs and fields (no information leak); anonymous visitors go to login.
A refused request changes nothing (no audit event is written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from cards.models import CustomField, Program
from loyalty.models import AuditEvent
from tests.cards.test_programs import PNG
from tests.factories import StampProgramFactory, stamp_program_form

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    name: str
    method: str = "get"
    args: Callable[[dict[str, Any]], list[Any]] = field(default=lambda objects: [])
    data: dict[str, Any] = field(default_factory=dict)
    ok: int = 200  # owner and admin
    of_object: bool = True  # False: a page of the visitor's own merchant


def _program(objects: dict[str, Any]) -> list[Any]:
    return [objects["program"].pk]


def _field(objects: dict[str, Any]) -> list[Any]:
    return [objects["program"].pk, objects["field"].pk]


PROGRAM_FORM = stamp_program_form(name="Renamed")

PROGRAM_ROUTES = [
    Route("settings:programs", of_object=False),
    Route("settings:program_create", of_object=False),
    Route(
        "settings:program_create",
        "post",
        data={**PROGRAM_FORM, "name": "Brand new"},
        ok=302,
        of_object=False,
    ),
    Route("settings:program_edit", args=_program),
    Route("settings:program_edit", "post", args=_program, data=PROGRAM_FORM, ok=302),
    Route("settings:program_archive", "post", args=_program, ok=302),
    Route("settings:program_restore", "post", args=_program, ok=302),
    Route("settings:program_logo", args=_program),
    Route("settings:program_issue_card", args=_program),
    Route("settings:program_issue_card", "post", args=_program, data={"first_name": "Ada"}, ok=302),
    Route(
        "settings:custom_field_create",
        "post",
        args=_program,
        data={"label": "Favourite drink", "field_type": "text"},
        ok=302,
    ),
    Route("settings:custom_field_edit", args=_field),
    Route(
        "settings:custom_field_edit",
        "post",
        args=_field,
        data={"label": "Favourite cake", "field_type": "text"},
        ok=302,
    ),
    Route("settings:custom_field_delete", "post", args=_field, ok=302),
    Route("settings:custom_field_move", "post", args=_field, data={"direction": "up"}, ok=302),
]


@pytest.fixture
def objects(merchant: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.MEDIA_ROOT = tmp_path
    program = StampProgramFactory(merchant=merchant)
    program.logo.save("logo.png", ContentFile(PNG))
    field_ = CustomField.objects.create(program=program, key="drink", label="Drink", position=0)
    return {"program": program, "field": field_}


def _client(persona: str, request: pytest.FixtureRequest) -> Client:
    if persona == "anonymous":
        return Client()
    user = request.getfixturevalue({"admin": "admin_user"}.get(persona, persona))
    client = Client()
    client.force_login(user)
    return client


def expected_status(route: Route, persona: str) -> int:
    if persona in ("owner", "admin"):
        return route.ok
    if persona == "staff":
        return 403
    if persona == "outsider":
        return 404 if route.of_object else route.ok
    return 302  # anonymous: to the login page


def check_route(route: Route, persona: str, objects: dict[str, Any], request: Any) -> None:
    client = _client(persona, request)
    url = reverse(route.name, args=route.args(objects))
    response = getattr(client, route.method)(url, route.data)
    expected = expected_status(route, persona)
    assert response.status_code == expected, (route.name, persona, response.status_code)
    if persona == "anonymous":
        assert response["Location"].startswith("/login/?next=")
    if expected in (302, 403, 404) and persona in ("staff", "outsider", "anonymous"):
        # A refused request leaves no trace in the merchant's settings.
        assert not AuditEvent.objects.filter(merchant=objects["program"].merchant).exists()


@pytest.mark.parametrize("persona", ["owner", "admin", "staff", "outsider", "anonymous"])
@pytest.mark.parametrize("route", PROGRAM_ROUTES, ids=lambda r: f"{r.method}-{r.name}")
def test_program_settings_permission_matrix(
    route: Route, persona: str, objects: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    check_route(route, persona, objects, request)


def test_the_outsider_never_sees_this_merchants_programs_in_their_list(
    outsider_client: Client, objects: dict[str, Any]
) -> None:
    body = outsider_client.get(reverse("settings:programs")).content.decode()
    assert objects["program"].name not in body
    assert Program.objects.filter(merchant=objects["program"].merchant).count() == 1
