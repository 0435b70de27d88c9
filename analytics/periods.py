"""The periods the home page shows: presets and custom ranges of the merchant's local days.

A period is a range of calendar days in the merchant's time zone, both ends included; it is
compared with the period of the same length that ends the day before it starts. Charts split
it into buckets: days up to a month, weeks (Monday to Sunday) up to half a year, calendar
months beyond, the first and last bucket clipped to the period.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from loyalty import clock
from loyalty.models import Merchant

PRESETS = ("today", "7d", "30d", "90d", "12m", "custom")
DEFAULT_PRESET = "30d"
CUSTOM = "custom"
# The presets that end today and reach back a number of days (today included).
PRESET_DAYS = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
MAX_DAYS = 366
# The longest periods charted by day and by week; longer ones are charted by month.
DAILY_UP_TO = 31
WEEKLY_UP_TO = 182
ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Bucket:
    """One point of a chart: the days [start, end] of the period, and what the axis says."""

    start: datetime.date
    end: datetime.date
    label: str


@dataclass(frozen=True)
class Period:
    preset: str
    start: datetime.date  # inclusive, the merchant's local date
    end: datetime.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def instants(self, tz: zoneinfo.ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
        """The period as the instants [from, until): midnight in ``tz`` starting its first day,
        and midnight ending its last (for reads of timestamps rather than of the rollup's days).
        """
        until = self.end + ONE_DAY
        return (
            datetime.datetime.combine(self.start, datetime.time.min, tzinfo=tz),
            datetime.datetime.combine(until, datetime.time.min, tzinfo=tz),
        )

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - ONE_DAY
        return Period(preset=self.preset, start=end - (self.days - 1) * ONE_DAY, end=end)

    @property
    def granularity(self) -> str:
        if self.days <= DAILY_UP_TO:
            return "day"
        if self.days <= WEEKLY_UP_TO:
            return "week"
        return "month"

    def buckets(self) -> list[Bucket]:
        """Consecutive buckets covering the period exactly, oldest first."""
        buckets = []
        start = self.start
        while start <= self.end:
            end = min(_bucket_end(start, self.granularity), self.end)
            buckets.append(Bucket(start=start, end=end, label=_label(start, self.granularity)))
            start = end + ONE_DAY
        return buckets


def _bucket_end(day: datetime.date, granularity: str) -> datetime.date:
    """The last day of the day's bucket: itself, its week's Sunday or its month's last day."""
    if granularity == "day":
        return day
    if granularity == "week":
        return day + (6 - day.weekday()) * ONE_DAY
    return _first_of_next_month(day) - ONE_DAY


def _first_of_next_month(day: datetime.date) -> datetime.date:
    return (day.replace(day=28) + 4 * ONE_DAY).replace(day=1)


def _label(start: datetime.date, granularity: str) -> str:
    # A week is named by its first day in the period ("Mar 3"), a month by month and year.
    if granularity == "month":
        return date_format(start, "YEAR_MONTH_FORMAT")
    return date_format(start, "MONTH_DAY_FORMAT")


def local_today(*, merchant: Merchant) -> datetime.date:
    """Today in the merchant's time zone (the day every preset ends on)."""
    return timezone.localdate(clock.now(), merchant.tz)


def period_resolve(
    *, preset: str | None, start: str | None, end: str | None, today: datetime.date
) -> Period:
    """The period a request asks for; an unknown preset is the default (the last 30 days).

    A custom period raises ``ValidationError`` with a message for the merchant when its dates
    are missing, not dates, in the wrong order, after today or too far apart.
    """
    if preset == CUSTOM:
        return _custom(start=start, end=end, today=today)
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    if preset == "12m":
        return Period(preset=preset, start=_year_before(today) + ONE_DAY, end=today)
    return Period(preset=preset, start=today - (PRESET_DAYS[preset] - 1) * ONE_DAY, end=today)


def _year_before(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # February 29th: a year before is February 28th
        return day.replace(year=day.year - 1, day=28)


def _custom(*, start: str | None, end: str | None, today: datetime.date) -> Period:
    first, last = _parse_date(start), _parse_date(end)
    if last > today:
        raise ValidationError(
            _("The period cannot end after today, %(today)s.")
            % {"today": date_format(today, "DATE_FORMAT")},
            code="future",
        )
    if first > last:
        raise ValidationError(_("The start date must be on or before the end date."), code="order")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError(
            _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS}, code="too_long"
        )
    return Period(preset=CUSTOM, start=first, end=last)


def _parse_date(raw: str | None) -> datetime.date:
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Choose a start date and an end date."), code="required")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a date. Pick one from the calendar (year-month-day).")
            % {"value": text[:20]},
            code="invalid",
        ) from None
