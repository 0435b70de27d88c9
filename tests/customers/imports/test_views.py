"""The import's pages over HTTP: upload refusals, the mapping remembered, the preview, the
problems' CSV, the progress while a worker works, an interrupted job put back, the card links
emailed after the apply, and the old card numbers found again."""

from __future__ import annotations

import datetime
import io
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import openpyxl
import psycopg
import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.models import DailyTotals
from cards.models import Card, Program
from cards.selectors import card_for_code
from customers import selectors as customer_selectors
from customers.imports import services
from customers.models import Customer, ImportColumnChoice, ImportJob, ImportRow, ImportStatus
from tests.customers.imports.conftest import csv_file

pytestmark = pytest.mark.django_db


def post_file(client: Client, program: Program, upload: SimpleUploadedFile) -> Any:
    return client.post(reverse("customers:import"), {"program": program.pk, "file": upload})


def test_an_empty_file_is_refused_with_a_reason(
    owner_client: Client, stamp_program: Program
) -> None:
    response = post_file(owner_client, stamp_program, csv_file(""))

    assert response.status_code == 422
    assert "The submitted file is empty." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_header_without_rows_is_refused(owner_client: Client, stamp_program: Program) -> None:
    response = post_file(owner_client, stamp_program, csv_file("Name,Email\n"))

    assert response.status_code == 422
    assert "no customers below it" in response.content.decode()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    owner_client: Client, stamp_program: Program, settings: Any
) -> None:
    settings.IMPORT_MAX_BYTES = 20 * 1024 * 1024
    row = b"Ada Lovelace,ada@example.com,4\n"
    fifty_megabytes = SimpleUploadedFile("big.csv", row * (50 * 1024 * 1024 // len(row)))

    response = post_file(owner_client, stamp_program, fifty_megabytes)

    assert response.status_code == 422
    assert "20 MB" in response.content.decode()
    assert not ImportRow.objects.exists()


def test_a_pdf_is_not_taken_for_a_spreadsheet(owner_client: Client, stamp_program: Program) -> None:
    pdf = SimpleUploadedFile("customers.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")

    response = post_file(owner_client, stamp_program, pdf)

    assert response.status_code == 422
    assert "not a CSV file or an Excel workbook" in response.content.decode()


def test_the_mapping_page_shows_each_column_with_its_first_values(
    owner_client: Client, stamp_program: Program, upload: Callable[..., ImportJob]
) -> None:
    job = upload(stamp_program, "Kunde,E-Mail,Stempel\n<b>Ada</b>,ada@example.com,4\n")

    page = owner_client.get(reverse("customers:import_job", args=[job.pk])).content.decode()

    assert job.mapping == ["full_name", "email", "stamps"]
    assert "&lt;b&gt;Ada&lt;/b&gt;" in page  # what a file holds is escaped like any input
    assert 'data-action="import_check"' in page


def test_the_mapping_chosen_is_remembered_for_the_next_file(
    owner_client: Client, stamp_program: Program, upload: Callable[..., ImportJob]
) -> None:
    job = upload(stamp_program, "Client,Loyalty no.\nAda,A-1\n")
    assert job.mapping == ["full_name", ""]

    owner_client.post(
        reverse("customers:import_mapping", args=[job.pk]),
        {"column_0": "full_name", "column_1": "external_number"},
    )
    following = upload(stamp_program, "Loyalty no.,Client\nB-2,Bob\n")

    assert following.mapping == ["external_number", "full_name"]
    assert ImportColumnChoice.objects.filter(header="loyalty no").exists()


def test_the_preview_counts_and_lists_the_invalid_rows(
    owner_client: Client, stamp_program: Program, upload: Callable[..., ImportJob]
) -> None:
    job = upload(stamp_program, "Name,Email\nAda,ada@example.com\nBob,nope\n")

    response = owner_client.post(
        reverse("customers:import_mapping", args=[job.pk]),
        {"column_0": "full_name", "column_1": "email"},
        follow=True,
    )

    page = response.content.decode()
    assert 'data-metric="new" data-value="1"' in page
    assert 'data-metric="invalid" data-value="1"' in page
    assert '<tr data-line="3">' in page
    assert 'data-action="import_apply"' in page
    assert not Customer.objects.exists()


def test_the_problems_download_holds_every_invalid_and_skipped_row(
    owner_client: Client, stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(stamp_program, "Name,Email\nAda,ada@example.com\n=cmd,x\nAda,ada@example.com\n")

    response = owner_client.get(reverse("customers:import_problems", args=[job.pk]))

    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0] == '"Row","Outcome","Column","Value","Reason"'
    assert lines[1].startswith('3,"Invalid","Name","\'=cmd"')  # formula-safe
    assert lines[2] == '4,"Skipped","","","The same as row 2."'


def test_an_applying_job_reports_its_progress_to_the_polling_part(
    owner_client: Client, stamp_program: Program, queued: Callable[..., ImportJob]
) -> None:
    job = queued(stamp_program, "Name\nAda\nBob\n")

    response = owner_client.get(
        reverse("customers:import_job", args=[job.pk]),
        headers={"HX-Request": "true", "HX-Target": "import-status"},
    )

    page = response.content.decode()
    assert page.lstrip().startswith('<section id="import-status"')
    assert 'hx-trigger="every 1s"' in page
    assert "Waiting for the worker" in page


def test_a_job_whose_worker_died_is_put_back_with_a_message(
    owner_client: Client, stamp_program: Program, queued: Callable[..., ImportJob]
) -> None:
    job = queued(stamp_program, "Name\nAda\n")
    # A worker took it on, then died: it holds no lock any more.
    ImportJob.objects.filter(pk=job.pk).update(worker_started_at=timezone.now())

    page = owner_client.get(reverse("customers:import_job", args=[job.pk])).content.decode()

    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED
    assert "nothing was written" in page
    assert not Customer.objects.exists()


def test_a_job_a_live_worker_holds_is_left_alone(
    stamp_program: Program, queued: Callable[..., ImportJob]
) -> None:
    job = queued(stamp_program, "Name\nAda\n")
    ImportJob.objects.filter(pk=job.pk).update(worker_started_at=timezone.now())
    job.refresh_from_db()
    # The lock held by another session, as the worker's own connection holds it.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as worker:
        worker.execute("SELECT pg_advisory_lock(%s, %s)", [services.JOB_LOCK, job.pk])
        pid = worker.info.backend_pid

        assert not services.import_recover(job=job)
    _wait_until_gone(pid)
    assert services.import_recover(job=job)  # its session ended: the lock went with it


def _wait_until_gone(pid: int) -> None:
    """A closed connection's server process ends a moment after the client hangs up (and its
    locks with it); a busy machine can make that moment longer than the next statement."""
    with connection.cursor() as cursor:
        for _ in range(500):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.01)
    raise AssertionError(f"the worker's session {pid} did not end")


def test_card_links_need_the_merchants_confirmation_of_consent(
    owner_client: Client, stamp_program: Program, checked: Callable[..., ImportJob]
) -> None:
    job = checked(stamp_program, "Name,Email\nAda,ada@example.com\n")

    response = owner_client.post(
        reverse("customers:import_apply", args=[job.pk]), {"send_links": "on"}
    )

    assert response.status_code == 422
    assert "agreed to hear from you" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED


def test_new_customers_get_their_card_link_a_batch_at_a_time(
    stamp_program: Program, upload: Callable[..., ImportJob], owner: Any, merchant: Any
) -> None:
    known = Customer.objects.create(merchant=merchant, first_name="Cy", email="cy@example.com")
    job = upload(
        stamp_program,
        "Name,Email\nAda,ada@example.com\nBob,bob@example.com\nCy,cy@example.com\nDi,\n",
    )
    job = services.import_map(job=job, mapping=job.mapping, actor=owner)
    services.import_apply_request(job=job, actor=owner, send_links=True, consent=True)
    services.import_apply(job_id=job.pk)

    assert services.import_send_links(job_id=job.pk, limit=1)
    assert not services.import_send_links(job_id=job.pk, limit=5)

    assert sorted(message.to[0] for message in mail.outbox) == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert "moved its loyalty card to your phone" in mail.outbox[0].body
    job.refresh_from_db()
    assert job.links_sent == 2
    assert known.cards.count() == 1  # a card, but no email: they are no new customer


def test_an_old_card_number_is_found_in_the_search_and_by_code(
    merchant: Any, stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    imported(stamp_program, "Name,Card number\nAda Lovelace,pc-00417\n")
    card = Card.objects.get(external_number="pc-00417")

    found = customer_selectors.customer_search(merchant=merchant, q="PC-00417")

    assert [customer.pk for customer in found] == [card.customer_id]
    assert card_for_code(merchant=merchant, code=" Pc-00417 ") == card
    assert card_for_code(merchant=merchant, code=card.serial.replace("-", "")) == card
    assert card_for_code(merchant=merchant, code="pc-00418") is None


def test_an_old_card_number_of_another_merchant_is_not_found(
    other_merchant: Any, stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    imported(stamp_program, "Name,Card number\nAda Lovelace,PC-1\n")

    assert card_for_code(merchant=other_merchant, code="PC-1") is None
    assert customer_selectors.customer_search(merchant=other_merchant, q="PC-1") == []


def test_imported_history_is_not_counted_as_activity_of_the_day(
    cashback_program: Program, imported: Callable[..., ImportJob]
) -> None:
    imported(cashback_program, "Name,Points,Total spent,Visits\nAda,12.50,600,10\n")

    totals = DailyTotals.objects.filter(program=cashback_program).aggregate(
        revenue=Sum("revenue"), visits=Sum("visits"), points=Sum("points_change")
    )
    assert totals == {"revenue": Decimal("0.00"), "visits": 0, "points": Decimal("12.50")}
    assert Card.objects.get().tier_name == "Silver"


def test_only_an_unapplied_import_can_be_discarded(
    owner_client: Client, stamp_program: Program, imported: Callable[..., ImportJob]
) -> None:
    job = imported(stamp_program, "Name\nAda\n")

    response = owner_client.post(reverse("customers:import_discard", args=[job.pk]), follow=True)

    assert ImportJob.objects.filter(pk=job.pk).exists()
    assert "already applied stays" in response.content.decode()


def test_an_excel_workbook_is_imported_with_its_dates_and_numbers(
    owner_client: Client, stamp_program: Program, owner: Any
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["First name", "Birthday", "Stamps", "Total spent", "Member since"])
    sheet.append(["Ada", datetime.date(1990, 4, 1), 4, 12.5, datetime.datetime(2024, 1, 15)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx = SimpleUploadedFile("export.xlsx", buffer.getvalue())

    response = post_file(owner_client, stamp_program, xlsx)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert (job.file_format, job.mapping[-1]) == ("xlsx", "issued_on")
    job = services.import_map(job=job, mapping=job.mapping, actor=owner)
    services.import_apply_request(job=job, actor=owner)
    services.import_apply(job_id=job.pk)
    card = Card.objects.get()
    assert (card.stamps_balance, card.ltv) == (4, Decimal("12.50"))
    assert str(card.customer.birthday) == "1990-04-01"
    assert card.issued_at.date() == datetime.date(2024, 1, 15)


def test_a_double_click_on_import_queues_one_apply(
    owner_client: Client,
    stamp_program: Program,
    checked: Callable[..., ImportJob],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(services, "_queue", lambda task, job_id: queued.append(job_id))
    job = checked(stamp_program, "Name\nAda\n")
    url = reverse("customers:import_apply", args=[job.pk])

    with django_capture_on_commit_callbacks(execute=True):
        first = owner_client.post(url)
        second = owner_client.post(url)

    assert (first.status_code, second.status_code) == (302, 302)
    assert queued == [job.pk]
