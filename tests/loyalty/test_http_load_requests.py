"""The HTTP load benchmark's requests are ones the app answers with success.

bench/http_load.py times whatever gunicorn answers. These tests send the very requests its
load generator builds (bench/http_requests.py) through Django's test client, CSRF checks on,
logged in through the login form as the benchmark does, so a benchmark that would time 403s,
400s or 422s fails here first. The home page is requested as the benchmark's admin requests it,
and a staff member's redirect away from it must not count as success. The ledger floor's SQL
(bench/ledger_floor.py) must leave the card matching its ledger, as ``verify_ledger`` checks it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client

from analytics.periods import CUSTOM, PRESETS
from bench import http_requests as rq
from bench import ledger_floor
from cards.models import Card
from cards.rules import Kind
from cards.selectors import foreign_entry_kinds, ledger_differences
from tests.factories import PASSWORD, CustomerFactory, issue_card


def _send(client: Client, request: rq.Request) -> HttpResponse:
    headers = dict(request.headers)
    if request.method == "POST":
        return client.post(
            request.path,
            request.body(),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )
    return client.get(request.path, headers=headers)


def _csrf(client: Client, routes: rq.Routes) -> str:
    return client.cookies[routes.csrf_cookie].value


@pytest.fixture
def routes(db: Any) -> rq.Routes:
    return rq.Routes.from_django()


def _logged_in(user: Any, routes: rq.Routes) -> Client:
    """Logged in as the benchmark logs in: the form's GET, then its POST."""
    client = Client(enforce_csrf_checks=True)
    _send(client, rq.login_page(routes))
    post = rq.login_post(
        routes, username=user.username, password=PASSWORD, csrf_token=_csrf(client, routes)
    )
    response = _send(client, post)
    assert rq.login_succeeded(response.status_code, rq.lower_headers(response.headers))
    return client


def _home_succeeded(response: HttpResponse) -> bool:
    return rq.home_succeeded(
        response.status_code, rq.lower_headers(response.headers), response.content
    )


@pytest.fixture
def bench_client(staff: Any, routes: rq.Routes) -> Client:
    return _logged_in(staff, routes)


@pytest.fixture
def admin_bench_client(admin_user: Any, routes: rq.Routes) -> Client:
    """The home page's sessions: an admin's, as staff see no statistics."""
    return _logged_in(admin_user, routes)


def test_the_login_form_post_logs_the_staff_member_in(bench_client: Client, staff: Any) -> None:
    assert int(bench_client.session["_auth_user_id"]) == staff.pk


def test_a_wrong_password_is_not_counted_as_a_login(staff: Any, routes: rq.Routes) -> None:
    client = Client(enforce_csrf_checks=True)
    _send(client, rq.login_page(routes))
    post = rq.login_post(
        routes, username=staff.username, password="wrong", csrf_token=_csrf(client, routes)
    )
    response = _send(client, post)
    assert not rq.login_succeeded(response.status_code, rq.lower_headers(response.headers))


def test_the_purchase_post_writes_one_purchase_and_answers_success(
    bench_client: Client, routes: rq.Routes, stamp_card: Card
) -> None:
    before = set(stamp_card.entries.values_list("pk", flat=True))
    request = rq.purchase_post(
        routes, serial=stamp_card.serial, csrf_token=_csrf(bench_client, routes), key="bench1"
    )
    response = _send(bench_client, request)

    assert response.status_code == 204, response.content.decode()[:500]
    assert rq.purchase_succeeded(response.status_code, rq.lower_headers(response.headers))
    written = stamp_card.entries.exclude(pk__in=before)
    assert [(e.kind, e.amount_delta) for e in written] == [
        (Kind.PURCHASE, Decimal(rq.PURCHASE_AMOUNT))
    ]


def test_a_post_without_a_valid_csrf_token_is_not_counted_as_success(
    bench_client: Client, routes: rq.Routes, stamp_card: Card
) -> None:
    request = rq.purchase_post(routes, serial=stamp_card.serial, csrf_token="x" * 32, key="bench2")
    response = _send(bench_client, request)

    assert response.status_code == 403
    assert not rq.purchase_succeeded(response.status_code, rq.lower_headers(response.headers))
    assert not stamp_card.entries.filter(operation_key="bench2").exists()


def test_a_refused_purchase_is_not_counted_as_success(
    bench_client: Client, routes: rq.Routes, stamp_card: Card
) -> None:
    stamp_card.expires_on = stamp_card.issued_at.date().replace(year=2000)
    stamp_card.save(update_fields=["expires_on"])
    request = rq.purchase_post(
        routes, serial=stamp_card.serial, csrf_token=_csrf(bench_client, routes), key="bench3"
    )
    response = _send(bench_client, request)

    assert response.status_code == 422
    assert not rq.purchase_succeeded(response.status_code, rq.lower_headers(response.headers))


