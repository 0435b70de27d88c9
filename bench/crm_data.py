"""A scratch database with one merchant holding N customers (one card each), for the CRM
benchmarks (bench/search_customers.py, bench/segments_recompute.py).

The rows are inserted by set-based SQL (``generate_series``), not through the services: a
million customers load in well under a minute. They look like a real CRM where it matters to
the measured queries: varied first and last names, unique emails, valid-looking E.164 phone
numbers, unique serials, visits spread over the last 200 days.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import django
import psycopg
from django.core.management import call_command
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLUG = "crm-bench"

FIRST_NAMES = [
    "Ann",
    "Anna",
    "Annabel",
    "Marianne",
    "Joanna",
    "Bob",
    "Carla",
    "Dmitri",
    "Emma",
    "Fatima",
    "Giulia",
    "Hana",
    "Ivan",
    "Jose",
    "Kim",
    "Lena",
    "Mateo",
    "Nora",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tomas",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Liam",
    "Noah",
    "Olivia",
    "Amelia",
    "Lucas",
    "Mia",
    "Ethan",
    "Sofia",
    "Mason",
    "Aria",
    "Logan",
    "Chloe",
    "Elijah",
    "Layla",
    "Aiden",
    "Zara",
    "Omar",
    "Priya",
    "Ravi",
]
LAST_NAMES = [
    "Lee",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Kowalski",
    "Nakamura",
    "Okafor",
    "Dubois",
    "Rossi",
    "Schmidt",
    "Novak",
    "Silva",
    "Costa",
    "Haddad",
    "Ivanova",
    "Larsen",
]


def scratch_urls(url: str, suffix: str) -> tuple[str, str]:
    """(admin URL, scratch URL): the scratch database sits on DATABASE_URL's server."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "loyalty"
    admin = urlunsplit(parts._replace(path="/postgres"))
    scratch = urlunsplit(parts._replace(path=f"/{name}_{suffix}"))
    return admin, scratch


