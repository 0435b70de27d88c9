"""Fixtures of the wallet tests: test credentials, the local APNs and Google Wallet stand-ins."""

from tests.wallet.apns_fixtures import apns_server  # noqa: F401
from tests.wallet.apple_fixtures import apple_credentials  # noqa: F401
from tests.wallet.google_fixtures import (  # noqa: F401
    google_api,
    google_credentials,
    google_queued,
    google_stand_in,
)
