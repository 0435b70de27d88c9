"""Writing checked rows: customers, cards and their opening ledger entries, in bulk.

The ledger's bulk path, as the data generator uses it: rows are built in Python with the
ledger's own rules (``cards.rules.issue_delta``, ``opening_delta``, ``fold``) and streamed with
COPY, a chunk at a time, instead of one service call per row. Every imported card gets the two
entries a card issued at the counter would have, its first (``card_issued``) and its opening
balance (``imported``, source ``import``), and its aggregates are their fold, so
``verify_ledger`` agrees. The statistics' rollup is rebuilt from the ledger afterwards
(``ledger_bulk_loaded``), as after any bulk load. The caller holds the transaction: the whole
file is written or nothing is.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from psycopg.types.json import Jsonb

from cards import rules
from cards.models import Card, CardStatus, LedgerEntry, Program, Source, new_serial, new_token
from cards.services.ledger import request_fingerprint
from customers.imports.checking import Record
from customers.models import Customer, Segment

ENTRY_KEY = "import:{job}"  # both entries of an imported card share it (sequence 0 and 1)
FINGERPRINTS: dict[str, str] = {
    kind: request_fingerprint(kind) for kind in (rules.Kind.CARD_ISSUED, rules.Kind.IMPORTED)
}

CUSTOMER_COLUMNS = (
    "id", "merchant_id", "first_name", "last_name", "email", "phone", "birthday", "language",
    "email_verified_at", "custom_fields", "segment", "total_visits", "last_visit_at",
    "last_activity_at", "created_at",
)  # fmt: skip
BALANCE_COLUMNS = tuple(rules.Balances.__dataclass_fields__)
DATE_COLUMNS = tuple(rules.LAST_DATE_RULES)
CARD_COLUMNS = (
    "id", "merchant_id", "program_id", "customer_id", "serial", "status", "devices",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "issued_at",
    "expires_on", "holder_name", "install_token", "referral_token", "external_number",
    "import_key", *BALANCE_COLUMNS, *DATE_COLUMNS,
)  # fmt: skip
ENTRY_COLUMNS = (
    "merchant_id", "card_id", "kind", "source", "actor_id", "created_at", "operation_key",
    "request_hash", "sequence", "comment", "amount_delta", "ltv_delta", "stamps_delta",
    "stamps_earned_delta", "rewards_earned_delta", "rewards_available_delta",
    "rewards_redeemed_delta", "points_delta", "points_earned_delta", "points_redeemed_delta",
    "visits_delta", "tier_name", "tier_threshold", "tier_percentage",
)  # fmt: skip


@dataclass
class Written:
    """What the apply wrote so far: counts and the id ranges of its new rows."""

    new_customers: int = 0
    matched_customers: int = 0
    first_customer_id: int | None = None
    last_customer_id: int | None = None
    first_card_id: int | None = None
    last_card_id: int | None = None

    def extend(self, name: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        first, last = f"first_{name}_id", f"last_{name}_id"
        setattr(self, first, min(ids) if getattr(self, first) is None else getattr(self, first))
        setattr(self, last, max(ids))


@dataclass(frozen=True)
class Batch:
    """Everything one chunk of records needs besides the records."""

    job_id: int
    file_name: str
    program: Program
    actor_id: int | None
    now: datetime.datetime


def _ids(cursor: CursorWrapper, table: str, count: int) -> list[int]:
    """``count`` new ids from the table's own sequence, ascending."""
    if not count:
        return []
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return sorted(row[0] for row in cursor.fetchall())


def _serials(cursor: CursorWrapper, count: int) -> list[str]:
    """``count`` serials no card holds yet (a collision is a one-in-10^12 event per card)."""
    serials = {new_serial() for _ in range(count)}
    while True:
        cursor.execute("SELECT serial FROM cards_card WHERE serial = ANY(%s)", [list(serials)])
        taken = {row[0] for row in cursor.fetchall()}
        serials -= taken
        if len(serials) == count:
            return list(serials)
        serials |= {new_serial() for _ in range(count - len(serials))}


