"""Reads for feedback: a customer's ratings, filtered by period, and their average."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Count, Q, QuerySet, TextChoices
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cards.models import Card
from customers.models import Customer
from feedback.models import Feedback


class Period(TextChoices):
    # Translators: the Feedback tab's period filters: today, this week, this month, this year.
    DAY = "day", pgettext_lazy("feedback period", "Day")
    WEEK = "week", pgettext_lazy("feedback period", "Week")
    MONTH = "month", pgettext_lazy("feedback period", "Month")
    YEAR = "year", pgettext_lazy("feedback period", "Year")
    ALL = "all", _("All time")
    # Translators: the filter for dates typed in "From" and "To" (a span of time).
    CUSTOM = "custom", pgettext_lazy("time span", "Period")


@dataclass(frozen=True)
class DateRange:
    """Local calendar dates, inclusive at both ends; None means open on that side."""

    first: datetime.date | None
    last: datetime.date | None


def period_range(period: str, *, today: datetime.date) -> DateRange:
    """The calendar period containing ``today``: this day, this week (Monday to Sunday), this
    month or this year. "All time" is open on both sides."""
    if period == Period.DAY:
        return DateRange(today, today)
    if period == Period.WEEK:
        monday = today - datetime.timedelta(days=today.weekday())
        return DateRange(monday, monday + datetime.timedelta(days=6))
    if period == Period.MONTH:
        first = today.replace(day=1)
        following = (first + datetime.timedelta(days=32)).replace(day=1)
        return DateRange(first, following - datetime.timedelta(days=1))
    if period == Period.YEAR:
        return DateRange(today.replace(month=1, day=1), today.replace(month=12, day=31))
    return DateRange(None, None)


def _local_midnight(day: datetime.date, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)


def _in_range(
    feedback: QuerySet[Feedback], dates: DateRange, tz: zoneinfo.ZoneInfo
) -> QuerySet[Feedback]:
    """From the first day's local midnight up to (not including) the midnight after the last
    day, in the merchant's time zone; so both ends are whole local days."""
    if dates.first is not None:
        feedback = feedback.filter(created_at__gte=_local_midnight(dates.first, tz))
    if dates.last is not None:
        after = dates.last + datetime.timedelta(days=1)
        feedback = feedback.filter(created_at__lt=_local_midnight(after, tz))
    return feedback


def _owned_by(card: Card) -> Q:
    """A customer's feedback from all their cards; a removed customer's card keeps its own."""
    if card.customer_id is not None:
        return Q(customer_id=card.customer_id)
    return Q(card_id=card.pk)


def feedback_for_card_holder(
    *, card: Card, dates: DateRange, only_comments: bool = False
) -> QuerySet[Feedback]:
    """Feedback of the card's holder, newest first, within the merchant's local dates."""
    feedback = Feedback.objects.filter(_owned_by(card), merchant_id=card.merchant_id)
    feedback = _in_range(feedback, dates, card.merchant.tz)
    if only_comments:
        feedback = feedback.exclude(comment="")
    return feedback.select_related("card").order_by("-created_at", "-id")


def rating_summary(feedback: QuerySet[Feedback]) -> tuple[Decimal | None, int]:
    """Average rating (one decimal, half up) and count, in one query."""
    row = feedback.order_by().aggregate(average=Avg("rating"), count=Count("id"))
    average = row["average"]
    if average is None:
        return None, 0
    return Decimal(str(average)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), row["count"]


def customer_rating(customer: Customer) -> tuple[Decimal | None, int]:
    """The profile's ``feedback_rating``: the customer's average rating and how many."""
    return rating_summary(Feedback.objects.filter(customer=customer))


def card_feedback_for_visit(*, card: Card) -> Feedback | None:
    """The rating left for the card's latest visit, if any (the card page shows it)."""
    if card.total_visits < 1:
        return None
    return Feedback.objects.filter(card=card, visit_number=card.total_visits).first()
