"""Forms of the settings: the team and the segment thresholds. They parse; services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from loyalty.models import Role
from loyalty.services import SegmentBands


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


def _band_field(label: str, unit: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        error_messages={
            "required": "Enter a number.",
            "invalid": f"Enter a whole number of {unit}.",
        },
        widget=forms.NumberInput(attrs={"min": 1, "inputmode": "numeric"}),
    )


class SegmentBandsForm(forms.Form):
    """The grid's thresholds. The service checks they increase (so the preview can too)."""

    recency_band_1 = _band_field("Recent: up to (days)", "days")
    recency_band_2 = _band_field("Then up to (days)", "days")
    recency_band_3 = _band_field("Then up to (days), Lost after", "days")
    frequency_band_1 = _band_field("Few visits: up to", "visits")
    frequency_band_2 = _band_field("Some visits: up to, many after", "visits")

    @classmethod
    def initial_for(cls, bands: SegmentBands) -> dict[str, int]:
        return {
            "recency_band_1": bands.recency[0],
            "recency_band_2": bands.recency[1],
            "recency_band_3": bands.recency[2],
            "frequency_band_1": bands.frequency[0],
            "frequency_band_2": bands.frequency[1],
        }

    def raw_bands(self) -> dict[str, tuple[Any, ...]]:
        data = self.cleaned_data
        return {
            "recency": tuple(data.get(f"recency_band_{i}") for i in (1, 2, 3)),
            "frequency": tuple(data.get(f"frequency_band_{i}") for i in (1, 2)),
        }
