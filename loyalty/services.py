"""Writes to the tenancy: the team (invitations, roles, removal).

Every change a manager makes in the settings goes through a service (here for the team; in
``cards.services`` for programs, in ``customers.services`` for segment thresholds) that also
writes an ``AuditEvent`` through ``loyalty.audit``, in the same transaction.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from loyalty import clock
from loyalty.actors import Actor, user_or_none
from loyalty.audit import audit_record, log_text
from loyalty.i18n import supported_language
from loyalty.models import AuditAction, Invitation, Membership, Merchant, Role, UserPreference
from loyalty.phones import normalize_phone
from loyalty.signals import merchant_changed

INVITATION_LIFETIME = datetime.timedelta(days=7)


def _last_owner(name: str, merchant: Merchant) -> str:
    return _(
        "%(name)s is the last owner of %(merchant)s. Make another member an owner first; "
        "a business always keeps at least one owner."
    ) % {"name": name, "merchant": merchant.name}


def _role_label(role: str) -> str:
    """The role's name in the active language."""
    return str(Role(role).label)


def _logged_role(role: str) -> str:
    """The role's name as the audit log stores it."""
    return log_text(Role(role).label)


def _actor_role(merchant: Merchant, actor: Actor) -> str | None:
    if actor is None or not actor.is_authenticated:
        return None
    return (
        Membership.objects.filter(merchant=merchant, user_id=actor.pk)
        .values_list("role", flat=True)
        .first()
    )


def _require_owner_for(merchant: Merchant, actor: Actor, message: str, field: str) -> None:
    if _actor_role(merchant, actor) != Role.OWNER:
        raise ValidationError({field: message})


# ---------------------------------------------------------------------------------------------
# Invitations


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_link(token: str) -> str:
    return settings.SITE_URL + reverse("invitation_accept", args=[token])


def _clean_email(raw: str, *, required: bool = True) -> str:
    email = (raw or "").strip()
    if not email:
        if not required:
            return ""
        raise ValidationError({"email": _("Enter the email address to send the invitation to.")})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise ValidationError({"role": _("Choose owner, admin or staff.")})
    return role


def _send_invitation(invitation: Invitation, token: str) -> None:
    """The email goes out in the business's default language: nobody knows the invitee's yet."""
    merchant = invitation.merchant
    language = supported_language(merchant.language) or settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "invitation": invitation,
            "merchant": merchant,
            "role": _role_label(invitation.role),
            "inviter": invitation.invited_by.get_username() if invitation.invited_by else "",
            "link": invitation_link(token),
            "expires_at": invitation.expires_at,
        }
        subject = _("You're invited to join %(merchant)s") % {"merchant": merchant.name}
        message = render_to_string("loyalty/settings/invitation_email.txt", context)
    send_mail(
        subject=subject,
        message=message,
        from_email=None,
        recipient_list=[invitation.email],
    )


def _pending(email: str) -> str:
    return _("%(email)s already has a pending invitation. Resend it from the list.") % {
        "email": email
    }


def invitation_create(*, merchant: Merchant, email: str, role: str, actor: Actor) -> Invitation:
    """Invite someone by email; the link in the email lets them set a password and join.

    Sending happens inside the transaction: if the email cannot be sent, no invitation exists
    that nobody received.
    """
    email = _clean_email(email)
    role = _clean_role(role)
    if role == Role.OWNER:
        _require_owner_for(merchant, actor, _("Only an owner can invite another owner."), "role")
    if Membership.objects.filter(merchant=merchant, user__email__iexact=email).exists():
        raise ValidationError(
            {"email": _("%(email)s is already a member of your team.") % {"email": email}}
        )
    now = clock.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        open_one = (
            Invitation.objects.select_for_update()
            .filter(
                merchant=merchant,
                email__iexact=email,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
            )
            .first()
        )
        if open_one is not None and open_one.expires_at > now:
            raise ValidationError({"email": _pending(email)})
        if open_one is not None:  # expired: it is replaced by the new one
            open_one.revoked_at = now
            open_one.save(update_fields=["revoked_at"])
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    merchant=merchant,
                    email=email,
                    role=role,
                    token_hash=_hash_token(token),
                    invited_by=user_or_none(actor),
                    sent_at=now,
                    expires_at=now + INVITATION_LIFETIME,
                )
        except IntegrityError:  # a concurrent invitation to the same address won
            raise ValidationError({"email": _pending(email)}) from None
        audit_record(
            merchant=merchant,
            actor=actor,
            action=AuditAction.INVITATION_SENT,
            summary=f"Invited {email} as {_logged_role(role)}",
            details={"email": email, "role": role},
        )
        _send_invitation(invitation, token)
    return invitation


