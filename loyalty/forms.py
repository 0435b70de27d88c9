"""Forms of the settings: the team and invitations. They parse; services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from loyalty.models import Role


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter the email address to send the invitation to.",
            "invalid": "Enter a valid email address.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.STAFF,
        error_messages={"invalid_choice": "Choose owner, admin or staff."},
    )

    def __init__(self, *args: Any, can_grant_owner: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_grant_owner:
            # Only owners make owners; the service refuses it too.
            role = self.fields["role"]
            assert isinstance(role, forms.ChoiceField)
            role.choices = [c for c in Role.choices if c[0] != Role.OWNER]
            role.help_text = "Only an owner can invite another owner."


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        choices=Role.choices, error_messages={"invalid_choice": "Choose owner, admin or staff."}
    )


class AcceptInvitationForm(forms.Form):
    """A new team member picks a username and sets their password."""

    username = forms.CharField(
        max_length=150,
        error_messages={"required": "Choose a username to log in with."},
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        error_messages={"required": "Choose a password."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        error_messages={"required": "Type the password a second time."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ; type the same one twice.")
        return data
