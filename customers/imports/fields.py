"""What a column of an imported file can hold, and which column holds what.

A field has a key (stored in ``ImportJob.mapping``), a label in the merchant's language, the
program kinds it belongs to, and the headers other systems and spreadsheets write for it, in
the languages the dashboard speaks. ``guess_mapping`` maps a file's columns: first the
merchant's own earlier choice for the same header (``ImportColumnChoice``), then the known
headers, then, for a file without a header row, what the cells look like.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from cards.models import Program

CUSTOM_PREFIX = "custom:"
BOTH = ("stamp", "cashback")


@dataclass(frozen=True)
class Field:
    key: str
    label: StrOrPromise
    kinds: tuple[str, ...] = BOTH
    headers: tuple[str, ...] = ()


FIELDS = (
    Field(
        "first_name",
        _("First name"),
        headers=(
            "first name", "firstname", "given name", "forename", "vorname", "nombre", "prenom",
        ),
    ),
    Field(
        "last_name",
        _("Last name"),
        headers=(
            "last name", "lastname", "surname", "family name", "nachname", "apellido",
            "apellidos", "nom",
        ),
    ),
    Field(
        "full_name",
        _("Full name"),
        headers=(
            "name", "full name", "fullname", "customer", "customer name", "client", "client name",
            "member", "member name", "kunde", "kundenname", "nombre completo", "cliente",
        ),
    ),
    Field(
        "email",
        _("Email"),
        headers=(
            "email", "e mail", "mail", "email address", "e mail address", "correo",
            "correo electronico", "e mail adresse",
        ),
    ),
    Field(
        "phone",
        _("Phone"),
        headers=(
            "phone", "phone number", "mobile", "mobile number", "cell", "cell phone", "telephone",
            "tel", "telefon", "telefonnummer", "handy", "mobil", "telefono", "movil", "celular",
        ),
    ),
    Field(
        "birthday",
        _("Birthday"),
        headers=(
            "birthday", "birth date", "birthdate", "date of birth", "dob", "geburtstag",
            "geburtsdatum", "cumpleanos", "fecha de nacimiento",
        ),
    ),
    Field(
        "stamps",
        _("Stamps"),
        kinds=("stamp",),
        headers=("stamps", "stamp", "stamp balance", "stamps balance", "stempel", "sellos"),
    ),
    Field(
        "rewards",
        _("Rewards available"),
        kinds=("stamp",),
        headers=(
            "rewards", "reward", "rewards available", "available rewards", "free items",
            "pramien", "belohnungen", "recompensas", "premios",
        ),
    ),
    Field(
        "points",
        _("Points balance"),
        kinds=("cashback",),
        headers=(
            "points", "point balance", "points balance", "balance", "cashback",
            "cashback balance", "punkte", "guthaben", "puntos", "saldo",
        ),
    ),
    Field(
        "visits",
        _("Total visits"),
        headers=("visits", "total visits", "visit count", "besuche", "visitas"),
    ),
    Field(
        "spent",
        _("Total spent"),
        headers=(
            "total spent", "spent", "amount spent", "total amount", "ltv", "lifetime value",
            "revenue", "sales", "umsatz", "gesamtumsatz", "total gastado", "gastado",
        ),
    ),
    Field(
        "tier",
        _("Tier"),
        kinds=("cashback",),
        headers=("tier", "level", "status level", "stufe", "nivel"),
    ),
    Field(
        "external_number",
        _("Former card number"),
        headers=(
            "card number", "card no", "card", "card id", "card code", "barcode",
            "member number", "membership number", "member id", "kartennummer",
            "numero de tarjeta", "tarjeta",
        ),
    ),
    Field(
        "issued_on",
        _("Issued on"),
        headers=(
            "issued", "issued on", "issue date", "member since", "customer since", "joined",
            "join date", "signup date", "sign up date", "created", "created at",
            "registration date", "registered", "mitglied seit", "fecha de alta", "alta",
        ),
    ),
    Field(
        "last_visit",
        _("Last visit"),
        headers=(
            "last visit", "last visit date", "last seen", "last purchase", "letzter besuch",
            "ultima visita",
        ),
    ),
    *(
        Field(f"utm_{part}", label, headers=(f"utm {part}",))
        for part, label in (
            ("source", _("UTM source")),
            ("medium", _("UTM medium")),
            ("campaign", _("UTM campaign")),
            ("term", _("UTM term")),
            ("content", _("UTM content")),
        )
    ),
)  # fmt: skip
BY_KEY = {field.key: field for field in FIELDS}


def normalize_header(text: str) -> str:
    """Lowercase, accents and punctuation dropped: "E-Mail" and "e_mail" are "e mail"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.split(r"[\W_]+", plain.lower())).strip()


def program_fields(program: Program) -> list[tuple[str, str]]:
    """(key, label) of every field a file may map to for ``program``, its questions last."""
    fields = [(f.key, str(f.label)) for f in FIELDS if program.kind in f.kinds]
    fields += [(f"{CUSTOM_PREFIX}{f.key}", f.label) for f in program.custom_fields.all()]
    return fields


def _known_headers(program: Program) -> dict[str, str]:
    known = {
        normalize_header(header): f.key
        for f in FIELDS
        if program.kind in f.kinds
        for header in (f.key, str(f.label), *f.headers)
    }
    for custom in program.custom_fields.all():
        for text in (custom.key, custom.label):
            known[normalize_header(text)] = f"{CUSTOM_PREFIX}{custom.key}"
    return known


def looks_like_header(cells: Sequence[str], program: Program) -> bool:
    """Whether a file's first row names its columns: one of its cells is a known header."""
    known = _known_headers(program)
    return any(normalize_header(cell) in known for cell in cells)


def column_label(index: int) -> str:
    """A spreadsheet's name for the column: A, B, ..., Z, AA, AB..."""
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(ord("A") + remainder) + name
    return str(_("Column %(name)s") % {"name": name})


def guess_mapping(
    *,
    program: Program,
    headers: Sequence[str] | None,
    sample: Sequence[Sequence[str]],
    remembered: Mapping[str, str],
) -> list[str]:
    """A field key (or "") for each column: the merchant's last choice for the same header,
    else a known header, else (no header row) what the sample's cells look like.

    A field goes to one column only, the first that claims it.
    """
    width = max([len(headers or ()), *(len(row) for row in sample)], default=0)
    allowed = {key for key, _label in program_fields(program)}
    known = _known_headers(program)
    mapping: list[str] = []
    for index in range(width):
        key = ""
        if headers is not None and index < len(headers):
            normalized = normalize_header(headers[index])
            key = remembered.get(normalized, known.get(normalized, ""))
        elif headers is None:
            key = _guess_from_cells([row[index] if index < len(row) else "" for row in sample])
        mapping.append(key if key in allowed and key not in mapping else "")
    return mapping


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[\d\s().\-/]{7,}$")
DATE_RE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
WHOLE_RE = re.compile(r"^\d{1,6}$")


def _guess_from_cells(cells: Sequence[str]) -> str:
    """A column without a header, judged by most of its non-empty cells."""
    values = [cell for cell in cells if cell]
    if not values:
        return ""

    def most(pattern: re.Pattern[str]) -> bool:
        return sum(bool(pattern.match(value)) for value in values) * 2 > len(values)

    if most(EMAIL_RE):
        return "email"
    if most(DATE_RE):
        return "birthday"
    if most(WHOLE_RE):
        return "stamps"
    if most(PHONE_RE):
        return "phone"
    if all(any(char.isalpha() for char in value) for value in values):
        return "full_name"
    return ""
