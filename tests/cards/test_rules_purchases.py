"""The pure rules behind the referral and idempotency checks: what a purchase is, and one
spelling for every way of typing the same input."""

from decimal import Decimal

from cards import rules
from cards.rules import Balances

D = Decimal
SPEND = rules.StampRules(mechanism="spend", stamps_per_reward=10, spend_per_stamp=D("10"))


def test_a_purchase_is_an_entry_with_money_spent() -> None:
    (purchase,) = rules.stamp_add_transaction_amount(Balances(), SPEND, value="10")
    (redeemed,) = rules.stamp_redeem_rewards(
        Balances(rewards_available=1), SPEND, value=1, purchase_amount="4"
    )
    (free_reward,) = rules.stamp_add_rewards(Balances(), SPEND, value=1, purchase_amount="0")
    refund = rules.stamp_refund_transaction_amount(
        Balances(transaction_amount=D("10"), ltv=D("10")), SPEND, value="10"
    )
    (stamps,) = rules.stamp_add_stamps(Balances(), SPEND, value=1)
    assert rules.is_purchase(purchase)
    assert rules.is_purchase(redeemed)
    assert not rules.is_purchase(free_reward)
    assert not any(rules.is_purchase(delta) for delta in refund)
    assert not rules.is_purchase(stamps)


def test_inputs_read_alike_have_one_spelling() -> None:
    assert rules.canonical_input("35", count=False) == rules.canonical_input(" 35.00", count=False)
    assert rules.canonical_input(D("35"), count=False) == "35.00"
    assert rules.canonical_input("2.0", count=True) == rules.canonical_input(2, count=True) == "2"
    assert rules.canonical_input(None, count=False) == rules.canonical_input("", count=False)
    # Refused input stays as typed, apart from any parsed value.
    assert rules.canonical_input("1.5", count=True) == "?1.5"
    assert rules.canonical_input("1.5", count=True) != rules.canonical_input("1.50", count=True)
