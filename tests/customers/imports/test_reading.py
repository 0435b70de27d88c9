"""Reading an uploaded file into numbered rows of text cells, whatever program wrote it."""

from __future__ import annotations

import datetime
import io
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from customers.imports.reading import FileProblem, Sheet, open_sheet

MEGABYTE = 1024 * 1024

Rows = list[tuple[int, list[str]]]


def _open(
    data: bytes, *, name: str = "customers.csv", max_rows: int = 10_000, max_bytes: int = MEGABYTE
) -> Sheet:
    return open_sheet(
        io.BytesIO(data), name=name, size=len(data), max_bytes=max_bytes, max_rows=max_rows
    )


def _rows(data: bytes, **options: object) -> Rows:
    return list(_open(data, **options).rows())


def _problem(data: bytes, **options: object) -> str:
    with pytest.raises(FileProblem) as caught:
        _open(data, **options)
    return caught.value.message


def _xlsx(*rows: list[object], formula: str = "") -> bytes:
    workbook = Workbook()
    worksheet = workbook.active
    for row in rows:
        worksheet.append(row)
    if formula:
        worksheet["A1"] = formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Delimiters


def test_a_comma_separated_file_with_a_header_reads_every_row() -> None:
    data = b"first_name,last_name,email\nAnna,Schmidt,anna@example.com\nBob,Lee,bob@example.com\n"

    sheet = _open(data)

    assert (sheet.format, sheet.encoding, sheet.delimiter) == ("csv", "utf-8", ",")
    assert list(sheet.rows()) == [
        (1, ["first_name", "last_name", "email"]),
        (2, ["Anna", "Schmidt", "anna@example.com"]),
        (3, ["Bob", "Lee", "bob@example.com"]),
    ]


def test_a_european_semicolon_file_keeps_decimal_commas_as_text() -> None:
    data = b"Name;Guthaben;Punkte\r\nAnna;12,50;3\r\nBob;0,75;10\r\n"

    sheet = _open(data)

    assert sheet.delimiter == ";"
    assert list(sheet.rows()) == [
        (1, ["Name", "Guthaben", "Punkte"]),
        (2, ["Anna", "12,50", "3"]),
        (3, ["Bob", "0,75", "10"]),
    ]


@pytest.mark.parametrize("delimiter", ["\t", "|"])
def test_tab_and_pipe_separated_files_are_recognised(delimiter: str) -> None:
    data = delimiter.join(["name", "phone", "points"]) + "\n"
    data += delimiter.join(["Anna Schmidt", "+49 151 1234567", "12"]) + "\n"

    sheet = _open(data.encode())

    assert sheet.delimiter == delimiter
    assert [cells for _line, cells in sheet.rows()] == [
        ["name", "phone", "points"],
        ["Anna Schmidt", "+49 151 1234567", "12"],
    ]


def test_a_single_column_file_reads_one_cell_per_row() -> None:
    sheet = _open(b"email\nanna@example.com\nbob@example.com\n")

    assert sheet.delimiter == ","
    assert list(sheet.rows()) == [
        (1, ["email"]),
        (2, ["anna@example.com"]),
        (3, ["bob@example.com"]),
    ]


def test_a_title_above_a_short_table_does_not_hide_its_delimiter() -> None:
    sheet = _open(b"Customers 2024\nname;city;points\nAnna;Berlin;3\nBob;Paris;4\n")

    assert sheet.delimiter == ";"
    assert list(sheet.rows())[1] == (2, ["name", "city", "points"])


# Quoting and cells


def test_a_line_break_inside_quotes_stays_in_one_cell_and_lines_count_records() -> None:
    data = b'name,note,points\nAnna,"first line\nsecond line",3\nBob,,4\n'

    assert _rows(data) == [
        (1, ["name", "note", "points"]),
        (2, ["Anna", "first line\nsecond line", "3"]),
        (3, ["Bob", "", "4"]),
    ]


def test_doubled_quotes_and_quoted_delimiters_make_one_cell() -> None:
    data = b'name,company\n"Lee, Bob","The ""Corner"" Shop"\n'

    assert _rows(data)[1] == (2, ["Lee, Bob", 'The "Corner" Shop'])


def test_cells_are_stripped_and_trailing_empty_cells_dropped() -> None:
    data = b"name,email,,\n  Anna  , anna@example.com ,, \n"

    assert _rows(data) == [(1, ["name", "email"]), (2, ["Anna", "anna@example.com"])]


def test_blank_rows_are_skipped_but_still_counted() -> None:
    data = b"name,points\n\nAnna,3\n , \nBob,4\n"

    assert _rows(data) == [(1, ["name", "points"]), (3, ["Anna", "3"]), (5, ["Bob", "4"])]


def test_a_formula_in_a_csv_cell_is_kept_as_text() -> None:
    data = b"name,points\nAnna,=1+1\n"

    assert _rows(data)[1] == (2, ["Anna", "=1+1"])


def test_the_rows_can_be_read_twice() -> None:
    sheet = _open(b"name;points\nAnna;3\nBob;4\n")

    assert list(sheet.rows()) == list(sheet.rows())


