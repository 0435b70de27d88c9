"""Sign-in, the merchant switcher and the dashboard's front door."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.models import Segment
from customers.selectors import segment_counts_for_bands
from loyalty import selectors, services
from loyalty.forms import AcceptInvitationForm, InviteForm, RoleForm, SegmentBandsForm
from loyalty.http import MerchantRequest, add_service_errors
from loyalty.models import MANAGER_ROLES, Invitation, Membership, Merchant, Role
from loyalty.services import SegmentBands
from loyalty.tenancy import manager_required, merchant_required, owner_required, switch_merchant

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@merchant_required
def home(request: MerchantRequest) -> HttpResponse:
    return redirect("customers:list")


@login_required
@require_POST
def merchant_switch(request: MerchantRequest) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("merchant"),
        user=request.user,
        merchant_id=request.POST.get("merchant"),
    )
    switch_merchant(request, membership.merchant)
    return redirect("home")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def no_membership(request: HttpRequest) -> HttpResponse:
    return render(request, "loyalty/no_membership.html", status=403)


# ---------------------------------------------------------------------------------------------
# Settings (owners and admins): overview, team, audit log, segment thresholds


INVALID = 422


@manager_required
@require_GET
def settings_home(request: MerchantRequest) -> HttpResponse:
    return render(request, "loyalty/settings/home.html", {"nav": "settings", "section": "home"})


def _team_page(
    request: MerchantRequest, invite_form: InviteForm | None = None, status: int = 200
) -> HttpResponse:
    merchant = request.merchant
    is_owner = request.membership.role == Role.OWNER
    members = list(selectors.team_members(merchant=merchant))
    invitations = list(selectors.pending_invitations(merchant=merchant))
    for invitation in invitations:
        invitation.expired = selectors.invitation_is_expired(invitation)  # type: ignore[attr-defined]
    owners = sum(1 for m in members if m.role == Role.OWNER)
    for member in members:
        # What the page offers; the services decide again on every request.
        member.is_last_owner = member.role == Role.OWNER and owners == 1  # type: ignore[attr-defined]
        member.can_manage = is_owner or member.role != Role.OWNER  # type: ignore[attr-defined]
    context = {
        "members": members,
        "invitations": invitations,
        "invite_form": invite_form or InviteForm(can_grant_owner=is_owner),
        "roles": Role.choices,
        "nav": "settings",
        "section": "team",
    }
    return render(request, "loyalty/settings/team.html", context, status=status)


@manager_required
@require_GET
def team(request: MerchantRequest) -> HttpResponse:
    return _team_page(request)


@manager_required
@require_POST
def team_invite(request: MerchantRequest) -> HttpResponse:
    is_owner = request.membership.role == Role.OWNER
    form = InviteForm(request.POST, can_grant_owner=is_owner)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                merchant=request.merchant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("settings:team")
    return _team_page(request, form, status=INVALID)


def _invitation(request: MerchantRequest, pk: int) -> Invitation:
    return get_object_or_404(
        Invitation.objects.select_related("merchant"),
        merchant=request.merchant,
        pk=pk,
    )


@manager_required
@require_POST
def invitation_resend(request: MerchantRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    try:
        services.invitation_resend(invitation=invitation, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Sent a new invitation link to {invitation.email}.")
    return redirect("settings:team")


@manager_required
@require_POST
def invitation_revoke(request: MerchantRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The invitation to {invitation.email} no longer works.")
    return redirect("settings:team")


def _member(request: MerchantRequest, pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "merchant"),
        merchant=request.merchant,
        pk=pk,
    )


def _after_team_change(request: MerchantRequest) -> HttpResponse:
    """Back to the team page, unless the change took away this user's own access to it."""
    own = request.membership
    still_manager = Membership.objects.filter(pk=own.pk, role__in=MANAGER_ROLES).exists()
    return redirect("settings:team" if still_manager else "home")


