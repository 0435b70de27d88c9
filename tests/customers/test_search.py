"""Finding a customer by name, email, phone in any format, or card serial with or without dashes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards.models import Card, CardStatus, Device, Program
from cards.services import card_mark_installed
from customers.models import Customer, Segment
from customers.selectors import (
    NO_SEQSCAN,
    SEARCH_LIMIT,
    CustomerFilters,
    customer_search,
    customer_search_sql,
    customer_search_statement,
    search_terms,
)
from loyalty.models import Merchant
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db


def names(merchant: Merchant, q: str, **filters: Any) -> list[str]:
    found = customer_search(merchant=merchant, q=q, filters=CustomerFilters(**filters))
    return [c.full_name for c in found]


@pytest.fixture
def ann(merchant: Merchant) -> Customer:
    return CustomerFactory(
        merchant=merchant,
        first_name="Ann",
        last_name="Lee",
        email="ann.lee@example.com",
        phone="+14155550123",
    )


@pytest.mark.parametrize(
    "q",
    [
        "Ann",
        "ann",
        "LEE",
        "Ann Lee",
        "ann lee",
        "ann.lee@example.com",
        "ANN.LEE@EXAMPLE.COM",
        "ann.lee@",
        "+14155550123",
        "+1 415 555 0123",
        "(415) 555-0123",
        "415-555-0123",
        "415.555.0123",
        "4155550123",
        "001 415 555 0123",
        "555-0123",
        "+1415",
    ],
)
def test_a_customer_is_found_by_name_email_or_phone_in_any_format(
    merchant: Merchant, ann: Customer, q: str
) -> None:
    assert names(merchant, q) == ["Ann Lee"]


def test_a_customer_is_found_by_card_serial_with_or_without_dashes(
    merchant: Merchant, ann: Customer, stamp_program: Program
) -> None:
    card = issue_card(stamp_program, customer=ann)
    digits = card.serial.replace("-", "")
    for q in (card.serial, digits, card.serial[:7], digits[:6], digits[3:9], f" {card.serial} "):
        assert "Ann Lee" in names(merchant, q), q


def test_substrings_need_three_characters(merchant: Merchant) -> None:
    CustomerFactory(merchant=merchant, first_name="Joanna", last_name="Smith", email="")
    assert names(merchant, "oan") == ["Joanna Smith"]
    assert names(merchant, "mit") == ["Joanna Smith"]
    assert names(merchant, "oa") == []


def test_exact_and_prefix_matches_come_before_substrings(merchant: Merchant) -> None:
    # Created first so that recency alone would put them last.
    CustomerFactory(merchant=merchant, first_name="Joanna", last_name="Ann", email="jo@x.org")
    CustomerFactory(merchant=merchant, first_name="Annabel", last_name="Ray", email="ab@x.org")
    CustomerFactory(merchant=merchant, first_name="Marianne", last_name="Roy", email="mr@x.org")
    CustomerFactory(merchant=merchant, first_name="Ann", last_name="Other", email="ao@x.org")
    found = names(merchant, "ann")
    assert set(found[:2]) == {"Joanna Ann", "Ann Other"}  # exact (last name, first name)
    assert found[2] == "Annabel Ray"  # prefix
    assert found[3] == "Marianne Roy"  # substring


def test_at_most_25_rows(merchant: Merchant) -> None:
    CustomerFactory.create_batch(SEARCH_LIMIT + 5, merchant=merchant, first_name="Sam")
    assert len(names(merchant, "sam")) == SEARCH_LIMIT


def test_another_merchants_customers_are_never_found(
    merchant: Merchant, other_merchant: Merchant, ann: Customer
) -> None:
    assert names(other_merchant, "ann") == []
    assert names(other_merchant, "+14155550123") == []


def test_like_wildcards_in_the_query_are_taken_literally(merchant: Merchant, ann: Customer) -> None:
    CustomerFactory(merchant=merchant, first_name="100%", last_name="Pure", email="")
    assert names(merchant, "100% p") == ["100% Pure"]
    # As wildcards, "_" and "%" would match "100% Pure" by prefix.
    assert names(merchant, "1_0") == []
    assert names(merchant, "10%") == []
    assert names(merchant, "\\") == []


def test_search_combines_with_the_filters(
    merchant: Merchant, ann: Customer, stamp_program: Program, cashback_program: Program
) -> None:
    other = CustomerFactory(merchant=merchant, first_name="Anna", last_name="Bell")
    issue_card(stamp_program, customer=ann)
    issue_card(cashback_program, customer=other)
    Customer.objects.filter(pk=other.pk).update(segment=Segment.LOYAL)
    assert names(merchant, "ann", program=cashback_program.pk) == ["Anna Bell"]
    assert names(merchant, "ann", segment=Segment.LOYAL) == ["Anna Bell"]
    assert names(merchant, "ann", status=CardStatus.DELETED) == []
    assert names(merchant, "ann", device="none") == ["Ann Lee", "Anna Bell"]


def test_search_takes_the_device_filter(
    merchant: Merchant, ann: Customer, stamp_program: Program, cashback_program: Program
) -> None:
    other = CustomerFactory(merchant=merchant, first_name="Anna", last_name="Bell")
    on_two = issue_card(stamp_program, customer=ann)
    card_mark_installed(card=on_two, device=Device.PWA)
    card_mark_installed(card=on_two, device=Device.APPLE_WALLET)
    issue_card(stamp_program, customer=other)
    google = issue_card(cashback_program, customer=other)
    card_mark_installed(card=google, device=Device.GOOGLE_WALLET)
    assert names(merchant, "ann", device=Device.PWA) == ["Ann Lee"]
    assert names(merchant, "ann", device=Device.APPLE_WALLET) == ["Ann Lee"]
    assert names(merchant, "ann", device=Device.GOOGLE_WALLET) == ["Anna Bell"]
    assert names(merchant, "ann", device="none") == ["Anna Bell"]  # her stamp card
    # The serial branch (cards joined to customers) takes it too.
    assert names(merchant, on_two.serial, device=Device.GOOGLE_WALLET) == []
    assert names(merchant, on_two.serial, device=Device.PWA) == ["Ann Lee"]


def test_the_device_filter_reads_the_devices_index(
    merchant: Merchant, ann: Customer, stamp_program: Program
) -> None:
    """The containment test is one the GIN index answers (the planner may still prefer
    another index on a small table; with scans off it shows it can use this one)."""
    clauses, params = CustomerFilters(device=Device.APPLE_WALLET).card_sql("f")
    sql = f"EXPLAIN SELECT 1 FROM cards_card f WHERE {' AND '.join(clauses)}"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "card_devices" in plan


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """What reached the database, without the savepoints of the test's own transaction."""
    return [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def test_search_runs_the_same_statements_whatever_the_matches(
    merchant: Merchant, stamp_program: Program
) -> None:
    for customer in CustomerFactory.create_batch(30, merchant=merchant, first_name="Kim"):
        issue_card(stamp_program, customer=customer)
    with CaptureQueriesContext(connection) as captured:
        assert len(customer_search(merchant=merchant, q="kim")) == SEARCH_LIMIT
    statements = _statements(captured)
    # The planner setting, the ranked ids, the customers (their cards: customers.rows).
    assert len(statements) == 3
    assert statements[0] == "SET LOCAL enable_seqscan = off"
    with CaptureQueriesContext(connection) as captured:
        assert customer_search(merchant=merchant, q="nobody") == []
    assert len(_statements(captured)) == 2


def test_phone_terms_cover_national_and_international_writing() -> None:
    terms = search_terms("07911 123456", region="GB")
    assert terms.phone == "+447911123456"
    assert "+447911123456" in terms.phone_prefixes
    assert search_terms("+44 7911", region="US").phone_prefixes == ("+447911",)
    assert search_terms("ann", region="US").digits == ""


def _word(n: int, part: int) -> str:
    """Eight pseudo-random letters a-p (no digits: phones and serials own those)."""
    digest = hashlib.md5(str(n).encode()).hexdigest()[part * 8 : part * 8 + 8]  # noqa: S324
    return "".join(chr(ord("a") + int(char, 16)) for char in digest)


def _number(n: int, part: int) -> int:
    return int(hashlib.md5(str(n).encode()).hexdigest()[part * 8 : part * 8 + 8], 16)  # noqa: S324


@pytest.fixture
def crowded_merchant(merchant: Merchant, stamp_program: Program) -> Merchant:
    """A few thousand varied, analysed rows, so the planner chooses as it does at scale."""
    customers = Customer.objects.bulk_create(
        Customer(
            merchant=merchant,
            first_name=_word(n, 0),
            last_name=_word(n, 1),
            email=f"{_word(n, 2)}@example.com",
            phone=f"+1{_number(n, 3) % 10**10:010d}",
        )
        for n in range(3000)
    )
    Card.objects.bulk_create(
        Card(
            merchant=merchant,
            program=stamp_program,
            customer=customer,
            serial="-".join(f"{_number(n, p) % 10**4:04d}" for p in (1, 2, 3)),
            holder_name=customer.full_name,
        )
        for n, customer in enumerate(customers)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE cards_card")
    return merchant


QUERIES = {
    "customer_first_name_prefix": lambda c, card: c.first_name,
    "customer_full_name_prefix": lambda c, card: f"{c.first_name} {c.last_name[:3]}",
    "customer_last_name_prefix": lambda c, card: c.last_name[:5],
    "customer_email_prefix": lambda c, card: c.email[:9],
    "customer_search_trgm": lambda c, card: c.last_name[2:8],
    "customer_phone_prefix": lambda c, card: c.phone[:8],
    "customer_phone_suffix": lambda c, card: c.phone[-4:],
    "card_serial_digits_prefix": lambda c, card: card.serial[:9],
    "card_serial_digits_trgm": lambda c, card: card.serial.replace("-", "")[3:10],
}


@pytest.mark.parametrize("index", list(QUERIES))
def test_every_search_branch_uses_its_index(crowded_merchant: Merchant, index: str) -> None:
    """The query's expressions match the indexes' (a mismatch would mean a scan at scale)."""
    customer = Customer.objects.filter(merchant=crowded_merchant).order_by("pk")[12]
    q = QUERIES[index](customer, customer.cards.get())
    sql, params = customer_search_sql(merchant=crowded_merchant, q=q)
    with connection.cursor() as cursor:
        # A few thousand rows are still "small": reading a whole table, or a whole index as if
        # it were the table, looks cheap. Rule both out, as they are at a million rows: what
        # is left are index conditions, and an index whose expression does not match the
        # query's would not appear in the plan.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
    assert customer in customer_search(merchant=crowded_merchant, q=q), q


def test_list_search_box_finds_a_customer_and_links_the_profile(
    staff_client: Client, ann: Customer, stamp_program: Program
) -> None:
    card = issue_card(stamp_program, customer=ann)
    response = staff_client.get(reverse("customers:list"), {"q": "415 555 0123"})
    assert response.status_code == 200
    assert reverse("cards:profile", args=[card.serial]) in response.text
    assert "Best 1 match" in response.text


def test_live_search_answers_htmx_with_the_results_partial(
    staff_client: Client, ann: Customer
) -> None:
    response = staff_client.get(
        reverse("customers:list"), {"q": "ann"}, headers={"HX-Request": "true"}
    )
    assert response.text.lstrip().startswith('<section id="customer-results"')
    assert "Ann Lee" in response.text
    assert "<html" not in response.text


def test_the_serial_of_a_card_links_to_its_profile(
    staff_client: Client, ann: Customer, stamp_program: Program
) -> None:
    card: Card = issue_card(stamp_program, customer=ann)
    response = staff_client.get(reverse("customers:list"), {"q": card.serial})
    assert f'data-serial="{card.serial}"' in response.text


def test_a_full_email_finds_that_customer_alone(merchant: Merchant, ann: Customer) -> None:
    CustomerFactory(
        merchant=merchant, first_name="Jo", last_name="Ann", email="joann.lee@example.com"
    )
    # Typed in full, an email is an identifier: no substring matches are added to it.
    assert names(merchant, "ann.lee@example.com") == ["Ann Lee"]
    # Typed in part, prefix matches come first, then substrings.
    assert names(merchant, "ann.lee@") == ["Ann Lee", "Jo Ann"]


# ---------------------------------------------------------------------------------------------
# The last digits of a phone ("what are the last four digits of your phone?")


@pytest.mark.parametrize("q", ["0123", "50123", "5550123", "555-0123", "55 50 123", "(555) 0123"])
def test_the_last_digits_of_a_phone_find_its_customer_in_the_list(
    staff_client: Client, ann: Customer, q: str
) -> None:
    response = staff_client.get(reverse("customers:list"), {"q": q})
    assert response.status_code == 200
    assert f'data-customer="{ann.pk}"' in response.text
    assert "Best 1 match" in response.text


def test_the_live_search_finds_a_phone_by_its_last_four_digits(
    staff_client: Client, ann: Customer
) -> None:
    response = staff_client.get(
        reverse("customers:list"), {"q": "0123"}, headers={"HX-Request": "true"}
    )
    assert response.text.lstrip().startswith('<section id="customer-results"')
    assert f'data-customer="{ann.pk}"' in response.text
    assert "<html" not in response.text


def test_digits_in_the_middle_of_a_phone_do_not_find_it_by_its_end(
    merchant: Merchant, ann: Customer
) -> None:
    assert names(merchant, "5550") == []
    assert names(merchant, "1555") == []


def test_fewer_than_four_digits_match_no_phone_by_its_end(
    merchant: Merchant, ann: Customer
) -> None:
    assert names(merchant, "123") == []
    assert names(merchant, "1-23") == []
    # The start of a number still matches from its first digits.
    assert names(merchant, "+1 41") == ["Ann Lee"]


def test_a_number_starting_with_plus_is_the_start_of_a_phone_not_its_end(
    merchant: Merchant, ann: Customer
) -> None:
    # Newer than Ann: among equal matches it would come first.
    CustomerFactory(merchant=merchant, first_name="Ends", last_name="In 1415", phone="+12125551415")
    assert search_terms("+1415", region="US").phone_suffix == ""
    assert names(merchant, "+1415") == ["Ann Lee", "Ends In 1415"]  # then digits anywhere
    assert names(merchant, "1415") == ["Ends In 1415", "Ann Lee"]  # either end, newest first


def test_three_digits_find_no_card_by_digits_inside_its_serial(
    merchant: Merchant, ann: Customer, stamp_program: Program
) -> None:
    card = issue_card(stamp_program, customer=ann)
    Card.objects.filter(pk=card.pk).update(serial="9055-5012-3456")
    # "555" sits inside the serial and the phone: a stranger's card to a merchant.
    assert names(merchant, "555") == []
    # Four digits inside the serial find it; the first digits of a serial always do.
    assert names(merchant, "5550") == ["Ann Lee"]
    assert names(merchant, "905") == ["Ann Lee"]


def test_an_exact_phone_comes_before_phones_ending_the_same(merchant: Merchant) -> None:
    CustomerFactory(merchant=merchant, first_name="Exact", last_name="Phone", phone="+12125550236")
    # Newer, so recency alone would list it first.
    CustomerFactory(merchant=merchant, first_name="Same", last_name="End", phone="+442125550236")
    assert names(merchant, "(212) 555-0236") == ["Exact Phone", "Same End"]


def test_phone_ends_and_serial_starts_come_before_other_matches(
    merchant: Merchant, stamp_program: Program
) -> None:
    CustomerFactory(merchant=merchant, first_name="Phone", last_name="End", phone="+12125550236")
    holder = CustomerFactory(merchant=merchant, first_name="Serial", last_name="Start")
    card = issue_card(stamp_program, customer=holder)
    Card.objects.filter(pk=card.pk).update(serial="5550-2360-0001")
    # The newest, but only its email holds the digits.
    CustomerFactory(merchant=merchant, first_name="Email", last_name="Only", email="x5550236@x.org")
    CustomerFactory(
        merchant=merchant, first_name="Nothing", last_name="Alike", phone="+12125550237"
    )
    assert names(merchant, "555-0236") == ["Serial Start", "Phone End", "Email Only"]


def test_another_merchants_customer_with_the_same_last_digits_is_not_found(
    staff_client: Client, merchant: Merchant, other_merchant: Merchant, ann: Customer
) -> None:
    stranger = CustomerFactory(merchant=other_merchant, phone="+12125550123")
    assert names(merchant, "0123") == ["Ann Lee"]
    assert names(other_merchant, "0123") == [stranger.full_name]
    response = staff_client.get(reverse("customers:list"), {"q": "0123"})
    assert f'data-customer="{ann.pk}"' in response.text
    assert f'data-customer="{stranger.pk}"' not in response.text


def test_the_phone_end_is_searched_through_its_index(crowded_merchant: Merchant) -> None:
    """The search's statement, planned as the search runs it: the digits typed are a range of
    the reversed phones' index (an index condition, not a filter over the merchant's rows)."""
    customer = Customer.objects.filter(merchant=crowded_merchant).order_by("pk")[7]
    q = f"{customer.phone[-7:-4]} {customer.phone[-4:]}"
    sql, params = customer_search_statement(merchant=crowded_merchant, q=q)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(NO_SEQSCAN)
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Scan using customer_phone_suffix on customers_customer" in plan, plan
    reversed_digits = customer.phone[-7:][::-1]
    assert f"(reverse((phone)::text) ~>=~ '{reversed_digits}'::text)" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert customer_search(merchant=crowded_merchant, q=q)[0] == customer
