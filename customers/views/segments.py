"""The RFM segments: the grid with how many customers sit in each cell and who moved lately,
and its thresholds in Settings (owners and admins) with a live preview of the counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers import segments as rfm
from customers import services, tasks
from customers.forms import SegmentBandsForm
from customers.models import Segment
from customers.segments import SegmentBands
from loyalty.celery import delay_or_run
from loyalty.http import MerchantRequest, add_service_errors, is_manager
from loyalty.models import Merchant
from loyalty.tenancy import manager_required, merchant_required, owner_required

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

INVALID = 422


@merchant_required
@require_GET
def segments(request: MerchantRequest) -> HttpResponse:
    """The grid under the merchant's thresholds, the count in each cell, and who moved lately.

    The thresholds are edited in Settings (owners and admins), which records who changed them.
    """
    merchant = request.merchant
    counts = rfm.segment_counts(merchant=merchant)
    grid = rfm.segment_grid(SegmentBands.of(merchant))
    context = {
        "nav": "customers",
        "grid": {
            "frequency": grid.frequency,
            "rows": [
                (label, [(segment, segment.label, counts[segment]) for segment in row])
                for label, row in grid.rows
            ],
            "lost_after": grid.lost_after,
        },
        "no_visits": counts[Segment.NO_VISITS],
        "lost": counts[Segment.LOST],
        "moves": list(rfm.segment_moves(merchant=merchant)),
        "thresholds_url": reverse("settings:segments") if is_manager(request) else None,
    }
    return render(request, "customers/segments.html", context)


@owner_required
@require_POST
def segments_recompute(request: MerchantRequest) -> HttpResponse:
    """Queue this merchant's recompute now (the same task the nightly run uses)."""
    merchant_id = request.merchant.pk
    # With the broker down the recompute runs in this request rather than being lost.
    transaction.on_commit(
        lambda: delay_or_run(tasks.recompute_merchant_segments, merchant_id), robust=True
    )
    messages.success(
        request,
        gettext("Segments are being recomputed; refresh the page in a moment to see them."),
    )
    back = "customers:segments" if request.POST.get("next") == "segments" else "customers:list"
    return redirect(back)


# ---------------------------------------------------------------------------------------------
# Thresholds (Settings)


@dataclass(frozen=True)
class GridRow:
    label: str
    cells: list[tuple[str, StrOrPromise, int, int]]  # (segment key, label, now, then)


def _bands_or_errors(form: SegmentBandsForm) -> SegmentBands | None:
    """The bands typed, or None with the errors on the form."""
    if not form.is_valid():
        return None
    try:
        return rfm.segment_bands_clean(**form.raw_bands())
    except ValidationError as error:
        add_service_errors(form, error)
        return None


def _preview(merchant: Merchant, bands: SegmentBands | None) -> dict[str, Any]:
    """Counts per segment now and under ``bands`` (two aggregate queries)."""
    if bands is None:
        return {"preview_valid": False}
    current = SegmentBands.of(merchant)
    now_counts = rfm.segment_counts_for_bands(merchant=merchant, bands=current)
    counts = rfm.segment_counts_for_bands(merchant=merchant, bands=bands)

    def cell(key: Segment) -> tuple[str, StrOrPromise, int, int]:
        return (key, key.label, now_counts[key], counts[key])

    grid = rfm.segment_grid(bands)
    return {
        "preview_valid": True,
        "frequency_labels": grid.frequency,
        "grid": [
            GridRow(label=label, cells=[cell(key) for key in row]) for label, row in grid.rows
        ],
        "outside": [cell(Segment.NO_VISITS), cell(Segment.LOST)],
        "lost_after": grid.lost_after,
        "changed": bands != current,
        "total": sum(counts.values()),
    }


@manager_required
@require_http_methods(["GET", "POST"])
def segment_settings(request: MerchantRequest) -> HttpResponse:
    merchant = request.merchant
    current = SegmentBands.of(merchant)
    if request.method == "POST":
        form = SegmentBandsForm(request.POST)
        bands = _bands_or_errors(form)
        if bands is not None and "save" in request.POST:
            moved = services.segment_bands_update(
                merchant=merchant, bands=bands, actor=request.user
            )
            if moved is None:
                saved = gettext(
                    "Saved the segment thresholds; customers are being moved to their new "
                    "segments now."
                )
            else:
                saved = ngettext(
                    "Saved the segment thresholds; %(count)s customer changed segment.",
                    "Saved the segment thresholds; %(count)s customers changed segment.",
                    moved,
                ) % {"count": moved}
            messages.success(request, saved)
            return redirect("settings:segments")
        status = 200 if bands is not None else INVALID
    else:
        form = SegmentBandsForm(initial=current.fields())
        bands, status = current, 200
    context = {"form": form, "nav": "settings", "section": "segments", **_preview(merchant, bands)}
    return render(request, "customers/segment_settings.html", context, status=status)


@manager_required
@require_POST
def segment_preview(request: MerchantRequest) -> HttpResponse:
    """The preview grid alone, for htmx while the thresholds are typed; nothing is saved."""
    form = SegmentBandsForm(request.POST)
    bands = _bands_or_errors(form)
    context = {"form": form, **_preview(request.merchant, bands)}
    return render(request, "customers/segment_settings.html#preview", context)
