"""Streamed CSV downloads that a spreadsheet opens safely, for any app's export view.

Two defences against CSV (formula) injection, after OWASP:
- a text cell that starts like a formula (= + - @ tab CR) gets a leading apostrophe, which a
  spreadsheet shows as text; numbers (int, Decimal, float) are written as they are, so a
  refund stays ``-5.00`` and sums still work;
- every text cell is quoted, numbers are not: a spreadsheet set to split on ``;`` (the list
  separator of many European locales) cannot cut ``Ann;=1+1`` into a second, formula, cell.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection).

    Numbers pass through untouched. Everything else is text, phone numbers included: a
    spreadsheet reads ``+1 415 555 0123`` as a formula (and ``+1-415-555`` as a sum), so a
    phone keeps its apostrophe, like any text, rather than risk a cell that runs.
    """
    if _is_number(value):
        return value
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _is_number(value: Any) -> bool:
    # bool is an int, but True is no amount; infinities and NaN are written as guarded text.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


class _Echo:
    """A file-like object whose write returns the line, for streaming with csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    # QUOTE_NONNUMERIC quotes every str and leaves int, float and Decimal bare.
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        yield writer.writerow([csv_safe(cell) for cell in row])


def streaming_csv(rows: Iterable[Iterable[Any]], filename: str) -> StreamingHttpResponse:
    """Rows are written as they are produced: an export of a million rows holds none in memory."""
    response = StreamingHttpResponse(csv_stream(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
