"""Programs (card templates) and their rules and tiers: creating, checking, editing, archiving.

The logo and colour checks live in ``logos``, the join form's questions in ``custom_fields``.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, get_currency_precision
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Field
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards import rules
from cards.models import (
    MAX_REPEAT_GUARD_SECONDS,
    MAX_STAFF_REVERSE_MINUTES,
    PRIVACY_URL_MAX,
    REWARD_DESCRIPTION_MAX,
    Mechanism,
    Program,
    ProgramKind,
    Tier,
    Validity,
)
from cards.services.logos import (
    contrast_ratio,
    logo_clean,
    logo_delete_on_commit,
    logo_store,
)
from cards.signals import program_changed
from loyalty import clock
from loyalty.actors import Actor
from loyalty.audit import audit_record
from loyalty.i18n import format_money
from loyalty.models import AuditAction, Merchant

# ---------------------------------------------------------------------------------------------
# Programs: creating, editing and archiving card templates and their rules (settings)
#
# A rule change applies to later entries only: every ledger entry stores its own deltas (and
# cashback entries the tier in force), so nothing here touches an existing entry or balance.

MAX_TIERS = 10
MAX_BONUS_STAMPS = 1000
MAX_VALID_DAYS = 3650
MAX_STAMPS_PER_VISIT = 100
MAX_STAMPS_PER_REWARD = 100
MAX_REFERRAL_CAP = 1000  # the column's validator agrees
# The daily caps per card. Far above any real day at a counter, and within the columns: the
# earning cap counts points too, so it stops where an amount does (rules.MAX_AMOUNT).
MAX_DAILY_EARN_CAP = int(rules.MAX_AMOUNT)
MAX_DAILY_PURCHASE_CAP = 1000
# The largest purchase a spend rule must turn into stamps without reaching the per-entry limit
# (rules.MAX_STAMPS_PER_ENTRY): a spend per stamp below LARGE_PURCHASE / that limit (0.10)
# would refuse ordinary purchases. Per visit, at most MAX_STAMPS_PER_VISIT (100), is always
# under the limit.
LARGE_PURCHASE = Decimal("1000.00")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
ProgramErrors = dict[str, list[str]]
# How an amount of money reads in a message: in the merchant's currency (``_money_writer``).
Money = Callable[[Decimal], str]


class Unchanged(enum.Enum):
    """A setting a spec leaves alone, where ``None`` is a value of its own (a cap: no cap)."""

    KEEP = "keep"


@dataclass(frozen=True)
class TierSpec:
    name: str
    threshold: Decimal | None
    percentage: Decimal | None


@dataclass(frozen=True)
class ProgramSpec:
    """Everything a merchant sets on a program, as parsed by the form (not yet validated)."""

    name: str
    kind: str
    mechanism: str = Mechanism.SPEND
    spend_per_stamp: Decimal | None = None
    stamps_per_visit: int | None = 1
    stamps_per_reward: int | None = 10
    tiers: tuple[TierSpec, ...] = ()
    referral_bonus: Decimal | None = None
    welcome_bonus: Decimal | None = None
    # None: unchanged on an edit, the default (10) on a new program.
    referral_cap: int | None = None
    # What one reward costs the merchant (stamp cards only). None: unchanged on an edit, 0 on a
    # new program.
    reward_cost: Decimal | None = None
    # The counter's guards (seconds, minutes). None: unchanged on an edit, the column's default
    # (60 seconds, 15 minutes) on a new program.
    repeat_guard_seconds: int | None = None
    staff_reverse_minutes: int | None = None
    # The daily caps per card; None is no cap, so leaving one alone takes a marker of its own
    # (callers that never show the caps must not clear them). KEEP: no cap on a new program.
    daily_earn_cap: int | Unchanged | None = Unchanged.KEEP
    daily_purchase_cap: int | Unchanged | None = Unchanged.KEEP
    validity: str = Validity.NONE
    valid_until: datetime.date | None = None
    valid_days: int | None = None
    background_color: str = "#5b3a29"
    foreground_color: str = "#ffffff"
    # What one reward is ("a free coffee") and the merchant's privacy notice, linked from the
    # join form. None: unchanged on an edit, empty on a new program.
    reward_description: str | None = None
    privacy_url: str | None = None


def _add(errors: ProgramErrors, field_name: str, message: str) -> None:
    errors.setdefault(field_name, []).append(message)


def _number(value: Decimal | int) -> str:
    """A limit in a message, written the active language's way (1,000,000.00 / 1.000.000,00)."""
    return number_format(value, force_grouping=True)


