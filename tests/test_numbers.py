"""Numbers written fast are written exactly as Babel writes them, in every shipped language."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_decimal
from django.conf import settings

from loyalty.numbers import money_writer, number_writer

LANGUAGES = [code for code, _name in settings.LANGUAGES]
PATTERNS = ["#,##0", "#,##0.00", "#,##0.0", "0.0", "0", "+#,##0.0;-#,##0.0"]
VALUES: list[Decimal | int] = [
    0,
    7,
    -7,
    999,
    1000,
    1234567,
    -1234567,
    Decimal("0.05"),  # halves round to even, as Babel rounds them
    Decimal("0.15"),
    Decimal("2.5"),
    Decimal("3.5"),
    Decimal("-0.04"),  # rounds to zero but keeps its sign
    Decimal("-0.0"),
    Decimal("12.345"),
    Decimal("98765.4321"),
    Decimal("-1000000.005"),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_numbers_read_as_babel_writes_them(language: str, pattern: str) -> None:
    write = number_writer(pattern, language)
    for value in VALUES:
        assert write(value) == format_decimal(value, pattern, locale=language), value


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP", "JPY", "CHF", "BHD"])
def test_money_reads_as_babel_writes_it(language: str, currency: str) -> None:
    write = money_writer(currency, language)
    for value in VALUES:
        assert write(value) == format_currency(value, currency, locale=language), value


def test_patterns_beyond_the_plain_ones_are_left_to_babel() -> None:
    for pattern in ("#,##0%", "#,##,##0", "0.###E0", "@@@"):
        write = number_writer(pattern, "en")
        for value in VALUES:
            assert write(value) == format_decimal(value, pattern, locale="en"), (pattern, value)