def test_a_cell_too_long_to_be_real_is_reported_with_its_row() -> None:
    sheet = _open(b"name,note\nAnna,ok\nBob," + b"x" * 1_000_001 + b"\n", max_bytes=2 * MEGABYTE)

    with pytest.raises(FileProblem) as caught:
        list(sheet.rows())

    assert caught.value.message.startswith("Row 3 could not be read: ")


# Encodings


def test_a_utf8_byte_order_mark_never_reaches_the_first_cell() -> None:
    sheet = _open("\ufeffVorname;Nachname\nJürgen;Müller\n".encode())

    assert sheet.encoding == "utf-8"
    assert list(sheet.rows()) == [(1, ["Vorname", "Nachname"]), (2, ["Jürgen", "Müller"])]


def test_a_byte_order_mark_written_twice_never_reaches_the_first_cell() -> None:
    assert _rows("\ufeff\ufeffname\nAnna\n".encode()) == [(1, ["name"]), (2, ["Anna"])]


def test_excel_unicode_text_utf16_with_tabs_is_read() -> None:
    text = "Name\tStadt\tPunkte\r\nJürgen Müller\tKöln\t12\r\nZoë\tParís\t3\r\n"

    sheet = _open(b"\xff\xfe" + text.encode("utf-16-le"))

    assert (sheet.encoding, sheet.delimiter) == ("utf-16", "\t")
    assert list(sheet.rows()) == [
        (1, ["Name", "Stadt", "Punkte"]),
        (2, ["Jürgen Müller", "Köln", "12"]),
        (3, ["Zoë", "París", "3"]),
    ]


def test_utf16_without_a_byte_order_mark_is_recognised() -> None:
    sheet = _open("name,city\nAnna,Köln\n".encode("utf-16-be"))

    assert sheet.encoding == "utf-16-be"
    assert list(sheet.rows()) == [(1, ["name", "city"]), (2, ["Anna", "Köln"])]


@pytest.mark.parametrize(
    "text",
    [
        "Name;Stadt\nMüller;Köln\nCafé Zoë;Paris\n",
        # charset_normalizer alone calls this one mac_latin2 and reads "JŁrgen".
        "first_name,last_name\nJürgen,Müller\nRené,Café\n",
        "Nombre;Apellido\nJosé;Muñoz\nMaría;Peña\n",
    ],
)
def test_an_old_windows_file_is_read_as_windows_1252(text: str) -> None:
    sheet = _open(text.encode("cp1252"))

    assert sheet.encoding == "cp1252"
    assert [cells for _line, cells in sheet.rows()] == [
        line.split(sheet.delimiter) for line in text.splitlines()
    ]


def test_a_cyrillic_windows_file_is_not_taken_for_windows_1252() -> None:
    text = "Имя;Фамилия\nИван;Петров\nМария;Сидорова\n"

    sheet = _open(text.encode("cp1251"))

    assert sheet.encoding == "cp1251"
    assert list(sheet.rows())[1] == (2, ["Иван", "Петров"])


def test_bytes_that_are_neither_utf8_nor_windows_1252_still_decode() -> None:
    # 0x81 and 0x8d have no character in Windows-1252.
    data = b"name,city\nAnna,K\xf6ln\x81\nBob,\x8d\xff\n"

    rows = _rows(data)

    assert [line for line, _cells in rows] == [1, 2, 3]
    assert rows[1][1][0] == "Anna"


def test_a_utf8_file_with_one_damaged_byte_stays_utf8() -> None:
    good = "".join(f"Jürgen{n};Müller;Köln\n" for n in range(20)).encode()
    data = b"name;surname;city\n" + good + b"Bob;Caf\xe9;Paris\n"

    sheet = _open(data)

    assert sheet.encoding == "utf-8"
    assert list(sheet.rows())[-1] == (22, ["Bob", "Caf\ufffd", "Paris"])


# Format and size


def test_a_csv_file_named_like_a_workbook_is_read_as_csv() -> None:
    assert _open(b"name\nAnna\n", name="customers.xlsx").format == "csv"


@pytest.mark.parametrize("data", [b"", b"\n\n   \r\n", b",,\n , ,\n\n"])
def test_a_file_without_a_value_is_empty(data: bytes) -> None:
    assert _problem(data) == "The file is empty."


def test_a_workbook_without_a_value_is_empty() -> None:
    assert _problem(_xlsx(), name="customers.xlsx") == "The file is empty."


class _Unreadable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the file was read")

    def seek(self, offset: int, whence: int = 0) -> int:
        raise AssertionError("the file was read")


def test_a_file_over_the_size_limit_is_refused_before_reading() -> None:
    with pytest.raises(FileProblem) as caught:
        open_sheet(
            _Unreadable(),
            name="customers.csv",
            size=20 * MEGABYTE + 1,
            max_bytes=20 * MEGABYTE,
            max_rows=10,
        )

    assert caught.value.message == "The file is larger than 20 MB; split it into smaller files."


def test_rows_beyond_the_limit_are_refused_while_reading() -> None:
    data = b"name\n" + b"".join(b"customer %d\n\n" % n for n in range(1000))
    sheet = _open(data, max_rows=1000)

    with pytest.raises(FileProblem) as caught:
        list(sheet.rows())

    assert caught.value.message == (
        "The file has more than 1,000 rows; split it into smaller files."
    )


