from django.apps import AppConfig
from django.core.checks import Tags, register
from django.utils.translation import gettext_lazy as _


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = _("Wallet passes")

    def ready(self) -> None:
        # Late imports: receivers, channels and views need the app registry to be ready.
        from cards import signals
        from cards.card_page import CARD_PAGE_PARTS
        from loyalty import signals as loyalty_signals
        from pushes.channels import CHANNELS
        from pushes.models import Channel
        from wallet import checks, receivers
        from wallet.channels import AppleWalletChannel, GoogleWalletChannel
        from wallet.views import card_page

        signals.ledger_recorded.connect(
            receivers.card_entries_recorded, dispatch_uid="wallet.ledger"
        )
        signals.card_changed.connect(receivers.card_changed, dispatch_uid="wallet.card_changed")
        signals.program_changed.connect(receivers.program_changed, dispatch_uid="wallet.program")
        signals.card_link_rotated.connect(receivers.card_link_rotated, dispatch_uid="wallet.link")
        loyalty_signals.merchant_changed.connect(
            receivers.merchant_changed, dispatch_uid="wallet.merchant"
        )
        # Messages from the Send push tab reach wallet devices through pushes' delivery.
        CHANNELS[Channel.APPLE_WALLET.value] = AppleWalletChannel()
        CHANNELS[Channel.GOOGLE_WALLET.value] = GoogleWalletChannel()
        CARD_PAGE_PARTS.register(card_page.card_page_part)
        register(checks.check_test_credentials, Tags.security, deploy=True)
