from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = _("Customer feedback")

    def ready(self) -> None:
        # Late imports: views and the registries they fill need the app registry to be ready.
        from cards.card_page import CARD_PAGE_PARTS
        from cards.profile import PROFILE_PARTS
        from feedback import views

        PROFILE_PARTS.register(views.profile_part)
        CARD_PAGE_PARTS.register(views.card_page_part)
