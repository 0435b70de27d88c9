"""Importing customers from a spreadsheet (owners and admins): upload, map, preview, apply,
result. One page per import follows it through its steps; while a worker checks or applies it,
its status part is polled with htmx (a plain reload does the same without JavaScript)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.forms import ImportApplyForm, ImportMappingForm, ImportUploadForm
from customers.imports import selectors, services
from customers.imports.fields import program_fields
from customers.models import ImportJob, ImportProblem, ImportStatus
from loyalty.csv_export import streaming_csv
from loyalty.http import MerchantRequest, add_service_errors
from loyalty.tenancy import manager_required

INVALID = 422
MEGABYTE = 1024 * 1024


def _upload_form(request: MerchantRequest, data: Any = None, files: Any = None) -> ImportUploadForm:
    return ImportUploadForm(
        data,
        files,
        merchant=request.merchant,
        max_megabytes=settings.IMPORT_MAX_BYTES // MEGABYTE,
    )


@manager_required
@require_http_methods(["GET", "POST"])
def import_start(request: MerchantRequest) -> HttpResponse:
    """The upload form and the merchant's recent imports."""
    form = _upload_form(request)
    status = 200
    if request.method == "POST":
        form = _upload_form(request, request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.import_upload(
                    merchant=request.merchant,
                    program=form.cleaned_data["program"],
                    file=upload,
                    name=upload.name or "",
                    size=upload.size or 0,
                    actor=request.user,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return redirect("customers:import_job", job.pk)
        status = INVALID
    context = {
        "nav": "customers",
        "form": form,
        "jobs": selectors.import_jobs_recent(merchant=request.merchant),
    }
    return render(request, "customers/imports/start.html", context, status=status)


def _job_context(job: ImportJob, **more: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "nav": "customers",
        "job": job,
        "progress": services.import_progress(job=job),
        "live": job.is_busy,
    }
    if job.status == ImportStatus.MAPPING:
        context["mapping_form"] = _mapping_form(job)
    if job.status in (ImportStatus.CHECKED, ImportStatus.APPLIED):
        context["invalid"] = selectors.import_problems_first(
            job=job, kind=ImportProblem.Kind.INVALID
        )
        context["skipped"] = selectors.import_problems_first(
            job=job, kind=ImportProblem.Kind.SKIPPED
        )
    if job.status == ImportStatus.CHECKED:
        context["apply_form"] = ImportApplyForm()
    context.update(more)
    if "mapping_form" in context:
        context["mapping_rows"] = _mapping_rows(job, context["mapping_form"])
    return context


def _mapping_rows(job: ImportJob, form: ImportMappingForm) -> list[tuple[Any, list[str]]]:
    """Each column's choice with the first few values the file holds in it."""
    return [
        (form[f"column_{index}"], [row[index] for row in job.sample if index < len(row)][:3])
        for index in range(len(job.columns))
    ]


def _mapping_form(job: ImportJob, data: Any = None) -> ImportMappingForm:
    return ImportMappingForm(
        data, columns=job.columns, mapping=job.mapping, fields=program_fields(job.program)
    )


@manager_required
@require_GET
def import_job(request: MerchantRequest, pk: int) -> HttpResponse:
    """The import's page, at whatever step it is; ``?edit=1`` reopens a checked mapping."""
    job = selectors.import_job(merchant=request.merchant, pk=pk)
    if services.import_recover(job=job):
        job.refresh_from_db()
    extra = {}
    if job.status == ImportStatus.CHECKED and request.GET.get("edit"):
        extra["mapping_form"] = _mapping_form(job)
    template = "customers/imports/job.html"
    if request.htmx and request.htmx.target == "import-status":
        template += "#status"
    return render(request, template, _job_context(job, **extra))


@manager_required
@require_POST
def import_mapping(request: MerchantRequest, pk: int) -> HttpResponse:
    job = selectors.import_job(merchant=request.merchant, pk=pk)
    form = _mapping_form(job, request.POST)
    if form.is_valid():
        try:
            services.import_map(job=job, mapping=form.mapping(), actor=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("customers:import_job", job.pk)
    context = _job_context(job, mapping_form=form)
    return render(request, "customers/imports/job.html", context, status=INVALID)


@manager_required
@require_POST
def import_apply(request: MerchantRequest, pk: int) -> HttpResponse:
    job = selectors.import_job(merchant=request.merchant, pk=pk)
    form = ImportApplyForm(request.POST)
    if form.is_valid():
        try:
            services.import_apply_request(
                job=job,
                actor=request.user,
                send_links=form.cleaned_data["send_links"],
                consent=form.cleaned_data["consent"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("customers:import_job", job.pk)
    context = _job_context(job, apply_form=form)
    return render(request, "customers/imports/job.html", context, status=INVALID)


@manager_required
@require_POST
def import_discard(request: MerchantRequest, pk: int) -> HttpResponse:
    job = selectors.import_job(merchant=request.merchant, pk=pk)
    try:
        services.import_discard(job=job)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("customers:import_job", job.pk)
    messages.success(request, gettext("The import was discarded; nothing was imported."))
    return redirect("customers:import")


PROBLEM_CSV_HEADER = (
    gettext_lazy("Row"),
    gettext_lazy("Outcome"),
    gettext_lazy("Column"),
    gettext_lazy("Value"),
    gettext_lazy("Reason"),
)


@manager_required
@require_GET
def import_problems(request: MerchantRequest, pk: int) -> StreamingHttpResponse:
    """Every invalid and skipped row with its reason, as CSV (formula-safe: values are the
    file's own cells)."""
    job = selectors.import_job(merchant=request.merchant, pk=pk)
    header = tuple(str(title) for title in PROBLEM_CSV_HEADER)
    kinds = dict(ImportProblem.Kind.choices)

    def rows() -> Iterator[tuple[Any, ...]]:
        yield header
        for problem in selectors.import_problems_all(job=job):
            yield (
                problem.line,
                kinds[problem.kind],
                problem.column,
                problem.value,
                problem.reason_text,
            )

    return streaming_csv(rows(), f"import-{job.pk}-problems.csv")
