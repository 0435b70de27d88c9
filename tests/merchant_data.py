"""Everything stored for one merchant, row by row: to show that a refused request changed
nothing (compare before and after) and that an accepted one changed something."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from cards.models import Card, CustomField, LedgerEntry, Program, RetiredCardLink, Tier
from customers.models import (
    Customer,
    ImportColumnChoice,
    ImportJob,
    ImportProblem,
    ImportRow,
    SegmentChange,
)
from feedback.models import Feedback
from loyalty.models import AuditEvent, Invitation, Membership, Merchant
from pushes.models import (
    AutoMessage,
    Campaign,
    Delivery,
    MessageSettings,
    PushMessage,
    PushSubscription,
)
from wallet.models import (
    ApplePush,
    AppleRegistration,
    GoogleClass,
    GoogleObject,
    GoogleUpdate,
    WalletPass,
)

# Each model with the lookup from its rows to their merchant.
OWNED_BY: dict[type[Model], str] = {
    Merchant: "pk",
    Membership: "merchant",
    Invitation: "merchant",
    AuditEvent: "merchant",
    Program: "merchant",
    Tier: "program__merchant",
    CustomField: "program__merchant",
    Customer: "merchant",
    SegmentChange: "merchant",
    ImportJob: "merchant",
    ImportRow: "job__merchant",
    ImportProblem: "job__merchant",
    ImportColumnChoice: "merchant",
    Card: "merchant",
    RetiredCardLink: "card__merchant",
    LedgerEntry: "merchant",
    Feedback: "merchant",
    PushSubscription: "merchant",
    PushMessage: "merchant",
    Campaign: "merchant",
    MessageSettings: "merchant",
    AutoMessage: "merchant",
    Delivery: "message__merchant",
    WalletPass: "merchant",
    AppleRegistration: "merchant",
    ApplePush: "wallet_pass__merchant",
    GoogleClass: "program__merchant",
    GoogleObject: "merchant",
    GoogleUpdate: "google_object__merchant",
}


def merchant_data(merchant: Merchant) -> dict[str, list[dict[str, Any]]]:
    """Every row of the merchant's data, every column, in a stable order."""
    return {
        model.__name__: list(
            model._default_manager.filter(**{OWNED_BY[model]: merchant.pk}).order_by("pk").values()
        )
        for model in OWNED_BY
    }
