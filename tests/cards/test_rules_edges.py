"""Edges of the pure rules: limits, fallbacks, exact deltas and the messages (no database)."""

from decimal import Decimal

import pytest

from cards import rules
from cards.rules import Balances, Delta, Kind, LedgerError, Tier

D = Decimal
SPEND = rules.StampRules(mechanism="spend", stamps_per_reward=10, spend_per_stamp=D("10"))
VISIT = rules.StampRules(mechanism="visit", stamps_per_reward=10, stamps_per_visit=2)
BRONZE, SILVER, GOLD = (
    Tier("Bronze", D("0"), D("5")),
    Tier("Silver", D("500"), D("7")),
    Tier("Gold", D("1000"), D("10")),
)
TIERS = (BRONZE, SILVER, GOLD)
CASHBACK = rules.CashbackRules(tiers=TIERS)
AMOUNT_MESSAGE = "Enter the amount as a number, for example 12.50."


def silver_card(**values) -> Balances:
    """A cashback card that reached Silver with 600 of purchases."""
    start = {
        "transaction_amount": D("600.00"),
        "ltv": D("600.00"),
        "peak_transaction_amount": D("600.00"),
        "points_balance": D("30.00"),
        "points_earned": D("30.00"),
        "total_visits": 2,
        "tier_name": "Silver",
        "tier_threshold": D("500"),
        "cashback_percentage": D("7"),
    }
    return Balances(**{**start, **values})


def refused(action, *args, **kwargs) -> LedgerError:
    with pytest.raises(LedgerError) as error:
        action(*args, **kwargs)
    return error.value


# ------------------------------------------------------------------------ the error itself


def test_a_ledger_error_names_its_field_and_reads_as_its_message() -> None:
    error = LedgerError("purchase_amount", "Use at most 2 decimal places.")
    assert error.field_name == "purchase_amount"
    assert error.text == "Use at most 2 decimal places."
    assert str(error) == "Use at most 2 decimal places."
    assert error.message_dict == {"purchase_amount": ["Use at most 2 decimal places."]}


# ------------------------------------------------------------------------ parse_amount


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (None, "This field is required."),
        ("", "This field is required."),
        ("   ", "This field is required."),
        (12.5, AMOUNT_MESSAGE),
        (True, AMOUNT_MESSAGE),
        ("twelve", AMOUNT_MESSAGE),
        ("Infinity", AMOUNT_MESSAGE),
        ("NaN", AMOUNT_MESSAGE),
        ("10.005", "Use at most 2 decimal places."),
        ("-0.01", "Enter a positive amount."),
        ("0", "Enter an amount greater than zero."),
        ("1000000.01", "That is more than the 1,000,000.00 allowed at once."),
    ],
)
def test_a_bad_amount_is_refused_with_a_message_for_its_field(raw, text: str) -> None:
    error = refused(rules.parse_amount, raw, field_name="purchase_amount")
    assert (error.field_name, error.text) == ("purchase_amount", text)


def test_a_float_is_refused_even_when_it_looks_like_money() -> None:
    for raw in (12.5, 10.0, 0.1):
        assert refused(rules.parse_amount, raw, field_name="value").text == AMOUNT_MESSAGE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", D("12.50")),
        (" 7 ", D("7.00")),
        ("0.01", D("0.01")),
        (3, D("3.00")),
        (D("12.34"), D("12.34")),
        ("1000000", D("1000000.00")),
        (rules.MAX_AMOUNT, D("1000000.00")),
    ],
)
def test_an_amount_is_read_exactly_up_to_the_limit(raw, expected: Decimal) -> None:
    value = rules.parse_amount(raw, field_name="value")
    assert value == expected
    assert value.as_tuple().exponent == -2


def test_zero_is_an_amount_only_where_allowed() -> None:
    assert rules.parse_amount("0", field_name="value", allow_zero=True) == D("0.00")
    assert rules.parse_amount("0.00", field_name="value", allow_zero=True) == D("0.00")
    error = refused(rules.parse_amount, "-1", field_name="value", allow_zero=True)
    assert error.text == "Enter a positive amount."


