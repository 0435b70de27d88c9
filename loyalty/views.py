"""Sign-in, the merchant switcher and the dashboard's front door."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty import selectors, services
from loyalty.forms import AcceptInvitationForm, InviteForm, RoleForm
from loyalty.http import MerchantRequest, add_service_errors
from loyalty.models import MANAGER_ROLES, Invitation, Membership, Role
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
# Settings (owners and admins): overview, team, audit log


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
