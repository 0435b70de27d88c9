"""Applying an import: customers, cards and opening entries that the ledger agrees with; known
customers matched, never given a second card; a second import of the same file a no-op."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from cards.models import Card, LedgerEntry, Program, Source
from cards.rules import Kind
from customers.imports import checking, services
from customers.models import Customer, ImportJob, ImportProblem
from loyalty.models import AuditAction, AuditEvent
from tests.factories import CustomerFactory, issue_card

pytestmark = pytest.mark.django_db

STAMPS_FILE = """\
First name,Last name,Email,Phone,Birthday,Stamps,Rewards,Visits,Total spent,Card number
Anna,Schmidt,anna@example.com,+1 415 555 0100,1990-04-01,7,1,12,84.50,P-0001
Ben,Okafor,ben@example.com,,,23,0,30,,P-0002
Chloe,,,(415) 555-0102,,0,0,0,,
"""


def verify_ledger() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    return out.getvalue()


def test_a_stamp_file_becomes_customers_cards_and_opening_entries(
    stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    job = imported(stamp_program, STAMPS_FILE)

    assert (job.new_customers, job.matched_customers, job.invalid_rows) == (3, 0, 0)
    anna = Card.objects.get(customer__email="anna@example.com")
    assert (anna.stamps_balance, anna.rewards_available, anna.total_visits) == (7, 1, 12)
    assert anna.ltv == Decimal("84.50")
    assert anna.external_number == "P-0001"
    assert anna.customer.phone == "+14155550100"
    assert str(anna.customer.birthday) == "1990-04-01"
    kinds = list(anna.entries.order_by("created_at", "id").values_list("kind", "source"))
    assert kinds == [(Kind.CARD_ISSUED, Source.IMPORT), (Kind.IMPORTED, Source.IMPORT)]
    assert "cards match their ledger" in verify_ledger()


def test_stamps_past_a_full_card_become_rewards(
    stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    imported(stamp_program, STAMPS_FILE)

    ben = Card.objects.get(customer__email="ben@example.com")
    assert (ben.stamps_balance, ben.rewards_available, ben.stamps_earned) == (3, 2, 23)


def test_an_empty_balance_writes_only_the_first_entry(
    stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    imported(stamp_program, STAMPS_FILE)

    chloe = Card.objects.get(customer__first_name="Chloe")
    assert list(chloe.entries.values_list("kind", flat=True)) == [Kind.CARD_ISSUED]


def test_importing_the_same_file_again_changes_nothing(
    stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    imported(stamp_program, STAMPS_FILE)
    counts = (Customer.objects.count(), Card.objects.count(), LedgerEntry.objects.count())

    again = imported(stamp_program, STAMPS_FILE)

    assert (Customer.objects.count(), Card.objects.count(), LedgerEntry.objects.count()) == counts
    assert (again.new_customers, again.matched_customers, again.skipped_rows) == (0, 0, 3)


def test_a_known_customer_gets_a_card_but_never_a_second_one(
    merchant, stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    known = CustomerFactory(merchant=merchant, first_name="Anna", email="ANNA@example.com")
    holder = CustomerFactory(merchant=merchant, first_name="Ben", email="ben@example.com")
    held = issue_card(stamp_program, customer=holder)

    job = imported(stamp_program, STAMPS_FILE)

    assert (job.new_customers, job.matched_customers, job.skipped_rows) == (1, 1, 1)
    assert Card.objects.filter(customer=known, program=stamp_program).count() == 1
    assert list(Card.objects.filter(customer=holder).values_list("pk", flat=True)) == [held.pk]
    held.refresh_from_db()
    assert held.stamps_balance == 0  # an existing card's balance is never touched
    known.refresh_from_db()
    assert (known.first_name, known.total_visits) == ("Anna", 12)
    skipped = ImportProblem.objects.get(job=job, kind=ImportProblem.Kind.SKIPPED)
    assert held.serial in skipped.reason_text


def test_a_cashback_file_takes_points_and_the_tier_named(
    cashback_program: Program, imported: Callable[..., ImportJob]
) -> None:
    imported(
        cashback_program,
        "Name;E-Mail;Punkte;Umsatz;Tier\nAnna Schmidt;anna@example.com;12,50;1.234,00;Silver\n",
    )

    card = Card.objects.get()
    assert (card.points_balance, card.transaction_amount) == (Decimal("12.50"), Decimal("1234.00"))
    assert card.tier_name == "Silver"
    assert (card.customer.first_name, card.customer.last_name) == ("Anna", "Schmidt")
    assert "cards match their ledger" in verify_ledger()


def test_the_apply_is_audited(stamp_program: Program, imported: Callable[..., ImportJob]) -> None:
    job = imported(stamp_program, STAMPS_FILE)

    event = AuditEvent.objects.get(action=AuditAction.CUSTOMERS_IMPORTED)
    assert event.details["new"] == 3
    assert event.details["job"] == job.pk
    assert "anna" not in event.summary.lower()  # counts only, no personal data


def test_the_sample_file_of_the_readme_imports_as_it_says(
    stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    sample = (Path(settings.BASE_DIR) / "docs" / "import-sample.csv").read_text()

    job = imported(stamp_program, sample)

    assert (job.new_customers, job.skipped_rows, job.invalid_rows) == (4, 1, 1)
    aiko = Card.objects.get(external_number="P-1003")
    assert (aiko.stamps_balance, aiko.rewards_available) == (2, 1)
    maria = Card.objects.get(external_number="P-1001")
    assert maria.customer.last_name == "García"
    assert maria.last_visit_at.date() == datetime.date(2026, 11, 21)


def test_the_apply_imports_exactly_what_the_preview_counted_across_chunks(
    stamp_program: Program,
    upload: Callable[..., ImportJob],
    owner: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows sharing a phone far apart: by then the apply has written the first one."""
    monkeypatch.setattr(checking, "CHUNK", 2)
    monkeypatch.setattr(services, "CHUNK", 2)
    job = upload(
        stamp_program,
        "Name,Email,Phone\n"
        "Ada,ada@example.com,+1 415 555 0100\n"
        "Bob,bob@example.com,\n"
        "Cy,cy@example.com,\n"
        "Ada's partner,partner@example.com,+1 415 555 0100\n"  # another person, same phone
        "Ada again,,+1 415 555 0100\n",  # no email: the same person as row 2
    )
    job = services.import_map(job=job, mapping=job.mapping, actor=owner)
    preview = (job.new_customers, job.matched_customers, job.skipped_rows, job.invalid_rows)

    services.import_apply_request(job=job, actor=owner)
    services.import_apply(job_id=job.pk)

    job.refresh_from_db()
    assert preview == (4, 0, 1, 0)
    assert (job.new_customers, job.matched_customers, job.skipped_rows, job.invalid_rows) == preview
    assert Customer.objects.count() == 4