def test_an_optional_amount_may_be_empty_or_zero() -> None:
    for empty in (None, "", "  "):
        assert rules.parse_optional_amount(empty, field_name="purchase_amount") is None
    assert rules.parse_optional_amount("0", field_name="purchase_amount") == D("0.00")
    assert rules.parse_optional_amount("4.5", field_name="purchase_amount") == D("4.50")
    error = refused(rules.parse_optional_amount, "x", field_name="purchase_amount")
    assert (error.field_name, error.text) == ("purchase_amount", AMOUNT_MESSAGE)


def test_money_rounds_half_up_to_cents() -> None:
    assert rules.money(D("0.125")) == D("0.13")
    assert rules.money(D("0.135")) == D("0.14")
    assert rules.money(D("2")) == D("2.00")


# ------------------------------------------------------------------------ parse_count


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (None, "This field is required."),
        ("", "This field is required."),
        (" ", "This field is required."),
        (2.0, "Enter a whole number of stamps."),
        (False, "Enter a whole number of stamps."),
        ("two", "Enter a whole number of stamps."),
        ("1.5", "Enter a whole number of stamps."),
        ("Infinity", "Enter a whole number of stamps."),
        ("NaN", "Enter a whole number of stamps."),
        ("0", "Enter at least 1 stamp."),
        ("-3", "Enter at least 1 stamp."),
        ("10001", "That is more than the 10,000 stamps allowed at once."),
    ],
)
def test_a_bad_count_is_refused_with_a_message_for_its_field(raw, text: str) -> None:
    error = refused(rules.parse_count, raw, field_name="value", noun="stamps")
    assert (error.field_name, error.text) == ("value", text)


def test_a_float_count_is_refused_even_when_it_is_whole() -> None:
    error = refused(rules.parse_count, 3.0, field_name="value", noun="rewards")
    assert error.text == "Enter a whole number of rewards."


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", 1), (1, 1), (" 4 ", 4), ("2.0", 2), (10_000, 10_000)]
)
def test_a_count_is_read_as_a_whole_number_up_to_the_limit(raw, expected: int) -> None:
    value = rules.parse_count(raw, field_name="value", noun="stamps")
    assert value == expected
    assert type(value) is int


def test_the_size_limits_accept_the_maximum_and_refuse_one_more() -> None:
    assert rules.parse_count(rules.MAX_COUNT, field_name="value", noun="visits") == 10_000
    error = refused(rules.parse_count, rules.MAX_COUNT + 1, field_name="value", noun="visits")
    assert error.text == "That is more than the 10,000 visits allowed at once."
    assert rules.parse_amount(rules.MAX_AMOUNT, field_name="value") == D("1000000.00")
    error = refused(rules.parse_amount, rules.MAX_AMOUNT + D("0.01"), field_name="value")
    assert error.text == "That is more than the 1,000,000.00 allowed at once."


def test_the_limits_hold_on_every_action() -> None:
    big = Balances(stamps_balance=5, stamps_earned=5, total_visits=20_000, points_balance=D("9"))
    over_count, over_amount = rules.MAX_COUNT + 1, rules.MAX_AMOUNT + D("0.01")
    for action, value in [
        (lambda v: rules.stamp_add_stamps(big, SPEND, value=v), over_count),
        (lambda v: rules.stamp_remove_stamps(big, SPEND, value=v), over_count),
        (lambda v: rules.stamp_write_off_visits(big, VISIT, value=v), over_count),
        (lambda v: rules.stamp_add_rewards(big, SPEND, value=v, purchase_amount="0"), over_count),
        (lambda v: rules.stamp_add_transaction_amount(big, SPEND, value=v), over_amount),
        (lambda v: rules.cashback_add_points(big, CASHBACK, value=v), over_amount),
        (lambda v: rules.cashback_add_transaction_amount(big, CASHBACK, value=v), over_amount),
    ]:
        assert refused(action, value).field_name == "value"
    (delta,) = rules.stamp_add_stamps(Balances(), SPEND, value=rules.MAX_COUNT)
    assert (delta.stamps_earned, delta.rewards_earned, delta.stamps) == (10_000, 1_000, 0)
    (delta,) = rules.cashback_add_points(Balances(), CASHBACK, value=rules.MAX_AMOUNT)
    assert delta.points == D("1000000.00")


