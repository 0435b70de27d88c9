"""Loading: one transaction, COPY from a thread, indexes dropped and re-created.

``load`` streams the rows into the three tables with their secondary indexes (and, without the
replica role, their foreign keys) dropped, and re-creates them from their own definitions;
``reserve_ids`` hands out the ids the rows carry.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import NOT_PROVIDED

from customers.generator.columns import TABLES
from customers.generator.plan import Plan
from customers.generator.specs import GeneratorError


class _CopyPipe:
    """COPY from a thread of its own on the caller's psycopg cursor.

    The main thread builds text while this thread waits on the socket (psycopg releases the
    GIL there), so Python and PostgreSQL each keep a core busy. A change of table ends one COPY
    and starts the next. A failure on either side ends the COPY with an error, which aborts the
    transaction.
    """

    _ABORT = object()

    def __init__(self, cursor: Any, statements: dict[str, str]) -> None:
        self.cursor = cursor
        self.statements = statements
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=6)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="copy", daemon=True)
        self.thread.start()

    def send(self, table: str, text: str) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((self.statements[table], text))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self.queue.put(self._ABORT)
        self.thread.join()

    def _work(self) -> None:
        current: Any = None
        writer: Any = None
        statement = ""
        item: Any = None
        try:
            while (item := self.queue.get()) is not None:
                if item is self._ABORT:
                    raise GeneratorError("the load was interrupted")
                if item[0] != statement:
                    if current is not None:
                        current.__exit__(None, None, None)
                    statement, current = item[0], self.cursor.copy(item[0])
                    writer = current.__enter__()
                writer.write(item[1])
            if current is not None:
                current.__exit__(None, None, None)
        except BaseException as error:  # handed to the main thread
            self.error = error
            if current is not None:
                with contextlib.suppress(Exception):
                    current.__exit__(type(error), error, error.__traceback__)
            # Let the main thread's pending sends through until it closes or aborts.
            while item is not None and item is not self._ABORT:
                item = self.queue.get()


@dataclass(frozen=True)
class Rebuilt:
    """An index or constraint dropped for the load, with the statements that restore it."""

    name: str
    drop: str
    create: str


def droppable(cursor: CursorWrapper, table: str, *, foreign_keys: bool) -> list[Rebuilt]:
    """The table's secondary indexes (and unique constraints), as their own definitions say.

    Left alone: the primary key, indexes a foreign key leans on, clustered and replica-identity
    indexes and those in another tablespace (re-creating them would lose that). With
    ``foreign_keys``, its foreign keys too (re-adding one checks every row, in one query).
    """
    quoted = connection.ops.quote_name(table)
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c
            ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('u', 'x')
        WHERE x.indrelid = %s::regclass
            AND NOT x.indisprimary AND NOT x.indisclustered AND NOT x.indisreplident
            AND i.reltablespace = 0
            AND NOT EXISTS (
                SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid
            )
        ORDER BY i.relname
        """,
        [table],
    )
    rebuilt = []
    for index, definition, constraint, constraint_definition in cursor.fetchall():
        if constraint:
            name = connection.ops.quote_name(constraint)
            rebuilt.append(
                Rebuilt(
                    constraint,
                    f"ALTER TABLE {quoted} DROP CONSTRAINT {name}",
                    f"ALTER TABLE {quoted} ADD CONSTRAINT {name} {constraint_definition}",
                )
            )
        else:
            name = connection.ops.quote_name(index)
            rebuilt.append(Rebuilt(index, f"DROP INDEX {name}", definition))
    if foreign_keys:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        for constraint, definition in cursor.fetchall():
            name = connection.ops.quote_name(constraint)
            rebuilt.append(
                Rebuilt(
                    constraint,
                    f"ALTER TABLE {quoted} DROP CONSTRAINT {name}",
                    f"ALTER TABLE {quoted} ADD CONSTRAINT {name} {definition}",
                )
            )
    return rebuilt


