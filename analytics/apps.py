from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        # Late imports: the receivers' models need the app registry to be ready.
        from analytics import receivers, services
        from cards import signals
        from cards.services.ledger import LEDGER_WRITE_PARTS
        from feedback.signals import feedback_recorded

        LEDGER_WRITE_PARTS.register(services.rollup_write_part)
        signals.card_changed.connect(receivers.card_changed, dispatch_uid="analytics.card")
        feedback_recorded.connect(receivers.feedback_recorded, dispatch_uid="analytics.feedback")
        signals.ledger_bulk_loaded.connect(
            receivers.ledger_bulk_loaded, dispatch_uid="analytics.bulk"
        )
