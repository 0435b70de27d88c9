"""Helpers of the import tests: a file uploaded through the real form, a job taken through
its steps by the services (the worker's part run in the test's process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cards.models import Program
from customers.imports import services
from customers.models import ImportJob, ImportStatus


def csv_file(text: str, name: str = "customers.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


@pytest.fixture
def upload(owner_client: Client) -> Callable[..., ImportJob]:
    """``upload(program, text)``: the file posted to the upload page; its new job."""

    def _upload(program: Program, text: str, **kwargs: Any) -> ImportJob:
        response = owner_client.post(
            reverse("customers:import"), {"program": program.pk, "file": csv_file(text, **kwargs)}
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        return ImportJob.objects.get(pk=int(response.url.rstrip("/").rsplit("/", 1)[1]))

    return _upload


@pytest.fixture
def checked(upload: Callable[..., ImportJob], owner: Any) -> Callable[..., ImportJob]:
    """``checked(program, text)``: uploaded and checked with the guessed mapping."""

    def _checked(program: Program, text: str, **kwargs: Any) -> ImportJob:
        job = upload(program, text, **kwargs)
        return services.import_map(job=job, mapping=job.mapping, actor=owner)

    return _checked


@pytest.fixture
def queued(checked: Callable[..., ImportJob], owner: Any) -> Callable[..., ImportJob]:
    """``queued(program, text)``: checked, and its apply asked for (no worker takes it)."""

    def _queued(program: Program, text: str, **kwargs: Any) -> ImportJob:
        job = checked(program, text, **kwargs)
        return services.import_apply_request(job=job, actor=owner)

    return _queued


@pytest.fixture
def imported(queued: Callable[..., ImportJob]) -> Callable[..., ImportJob]:
    """``imported(program, text)``: uploaded, mapped as guessed, checked and applied."""

    def _imported(program: Program, text: str, **kwargs: Any) -> ImportJob:
        job = queued(program, text, **kwargs)
        services.import_apply(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == ImportStatus.APPLIED
        return job

    return _imported