@contextlib.contextmanager
def indexes_dropped(
    cursor: CursorWrapper, tables: Sequence[str], *, foreign_keys: bool = False
) -> Iterator[list[Rebuilt]]:
    """Drop the tables' secondary indexes for a bulk load; re-create them on the way out.

    Must run inside a transaction: should anything fail, its rollback restores them exactly as
    they were (DDL is transactional in PostgreSQL), so no failure leaves a table without them.
    """
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("indexes_dropped needs a transaction.")
    # ALTER TABLE refuses a table with deferred foreign key checks pending (rows the transaction
    # wrote before): run them now, then defer again as Django's constraints are by default.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    dropped = [
        item for table in tables for item in droppable(cursor, table, foreign_keys=foreign_keys)
    ]
    for item in dropped:
        cursor.execute(item.drop)
    yield dropped
    # Indexes before foreign keys: re-adding a key checks it with a join over the whole table.
    for item in sorted(dropped, key=lambda item: "FOREIGN KEY" in item.create):
        cursor.execute(item.create)


@contextlib.contextmanager
def _setting(cursor: CursorWrapper, name: str, value: str) -> Iterator[bool]:
    """SET LOCAL ``name``, restored on the way out; yields False where the role may not."""
    cursor.execute("SELECT current_setting(%s)", [name])
    (before,) = cursor.fetchone()
    try:
        with transaction.atomic():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    except DatabaseError:  # e.g. session_replication_role needs a superuser
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(DatabaseError):  # an aborted transaction resets it anyway
            cursor.execute("SELECT set_config(%s, %s, true)", [name, before])


def reserve_ids(cursor: CursorWrapper, table: str, count: int) -> int:
    """The first of ``count`` ids nobody else will be given (the tables are locked)."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    quoted = connection.ops.quote_name(table)
    cursor.execute(
        f"SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM {quoted}), "  # noqa: S608
        f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence}))"
    )
    (highest,) = cursor.fetchone()
    if count:
        cursor.execute("SELECT setval(%s, %s)", [sequence, highest + count])
    return int(highest) + 1


def taken_serials(cursor: CursorWrapper) -> set[int]:
    cursor.execute(
        "SELECT replace(serial, '-', '')::bigint FROM cards_card "
        "WHERE serial ~ '^[0-9]{4}-[0-9]{4}-[0-9]{4}$'"
    )
    return {row[0] for row in cursor.fetchall()}


def _copy_statement(table: str) -> str:
    model, columns = TABLES[table]
    missing = [
        f.column
        for f in model._meta.concrete_fields
        if not f.null
        and not f.primary_key
        and f.column not in columns
        # A column the database fills in itself needs no value from the generator.
        and f.db_default is NOT_PROVIDED
    ]
    if missing:  # a new column the generator does not know yet
        raise GeneratorError(f"generate_data writes no value for {model.__name__} {missing}")
    return f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"


def load(
    cursor: CursorWrapper,
    *,
    write: Callable[..., int],
    plan: Plan,
    say: Callable[[str], None],
    timings: dict[str, float],
    skip_fk_triggers: bool,
) -> bool:
    """Stream the rows (``write``: ``rows_write`` but for the sink and progress) with the
    indexes dropped; returns whether the foreign key triggers were skipped."""
    statements = {table: _copy_statement(table) for table in TABLES}
    tables = [model._meta.db_table for model, _columns in TABLES.values()]
    with contextlib.ExitStack() as stack:
        replica = skip_fk_triggers and stack.enter_context(
            _setting(cursor, "session_replication_role", "replica")
        )
        stack.enter_context(_setting(cursor, "maintenance_work_mem", "1GB"))
        started = time.perf_counter()
        with indexes_dropped(cursor, tables, foreign_keys=not replica):
            pipe = _CopyPipe(cursor.cursor, statements)
            try:
                written = write(
                    sink=pipe,
                    progress=lambda n: say(
                        f"  {n:,} entries written, {time.perf_counter() - started:.1f} s"
                    ),
                )
            except BaseException:
                pipe.abort()
                raise
            pipe.close()
            timings["rows"] = time.perf_counter() - started
            say(
                f"{written:,} entries, {plan.cards:,} cards and {plan.customers:,} customers "
                f"copied in {timings['rows']:.1f} s; re-creating the indexes"
            )
            started = time.perf_counter()
        timings["indexes"] = time.perf_counter() - started
        say(f"indexes re-created in {timings['indexes']:.1f} s")
    return bool(replica)
