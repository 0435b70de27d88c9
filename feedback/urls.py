"""The profile's Feedback tab, mounted at /cards/ next to the other profile tabs."""

from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("<str:serial>/feedback/", views.tab, name="tab"),
]
