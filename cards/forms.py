"""Forms of the cards app. Forms parse and present; the rules and services decide.

``custom_fields_for`` and ``custom_values`` turn a program's custom fields (``CustomField``) into
Django form fields and back into the strings stored on ``Customer.custom_fields``; the CRM's
registration forms and the public join page use them.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from cards.activity import DEFAULT_DAYS, MAX_DAYS, ActivityFilters, ActivityType
from cards.models import (
    MAX_REPEAT_GUARD_SECONDS,
    MAX_STAFF_REVERSE_MINUTES,
    REWARD_DESCRIPTION_MAX,
    CustomField,
    FieldType,
    Mechanism,
    Program,
    ProgramKind,
    Validity,
)
from cards.services import UTM_KEYS, ProgramSpec, TierSpec
from cards.services.programs import (
    MAX_DAILY_EARN_CAP,
    MAX_DAILY_PURCHASE_CAP,
    MAX_REFERRAL_CAP,
    PROGRAM_FIELDS,
)
from loyalty.models import Membership
from loyalty.widgets import ColorInput, PlainSelect

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

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
        return forms.DecimalField(max_digits=15, decimal_places=4, localize=True, **common)
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


def custom_field_display(program: Program, answers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, answer) for each of the program's custom fields, for the profile."""
    return [(f.label, str(answers.get(f.key, ""))) for f in _program_fields(program)]


def utm_from(data: Any) -> dict[str, str]:
    """The ``utm_*`` parameters a join link carried, each cut to what a card stores."""
    return {
        key: value[:100] for key in UTM_KEYS if (value := str(data.get(f"utm_{key}", "")).strip())
    }


# ---------------------------------------------------------------------------------------------
# Plus/minus dialogs on the profile


class LedgerDialogForm(forms.Form):
    """The fields of every plus/minus dialog: ``value``, ``purchase_amount``, ``comment``.

    The numbers stay text here on purpose: ``cards.rules`` parses and validates them, so the
    live preview and Apply give a merchant the very same messages. ``purchase`` is "optional"
    or "required" for a purchase amount field besides the value ("" or "value", where the value
    is the purchase amount: no such field); the rules enforce "required".
    """

    value = forms.CharField(required=False, max_length=32)
    purchase_amount = forms.CharField(required=False, max_length=32, label=_("Purchase amount"))
    comment = forms.CharField(
        required=False,
        label=_("Comment"),
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 500}),
    )
    # One per rendered dialog: a double click or a resent request makes one entry.
    idempotency_key = forms.CharField(
        max_length=64,
        widget=forms.HiddenInput,
        error_messages={"required": _("The form expired; reload the page and try again.")},
    )
    # The counter's guards: "apply again" after a double-scan warning, and an owner's or
    # admin's override of a daily cap (the comment says why).
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    override = forms.BooleanField(required=False, label=_("Override the daily cap"))

    def __init__(
        self,
        *args: Any,
        value_label: StrOrPromise,
        value_is_count: bool,
        purchase: str,
        purchase_help: StrOrPromise = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        value = self.fields["value"]
        value.label = value_label
        value.widget.attrs.update(
            {
                "inputmode": "numeric" if value_is_count else "decimal",
                "autocomplete": "off",
                "required": True,
                "autofocus": True,
            }
        )
        if purchase not in ("optional", "required"):
            del self.fields["purchase_amount"]
        else:
            field = self.fields["purchase_amount"]
            field.help_text = purchase_help
            field.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})
            if purchase == "required":
                field.widget.attrs["required"] = True

    def service_inputs(self) -> dict[str, str]:
        """What the service takes from the form (the raw text; the rules parse it)."""
        inputs = {"value": self.cleaned_data["value"], "comment": self.cleaned_data["comment"]}
        if "purchase_amount" in self.fields:
            inputs["purchase_amount"] = self.cleaned_data["purchase_amount"]
        return inputs


# ---------------------------------------------------------------------------------------------
# Profile: the card's expiration date


class ExpirationForm(forms.Form):
    """A new expiration date; empty means the card never expires. A past date is allowed."""

    expires_on = forms.DateField(
        required=False,
        label=_("Card expiration date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Leave empty for a card that never expires."),
    )

    def clean_expires_on(self) -> datetime.date | None:
        value = self.cleaned_data.get("expires_on")
        earliest, latest = datetime.date(2000, 1, 1), datetime.date(2199, 12, 31)
        if value is not None and not earliest <= value <= latest:
            raise forms.ValidationError(_("Enter a date between 2000 and 2199."))
        return value


# ---------------------------------------------------------------------------------------------
# Settings: programs, their tiers and the join form's custom fields
#
# These forms only parse what was typed; ``cards.services.program_check`` decides what is
# allowed (and says so in words a merchant understands).

