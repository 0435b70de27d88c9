"""The profile's Feedback tab: what this customer told the merchant from their card page."""

from __future__ import annotations

import datetime

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cards.views.profile import profile_context
from feedback.forms import FeedbackFilterForm
from feedback.selectors import (
    DateRange,
    Period,
    feedback_for_card_holder,
    rating_summary,
)
from loyalty import clock
from loyalty.tenancy import merchant_required

PAGE_SIZE = 50


@merchant_required
@require_GET
def tab(request: HttpRequest, serial: str) -> HttpResponse:
    """Newest first, filtered by period (in the merchant's time zone) and "Only comments".

    The filter form ``hx-get``s this URL: htmx gets the list partial, anything else the page.
    """
    context = profile_context(request, serial, "feedback")
    card = context["card"]
    tz = request.merchant.tz  # type: ignore[attr-defined]
    form = FeedbackFilterForm(request.GET or None, initial={"period": Period.ALL})
    dates = form.date_range(today=timezone.localtime(clock.now(), tz).date())
    feedback = feedback_for_card_holder(card=card, dates=dates, only_comments=form.only_comments)
    average, count = rating_summary(feedback)
    page = Paginator(feedback, PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(
        filter_form=form,
        period=form.chosen_period,
        dates=dates,
        range_label=_range_label(dates),
        page=page,
        query=_query_without_page(request),
        average=average,
        count=count,
    )
    partial = request.htmx and not request.htmx.history_restore_request  # type: ignore[attr-defined]
    template = "feedback/tab.html#feedback-list" if partial else "feedback/tab.html"
    return render(request, template, context)


def _day(value: datetime.date) -> str:
    return f"{value:%b} {value.day}, {value.year}"


def _range_label(dates: DateRange) -> str:
    """Say which dates a filter means, so "Week" is never ambiguous."""
    if dates.first is None and dates.last is None:
        return "All time"
    if dates.first == dates.last and dates.first is not None:
        return _day(dates.first)
    if dates.first is None:
        assert dates.last is not None
        return f"Until {_day(dates.last)}"
    if dates.last is None:
        return f"Since {_day(dates.first)}"
    return f"{_day(dates.first)} \u2013 {_day(dates.last)}"


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
