"""Sign-in, the merchant switcher and the dashboard's front door."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import JavaScriptCatalog

from loyalty import selectors, services
from loyalty.forms import (
    AcceptInvitationForm,
    InviteForm,
    LanguageForm,
    MerchantContactForm,
    MerchantLanguageForm,
    RoleForm,
)
from loyalty.http import MerchantRequest, add_service_errors
from loyalty.i18n import supported_language
from loyalty.models import MANAGER_ROLES, Invitation, Membership, Role
from loyalty.tenancy import manager_required, owner_required, switch_merchant

MODEL_BACKEND = "loyalty.authentication.MembershipBackend"


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


@require_GET
@cache_control(max_age=3600, public=True)
def javascript_catalog(request: HttpRequest, language: str) -> HttpResponseBase:
    """The strings of static/'s scripts in one language, named in the URL so it caches well."""
    if supported_language(language) != language:
        raise Http404
    with translation.override(language):
        # Only the project's strings (LOCALE_PATHS), not every installed app's (the admin's).
        return JavaScriptCatalog.as_view(packages=["loyalty"])(request)


@require_GET
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
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
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
        messages.success(
            request, _("Sent a new invitation link to %(email)s.") % {"email": invitation.email}
        )
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
        messages.success(
            request,
            _("The invitation to %(email)s no longer works.") % {"email": invitation.email},
        )
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
        messages.error(request, _("Choose owner, admin or staff."))
        return redirect("settings:team")
    try:
        changed = services.membership_change_role(
            membership=membership, role=form.cleaned_data["role"], actor=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("settings:team")
    messages.success(
        request,
        # Translators: "staff is now Admin." A username, then the new role.
        _("%(name)s is now %(role)s.")
        % {"name": membership.user.get_username(), "role": changed.get_role_display()},
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
    messages.success(
        request,
        _("%(name)s was removed from the team.") % {"name": membership.user.get_username()},
    )
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
    """Join a team from an emailed link: signed in with the invited address, or as someone new.

    Signed out, the page is the same whether or not an account uses the invited address: it
    offers to log in and to create an account (refused, in general words, if one exists).
    """
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationInvalid as invalid:
        return _invalid_invitation(request, invalid.reason)
    if request.user.is_authenticated:
        return _accept_signed_in(request, token, invitation)
    form = AcceptInvitationForm(
        request.POST or None,
        initial={"email": invitation.email, "username": invitation.email.split("@")[0]},
    )
    status = 200
    if request.method == "POST":
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
                messages.success(
                    request, _("Welcome to %(merchant)s!") % {"merchant": membership.merchant.name}
                )
                return redirect("home")
        status = INVALID
    context = {"invitation": invitation, "form": form}
    return render(request, "loyalty/settings/invitation_accept.html", context, status=status)


def _accept_signed_in(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    """The invited address's account joins; any other account is asked to log out first."""
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
            messages.success(
                request, _("You joined %(merchant)s.") % {"merchant": membership.merchant.name}
            )
            return redirect("home")
    context = {
        "invitation": invitation,
        "signed_in": True,
        "is_invited_account": services.invitation_is_for(invitation, request.user),
        "error": error,
    }
    return render(
        request,
        "loyalty/settings/invitation_accept.html",
        context,
        status=INVALID if error else 200,
    )


# ---------------------------------------------------------------------------------------------
# Languages: the header's switch (anyone) and the merchant's default (owners and admins)


@require_POST
def language_update(request: HttpRequest) -> HttpResponse:
    """Kept on the user when signed in, in a cookie before (the sign-in page)."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose one of the languages offered."))
    language = form.cleaned_data["language"]
    response = redirect(_safe_next(request, form.cleaned_data["next"]))
    cookie = settings.LANGUAGE_COOKIE_NAME
    if request.user.is_authenticated:
        services.user_language_update(user=request.user, language=language)
        response.delete_cookie(cookie)  # the user's choice speaks from now on
    elif language:
        response.set_cookie(
            cookie,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(cookie)
    return response


def _safe_next(request: HttpRequest, url: str) -> str:
    """Back to the page the switch was on, never to another site."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("home")


@manager_required
@require_http_methods(["GET", "POST"])
def settings_language(request: MerchantRequest) -> HttpResponse:
    form = MerchantLanguageForm(
        request.POST or None, initial={"language": request.merchant.language}
    )
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            try:
                services.merchant_language_update(
                    merchant=request.merchant,
                    language=form.cleaned_data["language"],
                    actor=request.user,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Default language saved."))
                return redirect("settings:language")
    context = {"nav": "settings", "section": "language", "form": form}
    return render(request, "loyalty/settings/language.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# Contact details (owners and admins): shown on the card page and the wallet passes


@manager_required
@require_http_methods(["GET", "POST"])
def settings_contact(request: MerchantRequest) -> HttpResponse:
    merchant = request.merchant
    initial = {
        "phone": merchant.contact_phone_display,
        "email": merchant.contact_email,
        "website": merchant.website,
        "address": merchant.address,
    }
    form = MerchantContactForm(request.POST or None, initial=initial, region=merchant.country)
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            try:
                services.merchant_update_contact(
                    merchant=merchant, actor=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Contact details saved."))
                return redirect("settings:contact")
    context = {"nav": "settings", "section": "contact", "form": form}
    return render(request, "loyalty/settings/contact.html", context, status=status)