_NUMBER = _("Enter a number, for example 10 or 2.50.")


def _decimal(label: StrOrPromise, help_text: StrOrPromise = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        help_text=help_text,
        error_messages={"invalid": _NUMBER},
        # Typed and shown with the language's decimal separator ("2,50" in Spanish and German).
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _whole(
    label: StrOrPromise, help_text: StrOrPromise = "", *, low: int = 1, high: int | None = None
) -> forms.IntegerField:
    # min and max only hint the browser's spinner (the form is novalidate): the service checks.
    attrs: dict[str, Any] = {"min": low, "inputmode": "numeric"}
    if high is not None:
        attrs["max"] = high
    return forms.IntegerField(
        label=label,
        required=False,
        help_text=help_text,
        error_messages={"invalid": _("Enter a whole number.")},
        widget=forms.NumberInput(attrs=attrs),
    )


class ProgramForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        error_messages={
            "required": _("Enter a name for the program, e.g. Coffee card."),
            "max_length": _("Keep the name under 120 characters."),
        },
    )
    kind = forms.ChoiceField(
        label=_("Kind of card"),
        choices=ProgramKind.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a stamp card or a cashback card."),
            "invalid_choice": _("Choose a stamp card or a cashback card."),
        },
    )
    mechanism = forms.ChoiceField(
        label=_("Customers earn stamps"),
        choices=Mechanism.choices,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose per amount spent or per visit.")},
    )
    spend_per_stamp = _decimal(
        _("Spend per stamp"),
        _("A purchase of this amount earns one stamp (amounts are rounded down)."),
    )
    stamps_per_visit = _whole(_("Stamps per visit"), _("Every purchase earns this many stamps."))
    stamps_per_reward = _whole(_("Stamps per reward"), _("This many stamps turn into one reward."))
    # The page's label adds the merchant's currency ("Cost of one reward (EUR)").
    reward_cost = _decimal(
        _("Cost of one reward"),
        _(
            "What one reward costs you, for the return on investment on your home page. Leave 0 "
            "if you do not want to count it."
        ),
    )
    referral_bonus = _decimal(
        _("Referral bonus"),
        _(
            "Given to a customer when a friend who joined through their referral link makes a "
            "first purchase: stamps on a stamp card (whole numbers), points on a cashback card. "
            "0 for none."
        ),
    )
    referral_cap = forms.IntegerField(
        label=_("Referral bonuses per month"),
        required=False,
        help_text=_(
            "The most referral bonuses one card earns in a calendar month; further friends earn "
            "the card nothing. 0 turns referral bonuses off."
        ),
        error_messages={"invalid": _("Enter a whole number.")},
        widget=forms.NumberInput(attrs={"min": 0, "max": MAX_REFERRAL_CAP, "inputmode": "numeric"}),
    )
    welcome_bonus = _decimal(
        _("Welcome bonus"), _("Given once to every new card: stamps or points. 0 for none.")
    )
    # At the counter. An emptied guard keeps the saved value (as the referral cap does); an
    # emptied cap means no cap, which is what a blank cap says.
    repeat_guard_seconds = _whole(
        _("Ask before applying the same action twice within (seconds)"),
        _(
            "When the same card gets the same action again this soon (a double scan, a double "
            "tap), staff are asked to confirm before it counts. 0 never asks."
        ),
        low=0,
        high=MAX_REPEAT_GUARD_SECONDS,
    )
    daily_earn_cap = _whole(
        _("Most stamps or points a card can earn per day (empty: no cap)"),
        _(
            "Stamps on a stamp card, points on a cashback card, counted from midnight in your "
            "time zone. Past it the counter refuses; an owner or admin may go past it with a "
            "comment."
        ),
        high=MAX_DAILY_EARN_CAP,
    )
    daily_purchase_cap = _whole(
        _("Most purchases per card per day (empty: no cap)"),
        _(
            "Counted from midnight in your time zone. Past it the counter refuses; an owner or "
            "admin may go past it with a comment."
        ),
        high=MAX_DAILY_PURCHASE_CAP,
    )
    staff_reverse_minutes = _whole(
        _("Staff may reverse their own entries for (minutes)"),
        _(
            "How long after writing an entry staff may still reverse it. Owners and admins may "
            "reverse any entry at any time. 0: staff cannot reverse entries."
        ),
        low=0,
        high=MAX_STAFF_REVERSE_MINUTES,
    )
    validity = forms.ChoiceField(
        label=_("New cards"),
        choices=Validity.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how long new cards stay valid.")},
    )
    valid_until = forms.DateField(
        label=_("Expiry date"),
        required=False,
        error_messages={"invalid": _("Enter a date such as 2027-12-31.")},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    valid_days = _whole(
        _("Days after issue"), _("A card issued today expires this many days later.")
    )
    background_color = forms.CharField(
        label=_("Background colour"),
        max_length=7,
        widget=ColorInput(),
    )
    foreground_color = forms.CharField(
        label=_("Text colour"),
        max_length=7,
        widget=ColorInput(),
    )
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_("PNG, JPEG, GIF or WebP, up to 1 MB; shown on the card."),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)
    reward_description = forms.CharField(
        label=_("The reward"),
        required=False,
        max_length=REWARD_DESCRIPTION_MAX,
        help_text=_(
            "What a reward is, in a few words: a free coffee, a cake of your choice. Shown "
            "on the join page, the customer's card and wallet passes."
        ),
        error_messages={"max_length": _("Keep the reward under 100 characters.")},
        widget=forms.TextInput(attrs={"placeholder": _("e.g. a free coffee")}),
    )
    privacy_url = forms.URLField(
        label=_("Privacy notice (link)"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=_(
            "The page where you say how you handle customers' data, linked from the join form."
        ),
        error_messages={
            "invalid": _("Enter the full address of your privacy notice, starting with https://.")
        },
    )

    def __init__(self, *args: Any, kind_locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kind_locked:
            # Shown, not editable: the service refuses the change anyway.
            kind = self.fields["kind"]
            kind.disabled = True
            kind.help_text = _("This program has issued cards, so its kind cannot change.")

    @classmethod
    def initial_for(cls, program: Program | None, kind: str = "") -> dict[str, Any]:
        if program is None:
            return {
                "kind": kind if kind in ProgramKind.values else ProgramKind.STAMP,
                "mechanism": Mechanism.SPEND,
                "stamps_per_visit": 1,
                "stamps_per_reward": 10,
                "referral_bonus": 0,
                "referral_cap": Program._meta.get_field("referral_cap").default,
                "welcome_bonus": 0,
                "reward_cost": 0,
                "repeat_guard_seconds": Program._meta.get_field("repeat_guard_seconds").default,
                "staff_reverse_minutes": Program._meta.get_field("staff_reverse_minutes").default,
                "validity": Validity.NONE,
                "background_color": "#5b3a29",
                "foreground_color": "#ffffff",
            }
        initial = {name: getattr(program, name) for name in PROGRAM_FIELDS}
        if program.is_stamp:
            for name in ("referral_bonus", "welcome_bonus"):
                initial[name] = int(initial[name])
        return initial

    def spec(self, tiers: tuple[TierSpec, ...]) -> ProgramSpec:
        data = self.cleaned_data
        return ProgramSpec(
            name=data.get("name") or "",
            kind=data.get("kind") or "",
            mechanism=data.get("mechanism") or "",
            spend_per_stamp=data.get("spend_per_stamp"),
            stamps_per_visit=data.get("stamps_per_visit"),
            stamps_per_reward=data.get("stamps_per_reward"),
            tiers=tiers,
            referral_bonus=data.get("referral_bonus"),
            referral_cap=data.get("referral_cap"),
            welcome_bonus=data.get("welcome_bonus"),
            # An emptied field means no cost (None would keep the saved one).
            reward_cost=data.get("reward_cost") or Decimal(0),
            repeat_guard_seconds=data.get("repeat_guard_seconds"),
            staff_reverse_minutes=data.get("staff_reverse_minutes"),
            daily_earn_cap=data.get("daily_earn_cap"),
            daily_purchase_cap=data.get("daily_purchase_cap"),
            validity=data.get("validity") or "",
            valid_until=data.get("valid_until"),
            valid_days=data.get("valid_days"),
            background_color=data.get("background_color") or "",
            foreground_color=data.get("foreground_color") or "",
            reward_description=data.get("reward_description") or "",
            privacy_url=data.get("privacy_url") or "",
        )


class TierForm(forms.Form):
    name = forms.CharField(
        required=False,
        max_length=60,
        error_messages={"max_length": _("Keep the name under 60 characters.")},
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. Silver"), "aria-label": _("Tier name")}
        ),
    )
    threshold = forms.DecimalField(
        required=False,
        error_messages={"invalid": _("Enter an amount, for example 500.")},
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "aria-label": _("Spend threshold")}),
    )
    percentage = forms.DecimalField(
        required=False,
        error_messages={"invalid": _("Enter a percentage, for example 5 or 7.5.")},
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "aria-label": _("Cashback %")}),
    )

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not (data.get("name") or "").strip() and all(
            data.get(name) is None for name in ("threshold", "percentage")
        )


