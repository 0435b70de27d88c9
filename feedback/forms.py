"""Forms for feedback: the customer's rating on the card page and the merchant's tab filters."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from feedback.selectors import DateRange, Period, period_range
from feedback.services import MAX_COMMENT


def star_choices() -> list[tuple[str, str]]:
    """5 to 1 stars, named in the language of the request (a callable: read when rendered)."""
    return [
        (str(n), ngettext("%(count)d star", "%(count)d stars", n) % {"count": n})
        for n in range(5, 0, -1)
    ]


class FeedbackForm(forms.Form):
    """Fields ``rating`` (1-5) and an optional ``comment``; the service has the last word."""

    rating = forms.TypedChoiceField(
        choices=star_choices,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose from 1 to 5 stars.")},
    )
    comment = forms.CharField(
        required=False,
        max_length=MAX_COMMENT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": MAX_COMMENT}),
        label=_("What could we do better? (optional)"),
    )


class FeedbackFilterForm(forms.Form):
    """The Feedback tab's filters. Invalid input falls back to "All time" rather than failing:
    these are bookmarkable GET parameters."""

    period = forms.ChoiceField(choices=Period.choices, required=False, widget=forms.RadioSelect)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    comments = forms.BooleanField(required=False, label=_("Only comments"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", gettext("The end date is before the start date."))
        if (start or end) and not data.get("period"):
            data["period"] = Period.CUSTOM
        return data

    def date_range(self, *, today: datetime.date) -> DateRange:
        """The local dates to show; the whole history when the form is invalid."""
        if not self.is_valid():
            return DateRange(None, None)
        period = self.cleaned_data.get("period") or Period.ALL
        if period == Period.CUSTOM:
            return DateRange(self.cleaned_data.get("start"), self.cleaned_data.get("end"))
        return period_range(period, today=today)

    @property
    def chosen_period(self) -> str:
        if not self.is_valid():
            return Period.ALL
        return self.cleaned_data.get("period") or Period.ALL

    @property
    def only_comments(self) -> bool:
        return self.is_valid() and bool(self.cleaned_data.get("comments"))
