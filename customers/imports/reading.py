"""An uploaded customer file, read as numbered rows of text cells.

Merchants upload whatever their till, their previous loyalty tool or their spreadsheet program
exported: CSV with commas, semicolons (Excel in most of Europe, where the comma is the decimal
separator), tabs (Excel's "Unicode text") or pipes, in UTF-8, UTF-16 or an old Windows code page,
with or without a header row; or an Excel workbook. This module only turns the file into rows of
stripped text; which column holds what, and what a header looks like, is decided by the caller.

The choices:

- The format comes from the file's first bytes, never from its name: a CSV saved as "list.xlsx"
  or a workbook renamed "export.csv" is still read. An old .xls, a PDF or another binary file is
  refused with a sentence the merchant can act on.
- Nothing is loaded whole: a CSV is decoded and parsed as it is read, and the encoding checks go
  through the file in 1 MB chunks. A workbook is read by openpyxl in read-only mode, which
  streams the sheet's rows (only its table of shared strings is held in memory).
- The encoding: a byte order mark decides; then strict UTF-8 (what every current program
  writes); then, for the old Windows exports, Windows-1252 unless charset_normalizer rules it
  out; then what charset_normalizer finds best. charset_normalizer alone is not trusted for
  Western text: on a short file it calls "Jürgen;Müller" mac_latin2 or cp1006, because several
  code pages decode those bytes without a visible error; Windows-1252 is what Excel in Western
  Europe and the Americas writes. A UTF-8 file with a few damaged bytes (a cell cut in the
  middle of a character) stays UTF-8, the damage shown as "�", rather than turning every
  accented letter of the file into two wrong ones.
- The delimiter: csv.Sniffer on the first 64 KB; when it gives up (a single column, a title above
  the table), the candidate found on the most lines.
- Line numbers are records, as a spreadsheet program numbers its rows: a cell with a line break
  inside its quotes is one row, and blank rows are skipped but still counted, so "row 12" in a
  message is row 12 on the merchant's screen.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import Any, BinaryIO

import charset_normalizer
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from openpyxl import load_workbook

# csv's field size limit is process-wide. Its default (131,072 characters) refuses a long note;
# a million still stops a cell whose closing quote is missing before it swallows the whole file.
# Never lowered: another reader in the process may have raised it further.
csv.field_size_limit(max(csv.field_size_limit(), 1_000_000))

CHUNK_BYTES = 1024 * 1024  # the encoding checks' step, and the sample charset_normalizer reads
PROBE_BYTES = 64 * 1024  # what the binary check and the delimiter sniffer look at
MEGABYTE = 1024 * 1024
DELIMITERS = ",;\t|"

XLSX_MAGIC = b"PK\x03\x04"  # a zip archive, as every .xlsx is
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # an OLE compound file: .xls, or an encrypted .xlsx
PDF_MAGIC = b"%PDF"
# Zip archives that are spreadsheets openpyxl cannot read: their name helps the message.
OTHER_SPREADSHEETS = {".ods", ".numbers", ".xlsb"}

# Longest first: UTF-32 LE's mark begins with UTF-16 LE's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# UTF-16 text without a mark: in mostly Latin text every other byte is NUL.
WIDE_NUL_SHARE = 0.3
# A file that has invalid UTF-8 bytes is still read as UTF-8 when its valid multi-byte
# characters outnumber them this many times: one damaged cell among many accented names.
# (A Windows-1252 file almost never holds a valid UTF-8 sequence.)
UTF8_MAJORITY = 3


class FileProblem(Exception):
    """The file cannot be read at all.

    ``message`` is a sentence a merchant understands, in the active language.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Sheet:
    """An opened file: how it is read, and its rows."""

    format: str  # "csv" or "xlsx"
    encoding: str  # a Python codec name, e.g. "utf-8", "utf-16", "cp1252"; "" for xlsx
    delimiter: str  # ",", ";", "\t" or "|"; "" for xlsx
    file: BinaryIO = field(kw_only=True, repr=False, compare=False)
    max_rows: int = field(kw_only=True, repr=False, compare=False)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line, cells) for each row with a value, read from the start of the file each time
        (one pass at a time: the passes share the file).

        ``line`` counts from 1 as a spreadsheet program numbers rows; ``cells`` are stripped,
        without the empty cells at the end. Raises FileProblem past ``max_rows`` rows.
        """
        return self._rows()

    def _rows(self) -> Generator[tuple[int, list[str]]]:
        records = self._xlsx_records() if self.format == "xlsx" else self._csv_records()
        return _filled(records, self.max_rows)

    def _csv_records(self) -> Generator[tuple[int, list[str]]]:
        self.file.seek(0)
        # "replace": the encoding was checked against the whole file, except where a byte order
        # mark or mostly-UTF-8 content decided; a stray byte there reads as "�", not a crash.
        text = io.TextIOWrapper(
            self.file, encoding=_decoder_codec(self.encoding), errors="replace", newline=""
        )
        try:
            reader = csv.reader(
                text,
                delimiter=self.delimiter,
                quotechar='"',
                doublequote=True,
                skipinitialspace=False,
                strict=False,
            )
            yield from _numbered_records(reader)
        finally:
            # Closing the wrapper would close the uploaded file under the caller's feet.
            text.detach()

    def _xlsx_records(self) -> Generator[tuple[int, list[str]]]:
        self.file.seek(0)
        workbook = _open_workbook(self.file)
        try:
            worksheet = _first_worksheet(workbook)
            if worksheet is None:
                return
            # Some programs write a wrong size ("A1") into the sheet; openpyxl would believe it
            # and stop after the first cell. Without it, rows are read as long as they are.
            worksheet.reset_dimensions()
            values = worksheet.iter_rows(values_only=True)
            for line, row in enumerate(_readable_rows(values), start=1):
                yield line, [_cell_text(value) for value in row]
        finally:
            # A read-only workbook keeps its archive open until closed.
            workbook.close()


def open_sheet(file: BinaryIO, *, name: str, size: int, max_bytes: int, max_rows: int) -> Sheet:
    """Open an uploaded file as a sheet, or raise FileProblem.

    ``file``: a seekable binary file (a Django UploadedFile or an open file); ``name`` its file
    name (only a hint, for the message about spreadsheets in other formats); ``size`` its size in
    bytes. The size is checked before anything is read; the first row is read to make sure the
    file holds one.
    """
    if size > max_bytes:
        raise FileProblem(_too_large(max_bytes))
    if size == 0:
        raise FileProblem(_empty())
    file.seek(0)
    head = file.read(len(XLSX_MAGIC))
    if head.startswith(XLSX_MAGIC):
        sheet = Sheet("xlsx", "", "", file=file, max_rows=max_rows)
        _require_a_row(sheet, name)
        return sheet
    if head.startswith(XLS_MAGIC):
        # Excel also wraps a password-protected .xlsx in this older container.
        protected = PurePath(name).suffix.lower() in {".xlsx", ".xlsm"}
        raise FileProblem(_protected_workbook() if protected else _old_excel())
    if head.startswith(PDF_MAGIC):
        raise FileProblem(_not_a_table())
    file.seek(0)
    sample = file.read(CHUNK_BYTES)
    encoding = _detect_encoding(file, sample)
    sheet = Sheet(
        "csv", encoding, _detect_delimiter(sample, encoding), file=file, max_rows=max_rows
    )
    _require_a_row(sheet, name)
    return sheet


def _require_a_row(sheet: Sheet, name: str) -> None:
    """Read up to the first row with a value: an empty file, or a zip that is no workbook, is
    refused now rather than when the caller starts going through the rows."""
    try:
        with closing(sheet._rows()) as rows:
            next(rows)
    except StopIteration:
        raise FileProblem(_empty()) from None
    except _NotAWorkbook:
        if PurePath(name).suffix.lower() in OTHER_SPREADSHEETS:
            raise FileProblem(_other_spreadsheet()) from None
        raise


# Messages


def _empty() -> str:
    return _("The file is empty.")


def _too_large(max_bytes: int) -> str:
    megabytes = max_bytes / MEGABYTE
    limit = number_format(megabytes, decimal_pos=0 if megabytes.is_integer() else 1)
    return _("The file is larger than %(max)s MB; split it into smaller files.") % {"max": limit}


def _too_many_rows(max_rows: int) -> str:
    limit = number_format(max_rows, force_grouping=True)
    return _("The file has more than %(max)s rows; split it into smaller files.") % {"max": limit}


def _old_excel() -> str:
    return _(
        "This is an old Excel file (.xls). Open it in your spreadsheet program, save it as an "
        "Excel workbook (.xlsx) or as a CSV file, and upload that file."
    )


def _protected_workbook() -> str:
    return _(
        "This workbook is protected by a password. Open it in Excel, remove the password, save "
        "it and upload it once more."
    )


def _other_spreadsheet() -> str:
    return _(
        "This spreadsheet format cannot be read. Open it in your spreadsheet program, save it as "
        "an Excel workbook (.xlsx) or as a CSV file, and upload that file."
    )


def _not_a_table() -> str:
    return _("This file is not a CSV file or an Excel workbook (.xlsx).")


def _damaged_workbook() -> str:
    return _(
        "This workbook could not be read to the end; it may be damaged. Open it in your "
        "spreadsheet program, save it again and upload it once more."
    )


def _unreadable_row(line: int, error: csv.Error) -> str:
    return _("Row %(line)s could not be read: %(error)s.") % {"line": line, "error": error}


# Rows


def _filled(
    records: Generator[tuple[int, list[str]]], max_rows: int
) -> Generator[tuple[int, list[str]]]:
    """The records with a value, cleaned, counted against ``max_rows``."""
    count = 0
    with closing(records):
        for line, raw in records:
            cells = _cleaned(raw)
            if not cells:
                continue
            count += 1
            if count > max_rows:
                raise FileProblem(_too_many_rows(max_rows))
            yield line, cells


def _cleaned(raw: Iterable[str]) -> list[str]:
    # NUL characters come from programs that pad fixed-width fields; nobody typed them.
    cells = [cell.replace("\x00", "").strip() for cell in raw]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _numbered_records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    line = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileProblem(_unreadable_row(line + 1, error)) from error
        line += 1
        if line == 1 and record:
            # A byte order mark written twice (a program adding one to a file that had one)
            # survives the codec, which drops only the first.
            record[0] = record[0].lstrip("\ufeff")
        yield line, record


# Workbooks


class _NotAWorkbook(FileProblem):
    """A zip archive openpyxl cannot open as a workbook (opening it tells which kind)."""

    def __init__(self) -> None:
        super().__init__(_not_a_table())


def _open_workbook(file: BinaryIO) -> Any:
    try:
        return load_workbook(file, read_only=True, data_only=True, keep_links=False)
    # openpyxl raises whatever its zip and XML parsers raise (BadZipFile, KeyError for a missing
    # part, InvalidFileException, XML syntax errors...): any of them means "not a workbook".
    except Exception as error:
        raise _NotAWorkbook from error


def _first_worksheet(workbook: Any) -> Any:
    """The sheet Excel shows on opening, unless that is a chart; else the first one."""
    active = workbook.active
    if active is not None and hasattr(active, "iter_rows"):
        return active
    return workbook.worksheets[0] if workbook.worksheets else None


def _readable_rows(values: Iterator[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
    while True:
        try:
            row = next(values)
        except StopIteration:
            return
        # As when opening: a broken sheet fails with whatever its parser raises.
        except Exception as error:
            raise FileProblem(_damaged_workbook()) from error
        yield row


def _cell_text(value: object) -> str:
    """A cell's value as the text a merchant sees in the cell (dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):  # before int: a bool is an int
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, datetime.datetime):  # before date: a datetime is a date
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.isoformat(timespec="seconds")
    return str(value).strip()


