"""The Send push tab, mounted under /cards/ next to the other profile tabs."""

from django.urls import path

from pushes.views import tab as views

app_name = "pushes"

urlpatterns = [
    path("<str:serial>/push/", views.tab, name="tab"),
    path("<str:serial>/push/messages/", views.message_list, name="messages"),
    path("<str:serial>/push/<int:message_id>/edit/", views.message_edit, name="edit"),
    path("<str:serial>/push/<int:message_id>/cancel/", views.message_cancel, name="cancel"),
]
