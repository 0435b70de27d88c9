"""Whether a merchant's stored rollup equals the rollup computed from scratch.

Read-only, in one REPEATABLE READ snapshot (stored and recomputed figures are read at the same
moment). Rows whose every figure is zero are left out on both sides: an increment that was
taken back leaves a zero row behind, which says the same as no row.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from analytics import rollup_sql
from loyalty.models import Merchant

Rows = dict[tuple[Any, ...], tuple[Any, ...]]


def _rows(cursor: Any, sql: str, params: dict[str, Any], key_width: int) -> Rows:
    cursor.execute(sql, params)
    rows: Rows = {}
    for row in cursor.fetchall():
        key, values = tuple(row[1 : 1 + key_width]), tuple(row[1 + key_width :])
        if any(values):
            rows[key] = values
    return rows


def _stored_sql(table: str, keys: tuple[str, ...]) -> str:
    values = [c for c in rollup_sql.columns_of(table) if c not in ("merchant_id", *keys)]
    columns = ", ".join(("merchant_id", *keys, *values))
    return f"SELECT {columns} FROM {table} WHERE merchant_id = %(merchant)s"  # noqa: S608


def rollup_differences(*, merchant: Merchant) -> list[str]:
    """One line per row that differs: table, key, stored figures, recomputed figures."""
    params = rollup_sql.scratch_params(merchant)
    differences = []
    nested = connection.in_atomic_block  # then the caller's transaction decides
    with transaction.atomic(), connection.cursor() as cursor:
        if not nested:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for table, (keys, scratch) in rollup_sql.SCRATCH_SQL.items():
            stored = _rows(cursor, _stored_sql(table, keys), params, len(keys))
            expected = _rows(cursor, scratch, params, len(keys))
            for key in sorted(stored.keys() | expected.keys(), key=repr):
                if stored.get(key) != expected.get(key):
                    differences.append(
                        f"{table} {key}: stored {stored.get(key)}, "
                        f"from the ledger {expected.get(key)}"
                    )
    return differences
