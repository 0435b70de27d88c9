"""The home page's filter: a period (a preset or custom dates) and a program, read from GET.

The form never refuses the page: dates that make no period show their error on the form while
the figures fall back to the default period. A program that is not one of the merchant's
programs (archived ones included: their history still counts) is not a choice at all; the
view answers it with a 404, as for any object of another merchant.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from analytics.periods import CUSTOM, DEFAULT_PRESET, PRESETS, Period, period_resolve
from cards.models import Program
from loyalty.http import add_service_errors
from loyalty.widgets import PlainSelect

PRESET_LABELS = {
    "today": _("Today"),
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
    "90d": _("Last 90 days"),
    "12m": _("Last 12 months"),
    CUSTOM: _("Custom"),
}


class DateInput(forms.DateInput):
    input_type = "date"


class HomeFilterForm(forms.Form):
    # The preset buttons send ``period``; custom dates come with ``period=custom``.
    period = forms.CharField(required=False)
    start = forms.CharField(required=False, label=_("From"), widget=DateInput())
    end = forms.CharField(required=False, label=_("To"), widget=DateInput())
    program = forms.ChoiceField(required=False, label=_("Program"), widget=PlainSelect())

    def __init__(
        self,
        data: Any,
        *,
        programs: Sequence[Program],
        today: datetime.date,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        self.today = today
        self.resolved: Period | None = None
        self.all_programs = list(programs)
        program_field = self.fields["program"]
        assert isinstance(program_field, forms.ChoiceField)
        program_field.choices = [("", _("All programs"))] + [
            (str(program.pk), _program_label(program)) for program in self.all_programs
        ]
        self.fields["start"].widget.attrs["max"] = today.isoformat()
        self.fields["end"].widget.attrs["max"] = today.isoformat()

    def clean_period(self) -> str:
        preset = self.cleaned_data.get("period") or ""
        if not preset and (self.data.get("start") or self.data.get("end")):
            return CUSTOM  # dates typed and Enter pressed: they are the period
        return preset if preset in PRESETS else DEFAULT_PRESET

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.resolved = None
        try:
            self.resolved = period_resolve(
                preset=cleaned.get("period"),
                start=cleaned.get("start"),
                end=cleaned.get("end"),
                today=self.today,
            )
        except ValidationError as error:
            add_service_errors(self, error)
        return cleaned

    @property
    def preset(self) -> str:
        """The preset the merchant chose (the buttons show it), valid or not."""
        self.is_valid()
        return self.cleaned_data.get("period") or DEFAULT_PRESET

    @property
    def chosen_period(self) -> Period:
        """The chosen period, or the default one when the dates make none."""
        self.is_valid()
        if self.resolved is not None:
            return self.resolved
        return period_resolve(preset=DEFAULT_PRESET, start=None, end=None, today=self.today)

    @property
    def unknown_program(self) -> bool:
        """A program id that is none of the merchant's programs (the view's 404)."""
        self.is_valid()
        return "program" in self.errors

    @property
    def programs(self) -> list[Program]:
        """The programs the figures cover: the one chosen, or all of them."""
        self.is_valid()
        chosen = self.cleaned_data.get("program")
        if chosen:
            return [program for program in self.all_programs if str(program.pk) == chosen]
        return self.all_programs

    @property
    def chosen_program(self) -> Program | None:
        """The one program chosen, None for all of them."""
        self.is_valid()
        return self.programs[0] if self.cleaned_data.get("program") else None

    @property
    def dates_error(self) -> bool:
        """The custom dates make no period: the page shows the default one instead."""
        self.is_valid()
        return self.resolved is None


def _program_label(program: Program) -> str:
    # An archived program issues no more cards, but its history is still the merchant's.
    if program.archived_at is not None:
        return _("%(name)s (archived)") % {"name": program.name}
    return program.name
