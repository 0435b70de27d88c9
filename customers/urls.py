"""URLs of the CRM, mounted at the site root: the customers list at /customers/ and the
profile's Information tab next to the other tabs at /cards/<serial>/information/;
``settings_urlpatterns`` (namespace "settings") issue a card from a program's settings and set
the segment thresholds; ``public_urlpatterns`` (namespace "public") are the join pages."""

from django.urls import path

from customers.views import crm, imports, join, segments

app_name = "customers"

urlpatterns = [
    path("customers/", crm.customer_list, name="list"),
    path("customers/export.csv", crm.customer_export, name="export"),
    path("customers/add/", crm.customer_add, name="add"),
    path("customers/add/fields/", crm.customer_add_fields, name="add_fields"),
    path("customers/import/", imports.import_start, name="import"),
    path("customers/import/<int:pk>/", imports.import_job, name="import_job"),
    path("customers/import/<int:pk>/mapping/", imports.import_mapping, name="import_mapping"),
    path("customers/import/<int:pk>/apply/", imports.import_apply, name="import_apply"),
    path("customers/import/<int:pk>/discard/", imports.import_discard, name="import_discard"),
    path("customers/import/<int:pk>/problems.csv", imports.import_problems, name="import_problems"),
    path("customers/segments/", segments.segments, name="segments"),
    path("customers/segments/recompute/", segments.segments_recompute, name="segments_recompute"),
    path("customers/<int:pk>/remove/", crm.customer_remove, name="remove"),
    path("cards/<str:serial>/information/", crm.information, name="information"),
]

# Namespace "settings" (see loyalty/settings_urls.py).
settings_urlpatterns = [
    path("programs/<int:pk>/issue/", crm.program_issue_card, name="program_issue_card"),
    path("segments/", segments.segment_settings, name="segments"),
    path("segments/preview/", segments.segment_preview, name="segments_preview"),
]

# What customers see without logging in (namespace "public", see loyalty/urls.py).
public_urlpatterns = [
    path("join/<slug:join_token>/", join.join, name="join"),
]
