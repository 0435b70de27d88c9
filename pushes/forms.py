"""Forms of the Send push tab. Times are typed in the merchant's time zone."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cards.models import CardStatus, Program
from customers.models import Segment
from customers.selectors import device_choices
from loyalty import clock
from pushes.audiences import FILTER_KEYS, AudienceSpec
from pushes.automatic import DAYS_RANGE, PLACEHOLDERS
from pushes.models import MESSAGE_MAX_LENGTH, Audience, AutoMessage, MessageSettings, Trigger
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


class CampaignForm(MessageForm):
    """A campaign: the program, who receives it, the message, now or at a time."""

    program = forms.TypedChoiceField(label=_("Program"), coerce=int)
    audience = forms.ChoiceField(
        label=_("Who receives it"), choices=Audience.choices, widget=forms.RadioSelect
    )
    segments = forms.MultipleChoiceField(
        label=_("Segments"),
        choices=Segment.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    tier_name = forms.ChoiceField(label=_("Tier"), required=False)
    # The customer list's filter (its search box and menus), prefilled from the list's link.
    filter_q = forms.CharField(label=_("Search"), required=False, max_length=100)
    filter_status = forms.ChoiceField(label=_("Card status"), required=False)
    filter_device = forms.ChoiceField(label=_("Device"), required=False)
    filter_segment = forms.ChoiceField(label=_("Segment"), required=False)

    field_order = [
        "program",
        "audience",
        "segments",
        "tier_name",
        "filter_q",
        "filter_status",
        "filter_device",
        "filter_segment",
        "body",
        "send_at",
    ]

    def __init__(
        self, *args: Any, programs: list[Program], tiers: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.programs = {program.pk: program for program in programs}
        choices: dict[str, list[tuple[Any, Any]]] = {
            "program": [(p.pk, p.name) for p in programs],
            "tier_name": [("", gettext("Pick a tier")), *((name, name) for name in tiers)],
            "filter_status": [("", gettext("Any status")), *CardStatus.choices],
            "filter_device": [("", gettext("Any device")), *device_choices()],
            "filter_segment": [("", gettext("All segments")), *Segment.choices],
        }
        for name, options in choices.items():
            cast(forms.ChoiceField, self.fields[name]).choices = options
        # A change of program counts the audience again, as the audience's own fields do.
        self.fields["program"].widget.attrs["data-audience-input"] = ""

    def chosen_program(self) -> Program:
        return self.programs[self.cleaned_data["program"]]

    def audience_spec(self) -> AudienceSpec:
        """Who the cleaned form's campaign goes to (for its size)."""
        arguments = self.service_arguments()
        return AudienceSpec(
            program=arguments["program"],
            audience=arguments["audience"],
            segments=tuple(arguments["segments"]),
            tier_name=arguments["tier_name"],
            filters={key: value for key, value in arguments["filters"].items() if value},
        )

    def service_arguments(self) -> dict[str, Any]:
        """What ``campaign_create`` and ``campaign_update`` take, from the cleaned form."""
        data = self.cleaned_data
        return {
            "program": self.chosen_program(),
            "body": data["body"],
            "audience": data["audience"],
            "segments": data.get("segments") or [],
            "tier_name": data.get("tier_name") or "",
            "filters": {key: data.get(f"filter_{key}") or "" for key in FILTER_KEYS},
            "send_at": data.get("send_at"),
        }


class AudienceForm(CampaignForm):
    """The campaign form read only for its audience (the live size while typing): the
    message and the time do not matter yet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("body", "send_at"):
            self.fields[name].required = False

    def clean_send_at(self) -> None:
        return None

    def clean_body(self) -> str:
        return ""


class MessageSettingsForm(forms.ModelForm):
    class Meta:
        model = MessageSettings
        fields = ["quiet_start", "quiet_end", "weekly_cap"]
        labels = {
            "quiet_start": _("Quiet hours from"),
            "quiet_end": _("Quiet hours until"),
            "weekly_cap": _("At most this many campaign messages per card in 7 days"),
        }
        help_texts = {
            "quiet_end": _(
                "Campaigns and automatic messages due in between wait for the end. Leave both"
                " empty for no quiet hours."
            ),
            "weekly_cap": _(
                "Cards over it are counted in the campaign's results, not sent. Empty: no cap."
            ),
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "weekly_cap": forms.NumberInput(attrs={"min": 1, "max": 100}),
        }

    def clean_weekly_cap(self) -> int | None:
        cap = self.cleaned_data.get("weekly_cap")
        if cap is not None and not 1 <= cap <= 100:
            raise forms.ValidationError(gettext("Enter a number from 1 to 100, or leave it empty."))
        return cap

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
            raise forms.ValidationError(
                gettext("Give both ends of the quiet hours, or leave both empty.")
            )
        return data


# Per kind: what its days mean (only the kinds that wait have them).
DAYS_LABELS = {
    Trigger.EXPIRING: _("Days before the expiration date"),
    Trigger.LAPSED: _("Days without a visit"),
}
TRIGGER_HELP = {
    Trigger.REWARD_READY: _("Sent the moment a stamp completes a reward, once per reward."),
    Trigger.EXPIRING: _("Sent once per expiration date, this many days before it."),
    Trigger.BIRTHDAY: _("Sent on the customer's birthday (from their personal information)."),
    Trigger.LAPSED: _(
        "Sent once when a customer has not visited for this many days; a new visit starts over."
    ),
}


class AutoMessageForm(forms.Form):
    """One kind of a program's automatic messages (prefixed with the kind: one page holds all)."""

    enabled = forms.BooleanField(required=False, label=_("On"))
    body = forms.CharField(
        required=False,
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": MESSAGE_MAX_LENGTH}),
    )
    days = forms.IntegerField(required=False)

    def __init__(self, *args: Any, auto: AutoMessage, **kwargs: Any) -> None:
        trigger = Trigger(auto.trigger)
        kwargs.setdefault(
            "initial", {"enabled": auto.enabled, "body": auto.body, "days": auto.days}
        )
        kwargs["prefix"] = trigger.value
        super().__init__(*args, **kwargs)
        self.trigger = trigger
        self.label = trigger.label
        self.help = TRIGGER_HELP[trigger]
        if trigger in DAYS_RANGE:
            low, high = DAYS_RANGE[trigger]
            self.fields["days"].label = DAYS_LABELS[trigger]
            self.fields["days"].widget.attrs.update({"min": low, "max": high})
        else:
            del self.fields["days"]

    def service_input(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "trigger": self.trigger.value,
            "enabled": data["enabled"],
            "body": data["body"],
            "days": data.get("days"),
        }


def placeholder_help() -> list[tuple[str, str]]:
    """The placeholders as the form lists them: ``{name}`` and what it becomes."""
    return [(f"{{{name}}}", str(text)) for name, text in PLACEHOLDERS.items()]
