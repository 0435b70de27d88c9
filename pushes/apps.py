from django.apps import AppConfig
from django.core.checks import Tags, register
from django.utils.translation import gettext_lazy as _


class PushesConfig(AppConfig):
    name = "pushes"
    verbose_name = _("Push notifications")

    def ready(self) -> None:
        # Late imports: views and the registry they fill need the app registry to be ready.
        from cards.card_page import CARD_PAGE_PARTS
        from cards.signals import card_link_rotated, ledger_recorded
        from loyalty.signals import demo_data_seeded
        from pushes import checks, receivers
        from pushes.views import tab

        CARD_PAGE_PARTS.register(tab.card_page_part)
        card_link_rotated.connect(
            receivers.expire_subscriptions_of_replaced_link,
            dispatch_uid="pushes.replaced_link",
        )
        ledger_recorded.connect(receivers.announce_reward_ready, dispatch_uid="pushes.reward_ready")
        demo_data_seeded.connect(receivers.subscribe_demo_cards, dispatch_uid="pushes.demo")
        register(checks.check_private_endpoints, Tags.security, deploy=True)
