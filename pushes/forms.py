"""Forms of the Send push tab. Times are typed in the merchant's time zone."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty import clock
from pushes.models import MESSAGE_MAX_LENGTH
from pushes.selectors import CardOption

INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


def local_input_value(moment: datetime.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """``datetime-local`` value of an aware datetime, in ``tz``."""
    return timezone.localtime(moment, tz).strftime("%Y-%m-%dT%H:%M")


def aware_in(value: datetime.datetime, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """A wall-clock time typed in ``tz`` as an aware datetime; refuses times a clock change
    skips (they do not exist) or repeats (they are ambiguous)."""
    early, late = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if early.astimezone(datetime.UTC) == late.astimezone(datetime.UTC):
        return early
    if early.astimezone(datetime.UTC).astimezone(tz).replace(tzinfo=None) != value:
        # Translators: %(tz)s is a time zone's name, e.g. Europe/Paris.
        message = gettext(
            "That time does not exist in %(tz)s (the clocks go forward). Pick another."
        )
    else:
        # Translators: %(tz)s is a time zone's name, e.g. Europe/Paris.
        message = gettext("That time happens twice in %(tz)s (the clocks go back). Pick another.")
    raise forms.ValidationError(message, params={"tz": tz.key})


class WallClockField(forms.DateTimeField):
    """A naive date and time as typed; the form knows which time zone it is in."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.datetime):
            return value.replace(tzinfo=None)
        text = str(value).strip()
        for fmt in self.input_formats or INPUT_FORMATS:
            try:
                return datetime.datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class MessageForm(forms.Form):
    # The length is checked in clean_body, after browsers' CRLF line breaks become one
    # character, as the counter and the textarea's maxlength count them.
    body = forms.CharField(
        label=_("Message"),
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "data-counter": "body-counter"}),
        error_messages={"required": _("Type the message to send.")},
    )
    send_at = WallClockField(
        label=_("Send at (optional)"),
        required=False,
        input_formats=INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty to send now."),
    )

    def __init__(self, *args: Any, tz: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz
        self.fields["body"].widget.attrs["maxlength"] = MESSAGE_MAX_LENGTH
        self.fields["send_at"].widget.attrs["min"] = local_input_value(clock.now(), tz)
        self.fields["send_at"].help_text = gettext(
            "Leave empty to send now. Time zone: %(time_zone)s."
        ) % {"time_zone": tz.key}

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        if len(body) > MESSAGE_MAX_LENGTH:
            raise forms.ValidationError(
                gettext("Keep the message to %(max)d characters (it has %(length)d)."),
                params={"max": MESSAGE_MAX_LENGTH, "length": len(body)},
            )
        return body

    def clean_send_at(self) -> datetime.datetime | None:
        value = self.cleaned_data.get("send_at")
        if value is None:
            return None
        moment = aware_in(value, self.tz)
        if moment <= clock.now():
            raise forms.ValidationError(gettext("Pick a time in the future, or leave it empty."))
        return moment


class SendForm(MessageForm):
    card = forms.ChoiceField(label=_("Card"), widget=forms.RadioSelect)

    field_order = ["card", "body", "send_at"]

    def __init__(self, *args: Any, options: list[CardOption], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = options
        # Only cards that can receive are choices; the template lists the others with why.
        self.fields["card"].choices = [  # type: ignore[attr-defined]
            (o.card.serial, o.card.serial) for o in options if o.receivable
        ]
        self.fields["card"].error_messages["invalid_choice"] = gettext(
            "That card cannot receive a push; pick one of the cards listed."
        )

    def chosen_card(self) -> Any:
        serial = self.cleaned_data["card"]
        return next(o.card for o in self.options if o.card.serial == serial)
