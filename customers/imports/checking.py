"""Checking an imported file's rows: what each row would do, decided before anything is written.

``check_rows`` turns the mapped rows into outcomes, in file order, chunk by chunk: a ``Record``
to import (a new customer, or a known one who gets a card) or a ``Problem`` (an invalid row,
or one skipped because it would change nothing). The preview and the apply run the very same
pass, so what the preview counts is what the apply writes.

A row is checked with the rules of the Add customer dialog (a first name, a valid email and
phone, a birthday between 1900 and today, the program's questions) and of the ledger (whole,
not negative balances within the columns' limits). A row matches a customer already on file by
its former card number, then its email, then its phone: a match that already holds a live card
of the program is skipped (an import never changes an existing card), and so is a row imported
before (``Card.import_key``), which is what makes importing a file twice a no-op.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import F
from django.db.models.functions import Lower, Upper
from django.utils import timezone

# Marked for translation, kept untranslated: a problem is stored once and read in the
# language of whoever reads it.
from django.utils.translation import gettext_noop as _

from cards import rules
from cards.forms import custom_fields_for, custom_values
from cards.models import Card, CardStatus, Program
from customers.imports.fields import BY_KEY, CUSTOM_PREFIX
from customers.models import Customer
from loyalty.csv_export import FORMULA_STARTS
from loyalty.models import Merchant
from loyalty.phones import normalize_phone

CHUNK = 2_000
MAX_NAME = 80
MAX_EXTERNAL_NUMBER = 40
# An opening balance is a whole history, so it may pass what one counter entry may add; these
# bounds still catch a mistyped figure (and keep every balance inside its column).
MAX_IMPORT_COUNT = 1_000_000
MAX_IMPORT_MONEY = Decimal("100000000.00")
LARGER = _("Larger than %(max)s; check the figure.")
LONGER = _("Longer than %(max)s characters.")
# Countries that write dates month first (03/04/2025 is March 4th there).
MONTH_FIRST = frozenset({"US", "PH", "PW", "FM", "MH", "BZ"})


@dataclass(frozen=True)
class Record:
    """A row to import: a new customer (``customer_id`` None) or a known one, and their card."""

    line: int
    first_name: str
    last_name: str
    email: str
    phone: str
    birthday: datetime.date | None
    custom_fields: dict[str, str]
    utm: dict[str, str]
    external_number: str
    issued_at: datetime.datetime | None
    opening_at: datetime.datetime | None
    opening: rules.Opening
    import_key: str
    customer_id: int | None = None


@dataclass(frozen=True)
class Problem:
    """A row left out. ``reason`` is an untranslated message id and ``params`` its values: each
    reader sees it in their own language (``ImportProblem.reason_text``)."""

    line: int
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    column: str = ""
    value: str = ""
    skipped: bool = False


class RowError(Exception):
    """One cell's problem: ``key`` is its field's, ``reason`` a message id with ``params``."""

    def __init__(self, key: str, reason: str, value: str = "", **params: Any) -> None:
        super().__init__(reason)
        self.key, self.reason, self.value, self.params = key, reason, value, params


@dataclass
class Context:
    """What checking a row of one job needs, loaded once."""

    merchant: Merchant
    program: Program
    rule_set: rules.StampRules | rules.CashbackRules
    mapping: list[str]
    columns: list[str]
    today: datetime.date
    month_first: bool
    custom: dict[str, forms.Field]
    tiers: dict[str, rules.Tier]

    @classmethod
    def of(cls, *, program: Program, mapping: Sequence[str], columns: Sequence[str]) -> Context:
        merchant = program.merchant
        rule_set = program.rule_set()
        tiers = rule_set.tiers if isinstance(rule_set, rules.CashbackRules) else ()
        return cls(
            merchant=merchant,
            program=program,
            rule_set=rule_set,
            mapping=list(mapping),
            columns=list(columns),
            today=timezone.localdate(timezone=merchant.tz),
            month_first=merchant.country.upper() in MONTH_FIRST,
            custom=custom_fields_for(program),
            tiers={tier.name.casefold(): tier for tier in tiers},
        )

    def label(self, key: str) -> str:
        """The column a field came from, as the file names it."""
        if key in self.mapping:
            index = self.mapping.index(key)
            if index < len(self.columns):
                return self.columns[index]
        return str(BY_KEY[key].label) if key in BY_KEY else key


# ---------------------------------------------------------------------------------------------
# Cells


def _money_text(raw: str) -> str:
    """An amount as Python reads it: "1.234,50", "1,234.50", "12,50 €" and "$12.50" alike."""
    text = re.sub(r"[^\d,.\-]", "", raw)
    if "," in text and "." in text:
        decimal = max(text.rfind(","), text.rfind("."))
        grouping = "." if text[decimal] == "," else ","
        return text.replace(grouping, "").replace(text[decimal], ".")
    if text.count(",") == 1 and len(text) - text.index(",") - 1 in (1, 2):
        return text.replace(",", ".")  # a decimal comma: "12,5", "12,50"
    return text.replace(",", "")  # grouping commas: "1,234"


def parse_money(key: str, raw: str) -> Decimal:
    try:
        value = Decimal(_money_text(raw))
    except InvalidOperation:
        raise RowError(key, _("Not a number."), raw) from None
    if not value.is_finite():
        raise RowError(key, _("Not a number."), raw)
    if value != value.quantize(rules.CENT):
        raise RowError(key, _("Write amounts with at most two decimals."), raw)
    if value < 0:
        raise RowError(key, _("Cannot be negative."), raw)
    if value > MAX_IMPORT_MONEY:
        raise RowError(key, LARGER, raw, max=MAX_IMPORT_MONEY)
    return value.quantize(rules.CENT)


def parse_whole(key: str, raw: str) -> int:
    try:
        value = Decimal(_money_text(raw))
    except InvalidOperation:
        raise RowError(key, _("Not a whole number."), raw) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise RowError(key, _("Not a whole number."), raw)
    if value < 0:
        raise RowError(key, _("Cannot be negative."), raw)
    if value > MAX_IMPORT_COUNT:
        raise RowError(key, LARGER, raw, max=MAX_IMPORT_COUNT)
    return int(value)


DATE_PARTS = re.compile(r"^(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})(?:[ T].*)?$")


def parse_date(key: str, raw: str, *, month_first: bool) -> datetime.date:
    """ISO (2025-03-04), or day first (04.03.2025, 04/03/2025), or month first where the
    merchant's country writes dates so; a day above 12 settles the order either way."""
    match = DATE_PARTS.match(raw.strip())
    if match is None:
        raise RowError(key, _("Not a date; write it as 2025-03-31."), raw)
    first, second, third = (int(part) for part in match.groups())
    if len(match.group(1)) == 4:
        year, month, day = first, second, third
    else:
        month, day = (first, second) if month_first and first <= 12 else (second, first)
        if second > 12:  # "03/31/2025" is month first wherever it is written
            month, day = first, second
        year = third
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise RowError(key, _("Not a date; write it as 2025-03-31."), raw) from None


