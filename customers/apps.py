from typing import Any

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        # Late imports: the models behind these modules need the app registry to be ready.
        from cards.signals import holder_email_confirmed, ledger_recorded
        from customers.services import customer_confirm_email, customer_record_activity

        def record_activity(sender: Any, *, card: Any, visits: int, at: Any, **kwargs: Any) -> None:
            if card.customer_id is not None:
                customer_record_activity(customer_id=card.customer_id, visits=visits, at=at)

        def confirm_email(sender: Any, *, card: Any, email: str, at: Any, **kwargs: Any) -> None:
            if card.customer_id is not None:
                customer_confirm_email(customer_id=card.customer_id, email=email, at=at)

        ledger_recorded.connect(record_activity, weak=False, dispatch_uid="customers.activity")
        holder_email_confirmed.connect(
            confirm_email, weak=False, dispatch_uid="customers.email_confirmed"
        )
