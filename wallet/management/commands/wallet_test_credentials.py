"""Generate the wallets' test credentials into ``DATA_DIR/wallet/`` (kept if already there).

For development with ``WALLET_TEST_CREDENTIALS``: a test CA, "WWDR" intermediate and Pass Type
ID certificate for Apple Wallet, and a service-account key for Google Wallet. Real wallets
refuse what they sign; the flow (signing, the web service, updates) runs end to end.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from wallet import conf
from wallet.apple.credentials import apple_test_credentials_create
from wallet.google.credentials import google_test_credentials_create


class Command(BaseCommand):
    help = "Generate test Apple and Google Wallet credentials into DATA_DIR/wallet/."

    def handle(self, *args: Any, **options: Any) -> None:
        directory = conf.test_credentials_dir()
        apple_test_credentials_create(directory)
        google_test_credentials_create(directory)
        self.stdout.write(f"Test wallet credentials are in {directory}")