# ---------------------------------------------------------------------------------------------
# One row


def _cells_by_key(context: Context, cells: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for index, key in enumerate(context.mapping):
        if key and index < len(cells):
            value = cells[index].strip()
            # Our own export guards "+1 415..." as "'+1 415...": a file exported here comes back.
            if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
                value = value[1:]
            values[key] = value
    for key, value in values.items():
        # Text a spreadsheet would compute: the value must be exported, not the formula.
        if value.startswith("="):
            raise RowError(key, _("A formula, not a value: export the sheet's values."), value)
    return values


def _names(values: dict[str, str]) -> tuple[str, str]:
    first, last = values.get("first_name", ""), values.get("last_name", "")
    full = values.get("full_name", "")
    if full and not first:
        if "," in full:  # "Müller, Anna"
            last_part, _sep, first_part = full.partition(",")
            first, last = first_part.strip(), last or last_part.strip()
        else:
            first, _sep, rest = full.partition(" ")
            last = last or rest.strip()
    if not first:
        raise RowError("first_name", _("No name: a customer needs at least a first name."))
    for key, name in (("first_name", first), ("last_name", last)):
        if len(name) > MAX_NAME:
            raise RowError(key, LONGER, name, max=MAX_NAME)
    return first, last


def _email(values: dict[str, str]) -> str:
    email = values.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise RowError("email", _("Not a valid email address."), email) from None
        if len(email) > 254:
            raise RowError("email", _("Not a valid email address."), email)
    return email


def _phone(context: Context, values: dict[str, str]) -> str:
    raw = values.get("phone", "")
    try:
        return normalize_phone(raw, region=context.merchant.country)
    except ValidationError:
        raise RowError("phone", _("Not a valid phone number."), raw) from None


def _date(context: Context, values: dict[str, str], key: str) -> datetime.date | None:
    raw = values.get(key, "")
    if not raw:
        return None
    day = parse_date(key, raw, month_first=context.month_first)
    if not datetime.date(1900, 1, 1) <= day <= context.today:
        raise RowError(key, _("Enter a date between 1900 and today."), raw)
    return day


def _custom(context: Context, values: dict[str, str]) -> dict[str, str]:
    """The program's questions, cleaned by the Add customer dialog's own form fields."""
    cleaned: dict[str, Any] = {}
    for name, form_field in context.custom.items():
        key = CUSTOM_PREFIX + name.removeprefix("custom_")
        if key not in values and key not in context.mapping:
            continue  # a question the file does not answer is left unanswered
        try:
            cleaned[name] = form_field.clean(values.get(key, ""))
        except ValidationError as error:
            raise RowError(key, " ".join(error.messages), values.get(key, "")) from None
    return custom_values(cleaned, context.program)


def _opening(context: Context, values: dict[str, str]) -> rules.Opening:
    counts = {
        key: parse_whole(key, values[key])
        for key in ("stamps", "rewards", "visits")
        if values.get(key)
    }
    amounts = {key: parse_money(key, values[key]) for key in ("points", "spent") if values.get(key)}
    tier = None
    if name := values.get("tier", ""):
        tier = context.tiers.get(name.casefold())
        if tier is None:
            names = ", ".join(t.name for t in context.tiers.values())
            raise RowError(
                "tier", _("No such tier; the program's are %(names)s."), name, names=names
            )
    return rules.Opening(
        stamps=counts.get("stamps", 0),
        rewards=counts.get("rewards", 0),
        visits=counts.get("visits", 0),
        points=amounts.get("points", rules.ZERO),
        spent=amounts.get("spent", rules.ZERO),
        tier=tier,
    )


def _moment(context: Context, day: datetime.date | None) -> datetime.datetime | None:
    """A day of the file as a moment: noon in the merchant's time zone (never the day before)."""
    if day is None:
        return None
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=context.merchant.tz)