def test_blank_rows_do_not_count_against_the_limit() -> None:
    data = b"name\n\n\n\nAnna\n\n\nBob\n"

    assert len(_rows(data, max_rows=3)) == 3


def test_an_old_excel_file_is_refused_with_a_way_out() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512

    message = _problem(data, name="customers.xls")

    assert message.startswith("This is an old Excel file (.xls).")
    assert "Excel workbook (.xlsx) or as a CSV file" in message


def test_a_password_protected_workbook_is_refused_with_a_way_out() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512

    message = _problem(data, name="Kunden.xlsx")

    assert message.startswith("This workbook is protected by a password.")


def _zip(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        _zip(**{"readme.txt": b"not a workbook"}),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
    ],
    ids=["pdf", "zip", "png"],
)
def test_a_file_that_is_no_table_is_refused(data: bytes) -> None:
    assert _problem(data) == "This file is not a CSV file or an Excel workbook (.xlsx)."


def test_an_opendocument_spreadsheet_is_refused_with_a_way_out() -> None:
    data = _zip(mimetype=b"application/vnd.oasis.opendocument.spreadsheet")

    message = _problem(data, name="Kunden.ODS")

    assert message.startswith("This spreadsheet format cannot be read.")


# Workbooks


def test_workbook_cells_read_as_the_text_they_show() -> None:
    data = _xlsx(
        ["name", "points", "balance", "joined", "last visit", "active", "note", None, None],
        [
            " Anna ",
            12,
            12.5,
            datetime.date(2024, 3, 1),
            datetime.datetime(2024, 3, 2, 14, 5, 7),
            True,
            None,
            None,
        ],
        ["Bob", 3.0, 0.1 + 0.2, datetime.datetime(2024, 1, 2), datetime.time(9, 30), False],
        [None, None, None],
    )

    sheet = _open(data, name="customers.xlsx")

    assert (sheet.format, sheet.encoding, sheet.delimiter) == ("xlsx", "", "")
    assert list(sheet.rows()) == [
        (1, ["name", "points", "balance", "joined", "last visit", "active", "note"]),
        (2, ["Anna", "12", "12.5", "2024-03-01", "2024-03-02 14:05:07", "TRUE"]),
        (3, ["Bob", "3", "0.3", "2024-01-02", "09:30:00", "FALSE"]),
    ]


def test_workbook_rows_keep_their_numbers_across_blank_rows() -> None:
    data = _xlsx(["name"], [], [None], ["Anna"])

    assert _rows(data) == [(1, ["name"]), (4, ["Anna"])]


def test_a_formula_without_a_saved_result_reads_as_empty() -> None:
    data = _xlsx(["placeholder", "points"], ["Anna", 3], formula="=1+1")

    assert _rows(data) == [(1, ["", "points"]), (2, ["Anna", "3"])]


def test_a_workbook_can_be_read_twice() -> None:
    sheet = _open(_xlsx(["name"], ["Anna"], ["Bob"]))

    assert list(sheet.rows()) == list(sheet.rows())


def test_a_workbook_is_read_from_the_sheet_it_opens_on() -> None:
    workbook = Workbook()
    workbook.active.append(["instructions"])
    customers = workbook.create_sheet("Customers")
    customers.append(["name"])
    workbook.active = customers
    buffer = io.BytesIO()
    workbook.save(buffer)

    assert _rows(buffer.getvalue()) == [(1, ["name"])]


def test_a_very_small_or_large_number_is_written_out() -> None:
    data = _xlsx([0.0000001, 1e20, -2.25])

    assert _rows(data) == [(1, ["0.0000001", "100000000000000000000", "-2.25"])]


# Uploads


def test_an_uploaded_file_is_read_and_left_open() -> None:
    upload = SimpleUploadedFile("customers.csv", b"name;points\nAnna;3\n", "text/csv")

    sheet = open_sheet(upload, name=upload.name, size=upload.size, max_bytes=MEGABYTE, max_rows=9)

    assert list(sheet.rows()) == [(1, ["name", "points"]), (2, ["Anna", "3"])]
    assert not upload.closed


def test_a_large_file_is_read_without_holding_it_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    count = 500_000
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("id;first_name;last_name;email;phone;city;balance\r\n")
        for start in range(0, count, 10_000):
            file.write(
                "".join(
                    f"{n};Firstname{n};Lastname{n};customer{n}@example.com;+49151{n:08d};"
                    f"München-Schwabing;{n % 1000},50\r\n"
                    for n in range(start, start + 10_000)
                )
            )
    size = path.stat().st_size
    assert size > 50 * MEGABYTE

    started = time.perf_counter()
    tracemalloc.start()
    try:
        with path.open("rb") as file:
            sheet = open_sheet(file, name=path.name, size=size, max_bytes=size, max_rows=count + 1)
            rows = sum(1 for _row in sheet.rows())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rows == count + 1
    assert peak < 50 * MEGABYTE
    assert time.perf_counter() - started < 10