# ------------------------------------------------------------------------ balances and folding


def test_balances_of_zero_are_valid_and_any_negative_one_is_not() -> None:
    assert Balances().is_valid()
    for name in (
        "transaction_amount",
        "ltv",
        "stamps_earned",
        "stamps_balance",
        "rewards_earned",
        "rewards_available",
        "rewards_redeemed",
        "points_balance",
        "points_earned",
        "points_redeemed",
        "total_visits",
    ):
        negative = D("-0.01") if name in ("transaction_amount", "ltv") or "points" in name else -1
        assert not Balances(**{name: negative}).is_valid(), name


def test_apply_adds_every_field_of_a_delta() -> None:
    start = Balances(
        transaction_amount=D("100"),
        ltv=D("150"),
        peak_transaction_amount=D("100"),
        stamps_earned=12,
        stamps_balance=2,
        rewards_earned=1,
        rewards_available=1,
        rewards_redeemed=3,
        points_balance=D("5"),
        points_earned=D("8"),
        points_redeemed=D("3"),
        total_visits=4,
        referral_stamps=2,
        referral_points=D("1"),
        tier_name="Bronze",
        tier_threshold=D("0"),
        cashback_percentage=D("5"),
    )
    delta = Delta(
        kind=Kind.PURCHASE,
        amount=D("30"),
        ltv=D("20"),
        stamps=3,
        stamps_earned=4,
        rewards_earned=2,
        rewards_available=5,
        rewards_redeemed=6,
        points=D("1.5"),
        points_earned=D("2.5"),
        points_redeemed=D("0.5"),
        visits=1,
        tier=SILVER,
    )
    assert rules.apply(start, delta) == Balances(
        transaction_amount=D("130"),
        ltv=D("170"),
        peak_transaction_amount=D("130"),
        stamps_earned=16,
        stamps_balance=5,
        rewards_earned=3,
        rewards_available=6,
        rewards_redeemed=9,
        points_balance=D("6.5"),
        points_earned=D("10.5"),
        points_redeemed=D("3.5"),
        total_visits=5,
        referral_stamps=2,
        referral_points=D("1"),
        tier_name="Silver",
        tier_threshold=D("500"),
        cashback_percentage=D("7"),
    )


def test_only_referral_entries_count_as_referral_and_a_lower_amount_keeps_the_peak() -> None:
    start = Balances(
        transaction_amount=D("50"), peak_transaction_amount=D("80"), tier_name="Bronze"
    )
    referral = Delta(kind=Kind.REFERRAL_BONUS, stamps_earned=2, points_earned=D("3"))
    after = rules.apply(start, Delta(**{**referral.__dict__, "is_referral": True}))
    assert (after.referral_stamps, after.referral_points) == (2, D("3"))
    after = rules.apply(
        after, Delta(kind=Kind.WELCOME_BONUS, stamps_earned=4, points_earned=D("5"))
    )
    assert (after.referral_stamps, after.referral_points) == (2, D("3"))
    after = rules.apply(after, Delta(kind=Kind.REFUND, amount=D("-10")))
    assert (after.transaction_amount, after.peak_transaction_amount) == (D("40"), D("80"))
    assert after.tier_name == "Bronze"


