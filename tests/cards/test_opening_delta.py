"""An imported card's opening balance (``rules.opening_delta``): what a former system said the
card held, as one entry the fold turns back into those balances."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cards import rules

STAMPS = rules.StampRules(mechanism="visit", stamps_per_reward=10)
TIERS = rules.CashbackRules(
    tiers=(
        rules.Tier(name="Bronze", threshold=Decimal("0"), percentage=Decimal("5")),
        rules.Tier(name="Silver", threshold=Decimal("500"), percentage=Decimal("7")),
    )
)


def opened(rule_set: rules.StampRules | rules.CashbackRules, **opening: Any) -> rules.Balances:
    deltas = [rules.issue_delta(rule_set)]
    delta = rules.opening_delta(rule_set, rules.Opening(**opening))
    if delta is not None:
        deltas.append(delta)
    return rules.fold(deltas)


def test_stamps_past_a_full_card_turn_into_rewards_beside_those_already_won() -> None:
    balances = opened(STAMPS, stamps=23, rewards=1, visits=30)

    assert (balances.stamps_balance, balances.rewards_available) == (3, 3)
    assert (balances.stamps_earned, balances.rewards_earned, balances.total_visits) == (23, 3, 30)


def test_the_amount_spent_is_lifetime_value_but_no_purchase() -> None:
    delta = rules.opening_delta(STAMPS, rules.Opening(spent=Decimal("84.50")))

    assert delta is not None
    assert (delta.amount, delta.ltv) == (Decimal("84.50"), Decimal("84.50"))
    assert not rules.is_purchase(delta)


def test_a_cashback_card_enters_the_tier_its_spending_reaches_unless_the_row_names_one() -> None:
    reached = opened(TIERS, points=Decimal("12.50"), spent=Decimal("600"))
    named = opened(TIERS, spent=Decimal("600"), tier=TIERS.tiers[0])

    assert (reached.tier_name, reached.points_balance) == ("Silver", Decimal("12.50"))
    assert (reached.cashback_percentage, named.tier_name) == (Decimal("7"), "Bronze")


def test_an_empty_balance_writes_no_opening_entry() -> None:
    assert rules.opening_delta(STAMPS, rules.Opening()) is None
    assert rules.opening_delta(TIERS, rules.Opening()) is None