def invitation_resend(*, invitation: Invitation, actor: Actor) -> Invitation:
    """A fresh link and a fresh week; the old link stops working."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update().select_related("merchant").get(pk=invitation.pk)
        )
        if not locked.is_open:
            raise ValidationError(_("This invitation was already accepted or revoked."))
        if locked.role == Role.OWNER:
            _require_owner_for(
                locked.merchant, actor, _("Only an owner can resend an owner invitation."), "role"
            )
        now = clock.now()
        locked.token_hash = _hash_token(token)
        locked.sent_at = now
        locked.expires_at = now + INVITATION_LIFETIME
        locked.save(update_fields=["token_hash", "sent_at", "expires_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.INVITATION_RESENT,
            summary=f"Resent the invitation to {locked.email}",
            details={"email": locked.email, "role": locked.role},
        )
        _send_invitation(locked, token)
    return locked


def invitation_revoke(*, invitation: Invitation, actor: Actor) -> Invitation:
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update().select_related("merchant").get(pk=invitation.pk)
        )
        if not locked.is_open:
            return locked
        if locked.role == Role.OWNER:
            _require_owner_for(
                locked.merchant, actor, _("Only an owner can revoke an owner invitation."), "role"
            )
        locked.revoked_at = clock.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.INVITATION_REVOKED,
            summary=f"Revoked the invitation to {locked.email}",
            details={"email": locked.email, "role": locked.role},
        )
    return locked


class InvitationInvalid(Exception):
    """The link is unknown, used, revoked or expired; ``reason`` says which, for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def invitation_for_token(token: str) -> Invitation:
    """The open, unexpired invitation behind a link, or ``InvitationInvalid``."""
    invitation = (
        Invitation.objects.select_related("merchant", "invited_by")
        .filter(token_hash=_hash_token(token or ""))
        .first()
    )
    if invitation is None:
        raise InvitationInvalid(
            _("This invitation link is not valid. Check that you copied it whole.")
        )
    if invitation.accepted_at is not None:
        raise InvitationInvalid(_("This invitation was already accepted. Log in to continue."))
    if invitation.revoked_at is not None:
        raise InvitationInvalid(_("This invitation was withdrawn. Ask the team for a new one."))
    if invitation.expires_at <= clock.now():
        raise InvitationInvalid(_("This invitation has expired. Ask the team to resend it."))
    return invitation


def _join(invitation: Invitation, user: Any) -> Membership:
    """Turn a locked, open invitation into a membership for ``user``."""
    if Membership.objects.filter(merchant=invitation.merchant, user=user).exists():
        raise ValidationError(
            _("You are already a member of %(merchant)s.") % {"merchant": invitation.merchant.name}
        )
    membership = Membership.objects.create(
        merchant=invitation.merchant, user=user, role=invitation.role
    )
    invitation.accepted_at = clock.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        merchant=invitation.merchant,
        actor=user,
        action=AuditAction.MEMBER_JOINED,
        summary=f"{user.get_username()} joined as {_logged_role(invitation.role)}",
        details={"email": invitation.email, "role": invitation.role, "user_id": user.pk},
    )
    return membership


def _lock_open(token: str) -> Invitation:
    invitation = invitation_for_token(token)
    locked = Invitation.objects.select_for_update().select_related("merchant").get(pk=invitation.pk)
    if not locked.is_open or locked.expires_at <= clock.now():
        raise InvitationInvalid(_("This invitation was already used."))
    return locked