TierFormSet = forms.formset_factory(TierForm, extra=1, can_delete=True, max_num=20)


def tier_formset(data: Any = None, *, program: Program | None) -> forms.BaseFormSet:
    """The tier rows: the program's tiers (or a starting set), plus one blank row."""
    if program is not None and program.pk is not None:
        initial = [
            {"name": t.name, "threshold": t.threshold, "percentage": t.percentage}
            for t in program.tiers.all()
        ]
    else:
        initial = [{"threshold": 0}]
    return TierFormSet(data, initial=initial, prefix="tiers")


def tier_specs(formset: forms.BaseFormSet) -> tuple[TierSpec, ...]:
    """The rows in the order typed: blank and removed rows left out."""
    return tuple(
        TierSpec(
            name=form.cleaned_data.get("name") or "",
            threshold=form.cleaned_data.get("threshold"),
            percentage=form.cleaned_data.get("percentage"),
        )
        for form in formset.forms
        if not form.cleaned_data.get("DELETE") and not form.is_blank()
    )


class CustomFieldForm(forms.Form):
    label = forms.CharField(
        label=_("Question"),
        max_length=80,
        error_messages={
            "required": _("Enter the question customers see, e.g. Favourite drink."),
            "max_length": _("Keep the label under 80 characters."),
        },
    )
    field_type = forms.ChoiceField(
        label=_("Answer type"),
        choices=FieldType.choices,
        initial=FieldType.TEXT,
        error_messages={"invalid_choice": _("Choose text, number, date or choice.")},
    )
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = forms.CharField(
        label=_("Options (one per line, for a choice)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["field_type"].disabled = True
            self.fields["field_type"].help_text = _(
                "Answers already collected keep their type; to ask differently, remove the "
                "field and add a new one."
            )

    @classmethod
    def initial_for(cls, field: CustomField) -> dict[str, Any]:
        return {
            "label": field.label,
            "field_type": field.field_type,
            "required": field.required,
            "choices": "\n".join(field.choices or []),
        }

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("choices", "").splitlines()]


# ---------------------------------------------------------------------------------------------
# History: reversing one entry


class ReversalForm(forms.Form):
    """Why an entry is reversed (required; the service checks it again) and the dialog's key."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        error_messages={"required": _("Say why this entry is reversed.")},
        widget=forms.TextInput(
            attrs={
                "list": "reversal-reasons",
                "autocomplete": "off",
                "autofocus": True,
                "required": True,
            }
        ),
    )
    idempotency_key = forms.CharField(
        max_length=64,
        widget=forms.HiddenInput,
        error_messages={"required": _("The form expired; reload the page and try again.")},
    )


# ---------------------------------------------------------------------------------------------
# The team's activity: its filters


def _date_field(label: StrOrPromise) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class ActivityFilterForm(forms.Form):
    """The page's filters. A bad value switches its filter off rather than failing the page.

    The members to choose from are this merchant's: another merchant's member is refused like
    any bad value, and the reads are scoped to ``request.merchant`` whatever the filter says.
    """

    member = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label=_("Member"),
        widget=PlainSelect,
    )
    start = _date_field(_("From"))
    end = _date_field(_("To"))
    type = forms.ChoiceField(
        required=False,
        choices=ActivityType.choices,
        label=_("Type"),
        widget=PlainSelect,
    )
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(
        self, *args: Any, members: list[Membership], today: datetime.date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        member = cast(forms.TypedChoiceField, self.fields["member"])
        member.choices = [("", _("All members"))] + [
            (m.user_id, m.user.get_username()) for m in members
        ]

    def _default_period(self) -> tuple[datetime.date, datetime.date]:
        return self.today - datetime.timedelta(days=DEFAULT_DAYS - 1), self.today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        # A day left empty: the period runs to today, or over the seven days up to its end.
        if end is None:
            end = max(self.today, start) if start else self.today
        if start is None:
            start = end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("end", _("The last day must be on or after the first day."))
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("start", _("Choose at most %(days)s days.") % {"days": MAX_DAYS})
        else:
            data["period"] = (start, end)
        return data

    def filters(self) -> ActivityFilters:
        """The filters asked for; days refused fall back to the last seven days."""
        self.is_valid()
        data = self.cleaned_data
        start, end = data.get("period") or self._default_period()
        # Days left empty show the days the page covers (days refused stay as typed, with why).
        shown = {name: self.data.get(name) for name in self.fields}
        for name, day in (("start", start), ("end", end)):
            shown[name] = shown[name] or day.isoformat()
        self.data = shown
        return ActivityFilters(
            start=start, end=end, member=data.get("member"), kind=data.get("type") or ""
        )

    @property
    def page_number(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("page") or 1
