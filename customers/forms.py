"""Forms of the CRM. Forms parse and present; the services decide.

``custom_fields_for`` and ``custom_values`` turn a program's custom fields (cards.CustomField)
into Django form fields and back into the strings stored on ``Customer.custom_fields``; the
dashboard's "Add customer" form and the public join page both use them.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.urls import reverse

from cards.models import CardStatus, CustomField, FieldType, Program
from customers.models import Customer, Segment
from customers.selectors import CustomerFilters, device_choices, program_choices
from loyalty.models import Merchant

CUSTOM_PREFIX = "custom_"
TEXT_MAX_LENGTH = 200


def custom_field_name(key: str) -> str:
    """The form field name of a custom field (prefixed so it never shadows ``email`` & co)."""
    return f"{CUSTOM_PREFIX}{key}"


def _choice_pairs(raw: Any) -> list[tuple[str, str]]:
    pairs = []
    for item in raw or []:
        if isinstance(item, dict):
            value = str(item.get("value", item.get("label", "")))
            pairs.append((value, str(item.get("label", value))))
        else:
            pairs.append((str(item), str(item)))
    return [(value, label) for value, label in pairs if value]


def _form_field(field: CustomField) -> forms.Field:
    common: dict[str, Any] = {"label": field.label, "required": field.required}
    if field.field_type == FieldType.NUMBER:
        return forms.DecimalField(max_digits=15, decimal_places=4, **common)
    if field.field_type == FieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if field.field_type == FieldType.CHOICE:
        choices = [("", "---------"), *_choice_pairs(field.choices)]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=TEXT_MAX_LENGTH, strip=True, **common)


def _program_fields(program: Program) -> list[CustomField]:
    # Use a prefetched list when the caller has one; otherwise one query.
    return sorted(program.custom_fields.all(), key=lambda f: (f.position, f.pk))


def custom_fields_for(program: Program) -> dict[str, forms.Field]:
    """Form fields for the program's custom fields, in order, named ``custom_<key>``."""
    return {custom_field_name(f.key): _form_field(f) for f in _program_fields(program)}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def custom_values(cleaned_data: dict[str, Any], program: Program) -> dict[str, str]:
    """The answers as JSON-storable strings keyed by ``CustomField.key``; blanks are left out."""
    values = {}
    for field in _program_fields(program):
        text = _as_text(cleaned_data.get(custom_field_name(field.key)))
        if text:
            values[field.key] = text
    return values


def custom_field_display(program: Program, customer: Customer | None) -> list[tuple[str, str]]:
    """(label, answer) for each of the program's custom fields, for the profile."""
    answers = customer.custom_fields if customer is not None else {}
    return [(f.label, str(answers.get(f.key, ""))) for f in _program_fields(program)]


# ---------------------------------------------------------------------------------------------
# Customers


class PersonForm(forms.Form):
    first_name = forms.CharField(max_length=80)
    last_name = forms.CharField(max_length=80, required=False)
    email = forms.EmailField(required=False, max_length=254)
    phone = forms.CharField(
        max_length=40,
        required=False,
        help_text="Any format; saved as an international number (E.164).",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )


class CustomerAddForm(PersonForm):
    """Walk-in registration: person, program, then that program's custom fields."""

    program = forms.ModelChoiceField(queryset=Program.objects.none(), empty_label=None)

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
    birthday = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_birthday(self) -> datetime.date | None:
        birthday = self.cleaned_data.get("birthday")
        if (
            birthday is not None
            and not datetime.date(1900, 1, 1) <= birthday <= datetime.date.today()
        ):
            raise forms.ValidationError("Enter a birthday between 1900 and today.")
        return birthday


# ---------------------------------------------------------------------------------------------
# The list's search and filters


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    program = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False)
    segment = forms.ChoiceField(required=False)
    device = forms.ChoiceField(required=False)
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, merchant: Merchant, **kwargs: Any) -> None:
        # Its own ids: the "Add customer" dialog opens on the same page with a program field.
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)

        choices: dict[str, list[tuple[Any, str]]] = {
            "program": [("", "All programs")]
            + [(p.pk, p.name) for p in program_choices(merchant=merchant)],
            "status": [("", "Any status"), *CardStatus.choices],
            "segment": [("", "All segments"), *Segment.choices],
            "device": [("", "Any device"), *device_choices()],
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

    def raw_bands(self) -> dict[str, tuple[Any, ...]]:
        data = self.cleaned_data
        return {
            "recency": tuple(data.get(f"recency_band_{i}") for i in (1, 2, 3)),
            "frequency": tuple(data.get(f"frequency_band_{i}") for i in (1, 2)),
        }
