"""The pure rule functions, exhaustively with hypothesis (no database)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cards import rules

STAMPS = rules.StampRules(mechanism="spend", stamps_per_reward=10, spend_per_stamp=Decimal("10"))
TIERS = rules.CashbackRules(
    tiers=(
        rules.Tier("Bronze", Decimal("0"), Decimal("5")),
        rules.Tier("Silver", Decimal("500"), Decimal("7")),
        rules.Tier("Gold", Decimal("1000"), Decimal("10")),
    )
)
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2)


@given(balance=st.integers(0, 9), amount=money)
def test_a_purchase_converts_every_full_card_into_a_reward(balance: int, amount: Decimal) -> None:
    start = rules.Balances(stamps_balance=balance, stamps_earned=balance)
    (delta,) = rules.stamp_add_transaction_amount(start, STAMPS, value=amount)
    after = rules.apply(start, delta)
    earned = int(amount // 10)
    assert after.stamps_earned == balance + earned
    assert after.rewards_available == (balance + earned) // 10
    assert after.stamps_balance == (balance + earned) % 10
    assert 0 <= after.stamps_balance < 10


@given(spent=money, refund_share=st.floats(0.01, 1), balance=st.integers(0, 9))
def test_a_refund_takes_back_at_most_the_balance(
    spent: Decimal, refund_share: float, balance: int
) -> None:
    start = rules.Balances(
        transaction_amount=spent,
        ltv=spent,
        peak_transaction_amount=spent,
        stamps_balance=balance,
        stamps_earned=balance + 20,
        rewards_available=2,
        rewards_earned=2,
    )
    refund = max(rules.money(spent * Decimal(str(refund_share))), Decimal("0.01"))
    after = rules.fold(rules.stamp_refund_transaction_amount(start, STAMPS, value=refund), start)
    taken = balance - after.stamps_balance
    assert taken == min(int(refund // 10), balance)
    assert after.rewards_available == 2
    assert after.transaction_amount == spent - refund
    assert after.is_valid()


@given(amounts=st.lists(money, min_size=1, max_size=8))
def test_cashback_tier_never_goes_down_and_points_use_the_rate_before_the_purchase(
    amounts: list[Decimal],
) -> None:
    balances = rules.fold([rules.issue_delta(TIERS)])
    for amount in amounts:
        rate_before = balances.cashback_percentage
        threshold_before = balances.tier_threshold
        (delta,) = rules.cashback_add_transaction_amount(balances, TIERS, value=amount)
        assert delta.points == rules.points_for(amount, rate_before)
        balances = rules.apply(balances, delta)
        assert balances.tier_threshold >= threshold_before
        # a correction of half the amount never downgrades the tier either
        half = rules.money(amount / 2)
        if half > 0:
            balances = rules.fold(
                rules.cashback_subtract_transaction_amount(balances, TIERS, value=half), balances
            )
            assert balances.tier_threshold >= threshold_before
            assert balances.is_valid()


def test_points_round_half_up_to_two_places() -> None:
    assert rules.points_for(Decimal("0.10"), Decimal("5")) == Decimal("0.01")  # 0.005 -> 0.01
    assert rules.points_for(Decimal("0.09"), Decimal("5")) == Decimal("0.00")  # 0.0045 -> 0.00
    assert rules.points_for(Decimal("33.33"), Decimal("7.5")) == Decimal("2.50")  # 2.49975


def test_a_purchase_crossing_two_thresholds_reaches_the_highest_tier() -> None:
    start = rules.fold([rules.issue_delta(TIERS)])
    (delta,) = rules.cashback_add_transaction_amount(start, TIERS, value="1200")
    assert delta.points == Decimal("60.00")  # at Bronze's 5 %, the rate before the purchase
    after = rules.apply(start, delta)
    assert (after.tier_name, after.cashback_percentage) == ("Gold", Decimal("10"))
    assert rules.to_next_tier(TIERS.tiers, after) is None


def test_a_changed_tier_percentage_applies_to_later_purchases_only() -> None:
    balances = rules.fold([rules.issue_delta(TIERS)])
    balances = rules.fold(
        rules.cashback_add_transaction_amount(balances, TIERS, value="600"), balances
    )
    assert balances.tier_name == "Silver"
    raised = rules.CashbackRules(
        tiers=(TIERS.tiers[0], rules.Tier("Silver", Decimal("500"), Decimal("8")), TIERS.tiers[2])
    )
    (delta,) = rules.cashback_add_transaction_amount(balances, raised, value="100")
    assert delta.points == Decimal("8.00")
    assert delta.cashback_percentage == Decimal("8")


def test_raising_a_threshold_never_drops_a_card_out_of_its_tier() -> None:
    balances = rules.fold([rules.issue_delta(TIERS)])
    balances = rules.fold(
        rules.cashback_add_transaction_amount(balances, TIERS, value="600"), balances
    )
    moved = rules.CashbackRules(
        tiers=(TIERS.tiers[0], rules.Tier("Silver", Decimal("800"), Decimal("7")), TIERS.tiers[2])
    )
    assert rules.current_tier(moved.tiers, balances).name == "Silver"
    (delta,) = rules.cashback_add_transaction_amount(balances, moved, value="10")
    assert delta.tier is None  # no "upgrade" back down to Bronze
    assert delta.points == Decimal("0.70")
    assert rules.to_next_tier(moved.tiers, balances) == Decimal("400.00")
