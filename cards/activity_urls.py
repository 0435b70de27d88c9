"""The activity page and its CSV, mounted at the site root by loyalty/urls.py (no namespace):
/activity/ and /activity.csv, owners and admins."""

from django.urls import path

from cards.views import activity

urlpatterns = [
    path("activity/", activity.activity, name="activity"),
    path("activity.csv", activity.activity_csv, name="activity_csv"),
]
