"""The wallet's URLs.

- ``public_urlpatterns`` (namespace ``wallet_public``, at the site root next to the card page
  ``/c/<token>/``): the ``.pkpass`` download and the "Save to Google Wallet" link.
- ``passkit_urlpatterns`` (namespace ``passkit``, at ``/wallet/apple/``, the pass's
  ``webServiceURL``): Apple's PassKit web service, exactly as Apple names its paths.
"""

from django.urls import path

from wallet.views import apple_pass, google_save, passkit

public_urlpatterns = [
    path("c/<slug:install_token>/wallet/card.pkpass", apple_pass.download, name="apple_pass"),
    path("c/<slug:install_token>/wallet/google/", google_save.save, name="google_save"),
]

passkit_urlpatterns = [
    path(
        "v1/devices/<str:device_id>/registrations/<str:pass_type_id>/<str:serial>",
        passkit.registration,
        name="registration",
    ),
    path(
        "v1/devices/<str:device_id>/registrations/<str:pass_type_id>",
        passkit.updated_serials,
        name="updated_serials",
    ),
    path("v1/passes/<str:pass_type_id>/<str:serial>", passkit.latest_pass, name="latest_pass"),
    path("v1/log", passkit.log, name="log"),
]
