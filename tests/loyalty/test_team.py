"""The team: invitations by email, roles, removal, the last-owner rule and the audit log."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from loyalty import clock, services
from loyalty.audit import audit_record
from loyalty.models import AuditAction, AuditEvent, Invitation, Membership, Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/invitations/(?P<token>[\w-]+)/")


def _link_in(message: Any) -> tuple[str, str]:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(0), match.group("token")


def _invite(client: Client, email: str = "new@example.com", role: str = "staff") -> Any:
    return client.post(reverse("settings:invite"), {"email": email, "role": role})


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


# ---------------------------------------------------------------------------------------------
# Inviting


def test_an_invitation_email_carries_a_link_that_expires_in_a_week(
    owner_client: Client, merchant, owner, settings
) -> None:
    response = _invite(owner_client, "New.Person@Example.COM", "admin")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["New.Person@example.com"]
    assert "Demo Coffee" in message.subject
    assert "as Admin" in message.body
    link, token = _link_in(message)
    assert link.startswith(settings.SITE_URL + "/invitations/")
    invitation = Invitation.objects.get(merchant=merchant)
    assert (invitation.role, invitation.invited_by) == (Role.ADMIN, owner)
    assert invitation.expires_at - invitation.sent_at == datetime.timedelta(days=7)
    # Only a hash of the token is kept.
    assert token not in invitation.token_hash
    assert len(token) >= 40
    event = AuditEvent.objects.get(merchant=merchant)
    assert (event.action, event.actor) == (AuditAction.INVITATION_SENT, owner)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Enter the email address to send the invitation to."),
        ("not-an-email", "Enter a valid email address."),
    ],
)
def test_the_invitation_form_validates_the_email(owner_client: Client, email, message) -> None:
    response = _invite(owner_client, email)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not mail.outbox
    assert not Invitation.objects.exists()


def test_a_member_or_a_pending_invitation_is_not_invited_twice(owner_client: Client, staff) -> None:
    response = _invite(owner_client, staff.email.upper())
    assert "is already a member of your team" in response.content.decode()
    _invite(owner_client, "twice@example.com")
    response = _invite(owner_client, "TWICE@example.com")
    assert response.status_code == 422
    assert "already has a pending invitation" in response.content.decode()
    assert Invitation.objects.count() == 1
    assert len(mail.outbox) == 1


def test_an_expired_invitation_is_replaced_by_a_new_one(merchant, owner) -> None:
    old = services.invitation_create(
        merchant=merchant, email="late@example.com", role=Role.STAFF, actor=owner
    )
    Invitation.objects.filter(pk=old.pk).update(expires_at=clock.now())
    new = services.invitation_create(
        merchant=merchant, email="late@example.com", role=Role.ADMIN, actor=owner
    )
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert (new.role, new.is_open) == (Role.ADMIN, True)


def test_only_an_owner_invites_an_owner(admin_client_: Client, owner_client: Client) -> None:
    page = admin_client_.get(reverse("settings:team")).content.decode()
    assert '<option value="owner"' not in page
    response = _invite(admin_client_, "boss@example.com", "owner")
    assert response.status_code == 422
    assert not Invitation.objects.exists()
    assert _invite(owner_client, "boss@example.com", "owner").status_code == 302


# ---------------------------------------------------------------------------------------------
# Accepting


def test_a_new_person_sets_a_password_and_joins_with_the_invited_role(
    owner_client: Client, merchant
) -> None:
    _invite(owner_client, "new@example.com", "admin")
    link, _ = _link_in(mail.outbox[0])
    visitor = Client()
    page = visitor.get(_path(link))
    assert page.status_code == 200
    assert "Join Demo Coffee" in page.content.decode()
    response = visitor.post(
        _path(link),
        {
            "username": "newbie",
            "password1": "a-long-Passphrase-9",
            "password2": "a-long-Passphrase-9",
        },
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "new@example.com"
    assert user.check_password("a-long-Passphrase-9")
    assert Membership.objects.get(user=user).role == Role.ADMIN
    # Logged in, on the dashboard of the merchant that invited them.
    assert visitor.get(reverse("settings:team")).status_code == 200
    # The link works once.
    assert Client().get(_path(link)).status_code == 410
    assert AuditEvent.objects.filter(action=AuditAction.MEMBER_JOINED, actor=user).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "x", "password1": "short", "password2": "short"}, "too short"),
        ({"username": "x", "password1": "password123", "password2": "password123"}, "too common"),
        (
            {"username": "x", "password1": "a-long-Passphrase-9", "password2": "different-Pass-9"},
            "The two passwords differ",
        ),
        (
            {
                "username": "owner",
                "password1": "a-long-Passphrase-9",
                "password2": "a-long-Passphrase-9",
            },
            "That username is taken",
        ),
        ({"username": "", "password1": "", "password2": ""}, "Choose a username"),
        (
            {
                "username": "bad name!",
                "password1": "a-long-Passphrase-9",
                "password2": "a-long-Passphrase-9",
            },
            "Enter a valid username",
        ),
    ],
)
def test_the_password_form_explains_what_is_wrong(merchant, owner, data, message) -> None:
    services.invitation_create(
        merchant=merchant, email="new@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    response = Client().post(_path(link), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Membership.objects.filter(user__email="new@example.com").exists()
    assert Invitation.objects.get().accepted_at is None


def test_someone_with_an_account_logs_in_and_accepts(merchant, owner, other_merchant) -> None:
    existing = UserFactory(username="baker", email="baker@example.com")
    MembershipFactory(user=existing, merchant=other_merchant, role=Role.OWNER)
    services.invitation_create(
        merchant=merchant, email="baker@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    anonymous = Client().get(_path(link)).content.decode()
    assert "Log in to accept" in anonymous
    client = Client()
    client.force_login(existing)
    assert client.post(_path(link)).status_code == 302
    assert Membership.objects.get(user=existing, merchant=merchant).role == Role.STAFF
    # The session now works for the merchant that invited them.
    assert client.get(reverse("customers:list")).context["merchant"] == merchant


def test_a_member_cannot_join_twice(merchant, owner, staff) -> None:
    services.invitation_create(
        merchant=merchant, email="else@example.com", role="admin", actor=owner
    )
    _, token = _link_in(mail.outbox[0])
    # A member who took the invited address since (an invitation to a member's is refused).
    staff.email = "Else@Example.com"
    staff.save(update_fields=["email"])
    with pytest.raises(ValidationError, match="already a member"):
        services.invitation_accept(token=token, user=staff)
    assert Membership.objects.get(user=staff).role == Role.STAFF


def test_an_account_of_another_address_cannot_accept(merchant, owner, outsider) -> None:
    services.invitation_create(
        merchant=merchant, email="new@example.com", role="admin", actor=owner
    )
    link, token = _link_in(mail.outbox[0])
    client = Client()
    client.force_login(outsider)  # outsider@example.com, owner of another merchant
    page = client.get(_path(link)).content.decode()
    assert "data-invitation-other-account" in page
    assert "this invitation is for new@example.com" in page
    assert f'action="{reverse("logout")}"' in page
    assert "Join Demo Coffee</button>" not in page
    response = client.post(_path(link))
    assert response.status_code == 422
    with pytest.raises(ValidationError, match="This invitation is for new@example.com"):
        services.invitation_accept(token=token, user=outsider)
    assert not Membership.objects.filter(merchant=merchant, user=outsider).exists()
    assert Invitation.objects.get().accepted_at is None
    assert not AuditEvent.objects.filter(action=AuditAction.MEMBER_JOINED).exists()


def test_logging_out_from_the_invitation_comes_back_to_it(merchant, owner, outsider) -> None:
    services.invitation_create(
        merchant=merchant, email="new@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    client = Client()
    client.force_login(outsider)
    response = client.post(reverse("logout"), {"next": _path(link)})
    assert response["Location"] == _path(link)
    assert "data-invitation-signup" in client.get(_path(link)).content.decode()


def test_the_invited_address_accepts_whatever_its_letter_case(merchant, owner) -> None:
    existing = UserFactory(username="baker", email="Baker@EXAMPLE.com")
    services.invitation_create(
        merchant=merchant, email="baker@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    client = Client()
    client.force_login(existing)
    assert "Join Demo Coffee</button>" in client.get(_path(link)).content.decode()
    assert client.post(_path(link)).status_code == 302
    assert Membership.objects.get(user=existing, merchant=merchant).role == Role.STAFF


# What changes from one request to the next whatever the data: the CSRF token, the CSP nonce.
PER_REQUEST = re.compile(r'(csrfmiddlewaretoken" value="|nonce="|"X-CSRFToken": ")[^"]*"')


def test_the_signed_out_page_is_the_same_whether_or_not_an_account_uses_the_address(
    merchant, owner
) -> None:
    services.invitation_create(
        merchant=merchant, email="baker@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    without_account = Client().get(_path(link)).content.decode()
    UserFactory(username="baker", email="baker@example.com")
    with_account = Client().get(_path(link)).content.decode()
    assert PER_REQUEST.sub("", with_account) == PER_REQUEST.sub("", without_account)
    # Both ways offer to log in and to create an account with the invited address.
    assert "Log in to accept" in with_account
    assert 'name="username"' in with_account
    assert re.search(
        r'<input type="email" name="email" value="baker@example.com"[^>]* disabled', with_account
    )


def test_creating_an_account_for_an_address_that_has_one_is_refused_in_general_words(
    merchant, owner
) -> None:
    UserFactory(username="baker", email="Baker@example.com")
    services.invitation_create(
        merchant=merchant, email="baker@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    data = {"username": "newbaker", "password1": "a-long-Passphrase-9"}
    response = Client().post(_path(link), {**data, "password2": data["password1"]})
    assert response.status_code == 422
    page = response.content.decode()
    assert "No new account can be made with this email address" in page
    assert "already exists" not in page
    assert not get_user_model().objects.filter(username="newbaker").exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_new_account_gets_the_invited_address_whatever_is_posted(merchant, owner) -> None:
    services.invitation_create(
        merchant=merchant, email="new@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    data = {
        "email": "someone.else@example.com",
        "username": "newbie",
        "password1": "a-long-Passphrase-9",
        "password2": "a-long-Passphrase-9",
    }
    assert Client().post(_path(link), data).status_code == 302
    assert get_user_model().objects.get(username="newbie").email == "new@example.com"


@pytest.mark.parametrize("state", ["expired", "revoked", "resent", "unknown"])
def test_a_dead_link_says_why_and_creates_nothing(merchant, owner, state) -> None:
    invitation = services.invitation_create(
        merchant=merchant, email="new@example.com", role="staff", actor=owner
    )
    link, _ = _link_in(mail.outbox[0])
    expected = {
        "expired": "has expired",
        "revoked": "was withdrawn",
        "resent": "not valid",
        "unknown": "not valid",
    }[state]
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=clock.now())
    elif state == "revoked":
        services.invitation_revoke(invitation=invitation, actor=owner)
    elif state == "resent":
        services.invitation_resend(invitation=invitation, actor=owner)
    else:
        link = link.replace(link.rstrip("/").rsplit("/", 1)[1], "guess")
    data = {"username": "x", "password1": "a-long-Passphrase-9", "password2": "a-long-Passphrase-9"}
    response = Client().post(_path(link), data)
    assert response.status_code == 410
    assert expected in response.content.decode()
    assert not get_user_model().objects.filter(username="x").exists()


def test_resending_sends_a_fresh_link_that_works(owner_client: Client, merchant, owner) -> None:
    invitation = services.invitation_create(
        merchant=merchant, email="new@example.com", role="staff", actor=owner
    )
    owner_client.post(reverse("settings:invitation_resend", args=[invitation.pk]))
    assert len(mail.outbox) == 2
    first, _ = _link_in(mail.outbox[0])
    second, _ = _link_in(mail.outbox[1])
    assert first != second
    assert Client().get(_path(first)).status_code == 410
    assert Client().get(_path(second)).status_code == 200


# ---------------------------------------------------------------------------------------------
# Roles and removal


def test_an_admin_changes_a_staff_members_role(admin_client_: Client, staff, admin_user) -> None:
    membership = Membership.objects.get(user=staff)
    response = admin_client_.post(
        reverse("settings:member_role", args=[membership.pk]), {"role": "admin"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED)
    assert event.actor == admin_user
    assert event.summary == "Changed staff's role from Staff to Admin"


def test_only_owners_give_or_take_the_owner_role(merchant, owner, admin_user, staff) -> None:
    staff_membership = Membership.objects.get(user=staff)
    owner_membership = Membership.objects.get(user=owner)
    with pytest.raises(ValidationError, match="Only an owner can give or take away"):
        services.membership_change_role(membership=staff_membership, role="owner", actor=admin_user)
    with pytest.raises(ValidationError, match="Only an owner"):
        services.membership_change_role(membership=owner_membership, role="staff", actor=admin_user)
    with pytest.raises(ValidationError, match="Only an owner can remove an owner"):
        services.membership_remove(membership=owner_membership, actor=admin_user)
    services.membership_change_role(membership=staff_membership, role="owner", actor=owner)
    assert Membership.objects.get(user=staff).role == Role.OWNER


def test_the_last_owner_can_be_neither_demoted_nor_removed(
    owner_client: Client, merchant, owner
) -> None:
    membership = Membership.objects.get(user=owner)
    response = owner_client.post(
        reverse("settings:member_role", args=[membership.pk]), {"role": "admin"}, follow=True
    )
    assert "is the last owner of Demo Coffee" in response.content.decode()
    response = owner_client.post(
        reverse("settings:member_remove", args=[membership.pk]), follow=True
    )
    assert "is the last owner of Demo Coffee" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    assert not AuditEvent.objects.exists()


def test_with_a_second_owner_the_first_may_step_down(merchant, owner, staff) -> None:
    services.membership_change_role(
        membership=Membership.objects.get(user=staff), role="owner", actor=owner
    )
    services.membership_change_role(
        membership=Membership.objects.get(user=owner), role="staff", actor=owner
    )
    # Now staff is the last owner.
    with pytest.raises(ValidationError, match="staff is the last owner"):
        services.membership_remove(membership=Membership.objects.get(user=staff), actor=staff)


def test_a_removed_member_loses_access_but_their_history_stays(
    owner_client: Client, merchant, staff, stamp_card
) -> None:
    from cards.services import card_add_stamps

    entry = card_add_stamps(card=stamp_card, value=1, actor=staff).entries[0]
    membership = Membership.objects.get(user=staff)
    response = owner_client.post(reverse("settings:member_remove", args=[membership.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    client = Client()
    client.force_login(staff)
    assert client.get(reverse("customers:list")).status_code == 403
    entry.refresh_from_db()
    assert entry.actor == staff
    assert AuditEvent.objects.get(action=AuditAction.MEMBER_REMOVED).summary == (
        "Removed staff (Staff)"
    )


def test_an_admin_who_makes_themselves_staff_leaves_the_settings(
    admin_client_: Client, admin_user
) -> None:
    membership = Membership.objects.get(user=admin_user)
    response = admin_client_.post(
        reverse("settings:member_role", args=[membership.pk]), {"role": "staff"}
    )
    assert response["Location"] == reverse("home")
    assert admin_client_.get(reverse("settings:team")).status_code == 403


def test_the_team_page_hides_owner_controls_from_admins(
    admin_client_: Client, owner_client: Client, owner, staff
) -> None:
    owner_pk = Membership.objects.get(user=owner).pk
    admin_page = admin_client_.get(reverse("settings:team")).content.decode()
    assert reverse("settings:member_remove", args=[owner_pk]) not in admin_page
    owner_page = owner_client.get(reverse("settings:team")).content.decode()
    # The owner is the last owner: their own row offers no way to demote or remove them.
    assert reverse("settings:member_remove", args=[owner_pk]) not in owner_page
    assert "The last owner" in owner_page
    staff_pk = Membership.objects.get(user=staff).pk
    assert reverse("settings:member_remove", args=[staff_pk]) in owner_page


def test_the_team_page_runs_a_fixed_number_of_queries(
    owner_client: Client, merchant, owner, django_assert_max_num_queries
) -> None:
    for index in range(10):
        MembershipFactory(merchant=merchant, role=Role.STAFF)
        services.invitation_create(
            merchant=merchant, email=f"p{index}@example.com", role="staff", actor=owner
        )
    with django_assert_max_num_queries(8):
        response = owner_client.get(reverse("settings:team"))
    assert response.content.decode().count("data-member=") == 11
    assert response.content.decode().count("data-invitation=") == 10


# ---------------------------------------------------------------------------------------------
# The audit log


def test_owners_read_the_audit_log_newest_first(
    owner_client: Client, admin_client_: Client, merchant, owner, staff
) -> None:
    services.invitation_create(merchant=merchant, email="a@example.com", role="staff", actor=owner)
    services.membership_change_role(
        membership=Membership.objects.get(user=staff), role="admin", actor=owner
    )
    response = owner_client.get(reverse("settings:audit"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("Changed staff&#x27;s role from Staff to Admin") < body.index(
        "Invited a@example.com as Staff"
    )
    assert admin_client_.get(reverse("settings:audit")).status_code == 403
    assert (
        reverse("settings:audit")
        not in admin_client_.get(reverse("settings:team")).content.decode()
    )


def test_the_audit_log_keeps_the_name_of_someone_who_left(merchant, owner, staff) -> None:
    services.membership_change_role(
        membership=Membership.objects.get(user=owner), role="owner", actor=staff
    )  # no change: nothing recorded
    admin = UserFactory(username="temp-admin")
    membership = MembershipFactory(user=admin, merchant=merchant, role=Role.ADMIN)
    services.membership_change_role(
        membership=Membership.objects.get(user=staff), role="admin", actor=admin
    )
    services.membership_remove(membership=membership, actor=owner)
    admin.delete()
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED)
    assert (event.actor, event.actor_name) == (None, "temp-admin")


def test_the_audit_log_is_paginated_with_a_fixed_number_of_queries(
    owner_client: Client, merchant, owner, django_assert_max_num_queries
) -> None:
    for index in range(120):
        audit_record(
            merchant=merchant, actor=owner, action=AuditAction.PROGRAM_UPDATED, summary=f"e{index}"
        )
    with django_assert_max_num_queries(7):
        response = owner_client.get(reverse("settings:audit"), {"page": 3})
    assert response.content.decode().count("data-audit-action=") == 20