def test_fold_starts_from_the_given_balances_or_from_zero() -> None:
    add = Delta(kind=Kind.STAMPS_ADDED, stamps=2, stamps_earned=2)
    assert rules.fold([add, add]) == Balances(stamps_balance=4, stamps_earned=4)
    start = Balances(stamps_balance=1, stamps_earned=1)
    assert rules.fold([add], start) == Balances(stamps_balance=3, stamps_earned=3)
    assert rules.fold([], start) == start


def test_the_dates_an_entry_moves() -> None:
    purchase = Delta(kind=Kind.PURCHASE, visits=1, stamps_earned=1, points_earned=D("1"))
    assert rules.dates_moved(purchase) == [
        "last_visit_at",
        "last_stamp_earned_at",
        "last_points_earned_at",
    ]
    assert rules.dates_moved(Delta(kind=Kind.STAMPS_REMOVED, stamps=-1, stamps_earned=-1)) == []


# ------------------------------------------------------------------------ stamp cards


def test_a_stamp_purchase_writes_exactly_one_visit_with_its_purchase_amount() -> None:
    start = Balances(stamps_balance=8, stamps_earned=8)
    assert rules.stamp_add_transaction_amount(start, SPEND, value="25", purchase_amount="25") == [
        Delta(
            kind=Kind.PURCHASE,
            amount=D("25.00"),
            ltv=D("25.00"),
            stamps=-8,
            stamps_earned=2,
            rewards_earned=1,
            rewards_available=1,
            visits=1,
            purchase_amount=D("25.00"),
        )
    ]


def test_a_visit_card_earns_its_stamps_per_visit_whatever_the_amount() -> None:
    (delta,) = rules.stamp_add_transaction_amount(Balances(), VISIT, value="999.99")
    assert (delta.stamps, delta.stamps_earned, delta.purchase_amount) == (2, 2, D("999.99"))
    assert rules.stamps_for_purchase(VISIT, D("0.01")) == 2
    assert rules.stamps_for_purchase(SPEND, D("29.99")) == 2


def test_a_spend_card_without_a_spend_per_stamp_counts_whole_amounts() -> None:
    bare = rules.StampRules(mechanism="spend", stamps_per_reward=10)
    assert rules.stamps_for_purchase(bare, D("7.99")) == 7


def test_conversion_returns_the_rewards_and_what_is_left() -> None:
    assert rules.convert(25, 10) == (2, 5)
    assert rules.convert(9, 10) == (0, 9)


def test_a_purchase_amount_must_be_empty_or_the_value_itself() -> None:
    for empty in (None, ""):
        (delta,) = rules.stamp_add_transaction_amount(
            Balances(), SPEND, value="10", purchase_amount=empty
        )
        assert delta.purchase_amount == D("10.00")
    error = refused(
        rules.stamp_add_transaction_amount, Balances(), SPEND, value="10", purchase_amount="9.99"
    )
    assert (error.field_name, error.text) == (
        "purchase_amount",
        "The purchase amount must equal the value (10.00), or be left empty.",
    )
    error = refused(
        rules.stamp_add_transaction_amount, Balances(), SPEND, value="10", purchase_amount="ten"
    )
    assert (error.field_name, error.text) == ("purchase_amount", AMOUNT_MESSAGE)
    error = refused(rules.stamp_add_transaction_amount, Balances(), SPEND, value="ten")
    assert (error.field_name, error.text) == ("value", AMOUNT_MESSAGE)


def test_a_refund_of_the_whole_transaction_amount_is_accepted() -> None:
    start = Balances(
        transaction_amount=D("35"), ltv=D("35"), stamps_balance=3, stamps_earned=3, total_visits=1
    )
    assert rules.stamp_refund_transaction_amount(
        start, SPEND, value="35.00", purchase_amount="35"
    ) == [
        Delta(kind=Kind.REFUND, amount=D("-35.00"), ltv=D("-35.00"), purchase_amount=D("35.00")),
        Delta(kind=Kind.STAMPS_CLAWBACK, stamps=-3, stamps_earned=-3),
    ]
    error = refused(rules.stamp_refund_transaction_amount, start, SPEND, value="35.01")
    assert (error.field_name, error.text) == (
        "value",
        "You can refund at most the transaction amount, 35.",
    )