@pytest.mark.parametrize("page", ["profile", "history", "customers"])
def test_the_pages_answer_200(
    bench_client: Client, routes: rq.Routes, stamp_card: Card, page: str
) -> None:
    requests = {
        "profile": rq.profile_get(routes, serial=stamp_card.serial),
        "history": rq.history_get(routes, serial=stamp_card.serial),
        "customers": rq.customers_get(routes),
    }
    response = _send(bench_client, requests[page])

    assert response.status_code == 200
    assert rq.page_succeeded(response.status_code, rq.lower_headers(response.headers))
    assert stamp_card.serial in response.content.decode()


@pytest.mark.parametrize("kind", rq.SEARCH_KINDS)
def test_each_kind_of_search_finds_the_customer(
    bench_client: Client, routes: rq.Routes, stamp_program: Any, kind: str
) -> None:
    customer = CustomerFactory(
        merchant=stamp_program.merchant,
        first_name="Rosalind",
        last_name="Quennell",
        email="rosalind.q@example.com",
        phone="+14155550123",
    )
    card = issue_card(stamp_program, customer)
    CustomerFactory(merchant=stamp_program.merchant, first_name="Other", last_name="Person")
    queries = rq.search_queries(
        serial=card.serial,
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        last_name=customer.last_name,
    )
    response = _send(bench_client, rq.customers_get(routes, q=queries[kind]))

    assert response.status_code == 200
    assert f'data-customer="{customer.pk}"' in response.content.decode()


@pytest.mark.parametrize("period", rq.HOME_PRESETS)
def test_the_home_page_shows_an_admin_the_statistics_for_each_preset(
    admin_bench_client: Client, routes: rq.Routes, stamp_card: Card, period: str
) -> None:
    response = _send(admin_bench_client, rq.home_get(routes, period=period))

    assert response.status_code == 200
    assert _home_succeeded(response)
    assert f'data-period="{period}" aria-pressed="true"' in response.content.decode()


def test_the_home_page_shows_one_programs_statistics(
    admin_bench_client: Client, routes: rq.Routes, stamp_card: Card, cashback_program: Any
) -> None:
    request = rq.home_get(routes, period="12m", program=stamp_card.program_id)
    response = _send(admin_bench_client, request)

    assert _home_succeeded(response)
    assert 'data-metric="stamps_issued"' in response.content.decode()
    assert 'data-metric="points_issued"' not in response.content.decode()


def test_a_staff_members_redirect_from_the_home_page_is_not_counted_as_success(
    bench_client: Client, routes: rq.Routes, stamp_card: Card
) -> None:
    response = _send(bench_client, rq.home_get(routes, period="30d"))

    assert response.status_code == 302
    assert not _home_succeeded(response)


def test_the_benchmark_knows_every_preset_button_of_the_home_page() -> None:
    assert tuple(preset for preset in PRESETS if preset != CUSTOM) == rq.HOME_PRESETS


def test_a_page_without_the_statistics_is_not_counted_as_success() -> None:
    assert not rq.home_succeeded(200, {}, b"<main>Customers</main>")
    assert not rq.home_succeeded(500, {}, rq.HOME_MARKER)


def test_phones_are_typed_the_way_people_write_them() -> None:
    assert rq.phone_typed("+14155550123") == "+1 (415) 555-0123"
    assert rq.phone_typed("+442079460958") == "+44 20 7946 0958"


def test_the_floor_transaction_leaves_the_card_matching_its_ledger(
    cashback_card: Card, staff: Any
) -> None:
    card = ledger_floor.FloorCard(card_id=cashback_card.pk, merchant_id=cashback_card.merchant_id)
    before = cashback_card.points_balance
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(ledger_floor.LOCK, [card.card_id])
        at = ledger_floor.now()
        values = ledger_floor.entry_values(card, actor_id=staff.pk, request_hash="h", at=at)
        cursor.execute(ledger_floor.INSERT, values)
        cursor.execute(ledger_floor.UPDATE, ledger_floor.update_values(card, at=at))

    fresh = Card.objects.select_related("program").get(pk=cashback_card.pk)
    entries = list(fresh.entries.order_by("created_at", "id"))
    assert fresh.points_balance == before + ledger_floor.POINTS
    assert entries[-1].kind == Kind.POINTS_ADDED
    assert ledger_differences(fresh, entries) == []
    assert foreign_entry_kinds(fresh, entries) == []
