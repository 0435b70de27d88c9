"""The CRM: the customers list with its search, filters and CSV export, registration at the
counter and from a program's settings, the profile's Information tab, and removing a customer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from cards.models import CardStatus, CustomField
from cards.profile import profile_context
from cards.selectors import card_for_scan, program_for_settings
from customers import selectors, services
from customers.forms import (
    CustomerAddForm,
    CustomerFilterForm,
    CustomerInformationForm,
    IssueCardForm,
    custom_values,
)
from customers.models import Customer, Segment
from customers.rows import customer_rows
from loyalty.csv_export import streaming_csv
from loyalty.http import (
    MerchantRequest,
    add_service_errors,
    redirect_for,
    service_errors_on_fields,
    wants_partial,
)
from loyalty.models import Merchant
from loyalty.tenancy import manager_required, merchant_required

INVALID = 422


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context.setdefault("nav", "customers")
    return render(request, template, context, status=status)


# ---------------------------------------------------------------------------------------------
# The list


@merchant_required
@require_GET
def customer_list(request: MerchantRequest) -> HttpResponse:
    """Newest activity first; ``?q=`` searches (live with htmx, plain GET without); a submitted
    search that is exactly one of the merchant's card codes opens that card's counter view."""
    merchant: Merchant = request.merchant
    form = CustomerFilterForm(request.GET, merchant=merchant)
    query, filters = form.query, form.filters()
    if query and form.submitted:
        # A barcode scanner types a card's code into the search box and presses Enter: that
        # card opens at the counter. Typing (the live search) never jumps away.
        scanned = card_for_scan(merchant=merchant, text=query)
        if scanned.found and scanned.card is not None:
            return redirect_for(request, reverse("cards:counter", args=[scanned.card.serial]))
    page = None
    if query:
        customers = selectors.customer_search(merchant=merchant, q=query, filters=filters)
    else:
        page = selectors.customer_page(merchant=merchant, filters=filters, number=form.page_number)
        customers = page.customers
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("go", None)
    context = {
        "form": form,
        "query": query,
        "customers": customers,
        "rows": customer_rows(customers),
        "page": page,
        "search_limit": selectors.SEARCH_LIMIT,
        "filtered": bool(query) or not filters.is_empty,
        "params": params.urlencode(),
    }
    template = "customers/list.html#results" if wants_partial(request) else "customers/list.html"
    return _render(request, template, context)


def _custom_field_columns(merchant: Merchant) -> list[tuple[str, str]]:
    """(key, label) of every custom field of the merchant's programs, each key once."""
    columns: dict[str, str] = {}
    fields = CustomField.objects.filter(program__merchant=merchant).order_by(
        "program__name", "program_id", "position", "id"
    )
    for field in fields:
        columns.setdefault(field.key, field.label)
    return list(columns.items())


# The header is in the reader's language. The cells are the same whatever the language, so a
# script reading the file need not know who downloaded it: ISO dates, plain numbers, and the
# segment and status labels in English.
CUSTOMER_CSV_HEADER = (
    gettext_lazy("First name"),
    gettext_lazy("Last name"),
    gettext_lazy("Email"),
    gettext_lazy("Phone"),
    gettext_lazy("Birthday"),
    gettext_lazy("Segment"),
    gettext_lazy("Total visits"),
    gettext_lazy("Last visit"),
    gettext_lazy("Customer since"),
    gettext_lazy("Card serial numbers"),
    gettext_lazy("Programs"),
    gettext_lazy("Card statuses"),
    gettext_lazy("Balances"),
)
CSV_CELL_LANGUAGE = "en"


def _card_balance(card: Any) -> str:
    if card.program.is_stamp:
        return f"{card.stamps_balance} stamps, {card.rewards_available} rewards"
    return f"{card.points_balance} points"


def _customer_csv_rows(
    customers: Iterator[Customer], header: tuple[str, ...], columns: list[tuple[str, str]], tz: Any
) -> Iterator[tuple[Any, ...]]:
    with translation.override(CSV_CELL_LANGUAGE):
        segments = {key: str(label) for key, label in Segment.choices}
        statuses = {key: str(label) for key, label in CardStatus.choices}
    yield header + tuple(label for _, label in columns)
    for customer in customers:
        cards = list(customer.cards.all())
        last_visit = customer.last_visit_at
        yield (
            customer.first_name,
            customer.last_name,
            customer.email,
            customer.phone,
            customer.birthday.isoformat() if customer.birthday else "",
            segments.get(customer.segment, customer.segment),
            customer.total_visits,
            timezone.localtime(last_visit, tz).isoformat() if last_visit else "",
            timezone.localtime(customer.created_at, tz).date().isoformat(),
            "; ".join(card.serial for card in cards),
            "; ".join(card.program.name for card in cards),
            "; ".join(statuses.get(card.status, card.status) for card in cards),
            "; ".join(_card_balance(card) for card in cards),
            *(customer.custom_fields.get(key, "") for key, _ in columns),
        )


