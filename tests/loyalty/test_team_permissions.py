"""Who may open and post each team, segment and audit URL, and who sees the Settings link.

Together with tests/cards/test_programs_permissions.py this walks every URL of the settings.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from loyalty import services
from loyalty.models import Membership, Role
from tests.cards.test_programs_permissions import PROGRAM_ROUTES, Route, check_route
from tests.factories import MembershipFactory, StampProgramFactory

pytestmark = pytest.mark.django_db


def _invitation(objects: dict[str, Any]) -> list[Any]:
    return [objects["invitation"].pk]


def _target(objects: dict[str, Any]) -> list[Any]:
    return [objects["target"].pk]


BANDS = {
    "recency_band_1": "20",
    "recency_band_2": "40",
    "recency_band_3": "80",
    "frequency_band_1": "2",
    "frequency_band_2": "5",
}

TEAM_ROUTES = [
    Route("settings:home", of_object=False),
    Route("settings:team", of_object=False),
    Route(
        "settings:invite",
        "post",
        data={"email": "new@example.com", "role": "staff"},
        ok=302,
        of_object=False,
    ),
    Route("settings:invitation_resend", "post", args=_invitation, ok=302),
    Route("settings:invitation_revoke", "post", args=_invitation, ok=302),
    Route("settings:member_role", "post", args=_target, data={"role": "admin"}, ok=302),
    Route("settings:member_remove", "post", args=_target, ok=302),
    Route("settings:segments", of_object=False),
    Route("settings:segments", "post", data={**BANDS, "save": "1"}, ok=302, of_object=False),
    Route("settings:segments_preview", "post", data=BANDS, of_object=False),
    Route("settings:language", of_object=False),
    Route("settings:language", "post", data={"language": "de"}, ok=302, of_object=False),
]


@pytest.fixture
def objects(merchant: Any, owner: Any) -> dict[str, Any]:
    target = MembershipFactory(merchant=merchant, role=Role.STAFF)
    invitation = services.invitation_create(
        merchant=merchant, email="pending@example.com", role=Role.STAFF, actor=owner
    )
    # The fixture's own invitation is not a change made by the visitor under test.
    merchant.audit_events.all().delete()
    return {
        "program": StampProgramFactory(merchant=merchant),
        "target": target,
        "invitation": invitation,
    }


@pytest.mark.parametrize("persona", ["owner", "admin", "staff", "outsider", "anonymous"])
@pytest.mark.parametrize("route", TEAM_ROUTES, ids=lambda r: f"{r.method}-{r.name}")
def test_team_settings_permission_matrix(
    route: Route, persona: str, objects: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    check_route(route, persona, objects, request)


@pytest.mark.parametrize(
    ("persona", "status"),
    [("owner", 200), ("admin", 403), ("staff", 403), ("outsider", 200), ("anonymous", 302)],
)
def test_only_owners_read_the_audit_log(
    persona: str, status: int, objects: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    client = Client()
    if persona != "anonymous":
        user = request.getfixturevalue({"admin": "admin_user"}.get(persona, persona))
        client.force_login(user)
    response = client.get(reverse("settings:audit"))
    assert response.status_code == status
    if persona == "outsider":  # their own merchant's log: nothing of ours
        assert "pending@example.com" not in response.content.decode()


def test_the_matrix_covers_every_settings_url() -> None:
    settings_names = {
        f"settings:{name}"
        for name in get_resolver().namespace_dict["settings"][1].reverse_dict
        if isinstance(name, str)
    }
    covered = {route.name for route in (*PROGRAM_ROUTES, *TEAM_ROUTES)} | {"settings:audit"}
    assert settings_names == covered


@pytest.mark.parametrize(
    ("persona", "visible"), [("owner", True), ("admin", True), ("staff", False)]
)
def test_only_managers_see_the_settings_link(
    persona: str, visible: bool, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue({"admin": "admin_user"}.get(persona, persona))
    client = Client()
    client.force_login(user)
    body = client.get(reverse("customers:list")).content.decode()
    assert (f'href="{reverse("settings:home")}"' in body) is visible


def test_a_member_of_two_merchants_manages_only_the_current_one(
    owner_client: Client, owner, other_merchant
) -> None:
    MembershipFactory(user=owner, merchant=other_merchant, role=Role.STAFF)
    outsider_membership = MembershipFactory(merchant=other_merchant, role=Role.STAFF)
    response = owner_client.post(reverse("settings:member_remove", args=[outsider_membership.pk]))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=outsider_membership.pk).exists()
