"""The automatic messages pages (owners and admins), under /campaigns/automatic/: each
program's messages at a glance, one program's four kinds with their text and a live preview.

Thin views: the program through ``request.merchant`` (another merchant's is a 404), one form
per kind, one service, then a redirect (POST) or a page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from cards.models import Program
from loyalty.http import MerchantRequest
from loyalty.tenancy import manager_required
from pushes.automatic import check_placeholders, fill, sample_values
from pushes.forms import AutoMessageForm, placeholder_help
from pushes.models import MESSAGE_MAX_LENGTH, Trigger
from pushes.selectors import auto_message_program, auto_messages_of, auto_messages_overview
from pushes.services.automatic import AutoMessageInput, auto_messages_save

FORM = "pushes/campaigns/automatic_form.html"


def _program(request: MerchantRequest, program_id: int) -> Program:
    try:
        return auto_message_program(merchant=request.merchant, pk=program_id)
    except Program.DoesNotExist:
        raise Http404(_("No such program.")) from None


@manager_required
@require_GET
def auto_message_list(request: MerchantRequest) -> HttpResponse:
    context = {
        "nav": "campaigns",
        "programs": auto_messages_overview(merchant=request.merchant),
    }
    return render(request, "pushes/campaigns/automatic.html", context)


def _forms(program: Program, data: Any = None) -> list[AutoMessageForm]:
    return [AutoMessageForm(data, auto=auto) for auto in auto_messages_of(program=program).values()]


def _preview(program: Program, body: str) -> dict[str, str]:
    """The text filled with sample values, or why it cannot be."""
    try:
        check_placeholders(body)
    except ValidationError as error:
        return {"text": "", "error": " ".join(error.messages)}
    return {"text": fill(body, sample_values(program)), "error": ""}


def _context(program: Program, forms: list[AutoMessageForm]) -> dict[str, Any]:
    return {
        "nav": "campaigns",
        "program": program,
        # Each kind's form with its text's preview (as saved, or as just typed).
        "kinds": [(form, _preview(program, form["body"].value() or "")) for form in forms],
        "placeholders": placeholder_help(),
        "max_length": MESSAGE_MAX_LENGTH,
    }


def _add_errors(forms: list[AutoMessageForm], error: ValidationError) -> None:
    by_prefix = {form.prefix: form for form in forms}
    for key, texts in error.message_dict.items():
        prefix, _sep, field = key.partition("-")
        form = by_prefix.get(prefix)
        if form is not None and field in form.fields:
            for text in texts:
                form.add_error(field, text)
        else:
            forms[0].add_error(None, texts)


@manager_required
@require_http_methods(["GET", "POST"])
def auto_message_edit(request: MerchantRequest, pk: int) -> HttpResponse:
    program = _program(request, pk)
    if request.method == "GET":
        return render(request, FORM, _context(program, _forms(program)))
    forms = _forms(program, request.POST)
    preview = "preview" in request.POST
    if not preview and all(form.is_valid() for form in forms):
        changes = [AutoMessageInput(**form.service_input()) for form in forms]
        try:
            auto_messages_save(program=program, changes=changes, actor=request.user)
        except ValidationError as error:
            _add_errors(forms, error)
        else:
            messages.success(request, _("Automatic messages saved."))
            return redirect("campaigns:automatic")
    status = 200 if preview else 422
    return render(request, FORM, _context(program, forms), status=status)


@manager_required
@require_GET
def auto_message_preview(request: MerchantRequest, pk: int) -> HttpResponse:
    """One kind's preview as its text is typed (htmx)."""
    program = _program(request, pk)
    trigger = request.GET.get("trigger", "")
    body = request.GET.get(f"{trigger}-body", "") if trigger in Trigger.values else ""
    context = {"trigger": trigger, "preview": _preview(program, body)}
    return render(request, f"{FORM}#preview", context)