def _money_writer(merchant: Merchant) -> Money:
    """Money in a message, in the merchant's currency (``$0.10``, ``1.000 ¥``). A limit finer
    than the currency's smallest unit keeps its decimals (``¥0.01``, not ``¥0``)."""
    currency = merchant.currency
    digits = get_currency_precision(currency)

    def write(value: Decimal) -> str:
        if value == round(value, digits):
            return format_money(value, currency)
        locale = translation.to_locale(translation.get_language() or "en")
        return format_currency(value, currency, locale=locale, currency_digits=False)

    return write


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


# The subjects of the amount checks' messages.
_AMOUNT_LABELS = {
    # Translators: the subject of "%(label)s must be at least %(low)s." and similar messages.
    "spend_per_stamp": gettext_lazy("The spend per stamp"),
    "referral_bonus": gettext_lazy("The referral bonus"),
    "welcome_bonus": gettext_lazy("The welcome bonus"),
    "reward_cost": gettext_lazy("The cost of one reward"),
}


def _check_money(
    errors: ProgramErrors,
    field_name: str,
    value: Decimal | None,
    *,
    low: Decimal,
    write: Money = _number,
) -> None:
    """Two decimals within ``low`` and the most an amount may be; ``write`` says the limits
    (money in the merchant's currency; points as plain numbers)."""
    if value is None:
        return
    label = _AMOUNT_LABELS[field_name]
    if _decimal_places(value.normalize()) > 2:
        _add(errors, field_name, _("%(label)s: use at most 2 decimal places.") % {"label": label})
    elif value < low:
        _add(
            errors,
            field_name,
            _("%(label)s must be at least %(low)s.") % {"label": label, "low": write(low)},
        )
    elif value > rules.MAX_AMOUNT:
        _add(
            errors,
            field_name,
            _("%(label)s can be at most %(high)s.")
            % {"label": label, "high": write(rules.MAX_AMOUNT)},
        )


def _check_stamp_rules(spec: ProgramSpec, errors: ProgramErrors, money: Money) -> None:
    if spec.mechanism not in Mechanism.values:
        _add(
            errors,
            "mechanism",
            _("Choose how stamps are earned: per amount spent or per visit."),
        )
    elif spec.mechanism == Mechanism.SPEND:
        if spec.spend_per_stamp is None:
            _add(
                errors,
                "spend_per_stamp",
                _("Enter the amount a customer spends to earn a stamp."),
            )
        else:
            _check_money(
                errors,
                "spend_per_stamp",
                spec.spend_per_stamp,
                low=Decimal("0.01"),
                write=money,
            )
            if "spend_per_stamp" not in errors:
                _check_stamps_per_purchase(spec.spend_per_stamp, errors, money)
    elif spec.stamps_per_visit is None:
        _add(errors, "stamps_per_visit", _("Enter how many stamps a visit earns."))
    elif not 1 <= spec.stamps_per_visit <= MAX_STAMPS_PER_VISIT:
        _add(
            errors,
            "stamps_per_visit",
            _("A visit earns 1 to %(max)s stamps.") % {"max": MAX_STAMPS_PER_VISIT},
        )
    if spec.stamps_per_reward is None:
        _add(errors, "stamps_per_reward", _("Enter how many stamps make a reward."))
    elif not 1 <= spec.stamps_per_reward <= MAX_STAMPS_PER_REWARD:
        _add(
            errors,
            "stamps_per_reward",
            _("A reward takes 1 to %(max)s stamps.") % {"max": MAX_STAMPS_PER_REWARD},
        )
    _check_reward_cost(spec.reward_cost, errors, money)


def _check_reward_cost(value: Decimal | None, errors: ProgramErrors, money: Money) -> None:
    if value is not None and value < 0:
        _add(
            errors,
            "reward_cost",
            _("%(label)s cannot be negative. Enter 0 if you do not want to count it.")
            % {"label": _AMOUNT_LABELS["reward_cost"]},
        )
    else:
        _check_money(errors, "reward_cost", value, low=Decimal("0"), write=money)


