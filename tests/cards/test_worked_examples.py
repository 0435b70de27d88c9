"""The two worked examples of the loyalty rules, step by step, through the services."""

from decimal import Decimal

import pytest

from cards import services
from cards.models import Card, LedgerEntry

pytestmark = pytest.mark.django_db


def _reload(card: Card) -> Card:
    return Card.objects.get(pk=card.pk)


def test_stamp_card_worked_example(stamp_card: Card, staff) -> None:
    # +95 gives 9 stamps (balance 9, visits 1, LTV 95)
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=staff)
    card = _reload(stamp_card)
    assert (card.stamps_balance, card.stamps_earned, card.total_visits, card.ltv) == (
        9,
        9,
        1,
        Decimal("95.00"),
    )

    # +30 gives 3 stamps: balance 12 turns into 1 reward, balance 2
    services.card_add_transaction_amount(card=card, value="30", actor=staff)
    card = _reload(card)
    assert card.stamps_balance == 2
    assert card.stamps_earned == 12
    assert card.rewards_available == 1
    assert card.rewards_earned == 1
    assert card.total_visits == 2
    assert card.ltv == Decimal("125.00")
    assert card.transaction_amount == Decimal("125.00")

    # The 30 was a typo for 3: refund 27 takes back min(2, 2) = 2 stamps
    result = services.card_subtract_transaction_amount(card=card, value="27", actor=staff)
    card = _reload(card)
    assert card.stamps_balance == 0
    assert card.stamps_earned == 10
    assert card.ltv == Decimal("98.00")
    assert card.transaction_amount == Decimal("98.00")
    assert card.rewards_available == 1
    assert card.total_visits == 2
    assert [entry.label for entry in result.entries] == [
        "Refund of amount spent",
        "Stamps redeemed",
    ]


def test_cashback_card_worked_example(cashback_card: Card, staff) -> None:
    # +400 earns 20.00 (balance 20, Bronze, to next 100.00)
    services.card_add_transaction_amount(card=cashback_card, value="400", actor=staff)
    card = _reload(cashback_card)
    assert card.points_balance == Decimal("20.00")
    assert card.tier_name == "Bronze"
    assert card.program.rule_set().tiers[1].threshold - card.transaction_amount == Decimal("100")

    # +200 earns 10.00 at 5 % and then upgrades to Silver (amount 600, balance 30, to next 400)
    services.card_add_transaction_amount(card=card, value="200", actor=staff)
    card = _reload(card)
    assert card.transaction_amount == Decimal("600.00")
    assert card.points_balance == Decimal("30.00")
    assert card.tier_name == "Silver"
    assert card.cashback_percentage == Decimal("7.00")

    # -200: amount 400, LTV 400, clawback 14.00 at 7 %, balance 16, redeemed 14, still Silver
    services.card_subtract_transaction_amount(card=card, value="200", actor=staff)
    card = _reload(card)
    assert card.transaction_amount == Decimal("400.00")
    assert card.ltv == Decimal("400.00")
    assert card.points_balance == Decimal("16.00")
    assert card.points_redeemed == Decimal("14.00")
    assert card.tier_name == "Silver"
    assert card.cashback_percentage == Decimal("7.00")
    # to the next level: Gold's 1000 minus the current 400
    from cards.rules import to_next_tier

    assert to_next_tier(card.program.rule_set().tiers, card.balances()) == Decimal("600.00")
    assert LedgerEntry.objects.filter(card=card).count() == 4  # issued + three actions
