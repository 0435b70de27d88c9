"""Forms of the CRM: registering customers (at the counter, in Settings, on the public join
page), editing them, the list's filters and the segment thresholds. Forms parse and present;
the services decide. A program's custom fields come from ``cards.forms.custom_fields_for``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cards.forms import CUSTOM_PREFIX, custom_fields_for, custom_values
from cards.models import CardStatus, Program
from customers.models import Segment
from customers.segments import WHOLE_DAYS, WHOLE_VISITS
from customers.selectors import CustomerFilters, device_choices, program_choices
from loyalty.models import Merchant
from loyalty.widgets import PlainSelect

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# ---------------------------------------------------------------------------------------------
# Customers


class PersonForm(forms.Form):
    first_name = forms.CharField(max_length=80, label=_("First name"))
    last_name = forms.CharField(max_length=80, required=False, label=_("Last name"))
    email = forms.EmailField(required=False, max_length=254, label=_("Email"))
    phone = forms.CharField(
        max_length=40,
        required=False,
        label=_("Phone"),
        help_text=_("Any format; saved as an international number (E.164)."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )


class CustomerAddForm(PersonForm):
    """Walk-in registration: person, program, then that program's custom fields."""

    program = forms.ModelChoiceField(
        queryset=Program.objects.none(), empty_label=None, label=_("Program")
    )

    def __init__(self, *args: Any, merchant: Merchant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        programs = Program.objects.active().filter(merchant=merchant).order_by("name", "id")
        program_field = cast(forms.ModelChoiceField, self.fields["program"])
        program_field.queryset = programs
        # Changing the program swaps in its questions (see customers/add.html).
        program_field.widget.attrs.update(
            {
                "hx-get": reverse("customers:add_fields"),
                "hx-trigger": "change",
                "hx-target": "#custom-fields",
                "hx-swap": "outerHTML",
            }
        )
        self.chosen_program = self._chosen_program(programs)
        if self.chosen_program is not None:
            self.fields.update(custom_fields_for(self.chosen_program))

    def _chosen_program(self, programs: Any) -> Program | None:
        raw = self.data.get("program") if self.is_bound else self.initial.get("program")
        programs = programs.prefetch_related("custom_fields")
        if raw not in (None, ""):
            try:
                return programs.filter(pk=int(raw)).first()
            except (TypeError, ValueError):
                return None
        # Unbound: show the first program's questions straight away.
        return None if self.is_bound else programs.first()

    def custom_field_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith(CUSTOM_PREFIX)]

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.custom_field_names()]


class CustomerInformationForm(PersonForm):
    birthday = forms.DateField(
        required=False, label=_("Birthday"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_birthday(self) -> datetime.date | None:
        birthday = self.cleaned_data.get("birthday")
        if (
            birthday is not None
            and not datetime.date(1900, 1, 1) <= birthday <= datetime.date.today()
        ):
            raise forms.ValidationError(_("Enter a birthday between 1900 and today."))
        return birthday


class IssueCardForm(forms.Form):
    """A new customer at the counter, who gets a card of this program."""

    first_name = forms.CharField(
        max_length=80,
        label=_("First name"),
        error_messages={"required": _("Enter the customer's first name.")},
    )
    last_name = forms.CharField(max_length=80, required=False, label=_("Last name"))
    email = forms.EmailField(
        required=False,
        label=_("Email"),
        error_messages={"invalid": _("Enter a valid email address.")},
    )
    phone = forms.CharField(max_length=32, required=False, label=_("Phone"))


# ---------------------------------------------------------------------------------------------
# The public join page


class JoinForm(forms.Form):
    """A program's public join form: the person, then the program's custom fields.

    The email is required: it is how a customer gets their card's link back on another phone.
    """

    first_name = forms.CharField(
        max_length=80,
        label=_("First name"),
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        max_length=80,
        required=False,
        label=_("Last name"),
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        max_length=254,
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        max_length=40,
        required=False,
        label=_("Phone"),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.program = program
        self.fields.update(custom_fields_for(program))

    def service_inputs(self) -> dict[str, Any]:
        """The keyword arguments of ``customers.services.customer_join`` this form provides."""
        data = self.cleaned_data
        return {
            "first_name": data["first_name"],
            "last_name": data.get("last_name", ""),
            "email": data["email"],
            "phone": data.get("phone", ""),
            "custom_fields": custom_values(data, self.program),
        }


# ---------------------------------------------------------------------------------------------
# The list's search and filters


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label=_("Search"))
    # PlainSelect: the list renders on every search keystroke; see loyalty.widgets.
    program = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, widget=PlainSelect
    )
    status = forms.ChoiceField(required=False, widget=PlainSelect)
    segment = forms.ChoiceField(required=False, widget=PlainSelect)
    device = forms.ChoiceField(required=False, widget=PlainSelect)
    page = forms.IntegerField(required=False, min_value=1)
    # Sent by the Search button alone (the live search leaves it out): the form was submitted.
    go = forms.BooleanField(required=False)

    def __init__(self, *args: Any, merchant: Merchant, **kwargs: Any) -> None:
        # Its own ids: the "Add customer" dialog opens on the same page with a program field.
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)

        choices: dict[str, list[tuple[Any, StrOrPromise]]] = {
            "program": [("", _("All programs"))]
            + [(p.pk, p.name) for p in program_choices(merchant=merchant)],
            "status": [("", _("Any status")), *CardStatus.choices],
            "segment": [("", _("All segments")), *Segment.choices],
            "device": [("", _("Any device")), *device_choices()],
        }
        for name, options in choices.items():
            cast(forms.ChoiceField, self.fields[name]).choices = options

    def _value(self, name: str) -> Any:
        # A bad filter value is ignored (that filter is off) rather than an error page.
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get(name)

    @property
    def query(self) -> str:
        return (self._value("q") or "").strip()

    @property
    def submitted(self) -> bool:
        """Search pressed, or Enter (a barcode scanner's last key), rather than typing."""
        return bool(self._value("go"))

    @property
    def page_number(self) -> int:
        return self._value("page") or 1

    def filters(self) -> CustomerFilters:
        return CustomerFilters(
            program=self._value("program"),
            status=self._value("status") or "",
            segment=self._value("segment") or "",
            device=self._value("device") or "",
        )


