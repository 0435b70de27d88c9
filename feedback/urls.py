"""URLs of feedback: the profile's Feedback tab, mounted at /cards/ next to the other profile
tabs, and the card page's rating form (``public_urlpatterns``, in the "public" namespace)."""

from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("<str:serial>/feedback/", views.tab, name="tab"),
]

public_urlpatterns = [
    path("c/<slug:install_token>/feedback/", views.card_feedback, name="card_feedback"),
]
