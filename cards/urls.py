"""URLs of the cards app.

``urlpatterns`` are dashboard pages mounted at /cards/ (the counter's scanner, /scan/, is mounted
by loyalty/urls.py); ``public_urlpatterns`` are the customer-facing pages mounted at the site
root; ``settings_urlpatterns`` at /settings/programs/.
"""

from django.urls import path

from cards.views import counter, dialogs, profile, programs, public, reversals

app_name = "cards"

# The profile of a card: the Profile tab, its metrics and history blocks, lifecycle, CSV.
urlpatterns = [
    path("<str:serial>/", profile.profile, name="profile"),
    path("<str:serial>/metrics/", profile.metrics, name="metrics"),
    path("<str:serial>/history/", profile.history, name="history"),
    path("<str:serial>/history.csv", profile.history_csv, name="history_csv"),
    path("<str:serial>/delete/", profile.delete, name="delete"),
    path("<str:serial>/expiration/", profile.expiration, name="expiration"),
    path("<str:serial>/link/replace/", profile.replace_link, name="replace_link"),
]

# Reversing one entry of the history.
urlpatterns += [
    path(
        "<str:serial>/entries/<int:entry_id>/reverse/",
        reversals.entry_reverse,
        name="entry_reverse",
    ),
]

# Plus/minus dialogs on the profile.
urlpatterns += [
    path("<str:serial>/dialogs/<str:action>/", dialogs.dialog, name="dialog"),
    path(
        "<str:serial>/dialogs/<str:action>/preview/",
        dialogs.dialog_preview,
        name="dialog_preview",
    ),
]

# The counter: one card, compact, with big buttons for the counter's actions (/scan/ opens it).
urlpatterns += [
    path("<str:serial>/counter/", counter.counter, name="counter"),
]

# What customers see (namespace "public", mounted at the site root by loyalty/urls.py).
public_urlpatterns = [
    path("join/<slug:join_token>/qr.svg", public.join_qr, name="join_qr"),
    path("join/<slug:join_token>/theme.css", public.join_theme, name="join_theme"),
    path("r/<slug:referral_token>/", public.referral, name="referral"),
    path("c/<slug:install_token>/", public.card_page, name="card"),
    path("c/<slug:install_token>/installed/", public.card_installed, name="card_installed"),
    path(
        "c/<slug:install_token>/replace-link/",
        public.card_replace_link,
        name="card_replace_link",
    ),
    path(
        "c/<slug:install_token>/manifest.webmanifest",
        public.card_manifest,
        name="card_manifest",
    ),
    path("c/<slug:install_token>/sw.js", public.card_service_worker, name="card_sw"),
    path("c/<slug:install_token>/icon-<int:size>.png", public.card_icon_png, name="card_icon_png"),
    path("c/<slug:install_token>/icon.svg", public.card_icon_svg, name="card_icon_svg"),
    path("c/<slug:install_token>/theme.css", public.card_theme, name="card_theme"),
]

# Settings: programs, their rules and join forms (namespace "settings", owners and admins).
settings_urlpatterns = [
    path("", programs.program_list, name="programs"),
    path("new/", programs.program_create, name="program_create"),
    path("<int:pk>/", programs.program_edit, name="program_edit"),
    path("<int:pk>/archive/", programs.program_archive, name="program_archive"),
    path("<int:pk>/restore/", programs.program_restore, name="program_restore"),
    path("<int:pk>/logo/", programs.program_logo, name="program_logo"),
    path("<int:pk>/fields/", programs.custom_field_create, name="custom_field_create"),
    path("<int:pk>/fields/<int:field_pk>/", programs.custom_field_edit, name="custom_field_edit"),
    path(
        "<int:pk>/fields/<int:field_pk>/delete/",
        programs.custom_field_delete,
        name="custom_field_delete",
    ),
    path(
        "<int:pk>/fields/<int:field_pk>/move/",
        programs.custom_field_move,
        name="custom_field_move",
    ),
]
