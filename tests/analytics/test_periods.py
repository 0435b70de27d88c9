"""Periods of the home page: presets, custom ranges, the period before, chart buckets."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from analytics.periods import PRESETS, Bucket, Period, local_today, period_resolve
from loyalty import clock
from tests.factories import MerchantFactory

TODAY = datetime.date(2025, 6, 15)  # a Sunday


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def resolve(preset: str | None, start: str | None = None, end: str | None = None) -> Period:
    return period_resolve(preset=preset, start=start, end=end, today=TODAY)


def custom_error(start: str | None, end: str | None) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        resolve("custom", start, end)
    return caught.value


# ---------------------------------------------------------------------------------------------
# Presets


@pytest.mark.parametrize(
    ("preset", "start", "days"),
    [
        ("today", "2025-06-15", 1),
        ("7d", "2025-06-09", 7),  # today and the 6 days before
        ("30d", "2025-05-17", 30),
        ("90d", "2025-03-18", 90),
        ("12m", "2024-06-16", 365),  # a year back, plus a day: June 15 2024 is not in it
    ],
)
def test_each_preset_ends_today(preset: str, start: str, days: int) -> None:
    period = resolve(preset)
    assert (period.preset, period.start, period.end, period.days) == (
        preset,
        day(start),
        TODAY,
        days,
    )


def test_the_presets_are_the_ones_the_page_offers() -> None:
    assert PRESETS == ("today", "7d", "30d", "90d", "12m", "custom")


@pytest.mark.parametrize("preset", [None, "", "14d", "yesterday", "12M"])
def test_no_or_an_unknown_preset_means_the_last_30_days(preset: str | None) -> None:
    assert resolve(preset) == Period(preset="30d", start=day("2025-05-17"), end=TODAY)


def test_dates_without_the_custom_preset_are_ignored() -> None:
    assert resolve("7d", "2025-01-01", "2025-01-31").start == day("2025-06-09")


@pytest.mark.parametrize(
    ("today", "start", "days"),
    [
        ("2024-02-29", "2023-03-01", 366),  # a leap day: a year back is February 28
        ("2025-03-01", "2024-03-02", 365),
        ("2024-12-31", "2024-01-01", 366),  # the whole of a leap year
    ],
)
def test_twelve_months_around_leap_years(today: str, start: str, days: int) -> None:
    period = period_resolve(preset="12m", start=None, end=None, today=day(today))
    assert (period.start, period.end, period.days) == (day(start), day(today), days)


# ---------------------------------------------------------------------------------------------
# Custom periods


def test_a_custom_period_takes_both_dates_inclusive() -> None:
    period = resolve("custom", "2025-01-01", "2025-01-31")
    assert (period.preset, period.start, period.end, period.days) == (
        "custom",
        day("2025-01-01"),
        day("2025-01-31"),
        31,
    )


def test_a_custom_period_may_be_one_day_and_may_end_today() -> None:
    assert resolve("custom", "2025-06-15", "2025-06-15").days == 1
    assert resolve("custom", " 2025-06-01 ", "2025-06-15").start == day("2025-06-01")


def test_a_custom_period_may_last_366_days_and_no_more() -> None:
    assert resolve("custom", "2024-06-15", "2025-06-15").days == 366
    error = custom_error("2024-06-14", "2025-06-15")  # 367 days
    assert error.code == "too_long"
    assert error.messages == ["Choose a period of at most 366 days."]


@pytest.mark.parametrize(
    ("start", "end", "code", "message"),
    [
        (None, "2025-06-01", "required", "Choose a start date and an end date."),
        ("2025-06-01", "", "required", "Choose a start date and an end date."),
        (
            "2025-13-01",
            "2025-06-01",
            "invalid",
            "“2025-13-01” is not a date. Pick one from the calendar (year-month-day).",
        ),
        (
            "2025-06-01",
            "next week",
            "invalid",
            "“next week” is not a date. Pick one from the calendar (year-month-day).",
        ),
        (
            "2025-06-10",
            "2025-06-16",
            "future",
            "The period cannot end after today, June 15, 2025.",
        ),
        ("2025-06-10", "2025-06-01", "order", "The start date must be on or before the end date."),
    ],
)
def test_a_custom_period_refuses_what_it_cannot_show(
    start: str | None, end: str | None, code: str, message: str
) -> None:
    error = custom_error(start, end)
    assert (error.code, error.messages) == (code, [message])


def test_a_custom_periods_message_is_in_the_readers_language() -> None:
    with translation.override("de"):
        error = custom_error("2025-06-10", "2025-06-16")
    assert "15. Juni 2025" in error.messages[0]


# ---------------------------------------------------------------------------------------------
# The period before


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("today", "2025-06-14", "2025-06-14"),  # yesterday
        ("7d", "2025-06-02", "2025-06-08"),
        ("30d", "2025-04-17", "2025-05-16"),
        ("12m", "2023-06-17", "2024-06-15"),  # 365 days, over February 29 2024
    ],
)
def test_the_previous_period_has_the_same_length_and_ends_the_day_before(
    preset: str, start: str, end: str
) -> None:
    period = resolve(preset)
    previous = period.previous()
    assert (previous.start, previous.end) == (day(start), day(end))
    assert previous.days == period.days
    assert previous.end + datetime.timedelta(days=1) == period.start


def test_the_period_before_a_custom_one_crosses_months() -> None:
    previous = resolve("custom", "2025-03-01", "2025-03-10").previous()
    assert (previous.start, previous.end) == (day("2025-02-19"), day("2025-02-28"))


# ---------------------------------------------------------------------------------------------
# Granularity and buckets


@pytest.mark.parametrize(
    ("days", "granularity"),
    [(1, "day"), (31, "day"), (32, "week"), (90, "week"), (182, "week"), (183, "month")],
)
def test_granularity_follows_the_length(days: int, granularity: str) -> None:
    period = Period("custom", TODAY - datetime.timedelta(days=days - 1), TODAY)
    assert period.days == days
    assert period.granularity == granularity


def test_presets_are_charted_by_day_week_or_month() -> None:
    assert [resolve(p).granularity for p in ("today", "7d", "30d", "90d", "12m")] == [
        "day",
        "day",
        "day",
        "week",
        "month",
    ]


def spans(buckets: list[Bucket]) -> list[tuple[str, str]]:
    return [(b.start.isoformat(), b.end.isoformat()) for b in buckets]


def test_daily_buckets_are_one_per_day_labelled_by_date() -> None:
    buckets = resolve("7d").buckets()
    assert spans(buckets) == [(f"2025-06-{d:02}", f"2025-06-{d:02}") for d in range(9, 16)]
    assert [b.label for b in buckets] == [f"Jun {d}" for d in range(9, 16)]


def test_weekly_buckets_run_monday_to_sunday_clipped_to_the_period() -> None:
    # Thursday May 1 to Wednesday June 11.
    buckets = resolve("custom", "2025-05-01", "2025-06-11").buckets()
    assert spans(buckets) == [
        ("2025-05-01", "2025-05-04"),  # Thursday to Sunday
        ("2025-05-05", "2025-05-11"),
        ("2025-05-12", "2025-05-18"),
        ("2025-05-19", "2025-05-25"),
        ("2025-05-26", "2025-06-01"),
        ("2025-06-02", "2025-06-08"),
        ("2025-06-09", "2025-06-11"),  # Monday to Wednesday
    ]
    assert [b.label for b in buckets][:2] == ["May 1", "May 5"]


def test_monthly_buckets_run_from_the_first_clipped_to_the_period() -> None:
    buckets = resolve("12m").buckets()
    assert len(buckets) == 13
    assert spans(buckets)[:3] == [
        ("2024-06-16", "2024-06-30"),
        ("2024-07-01", "2024-07-31"),
        ("2024-08-01", "2024-08-31"),
    ]
    assert spans(buckets)[-1] == ("2025-06-01", "2025-06-15")
    assert ("2025-02-01", "2025-02-28") in spans(buckets)
    assert [buckets[0].label, buckets[-1].label] == ["June 2024", "June 2025"]


def test_monthly_buckets_keep_february_29() -> None:
    period = Period("custom", day("2023-12-20"), day("2024-12-10"))
    assert ("2024-02-01", "2024-02-29") in spans(period.buckets())


@pytest.mark.parametrize(
    "period",
    [
        resolve("today"),
        resolve("30d"),
        resolve("90d"),
        resolve("12m"),
        Period("custom", day("2024-01-31"), day("2024-03-01")),
        Period("custom", day("2023-06-15"), day("2024-06-14")),
    ],
)
def test_buckets_cover_the_period_without_gaps_or_overlaps(period: Period) -> None:
    buckets = period.buckets()
    assert buckets[0].start == period.start
    assert buckets[-1].end == period.end
    for before, after in itertools.pairwise(buckets):
        assert after.start == before.end + datetime.timedelta(days=1)
    assert sum((b.end - b.start).days + 1 for b in buckets) == period.days


def test_bucket_labels_are_in_the_readers_language() -> None:
    with translation.override("de"):
        daily = resolve("7d").buckets()[0].label
        monthly = resolve("12m").buckets()[0].label
    assert (daily, monthly) == ("9. Jun", "Juni 2024")


# ---------------------------------------------------------------------------------------------
# Around daylight-saving changes (Berlin: March 30 and October 26, 2025)


def test_periods_over_a_daylight_saving_change_count_calendar_days() -> None:
    spring = period_resolve(preset="7d", start=None, end=None, today=day("2025-04-02"))
    assert (spring.start, spring.days) == (day("2025-03-27"), 7)
    assert len(spring.buckets()) == 7  # March 30 had 23 hours: still one day
    autumn = period_resolve(
        preset="custom", start="2025-10-20", end="2025-11-02", today=day("2025-11-26")
    )
    # Monday October 20 to Sunday November 2: 14 days over the 25-hour October 26.
    assert (autumn.days, autumn.previous().start) == (14, day("2025-10-06"))


def test_weeks_over_a_daylight_saving_change_still_start_on_monday() -> None:
    period = Period("custom", day("2025-03-01"), day("2025-04-15"))  # 46 days: weekly
    assert ("2025-03-24", "2025-03-30") in spans(period.buckets())
    assert ("2025-03-31", "2025-04-06") in spans(period.buckets())


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2025-03-29T22:59:00", "2025-03-29"),  # 23:59 CET
        ("2025-03-29T23:00:00", "2025-03-30"),  # midnight, the night clocks go forward
        ("2025-03-30T21:59:00", "2025-03-30"),  # 23:59 CEST
        ("2025-03-30T22:00:00", "2025-03-31"),
        ("2025-10-25T21:59:00", "2025-10-25"),  # 23:59 CEST
        ("2025-10-25T22:00:00", "2025-10-26"),  # midnight, the night clocks go back
        ("2025-10-26T22:59:00", "2025-10-26"),  # 23:59 CET
        ("2025-10-26T23:00:00", "2025-10-27"),
    ],
)
@pytest.mark.django_db
def test_today_is_the_merchants_local_date(utc: str, expected: str) -> None:
    merchant = MerchantFactory(time_zone="Europe/Berlin")
    moment = datetime.datetime.fromisoformat(utc).replace(tzinfo=datetime.UTC)
    with clock.frozen_at(moment):
        assert local_today(merchant=merchant) == day(expected)


def test_today_in_another_time_zone_is_another_date(db: Any) -> None:
    moment = datetime.datetime(2025, 6, 15, 23, 30, tzinfo=datetime.UTC)
    with clock.frozen_at(moment):
        assert local_today(merchant=MerchantFactory(time_zone="UTC")) == TODAY
        assert local_today(merchant=MerchantFactory(time_zone="Asia/Tokyo")) == day("2025-06-16")
        assert local_today(merchant=MerchantFactory(time_zone="America/New_York")) == TODAY
