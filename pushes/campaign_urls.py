"""The campaigns pages, mounted at /campaigns/ (namespace "campaigns"); owners and admins."""

from django.urls import path

from pushes.views import automatic, campaigns

app_name = "campaigns"

urlpatterns = [
    path("", campaigns.campaign_list, name="list"),
    path("new/", campaigns.campaign_new, name="new"),
    path("audience/", campaigns.campaign_audience, name="audience"),
    path("<int:pk>/", campaigns.campaign_detail, name="detail"),
    path("<int:pk>/edit/", campaigns.campaign_edit, name="edit"),
    path("<int:pk>/cancel/", campaigns.campaign_cancel, name="cancel"),
    path("automatic/", automatic.auto_message_list, name="automatic"),
    path("automatic/<int:pk>/", automatic.auto_message_edit, name="automatic_edit"),
    path(
        "automatic/<int:pk>/preview/",
        automatic.auto_message_preview,
        name="automatic_preview",
    ),
]

# Namespace "settings" (see loyalty/settings_urls.py).
settings_urlpatterns = [
    path("messages/", campaigns.message_settings, name="messages"),
]
