"""The campaigns pages (owners and admins): the list, a new campaign with its live audience
size, a campaign's progress and results, editing and cancelling until it starts.

Thin views: the campaign through ``request.merchant`` (another merchant's is a 404), a form,
one service, then a redirect (POST) or a page. Times are the merchant's time zone's.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty.http import MerchantRequest
from loyalty.tenancy import manager_required
from pushes import campaign_results as results
from pushes.audiences import (
    FILTER_KEYS,
    AudienceSize,
    audience_size,
    campaign_programs,
    campaign_spec,
    tier_names,
)
from pushes.forms import AudienceForm, CampaignForm, MessageSettingsForm, local_input_value
from pushes.models import MESSAGE_MAX_LENGTH, Audience, Campaign, CampaignStatus
from pushes.services import campaigns as services

PAGE_SIZE = 25


def _form(
    request: MerchantRequest,
    data: Any,
    form_class: type[CampaignForm] = CampaignForm,
    **kwargs: Any,
) -> CampaignForm:
    programs = campaign_programs(merchant=request.merchant)
    return form_class(
        data,
        programs=programs,
        tiers=tier_names(programs=programs),
        tz=request.merchant.tz,
        **kwargs,
    )


def _size(request: MerchantRequest, form: CampaignForm) -> AudienceSize | None:
    """The audience's size for a valid form; None while it names nobody yet."""
    if not form.is_valid():
        return None
    return audience_size(merchant=request.merchant, spec=form.audience_spec())


def _initial(request: MerchantRequest) -> dict[str, Any]:
    """A new campaign's fields from the link that opened it: the customer list's filter."""
    query = request.GET
    initial: dict[str, Any] = {"audience": query.get("audience") or Audience.PROGRAM}
    for key in FILTER_KEYS:
        if query.get(key):
            initial[f"filter_{key}"] = query[key]
    if query.get("program"):
        initial["program"] = query["program"]
    if query.getlist("segments"):
        initial["segments"] = query.getlist("segments")
    return initial


@manager_required
@require_GET
def campaign_list(request: MerchantRequest) -> HttpResponse:
    page = Paginator(results.campaign_list(merchant=request.merchant), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "pushes/campaigns/list.html", {"nav": "campaigns", "page": page})


FORM = "pushes/campaigns/form.html"


def _context(
    form: CampaignForm, size: AudienceSize | None, campaign: Campaign | None = None
) -> dict[str, Any]:
    return {
        "nav": "campaigns",
        "form": form,
        "size": size,
        "max_length": MESSAGE_MAX_LENGTH,
        "campaign": campaign,
    }


def _posted(
    request: MerchantRequest,
    *,
    campaign: Campaign | None,
    save: Callable[[dict[str, Any]], Campaign],
) -> HttpResponse:
    """A posted campaign form: saved (then its page), counted ("Count the audience"), or
    shown again with its errors (422), nothing saved."""
    form = _form(request, request.POST)
    preview = "preview" in request.POST
    if not preview and form.is_valid():
        try:
            saved = save(form.service_arguments())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("Campaign saved.") if saved.scheduled else _("Campaign sending.")
            )
            return redirect("campaigns:detail", saved.pk)
    size = _size(request, _form(request, request.POST, AudienceForm))
    return render(request, FORM, _context(form, size, campaign), status=200 if preview else 422)


@manager_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: MerchantRequest) -> HttpResponse:
    if request.method == "POST":
        return _posted(
            request,
            campaign=None,
            save=lambda fields: services.campaign_create(
                merchant=request.merchant, actor=request.user, **fields
            ),
        )
    form = _form(request, None, initial=_initial(request))
    return render(request, FORM, _context(form, None))


@manager_required
@require_GET
def campaign_audience(request: MerchantRequest) -> HttpResponse:
    """The live audience size under the form (htmx, as the merchant picks)."""
    size = _size(request, _form(request, request.GET, AudienceForm))
    return render(request, f"{FORM}#audience", {"size": size})


def _campaign(request: MerchantRequest, pk: int) -> Campaign:
    try:
        return results.campaign_get(merchant=request.merchant, pk=pk)
    except Campaign.DoesNotExist:
        raise Http404(_("No such campaign.")) from None


@manager_required
@require_GET
def campaign_detail(request: MerchantRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    context = {
        "nav": "campaigns",
        "campaign": campaign,
        "results": results.campaign_results(campaign=campaign),
        # Not frozen yet: who it would reach if it started now.
        "size": audience_size(merchant=request.merchant, spec=campaign_spec(campaign))
        if campaign.status == CampaignStatus.SCHEDULED
        else None,
        # Followed live while it sends (a scheduled one shows nothing that moves yet).
        "live": campaign.status == CampaignStatus.SENDING,
    }
    template = "pushes/campaigns/detail.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, context)


def _edit_initial(campaign: Campaign, tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    return {
        "program": campaign.program_id,
        "audience": campaign.audience,
        "segments": campaign.segments,
        "tier_name": campaign.tier_name,
        "body": campaign.body,
        "send_at": local_input_value(campaign.send_at, tz) if campaign.scheduled else "",
        **{f"filter_{key}": value for key, value in campaign.filters.items()},
    }


@manager_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: MerchantRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    if not campaign.is_editable:
        messages.error(request, services.not_editable_error(campaign.status))
        return redirect("campaigns:detail", campaign.pk)
    if request.method == "POST":
        return _posted(
            request,
            campaign=campaign,
            save=lambda fields: services.campaign_update(
                campaign=campaign, actor=request.user, **fields
            ),
        )
    form = _form(request, None, initial=_edit_initial(campaign, request.merchant.tz))
    return render(request, FORM, _context(form, None, campaign))


@manager_required
@require_POST
def campaign_cancel(request: MerchantRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    try:
        services.campaign_cancel(campaign=campaign, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Campaign cancelled."))
    return redirect("campaigns:detail", campaign.pk)


@manager_required
@require_http_methods(["GET", "POST"])
def message_settings(request: MerchantRequest) -> HttpResponse:
    """Settings > Messages: the quiet hours and the weekly cap of campaign messages."""
    current = services.message_settings_get(merchant=request.merchant)
    form = MessageSettingsForm(request.POST or None, instance=current)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            services.message_settings_save(
                merchant=request.merchant, actor=request.user, **form.cleaned_data
            )
            messages.success(request, _("Message settings saved."))
            return redirect("settings:messages")
    context = {"nav": "settings", "section": "messages", "form": form}
    return render(request, "pushes/campaigns/settings.html", context, status=status)