def row_record(context: Context, line: int, cells: Sequence[str]) -> Record:
    """The row as a ``Record`` (not yet matched); ``RowError`` names what is wrong with it."""
    values = _cells_by_key(context, cells)
    first, last = _names(values)
    issued_on = _date(context, values, "issued_on")
    last_visit = _date(context, values, "last_visit")
    if issued_on and last_visit and last_visit < issued_on:
        raise RowError("last_visit", _("Before the card was issued."), values["last_visit"])
    external = values.get("external_number", "")
    if len(external) > MAX_EXTERNAL_NUMBER:
        raise RowError(
            "external_number",
            LONGER,
            external,
            max=MAX_EXTERNAL_NUMBER,
        )
    record = Record(
        line=line,
        first_name=first,
        last_name=last,
        email=_email(values),
        phone=_phone(context, values),
        birthday=_date(context, values, "birthday"),
        custom_fields=_custom(context, values),
        utm={
            key[4:]: values[key][:100] for key in values if key.startswith("utm_") and values[key]
        },
        external_number=external,
        issued_at=_moment(context, issued_on),
        opening_at=_moment(context, last_visit),
        opening=_opening(context, values),
        import_key="",
    )
    return _with_key(context, record)


def _with_key(context: Context, record: Record) -> Record:
    """The row's identity for "imported before": what it says, not how the file spelled it."""
    opening = record.opening
    identity = [
        context.program.pk,
        record.first_name.casefold(),
        record.last_name.casefold(),
        record.email.casefold(),
        record.phone,
        str(record.birthday or ""),
        record.external_number.upper(),
        opening.stamps,
        opening.rewards,
        opening.visits,
        str(opening.points),
        str(opening.spent),
        opening.tier.name if opening.tier else "",
    ]
    digest = hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()
    return replace(record, import_key=digest)


