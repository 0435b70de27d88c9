"""The project's URLs: every app's pages, mounted where merchants and customers find them.

With ``settings_urls``, ``settings``, ``celery`` and ``wsgi`` this module is the project's
wiring: it may import every app, while loyalty's own app modules import none (see the README).
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from analytics import views as analytics_views
from cards.urls import public_urlpatterns as card_public_urlpatterns
from cards.views import counter as counter_views
from customers.urls import public_urlpatterns as join_urlpatterns
from feedback.urls import public_urlpatterns as feedback_public_urlpatterns
from loyalty import views
from loyalty.media import media_urlpatterns
from pushes.views import devinbox as push_dev_views
from wallet import urls as wallet_urls

# What customers see without logging in (namespace "public"): the join pages, the card and its
# rating form, gathered from the apps that own them.
public_urlpatterns = card_public_urlpatterns + join_urlpatterns + feedback_public_urlpatterns

urlpatterns = [
    # The merchant's home: statistics for owners and admins, the customer list for staff.
    path("", analytics_views.home, name="home"),
    path("statistics/", include("analytics.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("merchant/switch/", views.merchant_switch, name="merchant_switch"),
    path("healthz", views.healthz, name="healthz"),
    # static/'s strings per language: {% url 'javascript_catalog' LANGUAGE_CODE %} before a script.
    path("language/", views.language_update, name="language_update"),
    path("jsi18n/<slug:language>.js", views.javascript_catalog, name="javascript_catalog"),
    # The CRM at /customers/ and the profile's Information tab at /cards/<serial>/information/.
    path("", include("customers.urls")),
    path("cards/", include("cards.urls")),
    # The counter's scanner: a scanned or typed code opens the card's counter view.
    path("scan/", counter_views.scan, name="scan"),
    path("cards/", include("feedback.urls")),
    # The Send push tab at /cards/<serial>/push/ and the card page's /c/<token>/push/subscribe/.
    path("cards/", include("pushes.urls")),
    path("", include("pushes.public_urls")),
    path("campaigns/", include("pushes.campaign_urls")),
    # Development only (404 unless DEBUG and PUSH_DEV_INBOX_URL): the local push inbox.
    path("dev/push-inbox/", push_dev_views.push_inbox, name="push_dev_inbox"),
    path("", include("cards.activity_urls")),
    # Apple Wallet's PassKit web service (the pass's webServiceURL) and the card page's
    # "Add to Apple Wallet" / "Save to Google Wallet" links.
    path("wallet/apple/", include((wallet_urls.passkit_urlpatterns, "passkit"))),
    path("", include((wallet_urls.public_urlpatterns, "wallet_public"))),
    # What customers see without logging in (namespace "public"): join pages and the card.
    path(
        "",
        include(
            (card_public_urlpatterns + join_urlpatterns + feedback_public_urlpatterns, "public")
        ),
    ),
    path("settings/", include("loyalty.settings_urls")),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("admin/", admin.site.urls),
    # Uploaded logos under MEDIA_URL, in production too (whitenoise serves only static files).
    *media_urlpatterns(),
]
