"""What the card page (customers) calls, mounted at the site root next to /c/<token>/."""

from django.urls import path

from pushes.views import tab as views

app_name = "pushes_public"

urlpatterns = [
    path("c/<slug:install_token>/push/subscribe/", views.subscribe, name="subscribe"),
]
