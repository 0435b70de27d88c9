"""The dashboard's hot paths run a fixed, small number of SQL queries, whatever the history.

The counts are the budget the load benchmark (bench/http_load.py) is measured against: a
request that grows a query fails here first. Each test names the statements it expects.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards import services
from cards.models import Card, Program
from loyalty import clock
from tests.factories import CustomerFactory, issue_card

HTMX = {"HX-Request": "true"}


def _queries(call: Any) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return response, [query["sql"] for query in captured.captured_queries]


def _long_history(card: Card, staff: Any, entries: int = 60) -> None:
    for _ in range(entries):
        services.card_add_transaction_amount(card=card, value="10", actor=staff)


def _post_purchase(client: Client, card: Card) -> Any:
    url = reverse("cards:dialog", args=[card.serial, "transaction_amount_add"])
    data = {"idempotency_key": uuid.uuid4().hex, "value": "12.50"}
    return client.post(url, data, headers=HTMX)


def test_a_purchase_through_the_dialog_runs_seven_queries(
    staff_client: Client, stamp_card: Card, staff: Any
) -> None:
    _post_purchase(staff_client, stamp_card)  # the session is in the cache from now on
    _long_history(stamp_card, staff)

    response, queries = _queries(lambda: _post_purchase(staff_client, stamp_card))

    assert response.status_code == 204
    # The user with their memberships; the card locked; the key looked up; the entry written
    # with the card's new balances (and the statistics' daily rollup, in the same statement);
    # the customer's CRM columns; the transaction itself.
    assert len(queries) == 7, queries
    assert queries[0].startswith('SELECT "loyalty_membership"')
    assert "FOR UPDATE" in queries[2]
    assert queries[4].startswith("WITH written AS (INSERT INTO")
    assert "INSERT INTO analytics_dailytotals" in queries[4]
    assert stamp_card.entries.count() == 63


def test_the_double_scan_guard_costs_one_query_more(
    staff_client: Client, stamp_card: Card, staff: Any
) -> None:
    _post_purchase(staff_client, stamp_card)
    _long_history(stamp_card, staff)
    program = stamp_card.program
    program.repeat_guard_seconds = 60  # the product's default; the factory turns it off
    program.save()
    with clock.frozen_at(clock.now() + datetime.timedelta(minutes=5)):
        response, queries = _queries(lambda: _post_purchase(staff_client, stamp_card))

    assert response.status_code == 204
    # The seven above, and the card's latest entry of the same kind within the window.
    assert len(queries) == 8, queries
    assert "FOR UPDATE" in queries[2]
    assert queries[4].startswith('SELECT "cards_ledgerentry"')
    assert queries[5].startswith("WITH written AS (INSERT INTO")


def test_a_profile_page_runs_seven_queries_on_a_stamp_card(
    staff_client: Client, stamp_card: Card, staff: Any
) -> None:
    url = reverse("cards:profile", args=[stamp_card.serial])
    staff_client.get(url)
    _long_history(stamp_card, staff)

    response, queries = _queries(lambda: staff_client.get(url))

    assert response.status_code == 200
    # User and memberships, the card, the customer's cards, the rating, the program's custom
    # fields, the history's count and its first page.
    assert len(queries) == 7, queries


def test_a_profile_page_runs_eight_queries_on_a_cashback_card(
    staff_client: Client, cashback_program: Program, staff: Any
) -> None:
    customer = CustomerFactory(merchant=cashback_program.merchant)
    card = issue_card(cashback_program, customer=customer)
    url = reverse("cards:profile", args=[card.serial])
    staff_client.get(url)
    for _ in range(30):
        services.card_add_points(card=card, value="1", actor=staff)

    response, queries = _queries(lambda: staff_client.get(url))

    assert response.status_code == 200
    assert len(queries) == 8, queries  # the seven, and the program's tiers


def _crowd(stamp_program: Program, cashback_program: Program) -> None:
    merchant = stamp_program.merchant
    for n in range(30):
        customer = CustomerFactory(merchant=merchant, first_name="Ann", email=f"ann{n}@x.org")
        issue_card(stamp_program, customer=customer)
        issue_card(cashback_program, customer=customer)


def test_the_customer_list_runs_four_queries(
    staff_client: Client, stamp_program: Program, cashback_program: Program
) -> None:
    _crowd(stamp_program, cashback_program)
    url = reverse("customers:list")
    staff_client.get(url)

    response, queries = _queries(lambda: staff_client.get(url))

    assert response.status_code == 200
    # User and memberships, the program filter's choices, the page of customers, their cards.
    assert len(queries) == 4, "\n".join(q[:90] for q in queries)


@pytest.mark.parametrize("query", ["Ann", "0000-0000", "ann7@x.org", "+1 415 555 0123"])
def test_a_search_runs_at_most_eight_queries(
    staff_client: Client, stamp_program: Program, cashback_program: Program, query: str
) -> None:
    _crowd(stamp_program, cashback_program)
    url = reverse("customers:list")
    staff_client.get(url)

    response, queries = _queries(lambda: staff_client.get(url, {"q": query}))

    assert response.status_code == 200
    # The four of the list; the ranked matches run in a transaction of their own that keeps the
    # planner on the search indexes (begin, the setting, the statement, commit).
    assert len(queries) <= 8, "\n".join(q[:90] for q in queries)


def test_a_history_page_runs_five_queries_however_long_the_history(
    staff_client: Client, stamp_card: Card, staff: Any
) -> None:
    url = reverse("cards:history", args=[stamp_card.serial])
    staff_client.get(url, headers=HTMX)
    counts = []
    for _ in range(2):
        _long_history(stamp_card, staff, entries=40)
        response, queries = _queries(lambda: staff_client.get(url, headers=HTMX))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 6
