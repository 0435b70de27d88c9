"""URLs of the CRM, mounted at the site root: the customers list at /customers/ and the
profile's Information tab next to the other tabs at /cards/<serial>/information/."""

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("customers/", views.customer_list, name="list"),
    path("customers/export.csv", views.customer_export, name="export"),
    path("customers/add/", views.customer_add, name="add"),
    path("customers/add/fields/", views.customer_add_fields, name="add_fields"),
    path("customers/segments/", views.segments, name="segments"),
    path("customers/segments/recompute/", views.segments_recompute, name="segments_recompute"),
    path("customers/<int:pk>/remove/", views.customer_remove, name="remove"),
    path("cards/<str:serial>/information/", views.information, name="information"),
]