def _check_stamps_per_purchase(spend: Decimal, errors: ProgramErrors, money: Money) -> None:
    """One large purchase must not earn more stamps than one entry can hold."""
    lowest = rules.money(LARGE_PURCHASE / rules.MAX_STAMPS_PER_ENTRY)
    if spend < lowest:
        _add(
            errors,
            "spend_per_stamp",
            _(
                "At %(spend)s per stamp, a purchase of %(amount)s would earn more than the "
                "%(max)s stamps one purchase can earn. Use at least %(lowest)s per stamp."
            )
            % {
                "spend": money(spend),
                "amount": money(LARGE_PURCHASE),
                "max": _number(rules.MAX_STAMPS_PER_ENTRY),
                "lowest": money(lowest),
            },
        )


def _check_referral_cap(value: int | None, errors: ProgramErrors) -> None:
    if value is not None and not 0 <= value <= MAX_REFERRAL_CAP:
        _add(
            errors,
            "referral_cap",
            _("Enter between 0 and %(max)s referral bonuses a month.")
            % {"max": _number(MAX_REFERRAL_CAP)},
        )


def _check_counter_guards(spec: ProgramSpec, errors: ProgramErrors) -> None:
    """The double-scan guard and the staff's reversal window: 0 turns each off."""
    seconds = spec.repeat_guard_seconds
    if seconds is not None and not 0 <= seconds <= MAX_REPEAT_GUARD_SECONDS:
        _add(
            errors,
            "repeat_guard_seconds",
            _("Enter between 0 and %(max)s seconds (0 never asks).")
            % {"max": _number(MAX_REPEAT_GUARD_SECONDS)},
        )
    minutes = spec.staff_reverse_minutes
    if minutes is not None and not 0 <= minutes <= MAX_STAFF_REVERSE_MINUTES:
        _add(
            errors,
            "staff_reverse_minutes",
            _("Enter between 0 and %(max)s minutes (0: staff cannot reverse entries).")
            % {"max": _number(MAX_STAFF_REVERSE_MINUTES)},
        )


def _check_daily_caps(spec: ProgramSpec, errors: ProgramErrors) -> None:
    # A cap of 0 would refuse every purchase: "no cap" is an empty field, never 0.
    for field_name, value, high, message in (
        (
            "daily_earn_cap",
            spec.daily_earn_cap,
            MAX_DAILY_EARN_CAP,
            _(
                "Enter between 1 and %(max)s stamps or points a day, or leave the field empty "
                "for no cap."
            ),
        ),
        (
            "daily_purchase_cap",
            spec.daily_purchase_cap,
            MAX_DAILY_PURCHASE_CAP,
            _("Enter between 1 and %(max)s purchases a day, or leave the field empty for no cap."),
        ),
    ):
        if isinstance(value, int) and not 1 <= value <= high:
            _add(errors, field_name, message % {"max": _number(high)})


