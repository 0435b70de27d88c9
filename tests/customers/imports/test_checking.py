"""The preview's check: every kind of defect a real file has, each row refused with its line
number and a reason a merchant understands, and nothing of the CRM written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cards.models import Card, LedgerEntry, Program
from customers.imports import services
from customers.imports.checking import parse_date, parse_money
from customers.models import Customer, ImportJob, ImportProblem, ImportStatus
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def problems(job: ImportJob) -> dict[int, str]:
    """The invalid rows' reasons as the preview shows them, by line."""
    invalid = ImportProblem.objects.filter(job=job, kind=ImportProblem.Kind.INVALID)
    return {problem.line: problem.reason_text for problem in invalid}


def crm_counts() -> tuple[int, int, int]:
    return Customer.objects.count(), Card.objects.count(), LedgerEntry.objects.count()


def test_the_check_writes_nothing_of_the_crm(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    before = crm_counts()

    job = checked(
        stamp_program, "Name,Email,Stamps\nAda,ada@example.com,4\nBob,bob@example.com,2\n"
    )

    assert job.status == ImportStatus.CHECKED
    assert (job.new_customers, job.invalid_rows) == (2, 0)
    assert crm_counts() == before


def test_every_invalid_row_is_named_with_its_line_and_reason(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(
        stamp_program,
        "Name,Email,Phone,Birthday,Stamps,Visits\n"
        "Ada,ada@example.com,,,3,1\n"  # line 2: fine
        "Bob,not-an-email,,,1,1\n"
        "Cy,cy@example.com,12,,1,1\n"
        "Di,di@example.com,,2999-01-01,1,1\n"
        "Ed,ed@example.com,,,-4,1\n"
        "Flo,flo@example.com,,,99999999999,1\n"
        "Gus,gus@example.com,,,2.5,1\n"
        ",nameless@example.com,,,1,1\n"
        "Hal,ADA@example.com,,,1,1\n"
        "Ivy,ivy@example.com,,31/02/2001,1,1\n",
    )

    found = problems(job)
    assert set(found) == {3, 4, 5, 6, 7, 8, 9, 10, 11}
    assert found[3] == "Not a valid email address."
    assert found[4] == "Not a valid phone number."
    assert found[5] == "Enter a date between 1900 and today."
    assert found[6] == "Cannot be negative."
    assert found[7].startswith("Larger than 1,000,000")
    assert found[8] == "Not a whole number."
    assert found[9] == "No name: a customer needs at least a first name."
    assert found[10] == "The same email as row 2."
    assert found[11].startswith("Not a date")
    assert (job.new_customers, job.invalid_rows) == (1, 9)
    column, value = ImportProblem.objects.values_list("column", "value").get(job=job, line=3)
    assert (column, value) == ("Email", "not-an-email")


def test_a_formula_is_refused_not_computed(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(stamp_program, 'Name,Stamps\nAda,=2+2\n=HYPERLINK("x"),1\n')

    assert set(problems(job).values()) == {"A formula, not a value: export the sheet's values."}


def test_our_own_exports_guarded_cells_come_back_as_typed(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(stamp_program, "First name,Phone\nAda,'+1 415 555 0100\n")

    assert job.invalid_rows == 0


def test_a_quoted_newline_keeps_the_row_and_the_line_numbers(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(
        stamp_program,
        'Name,Notes,Email\nAda,"likes\noat milk",ada@example.com\nBob,,broken\n',
    )

    assert job.rows_total == 2
    assert problems(job) == {3: "Not a valid email address."}


def test_unknown_columns_are_ignored(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(stamp_program, "Name,Favourite colour,Shoe size\nAda,teal,38\n")

    assert job.mapping == ["full_name", "", ""]
    assert (job.new_customers, job.invalid_rows) == (1, 0)


def test_a_file_without_a_header_is_mapped_by_its_cells(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(stamp_program, "Ada Lovelace,ada@example.com,4\nBob Byte,bob@example.com,7\n")

    assert not job.has_header
    assert job.mapping == ["full_name", "email", "stamps"]
    assert job.new_customers == 2


def test_a_cp1252_file_keeps_its_accents(
    stamp_program: Program, upload: Callable[..., ImportJob], owner: Any
) -> None:
    job = upload(stamp_program, "Name;Email\nJosé Müller;jose@example.com\n", encoding="cp1252")
    job = services.import_map(job=job, mapping=job.mapping, actor=owner)
    services.import_apply_request(job=job, actor=owner)
    services.import_apply(job_id=job.pk)

    assert Customer.objects.get().full_name == "José Müller"


def test_a_row_naming_a_tier_the_program_lacks_is_refused(
    cashback_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(cashback_program, "Name,Tier\nAda,Platinum\n")

    assert problems(job) == {2: "No such tier; the program's are Bronze, Silver, Gold."}


def test_stamps_on_a_cashback_program_cannot_be_mapped(
    cashback_program: Program, upload: Callable[..., ImportJob], owner: Any
) -> None:
    job = upload(cashback_program, "Name,Stamps\nAda,3\n")

    assert job.mapping == ["full_name", ""]
    job = services.import_map(job=job, mapping=["full_name", "stamps"], actor=owner)
    assert job.mapping == ["full_name", ""]


def test_a_mapping_without_a_name_or_with_a_field_twice_is_refused(
    stamp_program: Program, upload: Callable[..., ImportJob], owner: Any
) -> None:
    job = upload(stamp_program, "Name,Email,Other email\nAda,a@example.com,b@example.com\n")

    with pytest.raises(Exception, match="every customer needs a name"):
        services.import_map(job=job, mapping=["", "email", ""], actor=owner)
    with pytest.raises(Exception, match="Map each field to one column only: Email"):
        services.import_map(job=job, mapping=["full_name", "email", "email"], actor=owner)


def test_a_known_customer_of_another_merchant_is_not_matched(
    other_merchant, stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    theirs = CustomerFactory(merchant=other_merchant, email="ada@example.com")

    job = checked(stamp_program, "Name,Email\nAda,ada@example.com\n")

    assert (job.new_customers, job.matched_customers) == (1, 0)
    assert Customer.objects.filter(pk=theirs.pk, merchant=other_merchant).exists()


def test_another_merchants_question_cannot_be_mapped(
    other_merchant, stamp_program: Program, upload: Callable[..., ImportJob], owner: Any
) -> None:
    their_program = Program.objects.create(
        merchant=other_merchant, name="Theirs", kind="stamp", mechanism="visit"
    )
    their_program.custom_fields.create(key="secret", label="Secret")
    job = upload(stamp_program, "Name,Secret\nAda,1\n")

    job = services.import_map(job=job, mapping=["full_name", "custom:secret"], actor=owner)

    assert job.mapping == ["full_name", ""]


def test_the_programs_own_question_is_checked_like_the_join_form(
    stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    stamp_program.custom_fields.create(key="cups", label="Cups a day", field_type="number")

    job = checked(stamp_program, "Name,Cups a day\nAda,2\nBob,many\n")

    assert job.mapping == ["full_name", "custom:cups"]
    assert set(problems(job)) == {3}


@pytest.mark.parametrize(
    ("raw", "month_first", "expected"),
    [
        ("2025-03-04", False, "2025-03-04"),
        ("04.03.2025", False, "2025-03-04"),
        ("04/03/2025", False, "2025-03-04"),
        ("04/03/2025", True, "2025-04-03"),
        ("31/03/2025", True, "2025-03-31"),
        ("2025-03-04 12:30:00", False, "2025-03-04"),
    ],
)
def test_dates_are_read_the_way_the_merchants_country_writes_them(
    raw: str, month_first: bool, expected: str
) -> None:
    assert str(parse_date("birthday", raw, month_first=month_first)) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12,50", "12.50"), ("1.234,50", "1234.50"), ("1,234.50", "1234.50"), ("$12.5", "12.50")],
)
def test_amounts_are_read_in_any_common_notation(raw: str, expected: str) -> None:
    assert str(parse_money("spent", raw)) == expected
