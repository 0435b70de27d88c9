"""The statistics' downloads, mounted at /statistics/ (namespace "analytics"); owners and admins.

The home page itself is the site's root (``home`` in loyalty/urls.py). Each chart's numbers
download as ``/statistics/<chart>.csv`` with the page's own query (period, dates, program).
"""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path(f"{chart.replace('_', '-')}.csv", views.chart_csv, {"chart": chart}, name=f"{chart}_csv")
    for chart in (
        "revenue",
        "visits",
        "new_cards",
        "rating",
        "segments",
        "tiers",
        "reversal_reasons",
    )
]
