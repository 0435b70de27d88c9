"""Forms of the settings: the team, invitations, languages and the contact details. They
parse; services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from loyalty.models import Role
from loyalty.phones import normalize_phone

CHOOSE_ROLE = _("Choose owner, admin or staff.")
INVALID_WEBSITE = _("Enter a valid web address, e.g. https://example.com.")


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        error_messages={
            "required": _("Enter the email address to send the invitation to."),
            "invalid": _("Enter a valid email address."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Role.choices,
        initial=Role.STAFF,
        error_messages={"invalid_choice": CHOOSE_ROLE},
    )

    def __init__(self, *args: Any, can_grant_owner: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_grant_owner:
            # Only owners make owners; the service refuses it too.
            role = self.fields["role"]
            assert isinstance(role, forms.ChoiceField)
            role.choices = [c for c in Role.choices if c[0] != Role.OWNER]
            role.help_text = _("Only an owner can invite another owner.")


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role"), choices=Role.choices, error_messages={"invalid_choice": CHOOSE_ROLE}
    )


class AcceptInvitationForm(forms.Form):
    """A new team member picks a username and sets their password.

    The email is the invited address, shown but fixed: a disabled field ignores what is posted.
    """

    email = forms.EmailField(
        label=_("Email"),
        disabled=True,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        error_messages={"required": _("Choose a username to log in with.")},
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        error_messages={"required": _("Choose a password.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        error_messages={"required": _("Type the password a second time.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ; type the same one twice."))
        return data


class LanguageForm(forms.Form):
    """The header's language switch: a shipped language, or blank for the browser's."""

    language = forms.ChoiceField(choices=[("", ""), *settings.LANGUAGES], required=False)
    next = forms.CharField(required=False)


class MerchantLanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Default language"),
        choices=settings.LANGUAGES,
        help_text=_(
            "Your customers' card and join pages use it when their browser asks for a language "
            "we do not offer, and so do team members who have not chosen a language."
        ),
    )


class WebAddressField(forms.URLField):
    # Web pages only (not ftp:, and never javascript:): it becomes a link customers tap.
    default_validators = [URLValidator(schemes=["https", "http"])]


class MerchantContactForm(forms.Form):
    """How customers reach the shop. The service normalises the phone and checks each field
    again; blank fields are left off the card page and the passes."""

    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        help_text=_("Without a +country code, the number is read as one of your country."),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        required=False,
        error_messages={"invalid": _("Enter a valid email address.")},
    )
    website = WebAddressField(
        label=_("Website"),
        max_length=200,
        required=False,
        # Typed without one, a web address is read as https://.
        assume_scheme="https",
        error_messages={"invalid": INVALID_WEBSITE},
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=200,
        required=False,
        help_text=_("On one line, as customers would type it into a map."),
    )

    def __init__(self, *args: Any, region: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.region = region  # the merchant's country, for a number without +country code

    def clean_phone(self) -> str:
        # Read here too, so that a bad number is named along with the other fields' errors.
        try:
            return normalize_phone(self.cleaned_data["phone"], region=self.region)
        except ValidationError as error:
            raise ValidationError(error.message_dict["phone"]) from None
