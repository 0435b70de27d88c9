"""Settings for programs: create, edit, archive; tiers; the join form's fields; issuing a card.

Owners and admins only (``manager_required``: staff get a 403). Every program is fetched
through ``request.merchant``, so another merchant's program id is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cards import services
from cards.forms import (
    CustomFieldForm,
    ProgramForm,
    tier_formset,
    tier_specs,
)
from cards.models import CustomField, Program
from cards.selectors import program_for_settings, program_join_url, program_settings_list
from loyalty.http import MerchantRequest, service_errors_on_fields
from loyalty.tenancy import manager_required

INVALID = 422


def _edit_url(program: Program, anchor: str = "") -> str:
    url = reverse("settings:program_edit", args=[program.pk])
    return f"{url}#{anchor}" if anchor else url


@manager_required
@require_GET
def program_list(request: MerchantRequest) -> HttpResponse:
    programs = list(program_settings_list(merchant=request.merchant))
    return render(
        request,
        "cards/programs/list.html",
        {"programs": programs, "nav": "settings", "section": "programs"},
    )


@manager_required
@require_http_methods(["GET", "POST"])
def program_create(request: MerchantRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    tier_errors: list[str] = []
    if request.method == "POST":
        form = ProgramForm(request.POST, request.FILES)
        tiers = tier_formset(request.POST, program=None)
        forms_valid = form.is_valid() & tiers.is_valid()  # both, to show every error at once
        if forms_valid:
            try:
                program = services.program_create(
                    merchant=request.merchant,
                    spec=form.spec(tier_specs(tiers)),
                    actor=request.user,
                    logo=form.cleaned_data.get("logo"),
                )
            except ValidationError as error:
                tier_errors = service_errors_on_fields(form, error)
            else:
                messages.success(
                    request, _("%(program)s is ready to issue cards.") % {"program": program.name}
                )
                return redirect(_edit_url(program))
    else:
        form = ProgramForm(initial=ProgramForm.initial_for(None, kind))
        tiers = tier_formset(program=None)
    return _render_form(request, None, form, tiers, tier_errors)


def _render_form(
    request: HttpRequest,
    program: Program | None,
    form: ProgramForm,
    tiers: BaseFormSet,
    tier_errors: list[str],
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    context = {
        "program": program,
        "form": form,
        "tiers": tiers,
        "tier_errors": tier_errors,
        "nav": "settings",
        "section": "programs",
        **(extra or {}),
    }
    status = INVALID if request.method == "POST" else 200
    template = "cards/programs/edit.html" if program else "cards/programs/create.html"
    return render(request, template, context, status=status)


def _edit_context(program: Program) -> dict[str, Any]:
    return {
        "join_url": program_join_url(program),
        "custom_fields": list(program.custom_fields.all()),
        "field_form": CustomFieldForm(),
        "has_cards": program.cards.exists(),
    }


@manager_required
@require_http_methods(["GET", "POST"])
def program_edit(request: MerchantRequest, pk: int) -> HttpResponse:
    program = program_for_settings(merchant=request.merchant, pk=pk)
    context = _edit_context(program)
    tier_errors: list[str] = []
    if request.method == "POST":
        form = ProgramForm(
            request.POST,
            request.FILES,
            initial=ProgramForm.initial_for(program),
            kind_locked=context["has_cards"],
        )
        tiers = tier_formset(request.POST, program=program)
        if form.is_valid() & tiers.is_valid():
            try:
                services.program_update(
                    program=program,
                    spec=form.spec(tier_specs(tiers)),
                    actor=request.user,
                    logo=form.cleaned_data.get("logo"),
                    remove_logo=form.cleaned_data.get("remove_logo", False),
                )
            except ValidationError as error:
                tier_errors = service_errors_on_fields(form, error)
            else:
                messages.success(
                    request,
                    _("Saved. The new rules of %(program)s apply to later entries only.")
                    % {"program": program.name},
                )
                return redirect(_edit_url(program))
    else:
        form = ProgramForm(
            initial=ProgramForm.initial_for(program), kind_locked=context["has_cards"]
        )
        tiers = tier_formset(program=program)
    return _render_form(request, program, form, tiers, tier_errors, context)


LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


@manager_required
@require_GET
def program_logo(request: MerchantRequest, pk: int) -> HttpResponse:
    """The uploaded logo, for the settings page (served by the app: no media server needed)."""
    program = program_for_settings(merchant=request.merchant, pk=pk)
    extension = (program.logo.name or "").rpartition(".")[2].lower()
    if not program.logo or extension not in LOGO_TYPES:
        raise Http404("This program has no logo.")
    with program.logo.open("rb") as logo:
        response = HttpResponse(logo.read(), content_type=LOGO_TYPES[extension])
    response["Cache-Control"] = "private, max-age=3600"
    return response


@manager_required
@require_POST
def program_archive(request: MerchantRequest, pk: int) -> HttpResponse:
    program = program_for_settings(merchant=request.merchant, pk=pk)
    services.program_archive(program=program, actor=request.user)
    messages.success(
        request,
        _("%(program)s is archived: it issues no new cards; existing cards still work.")
        % {"program": program.name},
    )
    return redirect("settings:programs")


@manager_required
@require_POST
def program_restore(request: MerchantRequest, pk: int) -> HttpResponse:
    program = program_for_settings(merchant=request.merchant, pk=pk)
    try:
        services.program_restore(program=program, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(program)s is active again.") % {"program": program.name})
    return redirect(_edit_url(program))


# ---------------------------------------------------------------------------------------------
# The join form's custom fields


def _field(request: MerchantRequest, pk: int, field_pk: int) -> CustomField:
    return get_object_or_404(
        CustomField.objects.select_related("program__merchant"),
        program__merchant=request.merchant,
        program_id=pk,
        pk=field_pk,
    )


@manager_required
@require_POST
def custom_field_create(request: MerchantRequest, pk: int) -> HttpResponse:
    program = program_for_settings(merchant=request.merchant, pk=pk)
    form = CustomFieldForm(request.POST)
    others: list[str] = []
    if form.is_valid():
        try:
            field = services.custom_field_create(
                program=program,
                label=form.cleaned_data["label"],
                field_type=form.cleaned_data["field_type"],
                required=form.cleaned_data["required"],
                choices=form.choice_list(),
                actor=request.user,
            )
        except ValidationError as error:
            others = service_errors_on_fields(form, error)
        else:
            messages.success(
                request, _("Added %(field)s to the join form.") % {"field": field.label}
            )
            return redirect(_edit_url(program, "join-form"))
    return render(
        request,
        "cards/programs/custom_field.html",
        {"program": program, "form": form, "errors": others, "nav": "settings"},
        status=INVALID,
    )


@manager_required
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: MerchantRequest, pk: int, field_pk: int) -> HttpResponse:
    field = _field(request, pk, field_pk)
    initial = CustomFieldForm.initial_for(field)
    others: list[str] = []
    if request.method == "POST":
        form = CustomFieldForm(request.POST, initial=initial, editing=True)
        if form.is_valid():
            try:
                services.custom_field_update(
                    field=field,
                    label=form.cleaned_data["label"],
                    required=form.cleaned_data["required"],
                    choices=form.choice_list(),
                    actor=request.user,
                )
            except ValidationError as error:
                others = service_errors_on_fields(form, error)
            else:
                messages.success(request, _("Saved the field %(field)s.") % {"field": field.label})
                return redirect(_edit_url(field.program, "join-form"))
    else:
        form = CustomFieldForm(initial=initial, editing=True)
    return render(
        request,
        "cards/programs/custom_field.html",
        {
            "program": field.program,
            "field": field,
            "form": form,
            "errors": others,
            "nav": "settings",
        },
        status=INVALID if request.method == "POST" else 200,
    )


@manager_required
@require_POST
def custom_field_delete(request: MerchantRequest, pk: int, field_pk: int) -> HttpResponse:
    field = _field(request, pk, field_pk)
    services.custom_field_delete(field=field, actor=request.user)
    messages.success(request, _("Removed %(field)s from the join form.") % {"field": field.label})
    return redirect(_edit_url(field.program, "join-form"))


@manager_required
@require_POST
def custom_field_move(request: MerchantRequest, pk: int, field_pk: int) -> HttpResponse:
    field = _field(request, pk, field_pk)
    try:
        services.custom_field_move(
            field=field, direction=request.POST.get("direction", ""), actor=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(_edit_url(field.program, "join-form"))
