"""Sign-in, the merchant switcher and the dashboard's front door."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from loyalty.models import Membership
from loyalty.tenancy import merchant_required, switch_merchant


@merchant_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("customers:list")


@login_required
@require_POST
def merchant_switch(request: HttpRequest) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("merchant"),
        user=request.user,
        merchant_id=request.POST.get("merchant"),
    )
    switch_merchant(request, membership.merchant)
    return redirect("home")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def no_membership(request: HttpRequest) -> HttpResponse:
    return render(request, "loyalty/no_membership.html", status=403)
