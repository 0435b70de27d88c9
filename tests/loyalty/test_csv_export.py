"""Streamed CSV that spreadsheets open safely: text that looks like a formula is guarded,
numbers are written as numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from loyalty.csv_export import csv_safe, csv_stream, streaming_csv


def _line(*cells: Any) -> str:
    return "".join(csv_stream([cells]))


@pytest.mark.parametrize(
    "number",
    [Decimal("-5.00"), Decimal("+1.50"), -3, 0, 12, -1.25],
    ids=["negative-decimal", "signed-decimal", "negative-int", "zero", "int", "float"],
)
def test_numbers_are_written_as_they_are(number: Any) -> None:
    assert csv_safe(number) is number
    assert _line(number) == f"{number}\r\n"


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+SUM(A1)", "-2+3", "@SUM(1)", "\tcmd", "\rcmd", "=cmd|' /C calc'!A0"],
)
def test_text_that_starts_like_a_formula_gets_an_apostrophe(text: str) -> None:
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("phone", ["+14155550123", "+1 415 555 0123", "+1-415-555-0123"])
def test_a_phone_number_is_text_and_stays_guarded(phone: str) -> None:
    # A spreadsheet evaluates "+1-415-555-0123" as a sum and "+1 415" as a formula.
    assert csv_safe(phone) == "'" + phone


@pytest.mark.parametrize(
    "text", ["-5.00", "+1", "-"], ids=["negative-amount-as-text", "plus-one", "dash"]
)
def test_a_number_written_as_text_is_guarded_like_any_text(text: str) -> None:
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (float("-inf"), "'-inf"),
        (Decimal("-Infinity"), "'-Infinity"),
        (float("nan"), "nan"),
        (True, "True"),
        (None, ""),
        ("Plain", "Plain"),
        ("a=b", "a=b"),
    ],
)
def test_other_values_are_text(value: Any, cell: str) -> None:
    assert csv_safe(value) == cell


def test_text_is_quoted_and_numbers_are_not() -> None:
    # Quoted, a cell stays whole in a spreadsheet that splits on ";" (many European locales),
    # so "Ann;=1+1" cannot become a second cell holding a formula.
    assert _line("Ann;=1+1", Decimal("-5.00"), 7, "", None) == '"Ann;=1+1",-5.00,7,"",""\r\n'


def test_a_csv_reader_reads_back_the_cells() -> None:
    text = _line('Say "hi"', "=1", Decimal("-2.50"), "line\nbreak")
    assert next(csv.reader(io.StringIO(text))) == ['Say "hi"', "'=1", "-2.50", "line\nbreak"]


def test_the_response_streams_rows_as_they_are_produced() -> None:
    produced: list[int] = []

    def rows() -> Any:
        for n in range(3):
            produced.append(n)
            yield (n, f"row {n}")

    response = streaming_csv(rows(), "export.csv")
    assert response.streaming
    assert produced == []  # nothing is read before the response is sent
    assert response["Content-Disposition"] == 'attachment; filename="export.csv"'
    assert response["Cache-Control"] == "no-store"
    chunks = iter(response.streaming_content)
    assert next(chunks) == b'0,"row 0"\r\n'
    assert produced == [0]
    assert b"".join(chunks) == b'1,"row 1"\r\n2,"row 2"\r\n'