def invitation_is_for(invitation: Invitation, user: Any) -> bool:
    """Whether ``user``'s email is the invited address (letter case aside)."""
    email = (getattr(user, "email", "") or "").strip()
    return bool(email) and email.casefold() == invitation.email.casefold()


def invitation_accept(*, token: str, user: Any) -> Membership:
    """A signed-in user accepts: they join with the invited role.

    Only the account of the invited address may: the link proves someone can read that
    mailbox, not who opened it (a forwarded email, a shared screen, a proxy's log).
    """
    with transaction.atomic():
        invitation = _lock_open(token)
        if not invitation_is_for(invitation, user):
            raise ValidationError(
                _(
                    "This invitation is for %(email)s. Log out, then log in with the account "
                    "of that address or create one."
                )
                % {"email": invitation.email}
            )
        return _join(invitation, user)


def invitation_accept_new_user(*, token: str, username: str, password: str) -> Membership:
    """Someone new accepts: an account with the invited email and their password, then join."""
    user_model = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": _("Choose a username to log in with.")})
    with transaction.atomic():
        invitation = _lock_open(token)
        if user_model.objects.filter(username__iexact=username).exists():
            raise ValidationError({"username": _("That username is taken; choose another.")})
        if user_model.objects.filter(email__iexact=invitation.email).exists():
            # Generic words, the only answer that differs from the new-account path: the page
            # shows nothing else that would tell which addresses have an account.
            raise ValidationError(
                _(
                    "No new account can be made with this email address. If you already have "
                    "an account, log in to accept the invitation."
                )
            )
        user = user_model(username=username, email=invitation.email)
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as error:
            raise ValidationError(
                {"username": error.message_dict.get("username", [_("Invalid username.")])}
            ) from None
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password1": error.messages}) from None
        user.set_password(password)
        user.save()
        return _join(invitation, user)


# ---------------------------------------------------------------------------------------------
# Members


def _lock_team(merchant: Merchant) -> list[Membership]:
    """Lock every membership of the merchant: the owner count must not change under us."""
    return list(
        Membership.objects.select_for_update()
        .filter(merchant=merchant)
        .select_related("user")
        .order_by("pk")
    )


def membership_change_role(*, membership: Membership, role: str, actor: Actor) -> Membership:
    role = _clean_role(role)
    merchant = membership.merchant
    with transaction.atomic():
        team = _lock_team(merchant)
        locked = next((m for m in team if m.pk == membership.pk), None)
        if locked is None:
            raise ValidationError(_("This person is no longer a member."))
        if locked.role == role:
            return locked
        if Role.OWNER in (locked.role, role):
            _require_owner_for(
                merchant, actor, _("Only an owner can give or take away the owner role."), "role"
            )
        owners = [m for m in team if m.role == Role.OWNER]
        if locked.role == Role.OWNER and len(owners) == 1:
            raise ValidationError({"role": _last_owner(locked.user.get_username(), merchant)})
        previous = locked.role
        locked.role = role
        locked.save(update_fields=["role"])
        audit_record(
            merchant=merchant,
            actor=actor,
            action=AuditAction.ROLE_CHANGED,
            summary=(
                f"Changed {locked.user.get_username()}'s role from "
                f"{_logged_role(previous)} to {_logged_role(role)}"
            ),
            details={"user_id": locked.user_id, "from": previous, "to": role},
        )
    return locked


def membership_remove(*, membership: Membership, actor: Actor) -> None:
    """Take someone off the team; their past ledger entries keep their name."""
    merchant = membership.merchant
    with transaction.atomic():
        team = _lock_team(merchant)
        locked = next((m for m in team if m.pk == membership.pk), None)
        if locked is None:
            return
        if locked.role == Role.OWNER:
            _require_owner_for(merchant, actor, _("Only an owner can remove an owner."), "role")
            if sum(1 for m in team if m.role == Role.OWNER) == 1:
                raise ValidationError(_last_owner(locked.user.get_username(), merchant))
        locked.delete()
        audit_record(
            merchant=merchant,
            actor=actor,
            action=AuditAction.MEMBER_REMOVED,
            summary=f"Removed {locked.user.get_username()} ({_logged_role(locked.role)})",
            details={"user_id": locked.user_id, "role": locked.role},
        )