# ---------------------------------------------------------------------------------------------
# Rows in context: the file's duplicates, and what the database already holds


@dataclass
class Seen:
    """What earlier rows of the file claimed, by line: a later row with the same is a duplicate."""

    emails: dict[str, int] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    customers: dict[int, int] = field(default_factory=dict)
    # The first imported row with each phone, and its email.
    phones: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Held:
    """A chunk's matches in the database, each looked up in one query."""

    by_number: dict[str, tuple[str, int, int | None, bool]]  # serial, program, customer, deleted
    by_email: dict[str, int]
    by_phone: dict[
        str, list[tuple[int, str]]
    ]  # customers with the phone: (id, email), oldest first
    imported: dict[str, str]  # import key -> serial
    cards: dict[int, str]  # customer -> serial of their live card of the program


def _held(context: Context, records: Sequence[Record]) -> Held:
    merchant, program = context.merchant, context.program
    numbers = {r.external_number.upper() for r in records if r.external_number}
    emails = {r.email.lower() for r in records if r.email}
    phones = {r.phone for r in records if r.phone}
    by_number: dict[str, tuple[str, int, int | None, bool]] = {
        upper: (serial, program_id, customer_id, status == CardStatus.DELETED)
        for upper, serial, program_id, customer_id, status in Card.objects.annotate(
            upper=Upper("external_number")
        )
        .filter(merchant=merchant, upper__in=numbers)
        .exclude(external_number="")  # the partial unique index's condition: it serves the lookup
        .values_list("upper", "serial", "program_id", "customer_id", "status")
    }
    by_email = dict(
        Customer.objects.annotate(lower=Lower("email"))
        .filter(merchant=merchant, lower__in=emails)
        .values_list("lower", "pk")
    )
    by_phone: dict[str, list[tuple[int, str]]] = {}
    for phone, pk, email in (
        Customer.objects.filter(merchant=merchant, phone__in=phones)
        .order_by("pk")
        .values_list("phone", "pk", "email")
    ):
        by_phone.setdefault(phone, []).append((pk, email))
    imported = dict(
        Card.objects.filter(program=program, import_key__in=[r.import_key for r in records])
        .exclude(import_key="")  # the partial unique index's condition: it serves the lookup
        .values_list("import_key", "serial")
    )
    customers = {*by_email.values(), *(pk for found in by_phone.values() for pk, _e in found)}
    customers |= {c for _s, _p, c, _d in by_number.values() if c is not None}
    cards = dict(
        # Found by customer: "program_id + 0" keeps the program's index out of the planner's
        # choices, which would walk every card of the program once an apply has grown it.
        Card.objects.alias(program_plain=F("program_id") + 0)
        .filter(program_plain=program.pk, customer_id__in=customers)
        .exclude(status=CardStatus.DELETED)
        .order_by("-issued_at")
        .values_list("customer_id", "serial")
    )
    return Held(by_number, by_email, by_phone, imported, cards)


