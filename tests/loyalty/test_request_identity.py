"""Who is signed in and for which merchant, read once per request.

``loyalty.authentication.MembershipBackend`` loads the user with their memberships in one
query, and sessions are read from the cache; what Django's own backend and session store
guarantee must still hold.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards.models import Card
from loyalty.models import Merchant, Role
from tests.factories import MembershipFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def _profile(card: Card) -> str:
    return reverse("cards:profile", args=[card.serial])


def _queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_user_and_their_memberships_are_one_query(
    staff_client: Client, stamp_card: Card
) -> None:
    staff_client.get(_profile(stamp_card))
    queries = _queries(staff_client, _profile(stamp_card))
    identity = [
        q for q in queries if q.startswith(('SELECT "loyalty_membership"', 'SELECT "auth_user"'))
    ]
    assert len(identity) == 1
    assert '"django_session"' not in " ".join(queries)  # the session came from the cache


def test_the_merchant_switcher_costs_no_query_of_its_own(
    staff_client: Client, staff: Any, stamp_card: Card
) -> None:
    staff_client.get(_profile(stamp_card))
    alone = len(_queries(staff_client, _profile(stamp_card)))
    other = MerchantFactory(name="Zebra Bakery")
    MembershipFactory(user=staff, merchant=other, role=Role.OWNER)

    html = staff_client.get(_profile(stamp_card)).content.decode()
    assert 'id="merchant-switch"' in html
    assert "Zebra Bakery" in html
    assert len(_queries(staff_client, _profile(stamp_card))) == alone


def test_the_merchant_chosen_in_the_session_is_the_one_served(
    staff_client: Client, staff: Any, merchant: Merchant
) -> None:
    other = MerchantFactory(name="Aardvark Books")  # first by name
    MembershipFactory(user=staff, merchant=other, role=Role.OWNER)
    home = reverse("customers:list")
    assert "Aardvark Books" in staff_client.get(home).content.decode()

    staff_client.post(reverse("merchant_switch"), {"merchant": merchant.pk})

    assert merchant.name in staff_client.get(home).content.decode().split("</strong>")[0]


def test_a_password_change_elsewhere_signs_the_session_out(
    staff_client: Client, staff: Any, stamp_card: Card
) -> None:
    assert staff_client.get(_profile(stamp_card)).status_code == 200
    staff.set_password("another long pass phrase")
    staff.save()

    assert staff_client.get(_profile(stamp_card)).status_code == 302


def test_a_deactivated_user_is_signed_out(
    staff_client: Client, staff: Any, stamp_card: Card
) -> None:
    assert staff_client.get(_profile(stamp_card)).status_code == 200
    staff.is_active = False
    staff.save()

    assert staff_client.get(_profile(stamp_card)).status_code == 302


def test_a_removed_membership_takes_effect_on_the_next_request(
    staff_client: Client, staff: Any, stamp_card: Card
) -> None:
    assert staff_client.get(_profile(stamp_card)).status_code == 200
    staff.memberships.all().delete()

    assert staff_client.get(_profile(stamp_card)).status_code == 403


def test_a_session_lost_from_the_cache_is_read_from_the_database(
    staff_client: Client, stamp_card: Card
) -> None:
    session_key = staff_client.cookies["sessionid"].value
    cache.delete(KEY_PREFIX + session_key)

    queries = _queries(staff_client, _profile(stamp_card))

    assert any('"django_session"' in q for q in queries)
    assert cache.get(KEY_PREFIX + session_key) is not None  # and cached again