@manager_required
@require_GET
def customer_export(request: MerchantRequest) -> StreamingHttpResponse:
    """Every customer matching the search and filters: owners and admins only, audited.

    No row cap: the rows are read in chunks and written as they go, so memory stays flat
    whatever the size of the export, and the audit log says who took how many.
    """
    merchant: Merchant = request.merchant
    form = CustomerFilterForm(request.GET, merchant=merchant)
    query, filters = form.query, form.filters()
    services.customer_export_record(
        merchant=merchant,
        actor=request.user,
        query=query,
        filters=filters,
        rows=selectors.customer_export_count(merchant=merchant, q=query, filters=filters),
    )
    customers = selectors.customer_export_rows(merchant=merchant, q=query, filters=filters)
    # The header now, in the request's language: the rows are streamed after the view returns.
    header = tuple(str(title) for title in CUSTOMER_CSV_HEADER)
    rows = _customer_csv_rows(customers, header, _custom_field_columns(merchant), merchant.tz)
    stamp = timezone.localdate(timezone=merchant.tz).isoformat()
    return streaming_csv(rows, f"customers-{stamp}.csv")


# ---------------------------------------------------------------------------------------------
# Walk-in registration


@merchant_required
@require_http_methods(["GET", "POST"])
def customer_add(request: MerchantRequest) -> HttpResponse:
    """Register a customer and issue a card; the new card's profile opens."""
    merchant: Merchant = request.merchant
    form = CustomerAddForm(request.POST or None, merchant=merchant)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            card = services.customer_register(
                merchant=merchant,
                program=data["program"],
                actor=request.user,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                custom_fields=custom_values(data, data["program"]),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                gettext("%(name)s is registered with card %(serial)s.")
                % {"name": card.holder_name, "serial": card.serial},
            )
            return redirect_for(request, reverse("cards:profile", args=[card.serial]))
    if request.method == "GET":
        template = "customers/add.html#dialog" if wants_partial(request) else "customers/add.html"
        return _render(request, template, {"form": form})
    # A failed submit from the dialog swaps only its form, so the open dialog stays put.
    if wants_partial(request):
        return _render(request, "customers/add.html#form", {"form": form, "in_dialog": True}, 422)
    return _render(request, "customers/add.html", {"form": form}, status=422)


@merchant_required
@require_GET
def customer_add_fields(request: MerchantRequest) -> HttpResponse:
    """The chosen program's custom fields, swapped into the form when the program changes."""
    form = CustomerAddForm(
        merchant=request.merchant,
        initial={"program": request.GET.get("program")},
    )
    return _render(request, "customers/add.html#custom_fields", {"form": form})


# ---------------------------------------------------------------------------------------------
# Issuing a card of this program to a new customer


@manager_required
@require_http_methods(["GET", "POST"])
def program_issue_card(request: MerchantRequest, pk: int) -> HttpResponse:
    program = program_for_settings(merchant=request.merchant, pk=pk)
    others: list[str] = []
    form = IssueCardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            card = services.customer_register(
                merchant=request.merchant,
                program=program,
                actor=request.user,
                **form.cleaned_data,
            )
        except ValidationError as error:
            others = service_errors_on_fields(form, error)
        else:
            messages.success(
                request,
                gettext("Issued card %(serial)s of %(program)s to %(name)s.")
                % {"serial": card.serial, "program": program.name, "name": card.holder_name},
            )
            return redirect(card.get_absolute_url())
    return render(
        request,
        "cards/programs/issue.html",
        {"program": program, "form": form, "errors": others, "nav": "settings"},
        status=INVALID if request.method == "POST" else 200,
    )


# ---------------------------------------------------------------------------------------------
# Removing a customer


@manager_required
@require_http_methods(["GET", "POST"])
def customer_remove(request: MerchantRequest, pk: int) -> HttpResponse:
    """Erase the personal data of a customer whose cards are all deleted (confirm first)."""
    customer = get_object_or_404(
        Customer.objects.prefetch_related("cards"),
        merchant=request.merchant,
        pk=pk,
    )
    cards = list(customer.cards.all())
    back = reverse("cards:profile", args=[cards[0].serial]) if cards else reverse("customers:list")
    if request.method == "POST":
        name = customer.full_name
        try:
            services.customer_remove(customer=customer, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(back)
        messages.success(
            request,
            gettext("%(name)s was removed. Their cards' history stays, without personal data.")
            % {"name": name},
        )
        return redirect("customers:list")
    context = {"customer": customer, "cards": cards, "back": back}
    live = [card for card in cards if not card.is_deleted]
    context["live_cards"] = live
    template = "customers/remove.html#dialog" if wants_partial(request) else "customers/remove.html"
    return _render(request, template, context)


# ---------------------------------------------------------------------------------------------
# The Information tab


@merchant_required
@require_http_methods(["GET", "POST"])
def information(request: MerchantRequest, serial: str) -> HttpResponse:
    """View and edit personal details; the name printed on the card stays as issued."""
    context = profile_context(request, serial, "information")
    customer: Customer | None = context["customer"]
    form = None
    status = 200
    if customer is not None:
        initial = {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "email": customer.email,
            "phone": customer.phone,
            "birthday": customer.birthday,
        }
        form = CustomerInformationForm(request.POST or None, initial=initial)
        if request.method == "POST":
            if form.is_valid():
                try:
                    services.customer_update(
                        customer=customer, actor=request.user, **form.cleaned_data
                    )
                except ValidationError as error:
                    add_service_errors(form, error)
                else:
                    messages.success(
                        request, gettext("Saved. The name printed on the card is unchanged.")
                    )
                    return redirect("customers:information", serial=serial)
            status = 422
        context["segment_changes"] = list(customer.segment_changes.all()[:10])
    elif request.method == "POST":
        status = 422
    context["form"] = form
    return _render(request, "customers/information.html", context, status=status)