def recreate(admin_url: str, scratch_url: str, *, drop_only: bool = False) -> None:
    name = urlsplit(scratch_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(admin_url: str, scratch_url: str) -> bool:
    name = urlsplit(scratch_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def setup_django(scratch_url: str) -> None:
    os.environ["DATABASE_URL"] = scratch_url
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    os.environ["DJANGO_SETTINGS_MODULE"] = "loyalty.settings"
    django.setup()
    call_command("migrate", verbosity=0)


def add_scratch_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark on a scratch CRM takes."""
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database")


@contextlib.contextmanager
def scratch_database(suffix: str, *, keep: bool, reuse: bool) -> Iterator[bool]:
    """A scratch database ``<name>_<suffix>`` next to DATABASE_URL's with Django set up on it,
    dropped at the end unless ``keep``; yields whether a kept one was reused."""
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/loyalty")
    admin, scratch = scratch_urls(url, suffix)
    reused = reuse and database_exists(admin, scratch)
    if not reused:
        recreate(admin, scratch)
    try:
        setup_django(scratch)
        yield reused
    finally:
        connections.close_all()
        if not keep:
            recreate(admin, scratch, drop_only=True)


def _sql_literal_defaults(model: Any, supplied: dict[str, str]) -> tuple[list[str], list[str]]:
    """Columns and SQL expressions for an INSERT ... SELECT: ``supplied`` plus every other
    column's model default (the database has no defaults of its own)."""
    columns, expressions = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = field.column
        if column in supplied:
            expression = supplied[column]
        elif field.null:
            expression = "NULL"
        elif field.unique or field.get_default() is None:
            raise RuntimeError(f"{model.__name__}.{field.name} needs a value for the benchmark")
        elif field.get_internal_type() == "JSONField":
            expression = "'" + json.dumps(field.get_default()).replace("'", "''") + "'::jsonb"
        else:
            value = field.get_db_prep_value(field.get_default(), connection)
            if isinstance(value, bool):
                expression = "TRUE" if value else "FALSE"
            else:
                expression = "'" + str(value).replace("'", "''") + "'"
        columns.append(column)
        expressions.append(expression)
    return columns, expressions


# A card's stable pseudo-random draw of 0-7 for its devices.
DEVICE_DRAW = "abs(hashtext(c.id::text || 'w')) % 8"


def _array(values: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def load(customers: int) -> Any:
    """Create the bench merchant with ``customers`` customers and one card each; returns it."""
    # Project modules load only after setup_django(): models need Django's app registry.
    from cards.models import Card, Program
    from customers.models import Customer
    from loyalty.models import Merchant

    merchant = Merchant.objects.filter(slug=SLUG).first()
    if merchant is not None:
        existing = Customer.objects.filter(merchant=merchant).count()
        if existing != customers:
            raise SystemExit(f"The scratch database holds {existing:,} customers; drop --reuse.")
        return merchant
    merchant = Merchant.objects.create(name="CRM bench", slug=SLUG, country="US")
    program = Program.objects.create(
        merchant=merchant, name="Bench stamps", kind="stamp", spend_per_stamp=10
    )
    started = time.perf_counter()
    first, last = _array(FIRST_NAMES), _array(LAST_NAMES)
    # hashtext gives every row its own stable pseudo-random numbers.
    customer_values = {
        "merchant_id": str(merchant.pk),
        "first_name": f"({first})[1 + abs(hashtext(g::text || 'f')) % {len(FIRST_NAMES)}]",
        "last_name": f"({last})[1 + abs(hashtext(g::text || 'l')) % {len(LAST_NAMES)}]",
        "email": "'customer' || g || '.' || substr(md5(g::text), 1, 6) || '@example.com'",
        # +1 NPA-NXX-XXXX with area and exchange codes from 200-999: valid NANP numbers.
        "phone": (
            "'+1' || (200 + abs(hashtext(g::text || 'a')) % 800)::text"
            " || (200 + abs(hashtext(g::text || 'b')) % 800)::text"
            " || lpad((abs(hashtext(g::text || 'c')) % 10000)::text, 4, '0')"
        ),
        "total_visits": "abs(hashtext(g::text || 'v')) % 21",
        "last_visit_at": (
            "CASE WHEN abs(hashtext(g::text || 'v')) % 21 = 0 THEN NULL ELSE now() - "
            "make_interval(secs => abs(hashtext(g::text || 'd')) % (200 * 86400)) END"
        ),
        "last_activity_at": (
            "now() - make_interval(secs => abs(hashtext(g::text || 'd')) % (200 * 86400))"
        ),
        "created_at": "now() - interval '300 days'",
    }
    columns, expressions = _sql_literal_defaults(Customer, customer_values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO customers_customer ({', '.join(columns)}) "  # noqa: S608
            # No parameters: the expressions use the % operator.
            f"SELECT {', '.join(expressions)} FROM generate_series(1, {int(customers)}) AS g"
        )
    # Serials: an affine map of the customer id modulo 10^12 is a bijection (the multiplier is
    # a prime other than 2 and 5), so every card gets its own, spread-out serial.
    digits = "lpad(((c.id * 982451653 + 104729) % 1000000000000)::text, 12, '0')"
    card_values = {
        "merchant_id": str(merchant.pk),
        "program_id": str(program.pk),
        "customer_id": "c.id",
        "serial": (
            f"substr({digits}, 1, 4) || '-' || substr({digits}, 5, 4) || '-' "
            f"|| substr({digits}, 9, 4)"
        ),
        "holder_name": "c.first_name || ' ' || c.last_name",
        "issued_at": "c.created_at",
        "install_token": "md5('i' || c.id::text || random()::text)",
        "referral_token": "md5('r' || c.id::text || random()::text)",
        "total_visits": "c.total_visits",
        "last_visit_at": "c.last_visit_at",
        # Five cards in eight installed: on the PWA, a wallet, or a wallet and the PWA.
        "status": f"CASE WHEN {DEVICE_DRAW} < 5 THEN 'installed' ELSE 'not_installed' END",
        "devices": (
            f"(CASE {DEVICE_DRAW} WHEN 0 THEN '{{pwa}}' WHEN 1 THEN '{{pwa}}' "
            "WHEN 2 THEN '{google_wallet}' WHEN 3 THEN '{apple_wallet}' "
            "WHEN 4 THEN '{apple_wallet,pwa}' ELSE '{}' END)::varchar(14)[]"
        ),
    }
    columns, expressions = _sql_literal_defaults(Card, card_values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO cards_card ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(expressions)} FROM customers_customer c "
            f"WHERE c.merchant_id = {int(merchant.pk)}"
        )
        # Fresh statistics, a clean visibility map and an empty GIN pending list, as a
        # database that has been running for a while would have.
        for table in ("customers_customer", "cards_card"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"loaded {customers:,} customers and cards in {time.perf_counter() - started:.1f} s")
    return merchant