def _check_tiers(tiers: tuple[TierSpec, ...], errors: ProgramErrors, money: Money) -> None:
    """Names unique, thresholds strictly increasing from 0, percentages 0-100 (2 decimals)."""
    if not tiers:
        _add(errors, "tiers", _("Add at least one tier; the first starts at a threshold of 0."))
        return
    if len(tiers) > MAX_TIERS:
        _add(errors, "tiers", _("Use at most %(max)s tiers.") % {"max": MAX_TIERS})
    seen: set[str] = set()
    previous: Decimal | None = None
    for number, tier in enumerate(tiers, start=1):
        args: dict[str, Any] = {"number": number}
        name = tier.name.strip()
        if not name:
            # Translators: %(number)s is the tier's row number in the cashback tiers table.
            _add(errors, "tiers", _("Tier %(number)s: enter a name (for example Bronze).") % args)
        elif len(name) > 60:
            _add(errors, "tiers", _("Tier %(number)s: keep the name under 60 characters.") % args)
        elif name.casefold() in seen:
            _add(
                errors,
                "tiers",
                _("Tier %(number)s: another tier is already called %(name)s.")
                % {**args, "name": name},
            )
        seen.add(name.casefold())
        if tier.threshold is None:
            _add(errors, "tiers", _("Tier %(number)s: enter the spend threshold.") % args)
        elif _decimal_places(tier.threshold.normalize()) > 2:
            _add(
                errors,
                "tiers",
                _("Tier %(number)s: use at most 2 decimal places in the threshold.") % args,
            )
        elif number == 1 and tier.threshold != 0:
            _add(
                errors,
                "tiers",
                _("Tier 1 must start at a threshold of 0, where every card starts."),
            )
        elif tier.threshold < 0 or tier.threshold > rules.MAX_AMOUNT:
            _add(
                errors,
                "tiers",
                _("Tier %(number)s: the threshold must be between 0 and %(max)s.")
                % {**args, "max": money(rules.MAX_AMOUNT)},
            )
        elif previous is not None and tier.threshold <= previous:
            _add(
                errors,
                "tiers",
                _(
                    "Tier %(number)s: the threshold (%(threshold)s) must be higher than the tier "
                    "before it (%(previous)s); thresholds increase from tier to tier."
                )
                % {
                    **args,
                    "threshold": money(tier.threshold),
                    "previous": money(previous),
                },
            )
        if tier.threshold is not None:
            previous = tier.threshold
        if tier.percentage is None:
            _add(errors, "tiers", _("Tier %(number)s: enter the cashback percentage.") % args)
        elif _decimal_places(tier.percentage.normalize()) > 2:
            _add(
                errors,
                "tiers",
                _("Tier %(number)s: use at most 2 decimal places in the percentage.") % args,
            )
        elif not 0 <= tier.percentage <= 100:
            _add(
                errors,
                "tiers",
                _("Tier %(number)s: the percentage must be between 0 and 100.") % args,
            )


def _check_bonus(spec: ProgramSpec, field_name: str, errors: ProgramErrors) -> None:
    value = getattr(spec, field_name)
    if value is None:
        return
    label = _AMOUNT_LABELS[field_name]
    if value < 0:
        _add(errors, field_name, _("%(label)s cannot be negative.") % {"label": label})
    elif spec.kind == ProgramKind.STAMP:
        if value != value.to_integral_value():
            _add(
                errors,
                field_name,
                _("%(label)s is a whole number of stamps on a stamp card.") % {"label": label},
            )
        elif value > MAX_BONUS_STAMPS:
            _add(
                errors,
                field_name,
                _("%(label)s can be at most %(max)s stamps.")
                % {"label": label, "max": MAX_BONUS_STAMPS},
            )
    else:
        _check_money(errors, field_name, value, low=Decimal("0"))


def _check_validity(
    spec: ProgramSpec, program: Program | None, today: datetime.date, errors: ProgramErrors
) -> None:
    if spec.validity not in Validity.values:
        _add(errors, "validity", _("Choose how long new cards stay valid."))
    elif spec.validity == Validity.FIXED_DATE:
        if spec.valid_until is None:
            _add(errors, "valid_until", _("Enter the date the cards expire."))
        elif spec.valid_until < today and (
            program is None or spec.valid_until != program.valid_until
        ):
            _add(
                errors,
                "valid_until",
                _("Choose a date from today on; new cards would be expired."),
            )
    elif spec.validity == Validity.DAYS:
        if spec.valid_days is None:
            _add(errors, "valid_days", _("Enter after how many days a new card expires."))
        elif not 1 <= spec.valid_days <= MAX_VALID_DAYS:
            _add(
                errors,
                "valid_days",
                _("Enter between 1 and %(max)s days.") % {"max": MAX_VALID_DAYS},
            )


def _check_colors(spec: ProgramSpec, errors: ProgramErrors) -> None:
    valid = True
    for field_name, message in (
        ("background_color", _("Enter the background colour as #rrggbb, e.g. #5b3a29.")),
        ("foreground_color", _("Enter the text colour as #rrggbb, e.g. #5b3a29.")),
    ):
        if not _COLOR.match(getattr(spec, field_name) or ""):
            _add(errors, field_name, message)
            valid = False
    if valid:
        ratio = contrast_ratio(spec.background_color, spec.foreground_color)
        if ratio < 3:
            _add(
                errors,
                "foreground_color",
                _(
                    "The text colour is too close to the background (contrast %(ratio)s:1, at "
                    "least 3:1 needed): customers could not read their card."
                )
                % {"ratio": number_format(ratio, 1)},
            )