# ---------------------------------------------------------------------------------------------
# Languages


def user_language_update(*, user: Any, language: str) -> UserPreference:
    """Keep the user's language on the user (blank: follow the browser)."""
    if language and supported_language(language) != language:
        raise ValidationError({"language": _("Choose one of the languages offered.")})
    with transaction.atomic():
        preference, _created = UserPreference.objects.update_or_create(
            user=user, defaults={"language": language}
        )
    return preference


def merchant_language_update(*, merchant: Merchant, language: str, actor: Actor) -> Merchant:
    """The language of the merchant's customer pages when their browser asks for none we ship."""
    if supported_language(language) != language:
        raise ValidationError({"language": _("Choose one of the languages offered.")})
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if locked.language == language:
            return locked
        before, locked.language = locked.language, language
        locked.save(update_fields=["language"])
        audit_record(
            merchant=locked,
            actor=actor,
            action=AuditAction.LANGUAGE_CHANGED,
            summary=f"Default language changed from {before} to {language}",
            details={"from": before, "to": language},
        )
    merchant.language = language
    return locked


# ---------------------------------------------------------------------------------------------
# Contact details (the card page and the wallet passes show them)

# The audit log's words for each field, in English like every summary.
CONTACT_FIELDS = {
    "contact_phone": "phone",
    "contact_email": "email",
    "website": "website",
    "address": "address",
}
ADDRESS_MAX_LENGTH = 200
WEBSITE_MAX_LENGTH = 200
# Web pages only: whatever is saved here becomes a link customers tap.
WEBSITE_SCHEMES = ["https", "http"]


def _is_web_address(text: str) -> bool:
    try:
        URLValidator(schemes=WEBSITE_SCHEMES)(text)
    except ValidationError:
        return False
    return len(text) <= WEBSITE_MAX_LENGTH


def _clean_website(raw: str) -> str:
    website = (raw or "").strip()
    if website and not _is_web_address(website):
        raise ValidationError(
            {"website": _("Enter a valid web address, e.g. https://example.com.")}
        )
    return website


def _clean_address(raw: str) -> str:
    # One line, as the pass and the card page show it.
    address = " ".join((raw or "").split())
    if len(address) > ADDRESS_MAX_LENGTH:
        raise ValidationError(
            {
                # Translators: %(count)d is a number of characters (200).
                "address": _("Enter an address of at most %(count)d characters.")
                % {"count": ADDRESS_MAX_LENGTH}
            }
        )
    return address


def _clean_contact(
    merchant: Merchant, *, phone: str, email: str, website: str, address: str
) -> dict[str, str]:
    """The contact as stored, each field checked; every refusal at once."""
    cleaners = {
        "contact_phone": lambda: normalize_phone(phone, region=merchant.country),
        "contact_email": lambda: _clean_email(email, required=False),
        "website": lambda: _clean_website(website),
        "address": lambda: _clean_address(address),
    }
    contact: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name, clean in cleaners.items():
        try:
            contact[name] = clean()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return contact


def merchant_update_contact(
    *, merchant: Merchant, actor: Actor, phone: str, email: str, website: str, address: str
) -> Merchant:
    """The phone, email, website and address customers see on their card and wallet passes
    (each optional: blank removes it). When something changed, the audit log says what and
    ``merchant_changed`` is sent, so the passes are issued again."""
    contact = _clean_contact(merchant, phone=phone, email=email, website=website, address=address)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        changed = [name for name, value in contact.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        details = {
            CONTACT_FIELDS[name]: {"from": getattr(locked, name), "to": contact[name]}
            for name in changed
        }
        for name in changed:
            setattr(locked, name, contact[name])
        locked.save(update_fields=changed)
        audit_record(
            merchant=locked,
            actor=actor,
            action=AuditAction.CONTACT_CHANGED,
            summary="Contact details changed: " + ", ".join(CONTACT_FIELDS[n] for n in changed),
            details=details,
        )
        merchant_changed.send(sender=Merchant, merchant=locked)
    for name in changed:
        setattr(merchant, name, contact[name])
    return locked
