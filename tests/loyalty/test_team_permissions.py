"""The team and audit settings beyond who may open and post each URL (that is the table of
tests/test_permission_matrix.py, every URL of the settings included): the audit log's reader,
the Settings link, and a member of two merchants.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from loyalty import services
from loyalty.models import Membership, Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(merchant: Any, owner: Any) -> dict[str, Any]:
    invitation = services.invitation_create(
        merchant=merchant, email="pending@example.com", role=Role.STAFF, actor=owner
    )
    return {"invitation": invitation}


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
    if persona in ("owner", "outsider"):  # the outsider reads their own merchant's log
        assert ("pending@example.com" in response.content.decode()) is (persona == "owner")


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
