"""URLs of the CRM, mounted at the site root: the customers list at /customers/ and the
profile's Information tab next to the other tabs at /cards/<serial>/information/;
``settings_urlpatterns`` are the segment thresholds at /settings/segments/."""

from django.urls import path

from customers.views import crm, segments

app_name = "customers"

urlpatterns = [
    path("customers/", crm.customer_list, name="list"),
    path("customers/export.csv", crm.customer_export, name="export"),
    path("customers/add/", crm.customer_add, name="add"),
    path("customers/add/fields/", crm.customer_add_fields, name="add_fields"),
    path("customers/segments/", segments.segments, name="segments"),
    path("customers/segments/recompute/", segments.segments_recompute, name="segments_recompute"),
    path("customers/<int:pk>/remove/", crm.customer_remove, name="remove"),
    path("cards/<str:serial>/information/", crm.information, name="information"),
]

# Namespace "settings" (see loyalty/settings_urls.py).
settings_urlpatterns = [
    path("segments/", segments.segment_settings, name="segments"),
    path("segments/preview/", segments.segment_preview, name="segments_preview"),
]
