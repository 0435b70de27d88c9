"""The settings, mounted at /settings/ (namespace "settings"); owners and admins only.

Part of the project's wiring, like ``loyalty.urls``: it gathers each app's settings pages.
"""

from django.urls import include, path

from cards.urls import settings_urlpatterns as program_urlpatterns
from customers.urls import settings_urlpatterns as segment_urlpatterns
from loyalty import views
from pushes.campaign_urls import settings_urlpatterns as message_urlpatterns

app_name = "settings"

urlpatterns = [
    path("", views.settings_home, name="home"),
    path("programs/", include(program_urlpatterns)),
    path("team/", views.team, name="team"),
    path("team/invite/", views.team_invite, name="invite"),
    path("team/invitations/<int:pk>/resend/", views.invitation_resend, name="invitation_resend"),
    path("team/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("team/members/<int:pk>/role/", views.member_role, name="member_role"),
    path("team/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("audit/", views.audit_log, name="audit"),
    path("language/", views.settings_language, name="language"),
    path("contact/", views.settings_contact, name="contact"),
    path("", include(segment_urlpatterns)),
    path("", include(message_urlpatterns)),
]