@manager_required
@require_POST
def member_role(request: MerchantRequest, pk: int) -> HttpResponse:
    membership = _member(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, admin or staff.")
        return redirect("settings:team")
    try:
        changed = services.membership_change_role(
            membership=membership, role=form.cleaned_data["role"], actor=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("settings:team")
    messages.success(
        request, f"{membership.user.get_username()} is now {changed.get_role_display()}."
    )
    return _after_team_change(request)


@manager_required
@require_POST
def member_remove(request: MerchantRequest, pk: int) -> HttpResponse:
    membership = _member(request, pk)
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("settings:team")
    messages.success(request, f"{membership.user.get_username()} was removed from the team.")
    return _after_team_change(request)


@owner_required
@require_GET
def audit_log(request: MerchantRequest) -> HttpResponse:
    page = selectors.audit_page(
        merchant=request.merchant,
        number=request.GET.get("page"),
    )
    return render(
        request,
        "loyalty/settings/audit.html",
        {"page": page, "nav": "settings", "section": "audit"},
    )


# Segment thresholds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GridRow:
    label: str
    cells: list[tuple[str, str, int, int]]  # (segment key, label, count now, count then)


def _bands_or_errors(form: SegmentBandsForm) -> SegmentBands | None:
    """The bands typed, or None with the errors on the form."""
    if not form.is_valid():
        return None
    try:
        return services.segment_bands_clean(**form.raw_bands())
    except ValidationError as error:
        add_service_errors(form, error)
        return None


def _preview(merchant: Merchant, bands: SegmentBands | None) -> dict[str, Any]:
    """Counts per segment now and under ``bands`` (two aggregate queries)."""
    if bands is None:
        return {"preview_valid": False}
    current = SegmentBands.of(merchant)
    now_counts = segment_counts_for_bands(merchant=merchant, bands=current)
    counts = segment_counts_for_bands(merchant=merchant, bands=bands)
    r1, r2, r3 = bands.recency
    f1, f2 = bands.frequency
    recency_labels = (f"0-{r1} days", f"{r1 + 1}-{r2} days", f"{r2 + 1}-{r3} days")
    grid_keys = (
        (Segment.BEGINNERS, Segment.GROWING, Segment.CHAMPIONS),
        (Segment.DOUBTFUL, Segment.MEDIUM, Segment.LOYAL),
        (Segment.SLEEPING, Segment.AT_RISK, Segment.NEEDS_ATTENTION),
    )

    def cell(key: str) -> tuple[str, str, int, int]:
        return (key, Segment(key).label, now_counts[key], counts[key])

    return {
        "preview_valid": True,
        "frequency_labels": (f"0-{f1} visits", f"{f1 + 1}-{f2} visits", f"{f2 + 1}+ visits"),
        "grid": [
            GridRow(label=label, cells=[cell(key) for key in keys])
            for label, keys in zip(recency_labels, grid_keys, strict=True)
        ],
        "outside": [cell(Segment.NO_VISITS), cell(Segment.LOST)],
        "lost_after": r3,
        "changed": bands != current,
        "total": sum(counts.values()),
    }


@manager_required
@require_http_methods(["GET", "POST"])
def segment_settings(request: MerchantRequest) -> HttpResponse:
    merchant = request.merchant
    current = SegmentBands.of(merchant)
    if request.method == "POST":
        form = SegmentBandsForm(request.POST)
        bands = _bands_or_errors(form)
        if bands is not None and "save" in request.POST:
            moved = services.segment_bands_update(
                merchant=merchant, bands=bands, actor=request.user
            )
            if moved is None:
                summary = "customers are being moved to their new segments now."
            else:
                summary = f"{moved} customer{'s' if moved != 1 else ''} changed segment."
            messages.success(request, f"Saved the segment thresholds; {summary}")
            return redirect("settings:segments")
        status = 200 if bands is not None else INVALID
    else:
        form = SegmentBandsForm(initial=SegmentBandsForm.initial_for(current))
        bands, status = current, 200
    context = {"form": form, "nav": "settings", "section": "segments", **_preview(merchant, bands)}
    return render(request, "loyalty/settings/segments.html", context, status=status)


@manager_required
@require_POST
def segment_preview(request: MerchantRequest) -> HttpResponse:
    """The preview grid alone, for htmx while the thresholds are typed; nothing is saved."""
    form = SegmentBandsForm(request.POST)
    bands = _bands_or_errors(form)
    context = {"form": form, **_preview(request.merchant, bands)}
    return render(request, "loyalty/settings/segments.html#preview", context)


# Accepting an invitation (no login needed: the link itself is the proof) ---------------------


def _invalid_invitation(request: HttpRequest, reason: str) -> HttpResponse:
    return render(
        request, "loyalty/settings/invitation_invalid.html", {"reason": reason}, status=410
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationInvalid as invalid:
        return _invalid_invitation(request, invalid.reason)
    if request.user.is_authenticated:
        return _accept_signed_in(request, token, invitation)
    has_account = get_user_model().objects.filter(email__iexact=invitation.email).exists()
    form = AcceptInvitationForm(
        request.POST or None, initial={"username": invitation.email.split("@")[0]}
    )
    status = 200
    if request.method == "POST" and not has_account:
        if form.is_valid():
            try:
                membership = services.invitation_accept_new_user(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            except services.InvitationInvalid as invalid:
                return _invalid_invitation(request, invalid.reason)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                login(request, membership.user, backend=MODEL_BACKEND)
                switch_merchant(request, membership.merchant)
                messages.success(request, f"Welcome to {membership.merchant.name}!")
                return redirect("home")
        status = INVALID
    context = {"invitation": invitation, "form": form, "has_account": has_account}
    return render(request, "loyalty/settings/invitation_accept.html", context, status=status)


def _accept_signed_in(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except services.InvitationInvalid as invalid:
            return _invalid_invitation(request, invalid.reason)
        except ValidationError as problem:
            error = " ".join(problem.messages)
        else:
            switch_merchant(request, membership.merchant)
            messages.success(request, f"You joined {membership.merchant.name}.")
            return redirect("home")
    context = {"invitation": invitation, "signed_in": True, "error": error}
    return render(
        request,
        "loyalty/settings/invitation_accept.html",
        context,
        status=INVALID if error else 200,
    )