def _number_text(value: float) -> str:
    if value.is_integer():
        return str(int(value))
    # Excel keeps 15 significant digits: 0.1 + 0.2 shows as 0.3, not 0.30000000000000004.
    text = format(value, ".15g")
    if "e" in text:  # 1e-07: written out, as a cell shows it
        text = format(Decimal(text), "f")
    return text


# Encodings


def _detect_encoding(file: BinaryIO, sample: bytes) -> str:
    for mark, encoding in BYTE_ORDER_MARKS:
        if sample.startswith(mark):
            return encoding
    wide = _utf16_without_mark(file, sample)
    if wide:
        return wide
    # Text in any 8-bit encoding or UTF-8 has no NUL byte; images, archives and databases do.
    if b"\x00" in sample[:PROBE_BYTES]:
        raise FileProblem(_not_a_table())
    if _is_utf8(file):
        return "utf-8"
    return _legacy_encoding(file, sample)


def _utf16_without_mark(file: BinaryIO, sample: bytes) -> str | None:
    probe = sample[:PROBE_BYTES]
    half = max(len(probe) // 2, 1)
    # Latin text in UTF-16 LE is "N\x00a\x00...": the NULs sit at odd offsets.
    shares = {"utf-16-le": probe[1::2].count(0) / half, "utf-16-be": probe[0::2].count(0) / half}
    for encoding, share in sorted(shares.items(), key=lambda item: -item[1]):
        if share <= WIDE_NUL_SHARE:
            continue
        # Real text has no NUL character; binary data full of zeros decodes to many.
        text = probe[: len(probe) // 2 * 2].decode(encoding, errors="replace")
        if "\x00" not in text and _decodes(file, encoding):
            return encoding
    return None


def _is_utf8(file: BinaryIO) -> bool:
    """Strict UTF-8, or UTF-8 with a few damaged bytes among many valid accented characters."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    total_bytes = total_chars = replaced = 0
    while chunk := file.read(CHUNK_BYTES):
        text = decoder.decode(chunk)
        total_bytes += len(chunk)
        total_chars += len(text)
        replaced += text.count("\ufffd")
    text = decoder.decode(b"", final=True)
    total_chars += len(text)
    replaced += text.count("\ufffd")
    # Each character of two to four bytes shortens the text by one to three characters.
    multibyte = total_bytes - total_chars
    return replaced == 0 or multibyte > UTF8_MAJORITY * replaced


def _legacy_encoding(file: BinaryIO, sample: bytes) -> str:
    candidates = []
    # Asked about Windows-1252 alone, charset_normalizer still refuses it for Cyrillic, Greek
    # or Japanese text, whose bytes make no sense as Latin letters.
    if charset_normalizer.from_bytes(sample, cp_isolation=["cp1252"]).best() is not None:
        candidates.append("cp1252")
    best = charset_normalizer.from_bytes(sample).best()
    if best is not None:
        candidates.append(best.encoding)
    candidates.append("cp1252")
    for candidate in dict.fromkeys(filter(None, map(_codec_name, candidates))):
        if _decodes(file, candidate):
            return candidate
    return "latin-1"  # decodes any byte


def _decodes(file: BinaryIO, encoding: str) -> bool:
    """Whether the whole file decodes strictly, read in chunks."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        while chunk := file.read(CHUNK_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _codec_name(encoding: str) -> str | None:
    """Python's own name for a codec ("utf_8" -> "utf-8", "latin_1" -> "latin-1")."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    return "latin-1" if name == "iso8859-1" else name


def _decoder_codec(encoding: str) -> str:
    # utf-8-sig drops a byte order mark at the start (never shown in the first cell) and reads
    # a file without one as plain UTF-8.
    return "utf-8-sig" if encoding == "utf-8" else encoding


# Delimiters


def _detect_delimiter(sample: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(_decoder_codec(encoding))(errors="replace")
    text = decoder.decode(sample[:PROBE_BYTES], final=len(sample) <= PROBE_BYTES)
    if len(sample) > PROBE_BYTES:
        # Only whole lines: a cut last line would look like a row with fewer cells.
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[:cut] if cut > 0 else text
    try:
        delimiter = csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:  # a single column, or rows of uneven length
        return _most_common_delimiter(text)
    return delimiter if delimiter in DELIMITERS else _most_common_delimiter(text)


def _most_common_delimiter(text: str) -> str:
    """The candidate on the most lines (then the most often), else a comma: a single column.

    Counting lines rather than reading the first one alone finds the semicolons of a short
    export that starts with a title ("Customers 2024") above its table.
    """
    lines = text.splitlines()
    scores = {
        delimiter: (sum(delimiter in line for line in lines), text.count(delimiter))
        for delimiter in DELIMITERS
    }
    best = max(DELIMITERS, key=scores.__getitem__)
    return best if scores[best][1] else ","
