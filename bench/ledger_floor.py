"""The raw floor of a balance change: the ledger's transaction with nothing around it.

What every dialog POST must do at the least, straight through psycopg: BEGIN; lock the card
row; insert one ledger entry; fold it into the card's aggregates; COMMIT. The entry is a
``points_added`` of 1.00 on a cashback card, written as ``cards.services.ledger_append``
writes ``cards.rules.cashback_bonus``'s delta of that kind (points and points earned, nothing
else), so ``manage.py verify_ledger`` still finds every card matching its ledger afterwards.
A points_add from the dialog would also count a visit, which the CRM's customer row follows;
the floor touches the card alone, so it adds no visit.

Plain SQL and values, no psycopg and no Django at import time: the load generator
(bench/http_client.py) runs it over its own connections, and a test runs it through Django's.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

POINTS = Decimal("1.00")
KIND = "points_added"
SOURCE = "dashboard"
ZERO = Decimal("0.00")

LOCK = "SELECT points_balance, points_earned FROM cards_card WHERE id = %s FOR UPDATE"
# The entry's columns, every one but the id (the database keeps no defaults of its own: Django
# supplies them): those that differ per entry, then those fixed for a points_added of 1.00.
_PER_ENTRY = ("merchant_id", "card_id", "actor_id", "created_at", "operation_key", "request_hash")
_FIXED = {
    "kind": KIND,
    "source": SOURCE,
    "sequence": 0,
    "comment": "",
    "purchase_amount": None,
    "amount_delta": ZERO,
    "ltv_delta": ZERO,
    "stamps_delta": 0,
    "stamps_earned_delta": 0,
    "rewards_earned_delta": 0,
    "rewards_available_delta": 0,
    "rewards_redeemed_delta": 0,
    "points_delta": POINTS,
    "points_earned_delta": POINTS,
    "points_redeemed_delta": ZERO,
    "visits_delta": 0,
    "cashback_percentage": None,
    "tier_name": "",
    "tier_threshold": None,
    "tier_percentage": None,
    "referred_card_id": None,
}
_COLUMNS = (*_PER_ENTRY, *_FIXED)
INSERT = (
    f"INSERT INTO cards_ledgerentry ({', '.join(_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)
UPDATE = (
    "UPDATE cards_card SET points_balance = points_balance + %s, "
    "points_earned = points_earned + %s, last_points_earned_at = %s WHERE id = %s"
)


@dataclass(frozen=True)
class FloorCard:
    card_id: int
    merchant_id: int


def entry_values(
    card: FloorCard, *, actor_id: int | None, request_hash: str, at: datetime.datetime
) -> tuple[object, ...]:
    """The INSERT's values. ``at`` is taken once the lock is held (as the services take the
    clock), so a card's entries are in the order they were folded."""
    # A request's key never holds ":" (the system's keys do).
    key = uuid.uuid4().hex
    per_entry = (card.merchant_id, card.card_id, actor_id, at, key, request_hash)
    return (*per_entry, *_FIXED.values())


def update_values(card: FloorCard, *, at: datetime.datetime) -> tuple[object, ...]:
    return (POINTS, POINTS, at, card.card_id)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