# ---------------------------------------------------------------------------------------------
# Segment thresholds (Settings)


def _band_field(label: StrOrPromise, invalid: StrOrPromise) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        error_messages={"required": _("Enter a number."), "invalid": invalid},
        widget=forms.NumberInput(attrs={"min": 1, "inputmode": "numeric"}),
    )


class SegmentBandsForm(forms.Form):
    """The grid's thresholds. The service checks they increase (so the preview can too)."""

    recency_band_1 = _band_field(_("Recent: up to (days)"), WHOLE_DAYS)
    recency_band_2 = _band_field(_("Then up to (days)"), WHOLE_DAYS)
    recency_band_3 = _band_field(_("Then up to (days), Lost after"), WHOLE_DAYS)
    frequency_band_1 = _band_field(_("Few visits: up to"), WHOLE_VISITS)
    frequency_band_2 = _band_field(_("Some visits: up to, many after"), WHOLE_VISITS)

    def raw_bands(self) -> dict[str, tuple[Any, ...]]:
        data = self.cleaned_data
        return {
            "recency": tuple(data.get(f"recency_band_{i}") for i in (1, 2, 3)),
            "frequency": tuple(data.get(f"frequency_band_{i}") for i in (1, 2)),
        }


# ---------------------------------------------------------------------------------------------
# Imports from a spreadsheet


class ImportUploadForm(forms.Form):
    program = forms.ModelChoiceField(
        queryset=Program.objects.none(),
        empty_label=None,
        label=_("Program"),
        help_text=_("Every imported customer gets a card of this program."),
    )
    file = forms.FileField(
        label=_("File"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )

    def __init__(self, *args: Any, merchant: Merchant, max_megabytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        program_field = cast(forms.ModelChoiceField, self.fields["program"])
        program_field.queryset = Program.objects.active().filter(merchant=merchant)
        self.fields["file"].help_text = _(
            "CSV (any delimiter and encoding) or Excel (.xlsx), one row per customer, "
            "up to %(size)s MB."
        ) % {"size": max_megabytes}


class ImportMappingForm(forms.Form):
    """One choice per column of the file: the field it goes to, or nothing."""

    def __init__(
        self, *args: Any, columns: list[str], mapping: list[str], fields: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        choices = [("", _("Ignore this column")), *fields]
        for index, label in enumerate(columns):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                choices=choices,
                required=False,
                label=label,
                initial=mapping[index] if index < len(mapping) else "",
            )
        self.width = len(columns)

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"column_{index}", "") for index in range(self.width)]


class ImportApplyForm(forms.Form):
    send_links = forms.BooleanField(
        required=False, label=_("Email each new customer the link to their card")
    )
    consent = forms.BooleanField(
        required=False,
        label=_("These customers agreed to receive emails from us about their loyalty card."),
    )