def program_check(
    *, merchant: Merchant, spec: ProgramSpec, program: Program | None = None
) -> ProgramErrors:
    """Every problem with ``spec`` at once, keyed by form field (``tiers`` for the tier rows)."""
    errors: ProgramErrors = {}
    name = spec.name.strip()
    if not name:
        _add(errors, "name", _("Enter a name for the program, e.g. Coffee card."))
    elif len(name) > 120:
        _add(errors, "name", _("Keep the name under 120 characters."))
    else:
        same_name = Program.objects.active().filter(merchant=merchant, name__iexact=name)
        if program is not None:
            same_name = same_name.exclude(pk=program.pk)
        if same_name.exists():
            _add(
                errors,
                "name",
                _("You already have a program called %(name)s.") % {"name": name},
            )
    if spec.kind not in ProgramKind.values:
        _add(errors, "kind", _("Choose a stamp card or a cashback card."))
    elif program is not None and spec.kind != program.kind and program.cards.exists():
        if program.kind == ProgramKind.STAMP:
            message = _(
                "This program has issued cards, so it stays a stamp card. Create a new "
                "program for the other kind."
            )
        else:
            message = _(
                "This program has issued cards, so it stays a cashback card. Create a new "
                "program for the other kind."
            )
        _add(errors, "kind", message)
    elif spec.kind == ProgramKind.STAMP:
        _check_stamp_rules(spec, errors, _money_writer(merchant))
    else:
        _check_tiers(spec.tiers, errors, _money_writer(merchant))
    if spec.kind in ProgramKind.values:
        _check_bonus(spec, "referral_bonus", errors)
        _check_bonus(spec, "welcome_bonus", errors)
    _check_referral_cap(spec.referral_cap, errors)
    _check_counter_guards(spec, errors)
    _check_daily_caps(spec, errors)
    _check_validity(spec, program, timezone.localdate(timezone=merchant.tz), errors)
    _check_colors(spec, errors)
    _check_join_texts(spec, errors)
    return errors


# The privacy notice is a web page customers open from the join form.
_PRIVACY_URL = URLValidator(schemes=["https", "http"])


def _check_join_texts(spec: ProgramSpec, errors: ProgramErrors) -> None:
    description = (spec.reward_description or "").strip()
    if len(description) > REWARD_DESCRIPTION_MAX:
        _add(
            errors,
            "reward_description",
            _("Keep the reward under %(count)s characters, e.g. a free coffee.")
            % {"count": REWARD_DESCRIPTION_MAX},
        )
    url = (spec.privacy_url or "").strip()
    if url:
        try:
            _PRIVACY_URL(url)
            if len(url) > PRIVACY_URL_MAX:
                raise ValidationError(url)
        except ValidationError:
            _add(
                errors,
                "privacy_url",
                _("Enter the full address of your privacy notice, starting with https://."),
            )


# The program's columns a merchant sets (the settings form shows each).
PROGRAM_FIELDS = (
    "name",
    "kind",
    "mechanism",
    "spend_per_stamp",
    "stamps_per_visit",
    "stamps_per_reward",
    "referral_bonus",
    "referral_cap",
    "welcome_bonus",
    "reward_cost",
    "repeat_guard_seconds",
    "daily_earn_cap",
    "daily_purchase_cap",
    "staff_reverse_minutes",
    "validity",
    "valid_until",
    "valid_days",
    "background_color",
    "foreground_color",
    "reward_description",
    "privacy_url",
)
_FIELD_LABELS = {
    "name": "name",
    "kind": "kind",
    "mechanism": "stamp mechanism",
    "spend_per_stamp": "spend per stamp",
    "stamps_per_visit": "stamps per visit",
    "stamps_per_reward": "stamps per reward",
    "referral_bonus": "referral bonus",
    "referral_cap": "monthly referral cap",
    "welcome_bonus": "welcome bonus",
    "reward_cost": "cost of one reward",
    "repeat_guard_seconds": "double-scan guard",
    "daily_earn_cap": "daily cap on stamps or points",
    "daily_purchase_cap": "daily cap on purchases",
    "staff_reverse_minutes": "time staff may reverse their entries",
    "validity": "card validity",
    "valid_until": "expiry date",
    "valid_days": "validity in days",
    "background_color": "background colour",
    "foreground_color": "text colour",
    "reward_description": "reward description",
    "privacy_url": "privacy notice link",
    "tiers": "tiers",
    "logo": "logo",
}