def test_a_refund_too_small_for_a_stamp_writes_no_clawback() -> None:
    start = Balances(transaction_amount=D("35"), ltv=D("35"), stamps_balance=3, stamps_earned=3)
    assert rules.stamp_refund_transaction_amount(start, SPEND, value="9.99") == [
        Delta(kind=Kind.REFUND, amount=D("-9.99"), ltv=D("-9.99"), purchase_amount=D("9.99"))
    ]


def test_a_refund_on_a_visit_card_points_to_writing_off_visits() -> None:
    start = Balances(transaction_amount=D("35"), ltv=D("35"))
    error = refused(rules.stamp_refund_transaction_amount, start, VISIT, value="5")
    assert (error.field_name, error.text) == (
        "value",
        "This card earns stamps per visit: write off visits instead of a refund.",
    )


def test_writing_off_every_visit_takes_back_their_stamps_up_to_the_balance() -> None:
    start = Balances(stamps_balance=5, stamps_earned=15, total_visits=3)
    assert rules.stamp_write_off_visits(start, VISIT, value=2) == [
        Delta(kind=Kind.VISITS_WRITE_OFF, visits=-2, stamps=-4, stamps_earned=-4)
    ]
    assert rules.stamp_write_off_visits(start, VISIT, value="3") == [
        Delta(kind=Kind.VISITS_WRITE_OFF, visits=-3, stamps=-5, stamps_earned=-5)
    ]
    error = refused(rules.stamp_write_off_visits, start, VISIT, value=4)
    assert (error.field_name, error.text) == (
        "value",
        "This card has 3 visits; you can write off at most that.",
    )
    error = refused(rules.stamp_write_off_visits, start, VISIT, value="1.5")
    assert (error.field_name, error.text) == ("value", "Enter a whole number of visits.")
    assert refused(rules.stamp_write_off_visits, start, VISIT, value=0).text == (
        "Enter at least 1 visit."
    )


def test_adding_stamps_converts_full_cards_and_removing_may_empty_the_card() -> None:
    start = Balances(stamps_balance=7, stamps_earned=7)
    assert rules.stamp_add_stamps(start, SPEND, value="13") == [
        Delta(
            kind=Kind.STAMPS_ADDED,
            stamps=-7,
            stamps_earned=13,
            rewards_earned=2,
            rewards_available=2,
        )
    ]
    assert rules.stamp_remove_stamps(start, SPEND, value=7) == [
        Delta(kind=Kind.STAMPS_REMOVED, stamps=-7, stamps_earned=-7)
    ]
    error = refused(rules.stamp_remove_stamps, start, SPEND, value=8)
    assert (error.field_name, error.text) == (
        "value",
        "The card has 7 stamps; you cannot remove more than 7.",
    )
    assert refused(rules.stamp_add_stamps, start, SPEND, value="x").text == (
        "Enter a whole number of stamps."
    )
    assert refused(rules.stamp_remove_stamps, start, SPEND, value="0").text == (
        "Enter at least 1 stamp."
    )


def test_rewards_added_and_redeemed_keep_a_purchase_amount_of_zero() -> None:
    start = Balances(rewards_available=2, rewards_earned=2)
    assert rules.stamp_add_rewards(start, SPEND, value=3, purchase_amount="0") == [
        Delta(
            kind=Kind.REWARDS_ADDED,
            rewards_earned=3,
            rewards_available=3,
            amount=D("0.00"),
            ltv=D("0.00"),
            visits=1,
            purchase_amount=D("0.00"),
        )
    ]
    assert rules.stamp_redeem_rewards(start, SPEND, value=2, purchase_amount="4.20") == [
        Delta(
            kind=Kind.REWARDS_REDEEMED,
            rewards_available=-2,
            rewards_redeemed=2,
            amount=D("4.20"),
            ltv=D("4.20"),
            visits=1,
            purchase_amount=D("4.20"),
        )
    ]


