"""Feedback in the dashboard and on the card: the profile's Feedback tab (what this customer told
the merchant), the rating on the Profile tab, and the rating form of the customer's card page."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cards.card_page import gone, public, render_card_page, too_many
from cards.models import Card
from cards.profile import profile_context
from cards.selectors import card_by_install_token
from feedback.forms import FeedbackFilterForm, FeedbackForm
from feedback.selectors import (
    DateRange,
    Period,
    card_feedback_for_visit,
    customer_rating,
    feedback_for_card_holder,
    rating_summary,
)
from feedback.services import feedback_leave
from loyalty import clock, i18n, ratelimit
from loyalty.http import MerchantRequest, add_service_errors, wants_partial
from loyalty.ratelimit import Limit
from loyalty.tenancy import merchant_required

FEEDBACK_PER_IP = Limit("feedback-ip", limit=20, window=600)
FEEDBACK_PER_CARD = Limit("feedback-card", limit=5, window=600)

PAGE_SIZE = 50


@merchant_required
@require_GET
def tab(request: MerchantRequest, serial: str) -> HttpResponse:
    """Newest first, filtered by period (in the merchant's time zone) and "Only comments".

    The filter form ``hx-get``s this URL: htmx gets the list partial, anything else the page.
    """
    context = profile_context(request, serial, "feedback")
    card = context["card"]
    tz = request.merchant.tz
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
    template = "feedback/tab.html#feedback-list" if wants_partial(request) else "feedback/tab.html"
    return render(request, template, context)


def _day(value: datetime.date) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def _range_label(dates: DateRange) -> str:
    """Say which dates a filter means, so "Week" is never ambiguous."""
    if dates.first is None and dates.last is None:
        return _("All time")
    if dates.first == dates.last and dates.first is not None:
        return _day(dates.first)
    if dates.first is None:
        assert dates.last is not None
        # Translators: the Feedback tab's dates when only an end date is typed.
        return _("Until %(date)s") % {"date": _day(dates.last)}
    if dates.last is None:
        # Translators: the Feedback tab's dates when only a start date is typed.
        return _("Since %(date)s") % {"date": _day(dates.first)}
    # Translators: a range of dates, first to last (an en dash between them).
    return _("%(first)s – %(last)s") % {"first": _day(dates.first), "last": _day(dates.last)}


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# ---------------------------------------------------------------------------------------------
# The Profile tab's rating and the card page's rating form (registered in FeedbackConfig.ready)


def profile_part(card: Card) -> dict[str, Any]:
    """The profile's ``feedback_rating``: the customer's average rating and how many."""
    rating, count = customer_rating(card.customer) if card.customer is not None else (None, 0)
    return {"feedback_rating": rating, "feedback_count": count}


def card_page_part(card: Card) -> dict[str, Any]:
    rated = card_feedback_for_visit(card=card)
    return {
        "rated": rated,
        "can_rate": not card.is_expired and card.total_visits >= 1 and rated is None,
        "feedback_form": FeedbackForm(),
    }


@public
@require_POST
def card_feedback(request: HttpRequest, install_token: str) -> HttpResponse:
    """A rating from the customer's card page (no login: the card's token is the key)."""
    card = card_by_install_token(install_token)
    i18n.activate_for_customer(request, card.merchant)
    if card.is_deleted:
        return gone(request)
    if not ratelimit.allowed(
        (FEEDBACK_PER_IP, ratelimit.client_ip(request)), (FEEDBACK_PER_CARD, str(card.pk))
    ):
        return too_many(request, FEEDBACK_PER_CARD.window)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            feedback_leave(
                card=card, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect(reverse("public:card", args=[card.install_token]) + "#feedback")
    return render_card_page(request, card, status=422, feedback_form=form)
