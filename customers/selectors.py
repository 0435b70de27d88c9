"""Reads for the CRM: the customers list, its filters and the search.

The search is raw SQL on purpose: each branch is written so that PostgreSQL answers it from one
of the indexes of migration ``customers.0002_search_indexes`` or of ``Customer.Meta.indexes``
(the expressions must match them exactly), and each branch is capped, so a search costs a few
index probes whatever the size of the merchant's CRM.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    Exists,
    OuterRef,
    Prefetch,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from cards.models import Card, Program
from cards.profile import DEVICE_ORDER
from customers.models import Customer
from loyalty.models import Merchant
from loyalty.phones import normalize_phone

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

SEARCH_LIMIT = 25
PAGE_SIZE = 50
# Substring matches start at three characters: below that a trigram index cannot help.
MIN_SUBSTRING = 3
# A run of digits matches phones by their end ("the last four digits of your phone?") and
# serials anywhere inside from four digits on. Three digits are not enough: "555" sits inside
# one serial in a hundred and in countless phones, so it would list strangers' cards; a merchant
# typing three digits is on the way to more (the live search answers each keystroke), and
# the starts of phones and serials still match from the first digit.
MIN_DIGITS = 4
# As long as a card's former number can be (``cards.models.Card.external_number``).
MAX_EXTERNAL_NUMBER = 40
# The value of the device filter for cards on no device yet.
NO_DEVICE = "none"

# Keep in step with customers/migrations/0002_search_indexes.py.
FIRST_NAME = "lower(c.first_name)"
LAST_NAME = "lower(c.last_name)"
FULL_NAME = "lower(c.first_name || ' ' || c.last_name)"
EMAIL = "lower(c.email)"
PHONE = "c.phone"
# Phones read backwards: a suffix of the number is a prefix of this (the customer_phone_suffix
# index of Customer.Meta, partial: only customers with a phone).
PHONE_REVERSED = "reverse(c.phone)"
SEARCH_TEXT = "lower(c.first_name || ' ' || c.last_name || ' ' || c.email || ' ' || c.phone)"
SERIAL_DIGITS = "replace(k.serial, '-', '')"
# A former card's number kept by an import (the card_unique_external_number index).
EXTERNAL_NUMBER = "upper(k.external_number)"

EXACT, PREFIX, SUBSTRING = 0, 1, 2

_PHONE_LIKE = re.compile(r"[\d\s\-+().]+")
_SERIAL_LIKE = re.compile(r"[\d\s\-]+")


@dataclass(frozen=True)
class CustomerFilters:
    """The list's filters; a customer matches the card filters through one of their cards."""

    program: int | None = None
    status: str = ""
    device: str = ""
    segment: str = ""

    @property
    def card_conditions(self) -> dict[str, Any]:
        """The card filters as ORM lookups on ``Card``."""
        conditions: dict[str, Any] = {}
        if self.program is not None:
            conditions["program_id"] = self.program
        if self.status:
            conditions["status"] = self.status
        if self.device == NO_DEVICE:
            conditions["devices"] = []
        elif self.device:
            # devices @> ARRAY[kind]: the containment the card_devices GIN index answers.
            conditions["devices__contains"] = [self.device]
        return conditions

    def card_sql(self, alias: str) -> tuple[list[str], list[Any]]:
        """The same filters as SQL conditions on the card table ``alias``, and their values."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.program is not None:
            clauses.append(f"{alias}.program_id = %s")
            params.append(self.program)
        if self.status:
            clauses.append(f"{alias}.status = %s")
            params.append(self.status)
        if self.device == NO_DEVICE:
            clauses.append(f"{alias}.devices = '{{}}'")
        elif self.device:
            clauses.append(f"{alias}.devices @> ARRAY[%s]::varchar(14)[]")
            params.append(self.device)
        return clauses, params

    @property
    def is_empty(self) -> bool:
        return not self.card_conditions and not self.segment


# ---------------------------------------------------------------------------------------------
# The list


# The columns a list row prints (customers.rows): loading only these halves the time spent
# turning rows into objects. A new column shown needs its field here.
LIST_CUSTOMER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "segment",
    "last_visit_at",
    "last_activity_at",
)


def _cards_prefetch() -> Prefetch:
    """The cards the CSV export writes."""
    cards = Card.objects.select_related("program").order_by("issued_at", "id")
    return Prefetch("cards", queryset=cards)


@dataclass(frozen=True)
class ListedCard:
    """A card as a row of the customers list prints it."""

    serial: str
    status: str
    program_name: str
    program_kind: str
    stamps_balance: int
    rewards_available: int
    points_balance: Decimal
    devices: list[str]


def listed_cards(*, customer_ids: list[int]) -> dict[int, list[ListedCard]]:
    """These customers' cards, oldest first, in one query of plain values.

    No model instances: for a page of 50 customers, building Card and Program objects (and
    the prefetch machinery's queryset per customer) took longer than the query itself.
    """
    cards: dict[int, list[ListedCard]] = {pk: [] for pk in customer_ids}
    rows = (
        Card.objects.filter(customer_id__in=customer_ids)
        .order_by("issued_at", "id")
        .values_list(
            "customer_id",
            "serial",
            "status",
            "program__name",
            "program__kind",
            "stamps_balance",
            "rewards_available",
            "points_balance",
            "devices",
        )
    )
    for customer_id, *values in rows:
        cards[customer_id].append(ListedCard(*values))
    return cards


def customer_list(*, merchant: Merchant, filters: CustomerFilters) -> QuerySet[Customer]:
    """The merchant's customers, newest activity first, with their cards prefetched (the
    export; the list's pages read their cards with ``listed_cards``)."""
    customers = Customer.objects.filter(merchant=merchant)
    if filters.segment:
        customers = customers.filter(segment=filters.segment)
    if filters.card_conditions:
        matching_cards = Card.objects.filter(customer=OuterRef("pk"), **filters.card_conditions)
        customers = customers.filter(Exists(matching_cards))
    return customers.order_by("-last_activity_at", "-id").prefetch_related(_cards_prefetch())


@dataclass(frozen=True)
class Page:
    """One page of the list without a COUNT(*): cheap at a million customers."""

    customers: list[Customer]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def customer_page(*, merchant: Merchant, filters: CustomerFilters, number: int) -> Page:
    number = max(number, 1)
    start = (number - 1) * PAGE_SIZE
    customers = customer_list(merchant=merchant, filters=filters)
    customers = customers.prefetch_related(None).only(*LIST_CUSTOMER_FIELDS)
    rows = list(customers[start : start + PAGE_SIZE + 1])
    return Page(customers=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)


# ---------------------------------------------------------------------------------------------
# Search


@dataclass(frozen=True)
class SearchTerms:
    text: str
    digits: str
    phone: str
    phone_prefixes: tuple[str, ...]
    # The digits typed, to match the end of phone numbers ("" when fewer than MIN_DIGITS).
    phone_suffix: str
    serial_digits: str

    @property
    def substring_ok(self) -> bool:
        return _longest_word(self.text) >= MIN_SUBSTRING

    @property
    def is_number(self) -> bool:
        """A phone number or a serial: no name or email is searched for it."""
        return any(ch.isdigit() for ch in self.text) and bool(_PHONE_LIKE.fullmatch(self.text))


def _longest_word(text: str) -> int:
    return max((len(word) for word in re.findall(r"\w+", text)), default=0)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_terms(q: str, *, region: str) -> SearchTerms:
    """What to look for: the text as typed, and the digits where it looks like a phone/serial."""
    text = " ".join(q.lower().split())
    digits = re.sub(r"\D", "", text)
    phone, prefixes, suffix = "", cast(tuple[str, ...], ()), ""
    phone_like = bool(digits) and bool(_PHONE_LIKE.fullmatch(text))
    if phone_like:
        try:
            phone = normalize_phone(text, region=region)
        except ValidationError:
            phone = ""
        prefixes = _phone_prefixes(text, digits, region)
        # "+" starts a number: "+1 415" is its beginning, never the end of another one.
        if len(digits) >= MIN_DIGITS and not text.startswith("+"):
            suffix = digits
    serial_digits = digits if _SERIAL_LIKE.fullmatch(text) else ""
    return SearchTerms(
        text=text,
        digits=digits if len(digits) >= MIN_DIGITS and phone_like else "",
        phone=phone,
        phone_prefixes=prefixes,
        phone_suffix=suffix,
        serial_digits=serial_digits,
    )


def _phone_prefixes(text: str, digits: str, region: str) -> tuple[str, ...]:
    """The starts of E.164 numbers that the typed digits can be: "+44 79", "0079", "079"."""
    if text.startswith("+"):
        return (f"+{digits}",)
    if text.startswith("00"):
        return (f"+{digits[2:]}",) if len(digits) > 2 else ()
    prefixes = [f"+{digits}"]
    country_code = phonenumbers.country_code_for_region(region.upper())
    if country_code:
        # National numbers drop their trunk prefix (the leading 0 of 079...) in E.164.
        prefixes.append(f"+{country_code}{digits.lstrip('0')}")
    return tuple(dict.fromkeys(prefixes))


def _filters_sql(filters: CustomerFilters) -> tuple[str, list[Any]]:
    sql, params = "", []
    if filters.segment:
        sql += " AND c.segment = %s"
        params.append(filters.segment)
    clauses, values = filters.card_sql("f")
    if clauses:
        # The clauses are CustomerFilters.card_sql's fixed texts; every value is a parameter.
        sql += (
            " AND EXISTS (SELECT 1 FROM cards_card f "  # noqa: S608
            f"WHERE f.customer_id = c.id AND {' AND '.join(clauses)})"
        )
        params.extend(values)
    return sql, params


def customer_search_sql(
    *,
    merchant: Merchant,
    q: str,
    filters: CustomerFilters | None = None,
    limit: int | None = SEARCH_LIMIT,
) -> tuple[str, list[Any]]:
    """SQL returning ``(id, rank)`` of matching customers: 0 exact (a phone, a serial, a name,
    an email), 1 prefix or the end of a phone, 2 substring.

    One UNION ALL branch per index. With a limit, each branch stops after ``limit`` rows, and
    the substring branches (the costly ones: a common trigram such as "com" in every email
    means a long GIN posting list) only run when they are needed: when the exact and prefix
    matches are fewer than ``limit`` and none of them is a unique identifier typed in full
    (an email, a phone number, a serial). Their gate is a one-time filter, so PostgreSQL
    does not even start them otherwise.

    The SQL text is assembled from constants only; every value typed by a user is a parameter.
    """
    terms = search_terms(q, region=merchant.country)
    filter_sql, filter_params = _filters_sql(filters or CustomerFilters())
    cap = f" LIMIT {int(limit)}" if limit else ""
    strong: list[tuple[str, list[Any]]] = []
    weak: list[tuple[str, list[Any]]] = []

    def merchant_is(column: str, rank: int) -> str:
        # A substring branch must read its trigram index. Left free, the planner may instead
        # walk the merchant's rows through the merchant_id index until enough of them match,
        # which is a scan in disguise; "+ 0" keeps that index out of its choices.
        return f"{column} + 0 = %s" if rank == SUBSTRING else f"{column} = %s"

    def customer_branch(rank: int, condition: str, *values: Any, decisive: bool = False) -> None:
        sql = (
            f"(SELECT c.id, {rank} AS rank, {decisive} AS decisive "  # noqa: S608
            f"FROM customers_customer c "
            f"WHERE {merchant_is('c.merchant_id', rank)} AND {condition}{filter_sql}{cap})"
        )
        (weak if rank == SUBSTRING else strong).append(
            (sql, [merchant.pk, *values, *filter_params])
        )

    def card_branch(rank: int, condition: str, *values: Any, decisive: bool = False) -> None:
        sql = (
            f"(SELECT c.id, {rank} AS rank, {decisive} AS decisive "  # noqa: S608
            "FROM cards_card k JOIN customers_customer c ON c.id = k.customer_id "
            f"WHERE {merchant_is('k.merchant_id', rank)} AND {condition}{filter_sql}{cap})"
        )
        (weak if rank == SUBSTRING else strong).append(
            (sql, [merchant.pk, *values, *filter_params])
        )

    text = terms.text
    if text and not terms.is_number:
        like_text = _like_escape(text)
        customer_branch(EXACT, f"{FIRST_NAME} = %s", text)
        customer_branch(EXACT, f"{LAST_NAME} = %s", text)
        if " " in text:
            customer_branch(EXACT, f"{FULL_NAME} = %s", text)
        customer_branch(EXACT, f"{EMAIL} = %s", text, decisive="@" in text)
        # The full name starts with the first name: one branch covers both prefixes.
        customer_branch(PREFIX, f"{FULL_NAME} LIKE %s", like_text + "%")
        customer_branch(PREFIX, f"{LAST_NAME} LIKE %s", like_text + "%")
        customer_branch(PREFIX, f"{EMAIL} LIKE %s", like_text + "%")
        if terms.substring_ok:
            customer_branch(SUBSTRING, f"{SEARCH_TEXT} LIKE %s", "%" + like_text + "%")
    if text and len(text) <= MAX_EXTERNAL_NUMBER:
        # An old card's number, typed in full in any letter case ("" is no number at all).
        card_branch(
            EXACT,
            f"{EXTERNAL_NUMBER} = %s AND k.external_number <> ''",
            text.upper(),
            decisive=True,
        )
    if terms.phone:
        customer_branch(EXACT, f"{PHONE} = %s", terms.phone, decisive=True)
    for prefix in terms.phone_prefixes:
        if len(prefix) > MIN_SUBSTRING:  # "+" and at least three digits
            customer_branch(PREFIX, f"{PHONE} LIKE %s", _like_escape(prefix) + "%")
    if terms.phone_suffix:
        # The phone's last digits, typed alone ("0236") or with the ones before ("555-0236"):
        # a prefix of the reversed number, ranked with the prefixes.
        customer_branch(
            PREFIX,
            f"{PHONE_REVERSED} LIKE %s AND {PHONE} <> ''",
            terms.phone_suffix[::-1] + "%",
        )
    if terms.digits and terms.digits != text:
        customer_branch(SUBSTRING, f"{SEARCH_TEXT} LIKE %s", f"%{terms.digits}%")
    if terms.serial_digits:
        serial = terms.serial_digits
        card_branch(EXACT, f"{SERIAL_DIGITS} = %s", serial, decisive=len(serial) == 12)
        card_branch(PREFIX, f"{SERIAL_DIGITS} LIKE %s", serial + "%")
        if len(serial) >= MIN_DIGITS:
            card_branch(SUBSTRING, f"{SERIAL_DIGITS} LIKE %s", f"%{serial}%")
    if not strong and not weak:
        return "SELECT NULL::bigint AS id, 0 AS rank WHERE FALSE", []
    params = [value for _, values in strong + weak for value in values]
    if not strong or not weak or not limit:
        return _select(strong + weak, "hits"), params
    gate = (
        f"(SELECT count(DISTINCT id) FROM strong) < {int(limit)} "  # noqa: S608
        "AND NOT EXISTS (SELECT 1 FROM strong WHERE decisive)"
    )
    strong_cte = f"WITH strong AS MATERIALIZED ({_union(strong)}) "
    weak_sql = _select(weak, "weak")
    sql = f"{strong_cte}SELECT id, rank FROM strong UNION ALL {weak_sql} WHERE {gate}"  # noqa: S608
    return sql, params


def _select(branches: list[tuple[str, list[Any]]], alias: str) -> str:
    return f"SELECT id, rank FROM ({_union(branches)}) AS {alias}"  # noqa: S608


def _union(branches: list[tuple[str, list[Any]]]) -> str:
    return " UNION ALL ".join(sql for sql, _ in branches)


def customer_search_statement(
    *, merchant: Merchant, q: str, filters: CustomerFilters | None = None
) -> tuple[str, list[Any]]:
    """The search as one statement: ranked ids, at most ``SEARCH_LIMIT`` of them."""
    hits, params = customer_search_sql(merchant=merchant, q=q, filters=filters)
    sql = (
        "SELECT m.id FROM (SELECT id, MIN(rank) AS rank FROM ("  # noqa: S608
        + hits
        + ") AS hits GROUP BY id) m "
        "JOIN customers_customer c ON c.id = m.id "
        "ORDER BY m.rank, c.last_activity_at DESC, c.id DESC "
        f"LIMIT {SEARCH_LIMIT}"
    )
    return sql, params


# For a substring that many rows contain, the planner may prefer reading the table until 25
# rows match; that is quick on average but unbounded when its estimate is wrong (a rare
# substring costs a full scan). The search statement is planned with sequential scans off,
# so it always goes through the indexes and its cost stays bounded.
NO_SEQSCAN = "SET LOCAL enable_seqscan = off"


def customer_search_ids(
    *, merchant: Merchant, q: str, filters: CustomerFilters | None = None
) -> list[int]:
    """At most ``SEARCH_LIMIT`` ids: exact and prefix matches first, then substrings.

    Within a rank, the most recently active customers come first.
    """
    sql, params = customer_search_statement(merchant=merchant, q=q, filters=filters)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(NO_SEQSCAN)
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def customer_search(
    *, merchant: Merchant, q: str, filters: CustomerFilters | None = None
) -> list[Customer]:
    """The best matches for ``q``, in rank order (two queries; their cards: ``listed_cards``)."""
    ids = customer_search_ids(merchant=merchant, q=q, filters=filters)
    if not ids:
        return []
    by_id = Customer.objects.filter(pk__in=ids).only(*LIST_CUSTOMER_FIELDS).in_bulk()
    return [by_id[pk] for pk in ids if pk in by_id]


def customer_matches(*, merchant: Merchant, q: str, filters: CustomerFilters) -> QuerySet[Customer]:
    """Every customer the list shows for this search and these filters, uncapped: the export,
    and a campaign's audience "the customer list's filter"."""
    customers = customer_list(merchant=merchant, filters=filters)
    if q.strip():
        # The filters are already on ``customers``; the search adds its matches, uncapped.
        hits, params = customer_search_sql(merchant=merchant, q=q, limit=None)
        matches = RawSQL(f"SELECT id FROM ({hits}) AS hits", params)  # noqa: S608, S611
        customers = customers.filter(pk__in=matches)
    return customers


def customer_export_rows(
    *, merchant: Merchant, q: str, filters: CustomerFilters
) -> Iterator[Customer]:
    """Every customer matching the search and filters (no cap), streamed in chunks."""
    return customer_matches(merchant=merchant, q=q, filters=filters).iterator(chunk_size=2000)


def customer_export_count(*, merchant: Merchant, q: str, filters: CustomerFilters) -> int:
    """How many customers ``customer_export_rows`` yields (one COUNT, for the audit log)."""
    return customer_matches(merchant=merchant, q=q, filters=filters).count()


# ---------------------------------------------------------------------------------------------
# Filters and segments


def program_choices(*, merchant: Merchant) -> QuerySet[Program]:
    return Program.objects.filter(merchant=merchant).order_by("name", "id")


def device_choices() -> list[tuple[str, StrOrPromise]]:
    # Translators: the device filter's choice for cards not added to any phone's wallet yet.
    return [(NO_DEVICE, gettext("Not installed"))] + [(d.value, d.label) for d in DEVICE_ORDER]
