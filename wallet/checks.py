"""System checks of the wallet app (registered in ``WalletConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error


def check_test_credentials(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``manage.py check --deploy``: production never signs passes with a made-up CA."""
    if not getattr(settings, "WALLET_TEST_CREDENTIALS", False):
        return []
    return [
        Error(
            "WALLET_TEST_CREDENTIALS is on: passes and save links are signed with generated "
            "test keys that Apple Wallet and Google Wallet refuse.",
            hint=(
                "Set APPLE_PASS_TYPE_ID, APPLE_TEAM_ID, the pass certificate and WWDR "
                "certificate, GOOGLE_WALLET_ISSUER_ID and GOOGLE_WALLET_SERVICE_ACCOUNT_FILE "
                "(see the README), and unset WALLET_TEST_CREDENTIALS."
            ),
            id="wallet.E001",
        )
    ]
