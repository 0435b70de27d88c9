"""The COPY columns of the three tables, and the text of the values every row shares.

Money is written from a table of ready-made texts (``MONEY``): formatting cents is most of
what a row costs otherwise.
"""

from __future__ import annotations

from django.db.models import Model

from cards.models import Card, LedgerEntry
from cards.services.ledger import request_fingerprint
from customers.models import Customer

# fmt: off
LEDGER_COLUMNS = (
    "kind", "source", "created_at", "operation_key", "sequence", "comment", "request_hash",
    "actor_id", "purchase_amount", "amount_delta", "ltv_delta", "stamps_delta",
    "stamps_earned_delta", "rewards_earned_delta", "rewards_available_delta",
    "rewards_redeemed_delta", "points_delta", "points_earned_delta", "points_redeemed_delta",
    "visits_delta", "cashback_percentage", "tier_name", "tier_threshold", "tier_percentage",
    "referred_card_id", "card_id", "merchant_id",
)
CARD_COLUMNS = (
    "id", "merchant_id", "program_id", "customer_id", "serial", "status", "devices", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content", "issued_at", "installed_at",
    "expires_on", "deleted_at", "holder_name", "install_token", "referral_token",
    "referred_by_id", "transaction_amount", "ltv", "peak_transaction_amount", "stamps_earned",
    "stamps_balance", "rewards_earned", "rewards_available", "rewards_redeemed", "points_balance",
    "points_earned", "points_redeemed", "total_visits", "referral_stamps", "referral_points",
    "tier_name", "tier_threshold", "cashback_percentage", "last_visit_at", "last_stamp_earned_at",
    "last_reward_earned_at", "last_reward_redeemed_at", "last_points_earned_at",
    "last_points_redeemed_at",
)
CUSTOMER_COLUMNS = (
    "id", "merchant_id", "first_name", "last_name", "email", "phone", "birthday", "language",
    "email_verified_at", "custom_fields", "segment", "segment_changed_at", "total_visits",
    "last_visit_at", "last_activity_at", "created_at",
)
# fmt: on
TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "customers": (Customer, CUSTOMER_COLUMNS),
    "cards": (Card, CARD_COLUMNS),
    "ledger": (LedgerEntry, LEDGER_COLUMNS),
}

NULL = "\\N"
NO_TIER = f"\t{NULL}\t{NULL}"  # tier_name, tier_threshold, tier_percentage of most entries
MONEY = [f"{cents // 100}.{cents % 100:02d}" for cents in range(200_000)]
# The request hash of the entries the system writes (``ledger_append`` fingerprints its kind).
SYSTEM_FINGERPRINTS = {
    kind: request_fingerprint(kind) for kind in ("card_issued", "welcome_bonus", "referral_bonus")
}


def money(cents: int) -> str:
    """Cents as the text of a money column ("-12.50")."""
    if cents < 0:
        return "-" + money(-cents)
    return MONEY[cents] if cents < 200_000 else f"{cents // 100}.{cents % 100:02d}"