def copy_rows(
    cursor: CursorWrapper, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    # psycopg's COPY quotes every value itself: names and emails go in as data, never as SQL.
    quote = connection.ops.quote_name  # "column" is a keyword of SQL
    statement = f"COPY {quote(table)} ({', '.join(quote(name) for name in columns)}) FROM STDIN"
    with cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def write_records(
    cursor: CursorWrapper, batch: Batch, records: Sequence[Record], written: Written
) -> None:
    """Insert one chunk's customers, cards and entries, and credit the known customers' visits."""
    if not records:
        return
    new_count = sum(record.customer_id is None for record in records)
    customer_ids = _ids(cursor, Customer._meta.db_table, new_count)
    card_ids = _ids(cursor, Card._meta.db_table, len(records))
    serials = _serials(cursor, len(records))
    fresh = iter(customer_ids)
    cards = []
    for record, card_id, serial in zip(records, card_ids, serials, strict=True):
        holder = record.customer_id if record.customer_id is not None else next(fresh)
        cards.append(
            (
                record,
                holder,
                _card(batch, record, card_id=card_id, customer_id=holder, serial=serial),
            )
        )
    copy_rows(
        cursor,
        Customer._meta.db_table,
        CUSTOMER_COLUMNS,
        (_customer_row(batch, r, holder, c) for r, holder, c in cards if r.customer_id is None),
    )
    copy_rows(cursor, Card._meta.db_table, CARD_COLUMNS, (c.row for _r, _h, c in cards))
    copy_rows(
        cursor,
        LedgerEntry._meta.db_table,
        ENTRY_COLUMNS,
        (entry for _r, _h, c in cards for entry in c.entries),
    )
    _credit_known_customers(
        cursor, [(r, c) for r, _h, c in cards if r.customer_id is not None], batch.now
    )
    written.new_customers += new_count
    written.matched_customers += len(records) - new_count
    written.extend("customer", customer_ids)
    written.extend("card", card_ids)


@dataclass(frozen=True)
class CardRows:
    row: tuple[Any, ...]
    entries: list[tuple[Any, ...]]
    balances: rules.Balances
    dates: dict[str, datetime.datetime]


def _card(batch: Batch, record: Record, *, card_id: int, customer_id: int, serial: str) -> CardRows:
    program = batch.program
    rule_set = program.rule_set()
    opening_at = record.opening_at or batch.now
    issued_at = min(record.issued_at or opening_at, opening_at)
    deltas = [(rules.issue_delta(rule_set), issued_at)]
    if (opening := rules.opening_delta(rule_set, record.opening)) is not None:
        deltas.append((opening, opening_at))
    balances = rules.fold(delta for delta, _at in deltas)
    dates = {name: at for delta, at in deltas for name in rules.dates_moved(delta)}
    merchant = program.merchant
    expires_on = program.expiration_for(timezone.localdate(issued_at, timezone=merchant.tz))
    row = (
        card_id, merchant.pk, program.pk, customer_id, serial, CardStatus.NOT_INSTALLED, "{}",
        *(record.utm.get(part, "") for part in ("source", "medium", "campaign", "term", "content")),
        issued_at, expires_on, f"{record.first_name} {record.last_name}".strip(), new_token(),
        new_token(), record.external_number, record.import_key,
        *(getattr(balances, name) for name in BALANCE_COLUMNS),
        *(dates.get(name) for name in DATE_COLUMNS),
    )  # fmt: skip
    comment = f"Imported from {batch.file_name}, row {record.line}"[:500]
    entries = [
        _entry_row(batch, card_id, delta, at, sequence, comment if sequence else "")
        for sequence, (delta, at) in enumerate(deltas)
    ]
    return CardRows(row=row, entries=entries, balances=balances, dates=dates)


def _entry_row(
    batch: Batch,
    card_id: int,
    delta: rules.Delta,
    at: datetime.datetime,
    sequence: int,
    comment: str,
) -> tuple[Any, ...]:
    tier = delta.tier
    return (
        batch.program.merchant_id, card_id, delta.kind, Source.IMPORT, batch.actor_id, at,
        ENTRY_KEY.format(job=batch.job_id), FINGERPRINTS[delta.kind], sequence, comment,
        delta.amount, delta.ltv, delta.stamps, delta.stamps_earned, delta.rewards_earned,
        delta.rewards_available, delta.rewards_redeemed, delta.points, delta.points_earned,
        delta.points_redeemed, delta.visits, tier.name if tier else "",
        tier.threshold if tier else None, tier.percentage if tier else None,
    )  # fmt: skip


def _customer_row(
    batch: Batch, record: Record, customer_id: int, card: CardRows
) -> tuple[Any, ...]:
    return (
        customer_id, batch.program.merchant_id, record.first_name, record.last_name, record.email,
        record.phone, record.birthday, "",
        # From the merchant's own records, as if typed in the dashboard: vouched for.
        batch.now if record.email else None,
        Jsonb(record.custom_fields), Segment.NO_VISITS, card.balances.total_visits,
        card.dates.get("last_visit_at"), batch.now, batch.now,
    )  # fmt: skip


def _credit_known_customers(
    cursor: CursorWrapper, pairs: list[tuple[Record, CardRows]], now: datetime.datetime
) -> None:
    """A known customer's CRM row counts the new card's visits, as the ledger's signal would."""
    if not pairs:
        return
    cursor.execute(
        """
        UPDATE customers_customer c
        SET total_visits = c.total_visits + v.visits,
            last_visit_at = GREATEST(c.last_visit_at, v.last_visit_at),
            last_activity_at = GREATEST(c.last_activity_at, %s)
        FROM unnest(%s::bigint[], %s::int[], %s::timestamptz[]) AS v(id, visits, last_visit_at)
        WHERE c.id = v.id
        """,
        [
            now,
            [record.customer_id for record, _card in pairs],
            [card.balances.total_visits for _record, card in pairs],
            [card.dates.get("last_visit_at") for _record, card in pairs],
        ],
    )