def _kept_or_default(value: int | None, program: Program | None, field_name: str) -> int:
    """``value``, else the program's (an edit) or the column's default (a new program)."""
    if value is not None:
        return value
    if program is not None:
        saved: int = getattr(program, field_name)
        return saved
    column = Program._meta.get_field(field_name)
    assert isinstance(column, Field)  # a plain column, not a relation: it has a default
    default: int = column.default
    return default


def _kept_text(value: str | None, program: Program | None, field_name: str) -> str:
    """``value`` trimmed, else the program's (an edit) or nothing (a new program)."""
    if value is not None:
        return value.strip()
    return getattr(program, field_name) if program is not None else ""


def _daily_cap(
    value: int | Unchanged | None, program: Program | None, field_name: str
) -> int | None:
    if isinstance(value, Unchanged):
        return getattr(program, field_name) if program is not None else None
    return value


def _reward_cost(spec: ProgramSpec, program: Program | None) -> Decimal:
    # Cashback points cost their face value: a reward cost there would count them twice.
    if spec.kind != ProgramKind.STAMP:
        return Decimal("0.00")
    if spec.reward_cost is not None:
        return rules.money(spec.reward_cost)
    return program.reward_cost if program is not None else Decimal("0.00")


def _normalized(spec: ProgramSpec, program: Program | None = None) -> dict[str, Any]:
    """The column values for ``spec``: rules of the other kind are cleared, not kept around."""
    stamp = spec.kind == ProgramKind.STAMP
    spend = stamp and spec.mechanism == Mechanism.SPEND
    values: dict[str, Any] = {
        "name": spec.name.strip(),
        "kind": spec.kind,
        "mechanism": spec.mechanism if stamp else "",
        "spend_per_stamp": rules.money(spec.spend_per_stamp)
        if spend and spec.spend_per_stamp is not None
        else None,
        "stamps_per_visit": (spec.stamps_per_visit or 1) if stamp and not spend else 1,
        "stamps_per_reward": spec.stamps_per_reward if stamp else 10,
        "referral_bonus": rules.money(spec.referral_bonus or Decimal(0)),
        "welcome_bonus": rules.money(spec.welcome_bonus or Decimal(0)),
        "referral_cap": _kept_or_default(spec.referral_cap, program, "referral_cap"),
        "reward_cost": _reward_cost(spec, program),
        "repeat_guard_seconds": _kept_or_default(
            spec.repeat_guard_seconds, program, "repeat_guard_seconds"
        ),
        "daily_earn_cap": _daily_cap(spec.daily_earn_cap, program, "daily_earn_cap"),
        "daily_purchase_cap": _daily_cap(spec.daily_purchase_cap, program, "daily_purchase_cap"),
        "staff_reverse_minutes": _kept_or_default(
            spec.staff_reverse_minutes, program, "staff_reverse_minutes"
        ),
        "validity": spec.validity,
        "valid_until": spec.valid_until if spec.validity == Validity.FIXED_DATE else None,
        "valid_days": spec.valid_days if spec.validity == Validity.DAYS else None,
        "background_color": spec.background_color.lower(),
        "foreground_color": spec.foreground_color.lower(),
        "reward_description": _kept_text(spec.reward_description, program, "reward_description"),
        "privacy_url": _kept_text(spec.privacy_url, program, "privacy_url"),
    }
    return values


def _tier_rows(spec: ProgramSpec) -> list[tuple[str, Decimal, Decimal]]:
    if spec.kind != ProgramKind.CASHBACK:
        return []
    return [
        (t.name.strip(), rules.money(t.threshold), rules.money(t.percentage))  # type: ignore[arg-type]
        for t in spec.tiers
    ]


def _save_tiers(program: Program, rows: list[tuple[str, Decimal, Decimal]]) -> None:
    # Tiers are plain rows: ledger entries and cards keep their own copy of the tier in force.
    program.tiers.all().delete()
    Tier.objects.bulk_create(
        Tier(program=program, name=name, threshold=threshold, percentage=percentage)
        for name, threshold, percentage in rows
    )


