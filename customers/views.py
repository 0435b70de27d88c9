from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from loyalty.tenancy import merchant_required


@merchant_required
def customer_list(request: HttpRequest) -> HttpResponse:
    return render(request, "customers/list.html", {})
