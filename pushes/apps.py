from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PushesConfig(AppConfig):
    name = "pushes"
    verbose_name = _("Push notifications")

    def ready(self) -> None:
        # Late imports: views and the registry they fill need the app registry to be ready.
        from cards.card_page import CARD_PAGE_PARTS
        from pushes import views

        CARD_PAGE_PARTS.register(views.card_page_part)