def _same_person(email: str, other: str) -> bool:
    """Whether a phone match may be trusted: two different emails are two people sharing it."""
    return not (email and other and email.lower() != other.lower())


def _skip(record: Record, reason: str, **params: Any) -> Problem:
    return Problem(line=record.line, reason=reason, params=params, skipped=True)


def _invalid(
    context: Context, record: Record, key: str, reason: str, value: str, **params: Any
) -> Problem:
    return Problem(
        line=record.line, column=context.label(key), value=value, reason=reason, params=params
    )


def _decide(context: Context, record: Record, held: Held, seen: Seen) -> Record | Problem:
    """Import, skip or refuse one valid row, given the file before it and the database."""
    line = seen.keys.get(record.import_key)
    if line is not None:
        return _skip(record, _("The same as row %(line)s."), line=line)
    seen.keys[record.import_key] = record.line
    if serial := held.imported.get(record.import_key):
        return _skip(record, _("Imported before, on card %(serial)s."), serial=serial)
    number = record.external_number.upper()
    customer_id: int | None = None
    if number:
        if (line := seen.numbers.get(number)) is not None:
            reason = _("The same card number as row %(line)s.")
            return _invalid(
                context, record, "external_number", reason, record.external_number, line=line
            )
        seen.numbers[number] = record.line
        if number in held.by_number:
            serial, program_id, customer_id, deleted = held.by_number[number]
            if program_id != context.program.pk or deleted:
                reason = _("This card number is already on card %(serial)s.")
                return _invalid(
                    context,
                    record,
                    "external_number",
                    reason,
                    record.external_number,
                    serial=serial,
                )
            return _skip(record, _("Already holds card %(serial)s."), serial=serial)
    if record.email:
        email = record.email.lower()
        if (line := seen.emails.get(email)) is not None:
            reason = _("The same email as row %(line)s.")
            return _invalid(context, record, "email", reason, record.email, line=line)
        seen.emails[email] = record.line
        customer_id = held.by_email.get(email)
    if customer_id is None and record.phone:
        earlier = seen.phones.get(record.phone)
        if earlier is not None and _same_person(record.email, earlier[1]):
            return _skip(record, _("The same customer as row %(line)s."), line=earlier[0])
        found = held.by_phone.get(record.phone, [])
        customer_id = next((pk for pk, email in found if _same_person(record.email, email)), None)
    if record.phone:
        seen.phones.setdefault(record.phone, (record.line, record.email))
    if customer_id is None:
        return record
    if serial := held.cards.get(customer_id):
        reason = _("A customer on file who already holds card %(serial)s of this program.")
        return _skip(record, reason, serial=serial)
    if (line := seen.customers.get(customer_id)) is not None:
        return _skip(record, _("The same customer as row %(line)s."), line=line)
    seen.customers[customer_id] = record.line
    return replace(record, customer_id=customer_id)


def check_rows(
    context: Context, rows: Iterable[tuple[int, Sequence[str]]]
) -> Iterator[Record | Problem]:
    """Every row's outcome, in file order; a handful of queries per ``CHUNK`` rows."""
    seen = Seen()
    chunk: list[tuple[int, Sequence[str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield from _check_chunk(context, chunk, seen)
            chunk = []
    if chunk:
        yield from _check_chunk(context, chunk, seen)


def _check_chunk(
    context: Context, chunk: list[tuple[int, Sequence[str]]], seen: Seen
) -> Iterator[Record | Problem]:
    parsed: list[Record | Problem] = []
    for line, cells in chunk:
        try:
            parsed.append(row_record(context, line, cells))
        except RowError as error:
            parsed.append(
                Problem(
                    line=line,
                    column=context.label(error.key),
                    value=error.value[:200],
                    reason=error.reason,
                    params=error.params,
                )
            )
    held = _held(context, [r for r in parsed if isinstance(r, Record)])
    for outcome in parsed:
        yield _decide(context, outcome, held, seen) if isinstance(outcome, Record) else outcome