def test_reward_errors_name_the_field_at_fault() -> None:
    start = Balances(rewards_available=2, rewards_earned=2)
    # Adding rewards asks what was bought (0 for nothing); a reward is redeemed with or
    # without a purchase.
    error = refused(rules.stamp_add_rewards, start, SPEND, value=1, purchase_amount="")
    assert (error.field_name, error.text) == ("purchase_amount", "This field is required.")
    for blank in ("", None):
        (redeemed,) = rules.stamp_redeem_rewards(start, SPEND, value=1, purchase_amount=blank)
        assert (redeemed.amount, redeemed.ltv, redeemed.visits) == (0, 0, 1)
        assert redeemed.purchase_amount == 0
    for action in (rules.stamp_add_rewards, rules.stamp_redeem_rewards):
        error = refused(action, start, SPEND, value=1, purchase_amount="-1")
        assert (error.field_name, error.text) == ("purchase_amount", "Enter a positive amount.")
        error = refused(action, start, SPEND, value="1.5", purchase_amount="0")
        assert (error.field_name, error.text) == ("value", "Enter a whole number of rewards.")
        assert refused(action, start, SPEND, value=0, purchase_amount="0").text == (
            "Enter at least 1 reward."
        )
    error = refused(rules.stamp_redeem_rewards, start, SPEND, value=3, purchase_amount="0")
    assert (error.field_name, error.text) == (
        "value",
        "The card has 2 rewards available; you cannot redeem more than 2.",
    )


def test_stamp_bonuses_convert_and_only_referrals_are_marked_as_such() -> None:
    start = Balances(stamps_balance=9, stamps_earned=9)
    for kind, is_referral in ((Kind.REFERRAL_BONUS, True), (Kind.WELCOME_BONUS, False)):
        assert rules.stamp_bonus(start, SPEND, stamps=2, kind=kind) == [
            Delta(
                kind=kind,
                stamps=-8,
                stamps_earned=2,
                rewards_earned=1,
                rewards_available=1,
                is_referral=is_referral,
            )
        ]


def test_issuing_a_card_records_the_first_tier_only_for_cashback() -> None:
    assert rules.issue_delta(SPEND) == Delta(kind=Kind.CARD_ISSUED)
    assert rules.issue_delta(CASHBACK) == Delta(kind=Kind.CARD_ISSUED, tier=BRONZE)
    assert CASHBACK.first == BRONZE


# ------------------------------------------------------------------------ tiers


def test_tier_for_picks_the_highest_threshold_reached_including_exactly() -> None:
    assert rules.tier_for(TIERS, D("0")) == BRONZE
    assert rules.tier_for(TIERS, D("499.99")) == BRONZE
    assert rules.tier_for(TIERS, D("500")) == SILVER
    assert rules.tier_for(TIERS, D("999.99")) == SILVER
    assert rules.tier_for(TIERS, D("1000.00")) == GOLD
    assert rules.tier_for((GOLD, BRONZE, SILVER), D("700")) == SILVER


def test_tier_for_an_amount_below_every_threshold_is_the_first_tier() -> None:
    raised = (Tier("Starter", D("100"), D("1")), Tier("Regular", D("200"), D("2")))
    assert rules.tier_for(raised, D("50")) == raised[0]


def test_next_tier_is_the_lowest_threshold_above_the_current_one() -> None:
    assert rules.next_tier(TIERS, None) == BRONZE
    assert rules.next_tier((GOLD, SILVER, BRONZE), None) == BRONZE
    assert rules.next_tier(TIERS, D("0")) == SILVER
    assert rules.next_tier((GOLD, SILVER, BRONZE), D("500")) == GOLD
    assert rules.next_tier(TIERS, D("1000")) is None