def _clean_logo_into(errors: ProgramErrors, logo: Any) -> tuple[bytes, str] | None:
    if logo is None:
        return None
    try:
        return logo_clean(logo)
    except ValidationError as error:
        errors.update(error.message_dict)
        return None


def lock_program(program: Program) -> Program:
    """The program's row locked until the caller's transaction ends, with its merchant."""
    return Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)


def program_create(
    *, merchant: Merchant, spec: ProgramSpec, actor: Actor, logo: Any = None
) -> Program:
    errors = program_check(merchant=merchant, spec=spec)
    logo_data = _clean_logo_into(errors, logo)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        program = Program(merchant=merchant, **_normalized(spec))
        if logo_data is not None:
            logo_store(program=program, logo=logo_data)
        program.save()
        _save_tiers(program, _tier_rows(spec))
        audit_record(
            merchant=merchant,
            actor=actor,
            action=AuditAction.PROGRAM_CREATED,
            summary=f"Created the {program.get_kind_display().lower()} program {program.name}",
            details={"program_id": program.pk},
        )
    return program


def _tiers_of(program: Program) -> list[tuple[str, Decimal, Decimal]]:
    return [(t.name, t.threshold, t.percentage) for t in program.tiers.order_by("threshold")]


def program_update(
    *,
    program: Program,
    spec: ProgramSpec,
    actor: Actor,
    logo: Any = None,
    remove_logo: bool = False,
) -> Program:
    """Change a program's rules; they apply to later entries only (history stays as it was)."""
    logo_errors: ProgramErrors = {}
    logo_data = _clean_logo_into(logo_errors, logo)
    with transaction.atomic():
        # Locked so a card issued meanwhile is seen by the "kind cannot change" check.
        locked = lock_program(program)
        errors = program_check(merchant=locked.merchant, spec=spec, program=locked)
        errors.update(logo_errors)
        if errors:
            raise ValidationError(errors)
        values = _normalized(spec, locked)
        changed = [name for name in PROGRAM_FIELDS if getattr(locked, name) != values[name]]
        old_tiers = _tiers_of(locked)
        new_tiers = _tier_rows(spec)
        if old_tiers != new_tiers:
            changed.append("tiers")
        for name, value in values.items():
            setattr(locked, name, value)
        old_logo = ""
        if logo_data is not None:
            old_logo = logo_store(program=locked, logo=logo_data)
            changed.append("logo")
        elif remove_logo and locked.logo:
            old_logo = locked.logo.name or ""
            locked.logo = ""
            changed.append("logo")
        if not changed:
            return locked
        locked.save()
        if "tiers" in changed:
            _save_tiers(locked, new_tiers)
        logo_delete_on_commit(program=locked, name=old_logo)
        program_changed.send(sender=Program, program=locked, at=clock.now())
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_UPDATED,
            summary=f"Changed the {', '.join(_FIELD_LABELS[c] for c in changed)} of {locked.name}",
            details={"program_id": locked.pk, "changed": changed},
        )
    _copy_program(locked, program)
    return locked


def _copy_program(source: Program, target: Program) -> None:
    for field in Program._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    if hasattr(target, "_prefetched_objects_cache"):
        target._prefetched_objects_cache.pop("tiers", None)


def program_archive(*, program: Program, actor: Actor) -> Program:
    """Stop issuing cards of this program; cards already issued keep working."""
    with transaction.atomic():
        locked = lock_program(program)
        if locked.archived_at is not None:
            return locked
        locked.archived_at = clock.now()
        locked.save(update_fields=["archived_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_ARCHIVED,
            summary=f"Archived the program {locked.name}",
            details={"program_id": locked.pk},
        )
    program.archived_at = locked.archived_at
    return locked


def program_restore(*, program: Program, actor: Actor) -> Program:
    with transaction.atomic():
        locked = lock_program(program)
        if locked.archived_at is None:
            return locked
        clash = Program.objects.active().filter(
            merchant_id=locked.merchant_id, name__iexact=locked.name
        )
        if clash.exists():
            raise ValidationError(
                _("Another active program is called %(name)s; rename it first.")
                % {"name": locked.name}
            )
        locked.archived_at = None
        locked.save(update_fields=["archived_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_RESTORED,
            summary=f"Restored the program {locked.name}",
            details={"program_id": locked.pk},
        )
    program.archived_at = None
    return locked