def test_a_card_without_a_tier_yet_is_at_the_lowest_threshold() -> None:
    assert rules.current_tier((SILVER, BRONZE, GOLD), Balances()) == BRONZE


def test_a_renamed_tier_is_found_by_its_threshold() -> None:
    renamed = (BRONZE, Tier("Argent", D("500"), D("7.5")), GOLD)
    assert rules.current_tier(renamed, silver_card()) == renamed[1]
    (delta,) = rules.cashback_add_transaction_amount(
        silver_card(), rules.CashbackRules(renamed), value="100"
    )
    assert (delta.points, delta.cashback_percentage, delta.tier) == (D("7.50"), D("7.5"), None)
    assert rules.to_next_tier(renamed, silver_card()) == D("400.00")


def test_a_tier_found_by_name_wins_over_one_at_the_same_threshold() -> None:
    swapped = (BRONZE, Tier("Gold", D("500"), D("10")), Tier("Silver", D("1000"), D("9")))
    assert rules.current_tier(swapped, silver_card()) == swapped[2]
    assert rules.to_next_tier(swapped, silver_card()) is None


def test_a_removed_tier_keeps_what_the_card_remembers() -> None:
    without_silver = (BRONZE, GOLD)
    remembered = Tier("Silver", D("500"), D("7"))
    assert rules.current_tier(without_silver, silver_card()) == remembered
    assert rules.to_next_tier(without_silver, silver_card()) == D("400.00")
    (delta,) = rules.cashback_add_transaction_amount(
        silver_card(), rules.CashbackRules(without_silver), value="100"
    )
    assert (delta.points, delta.cashback_percentage, delta.tier) == (D("7.00"), D("7"), None)
    (delta,) = rules.cashback_add_transaction_amount(
        silver_card(), rules.CashbackRules(without_silver), value="400"
    )
    assert (delta.points, delta.tier) == (D("28.00"), GOLD)


def test_a_removed_tier_without_a_remembered_percentage_earns_nothing() -> None:
    card = silver_card(cashback_percentage=None)
    assert rules.current_tier((BRONZE, GOLD), card) == Tier("Silver", D("500"), D("0.00"))


def test_to_next_tier_never_goes_below_zero() -> None:
    lowered = (BRONZE, Tier("Silver", D("500"), D("7")), Tier("Gold", D("550"), D("10")))
    assert rules.to_next_tier(lowered, silver_card()) == D("0.00")
    assert rules.to_next_tier(TIERS, silver_card(transaction_amount=D("999.99"))) == D("0.01")
    assert rules.to_next_tier(TIERS, Balances()) == D("500")


# ------------------------------------------------------------------------ cashback cards


def test_a_purchase_amount_of_zero_is_kept_on_points_added() -> None:
    assert rules.cashback_add_points(silver_card(), CASHBACK, value="2", purchase_amount="0") == [
        Delta(
            kind=Kind.POINTS_ADDED,
            points=D("2.00"),
            points_earned=D("2.00"),
            ltv=D("0.00"),
            visits=1,
            purchase_amount=D("0.00"),
        )
    ]


def test_points_added_with_a_purchase_amount_raise_the_ltv_only() -> None:
    assert rules.cashback_add_points(
        silver_card(), CASHBACK, value="1.5", purchase_amount="12"
    ) == [
        Delta(
            kind=Kind.POINTS_ADDED,
            points=D("1.50"),
            points_earned=D("1.50"),
            ltv=D("12.00"),
            visits=1,
            purchase_amount=D("12.00"),
        )
    ]
    (delta,) = rules.cashback_add_points(silver_card(), CASHBACK, value="1.5")
    assert (delta.ltv, delta.purchase_amount) == (D("0.00"), None)


def test_a_purchase_amount_of_zero_is_kept_on_points_removed() -> None:
    assert rules.cashback_remove_points(
        silver_card(), CASHBACK, value="30", purchase_amount="0"
    ) == [
        Delta(
            kind=Kind.POINTS_REMOVED,
            points=D("-30.00"),
            points_redeemed=D("30.00"),
            visits=1,
            purchase_amount=D("0.00"),
        )
    ]
    (delta,) = rules.cashback_remove_points(silver_card(), CASHBACK, value="1")
    assert delta.purchase_amount is None


def test_points_errors_name_the_field_at_fault() -> None:
    card = silver_card()
    for action in (rules.cashback_add_points, rules.cashback_remove_points):
        error = refused(action, card, CASHBACK, value="0", purchase_amount="1")
        assert (error.field_name, error.text) == ("value", "Enter an amount greater than zero.")
        error = refused(action, card, CASHBACK, value="1", purchase_amount="-1")
        assert (error.field_name, error.text) == ("purchase_amount", "Enter a positive amount.")
    error = refused(rules.cashback_remove_points, card, CASHBACK, value="30.01")
    assert (error.field_name, error.text) == (
        "value",
        "The balance is 30.00 points; you cannot remove more than 30.00.",
    )


def test_a_cashback_purchase_within_the_tier_writes_no_upgrade() -> None:
    assert rules.cashback_add_transaction_amount(
        silver_card(), CASHBACK, value="399.99", purchase_amount="399.99"
    ) == [
        Delta(
            kind=Kind.PURCHASE,
            amount=D("399.99"),
            ltv=D("399.99"),
            points=D("28.00"),
            points_earned=D("28.00"),
            visits=1,
            purchase_amount=D("399.99"),
            cashback_percentage=D("7"),
        )
    ]


def test_a_purchase_reaching_a_threshold_exactly_upgrades_after_it() -> None:
    (delta,) = rules.cashback_add_transaction_amount(silver_card(), CASHBACK, value="400")
    assert (delta.points, delta.cashback_percentage, delta.tier) == (D("28.00"), D("7"), GOLD)


def test_the_peak_amount_not_the_current_one_decides_an_upgrade() -> None:
    # 900 was reached once and corrected down to 300: 300 + 150 stays below the peak.
    card = silver_card(transaction_amount=D("300"), peak_transaction_amount=D("900"))
    (delta,) = rules.cashback_add_transaction_amount(card, CASHBACK, value="150")
    assert delta.tier is None
    card = silver_card(transaction_amount=D("300"), peak_transaction_amount=D("1000"))
    (delta,) = rules.cashback_add_transaction_amount(card, CASHBACK, value="1")
    assert delta.tier == GOLD


def test_a_cashback_correction_of_everything_claws_back_at_most_the_balance() -> None:
    card = silver_card(points_balance=D("10.00"))
    assert rules.cashback_subtract_transaction_amount(
        card, CASHBACK, value="600", purchase_amount="600"
    ) == [
        Delta(
            kind=Kind.REFUND,
            amount=D("-600.00"),
            ltv=D("-600.00"),
            points=D("-10.00"),
            points_redeemed=D("10.00"),
            purchase_amount=D("600.00"),
            cashback_percentage=D("7"),
        )
    ]
    error = refused(rules.cashback_subtract_transaction_amount, card, CASHBACK, value="600.01")
    assert (error.field_name, error.text) == (
        "value",
        "You can subtract at most the transaction amount, 600.00.",
    )
    error = refused(
        rules.cashback_subtract_transaction_amount, card, CASHBACK, value="6", purchase_amount="5"
    )
    assert error.field_name == "purchase_amount"


def test_cashback_bonuses_and_only_referrals_are_marked_as_such() -> None:
    for kind, is_referral in ((Kind.REFERRAL_BONUS, True), (Kind.WELCOME_BONUS, False)):
        assert rules.cashback_bonus(silver_card(), CASHBACK, points=D("5.00"), kind=kind) == [
            Delta(kind=kind, points=D("5.00"), points_earned=D("5.00"), is_referral=is_referral)
        ]
