"""The home page's figures, charts and shares, pinned on histories worked out by hand.

The main history is the worked example of docs/metrics.md (``tests/analytics/history.py``);
each expected number is written out with its arithmetic.
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from analytics.periods import Period
from analytics.selectors import (
    Figure,
    home_figures,
    home_series,
    segment_shares,
    tier_shares,
)
from cards import services
from cards.models import Program
from cards.services import ProgramSpec, TierSpec
from cards.services.lifecycle import card_delete
from customers.models import Segment
from customers.segments import segments_recompute
from feedback.services import feedback_leave
from loyalty import clock
from loyalty.models import Merchant
from tests.analytics.history import WEEK_END, WEEK_START, History, berlin, build_history
from tests.factories import (
    CashbackProgramFactory,
    CustomerFactory,
    MerchantFactory,
    StampProgramFactory,
    issue_card,
)

pytestmark = pytest.mark.django_db

WEEK = Period(preset="7d", start=WEEK_START, end=WEEK_END)
D = Decimal


@pytest.fixture
def history(merchant: Merchant) -> History:
    return build_history(merchant)


def figures(
    history: History, programs: list[Any] | None = None, period: Period = WEEK
) -> dict[str, Figure]:
    found = home_figures(
        merchant=history.merchant,
        programs=history.programs if programs is None else programs,
        period=period,
    )
    return {figure.key: figure for figure in found}


def values(found: dict[str, Figure]) -> dict[str, Any]:
    return {key: figure.value for key, figure in found.items()}


def previous(found: dict[str, Figure]) -> dict[str, Any]:
    return {key: figure.previous for key, figure in found.items()}


def changes(found: dict[str, Figure]) -> dict[str, Any]:
    return {key: figure.change for key, figure in found.items()}


# ---------------------------------------------------------------------------------------------
# Every figure of the worked example


def test_every_figure_of_the_week_for_all_programs(history: History) -> None:
    assert values(figures(history)) == {
        # Coffee: Berta 95 + 30 - 27 (refund) + 0 (reward) = 98; Anna 60 + 4.50 = 64.50.
        # Tea: Tessa 8 + 8 = 16. Bakery: Carl 200 - 200 = 0; Dora 12 (points with a purchase).
        "revenue": D("190.50"),  # 98 + 64.50 + 16 + 0 + 12
        # Berta 95, 30; Anna 60, 4.50; Tessa 8, 8; Carl 200; Dora 12. Refunds, rewards redeemed
        # without a purchase and points removed without one are no purchases.
        "purchases": 8,
        "average_check": D("23.81"),  # 190.50 / 8 = 23.8125
        # Berta 3 (95, 30, reward), Anna 2 (60, reward), Tessa 1 + 1 - 1 (write-off) + 1
        # (reward) = 2, Carl 2 (200, points removed), Dora 1.
        "visits": 10,
        "new_cards": 2,  # Berta, Dora
        # Anna, Berta, Tessa, Carl, Dora; Anna (June 3), Tessa (June 5) and Carl (June 4) had
        # visited before the week. Berta's two visits on June 10 count her once.
        "active_customers": 5,
        "returning_customers": 3,
        "stamps_issued": 18,  # Berta 9 + 3 - 2 taken back, Anna 6; Tessa 1 + 1
        "rewards_issued": 3,  # Berta 1, Anna 1, Tessa 1
        "rewards_redeemed": 3,  # Berta 1, Anna 1, Tessa 1
        "points_issued": D("15.00"),  # Carl 10.00 (200 at 5 %), Dora 5.00
        "points_redeemed": D("6.00"),  # Carl 6.00; his 14.00 clawed back is no redemption
        # Carl 20 + 10 - 14 - 6 = 10; Dora 5 forfeited when her card was deleted on June 15.
        "points_outstanding": D("10.00"),
        "reward_cost": D("15.00"),  # coffee 2 x 3.50 + tea 1 x 2.00 + 6.00 points
        "roi": D("1170.0"),  # (190.50 - 15.00) / 15.00 x 100
    }


def test_every_figure_of_the_week_before(history: History) -> None:
    assert previous(figures(history)) == {
        "revenue": D("448.00"),  # Anna 40 + Carl 400 + Tessa 8
        "purchases": 3,
        "average_check": D("149.33"),  # 448 / 3 = 149.333...
        "visits": 3,
        "new_cards": 2,  # Carl, Tessa
        "active_customers": 3,  # Anna, Carl, Tessa
        "returning_customers": 1,  # Anna, who came in May
        "stamps_issued": 5,  # Anna 4, Tessa 1
        "rewards_issued": 0,
        "rewards_redeemed": 0,
        "points_issued": D("20.00"),  # 400 at 5 %
        "points_redeemed": D("0.00"),
        "points_outstanding": D("20.00"),  # owed on June 8
        "reward_cost": D("0.00"),
        "roi": None,  # no reward cost: nothing to compare the revenue with
    }


def test_changes_compare_the_week_with_the_week_before(history: History) -> None:
    assert changes(figures(history)) == {
        "revenue": D("-57.5"),  # (190.50 - 448) / 448 x 100 = -57.47...
        "purchases": D("166.7"),  # (8 - 3) / 3 x 100
        "average_check": D("-84.1"),  # (23.81 - 149.33) / 149.33 x 100 = -84.05...
        "visits": D("233.3"),  # (10 - 3) / 3 x 100
        "new_cards": D("0.0"),  # (2 - 2) / 2
        "active_customers": D("66.7"),  # (5 - 3) / 3 x 100
        "returning_customers": D("200.0"),  # (3 - 1) / 1 x 100
        "stamps_issued": D("260.0"),  # (18 - 5) / 5 x 100
        "rewards_issued": None,  # from 0: no percentage
        "rewards_redeemed": None,
        "points_issued": D("-25.0"),  # (15 - 20) / 20 x 100
        "points_redeemed": None,
        "points_outstanding": D("-50.0"),  # (10 - 20) / 20 x 100
        "reward_cost": None,
        "roi": None,  # empty the week before
    }


def test_a_rollup_rebuilt_from_the_ledger_gives_the_same_figures(history: History) -> None:
    before = figures(history)
    call_command("rebuild_stats", merchant=history.merchant.slug, stdout=io.StringIO())
    assert figures(history) == before
    series = home_series(merchant=history.merchant, programs=history.programs, period=WEEK)
    assert [p.revenue for p in series][:3] == [D("200.00"), D("125.00"), D("-227.00")]


def test_the_worked_examples_rollup_matches_its_ledger(history: History) -> None:
    out = io.StringIO()
    call_command("rebuild_stats", "--check", merchant=history.merchant.slug, stdout=out)
    assert out.getvalue() == "The rollup matches the ledger.\n"


def test_figures_come_in_page_order_with_their_unit_and_group(history: History) -> None:
    found = home_figures(merchant=history.merchant, programs=history.programs, period=WEEK)
    assert [(f.key, f.unit, f.group) for f in found] == [
        ("revenue", "money", "sales"),
        ("purchases", "count", "sales"),
        ("average_check", "money", "sales"),
        ("visits", "count", "customers"),
        ("new_cards", "count", "customers"),
        ("active_customers", "count", "customers"),
        ("returning_customers", "count", "customers"),
        ("stamps_issued", "count", "stamps"),
        ("rewards_issued", "count", "stamps"),
        ("rewards_redeemed", "count", "stamps"),
        ("points_issued", "points", "cashback"),
        ("points_redeemed", "points", "cashback"),
        ("points_outstanding", "points", "cashback"),
        ("reward_cost", "money", "costs"),
        ("roi", "percent", "costs"),
    ]


# ---------------------------------------------------------------------------------------------
# The program filter


def test_a_stamp_program_alone_has_no_cashback_figures(history: History) -> None:
    found = figures(history, [history.coffee])
    assert values(found) == {
        "revenue": D("162.50"),  # Berta 95 + 30 - 27 + 0, Anna 60 + 4.50
        "purchases": 4,
        "average_check": D("40.63"),  # 162.50 / 4 = 40.625, rounded half up
        "visits": 5,  # Berta 3, Anna 2
        "new_cards": 1,
        "active_customers": 2,
        "returning_customers": 1,  # Anna
        "stamps_issued": 16,  # 9 + 3 - 2 + 6
        "rewards_issued": 2,
        "rewards_redeemed": 2,
        "reward_cost": D("7.00"),  # 2 x 3.50
        "roi": D("2221.4"),  # (162.50 - 7) / 7 x 100 = 2221.43
    }
    assert previous(found)["revenue"] == D("40.00")  # Anna on June 3
    assert changes(found)["revenue"] == D("306.3")  # (162.50 - 40) / 40 x 100 = 306.25


def test_a_cashback_program_alone_has_no_stamp_figures(history: History) -> None:
    assert values(figures(history, [history.bakery])) == {
        "revenue": D("12.00"),  # Carl 200 - 200, Dora 12
        "purchases": 2,  # Carl 200, Dora 12
        "average_check": D("6.00"),
        "visits": 3,  # Carl 2, Dora 1
        "new_cards": 1,
        "active_customers": 2,
        "returning_customers": 1,  # Carl
        "points_issued": D("15.00"),
        "points_redeemed": D("6.00"),
        "points_outstanding": D("10.00"),
        "reward_cost": D("6.00"),  # points spent, at face value
        "roi": D("100.0"),  # (12 - 6) / 6 x 100
    }


def test_reward_cost_is_each_programs_rewards_at_its_own_cost(history: History) -> None:
    found = figures(history, [history.coffee, history.tea])
    # Coffee 2 rewards x 3.50 + tea 1 reward x 2.00 (not 3 x either cost).
    assert found["reward_cost"].value == D("9.00")
    assert "points_outstanding" not in found


# ---------------------------------------------------------------------------------------------
# Empty figures


def test_roi_is_empty_when_rewards_cost_nothing(merchant: Merchant) -> None:
    program: Program = StampProgramFactory(
        merchant=merchant, reward_cost=D("0"), stamps_per_reward=2
    )
    with berlin("2025-06-10"):
        card = issue_card(program)
        services.card_add_transaction_amount(card=card, value="20.00", actor=None)
        services.card_redeem_rewards(card=card, value=1, purchase_amount="0", actor=None)
    found = home_figures(merchant=merchant, programs=[program], period=WEEK)
    by_key = {figure.key: figure for figure in found}
    assert by_key["rewards_redeemed"].value == 1
    assert by_key["reward_cost"].value == D("0.00")
    assert (by_key["roi"].value, by_key["roi"].previous, by_key["roi"].change) == (None, None, None)


def test_average_check_is_empty_without_purchases(merchant: Merchant) -> None:
    program: Program = StampProgramFactory(merchant=merchant)
    with berlin("2025-06-10"):
        card = issue_card(program)
        services.card_add_stamps(card=card, value=10, actor=None)  # a reward, no purchase
        services.card_redeem_rewards(card=card, value=1, purchase_amount="0", actor=None)
    by_key = {f.key: f for f in home_figures(merchant=merchant, programs=[program], period=WEEK)}
    assert (by_key["purchases"].value, by_key["visits"].value) == (0, 1)
    assert by_key["average_check"].value is None
    assert by_key["average_check"].previous is None
    assert by_key["average_check"].change is None


def test_a_merchant_without_history_sees_zeros_and_no_changes(merchant: Merchant) -> None:
    program: Program = CashbackProgramFactory(merchant=merchant)
    found = home_figures(merchant=merchant, programs=[program], period=WEEK)
    assert {f.key: (f.value, f.change) for f in found} == {
        "revenue": (D("0.00"), None),
        "purchases": (0, None),
        "average_check": (None, None),
        "visits": (0, None),
        "new_cards": (0, None),
        "active_customers": (0, None),
        "returning_customers": (0, None),
        "points_issued": (D("0.00"), None),
        "points_redeemed": (D("0.00"), None),
        "points_outstanding": (D("0.00"), None),
        "reward_cost": (D("0.00"), None),
        "roi": (None, None),
    }


# ---------------------------------------------------------------------------------------------
# Points outstanding


def test_points_outstanding_drop_on_the_day_a_card_is_deleted(merchant: Merchant) -> None:
    merchant.time_zone = "Europe/Berlin"
    merchant.save()
    program: Program = CashbackProgramFactory(merchant=merchant)
    with berlin("2025-06-02"):
        kept, deleted = issue_card(program), issue_card(program)
        services.card_add_transaction_amount(card=kept, value="100.00", actor=None)  # 5.00
        services.card_add_transaction_amount(card=deleted, value="300.00", actor=None)  # 15.00
    with berlin("2025-06-16", "00:30"):  # just after the week, in Berlin
        card_delete(card=deleted, actor=None)

    def owed(period: Period) -> tuple[Any, Any]:
        found = home_figures(merchant=merchant, programs=[program], period=period)
        figure = next(f for f in found if f.key == "points_outstanding")
        return figure.value, figure.previous

    # Owed on June 15 and on June 8: both cards, 5 + 15.
    assert owed(WEEK) == (D("20.00"), D("20.00"))
    # Owed on June 16, after the deletion: 5 only; on June 9 still 20.
    assert owed(Period("custom", datetime.date(2025, 6, 10), datetime.date(2025, 6, 16))) == (
        D("5.00"),
        D("20.00"),
    )


# ---------------------------------------------------------------------------------------------
# Active and returning customers


def test_returning_customers_visited_before_the_period(merchant: Merchant) -> None:
    program: Program = StampProgramFactory(merchant=merchant)
    with berlin("2025-04-01"):
        regular, newcomer, twice, absent = (issue_card(program) for _ in range(4))
    with berlin("2025-05-01"):
        services.card_add_transaction_amount(card=regular, value="10", actor=None)
        services.card_add_transaction_amount(card=absent, value="10", actor=None)
    with berlin("2025-06-10", "09:00"):
        services.card_add_transaction_amount(card=regular, value="10", actor=None)
        services.card_add_transaction_amount(card=newcomer, value="10", actor=None)
        services.card_add_transaction_amount(card=twice, value="10", actor=None)
    with berlin("2025-06-10", "18:00"):
        services.card_add_transaction_amount(card=twice, value="10", actor=None)
    with berlin("2025-06-12", "09:00"):
        # Her first visit was on June 10, in the period: still not returning, counted once.
        services.card_add_transaction_amount(card=newcomer, value="10", actor=None)
    by_key = {f.key: f for f in home_figures(merchant=merchant, programs=[program], period=WEEK)}
    # regular, newcomer, twice (once, though twice on June 10); absent did not come.
    assert by_key["active_customers"].value == 3
    assert by_key["returning_customers"].value == 1  # regular, who came on May 1
    assert by_key["visits"].value == 5
    assert (by_key["active_customers"].previous, by_key["returning_customers"].previous) == (0, 0)


def test_a_customer_with_cards_of_two_programs_counts_once_per_card(merchant: Merchant) -> None:
    coffee: Program = StampProgramFactory(merchant=merchant)
    bakery: Program = CashbackProgramFactory(merchant=merchant)
    customer = CustomerFactory(merchant=merchant)
    with berlin("2025-06-10"):
        stamp, cashback = issue_card(coffee, customer), issue_card(bakery, customer)
        services.card_add_transaction_amount(card=stamp, value="10", actor=None)
        services.card_add_transaction_amount(card=cashback, value="10", actor=None)
    found = home_figures(merchant=merchant, programs=[coffee, bakery], period=WEEK)
    assert next(f.value for f in found if f.key == "active_customers") == 2


def test_a_visit_counts_on_the_merchants_local_day(merchant: Merchant) -> None:
    merchant.time_zone = "Europe/Berlin"
    merchant.save()
    program: Program = StampProgramFactory(merchant=merchant)
    with berlin("2025-06-01"):
        card = issue_card(program)
    # 22:30 UTC on Sunday June 15 is 00:30 on Monday June 16 in Berlin: after the week.
    with clock.frozen_at(datetime.datetime(2025, 6, 15, 22, 30, tzinfo=datetime.UTC)):
        services.card_add_transaction_amount(card=card, value="10", actor=None)
    by_key = {f.key: f for f in home_figures(merchant=merchant, programs=[program], period=WEEK)}
    assert (by_key["visits"].value, by_key["revenue"].value) == (0, D("0.00"))
    next_week = Period("custom", datetime.date(2025, 6, 16), datetime.date(2025, 6, 22))
    found = home_figures(merchant=merchant, programs=[program], period=next_week)
    assert next(f.value for f in found if f.key == "visits") == 1


def test_the_day_the_clocks_go_forward_is_one_local_day(merchant: Merchant) -> None:
    merchant.time_zone = "Europe/Berlin"
    merchant.save()
    program: Program = StampProgramFactory(merchant=merchant)
    with berlin("2025-03-01"):
        card = issue_card(program)
    # 00:30 CET and 23:30 CEST on Sunday March 30, 2025: 23 hours apart, the same local day.
    for moment in ("2025-03-29T23:30:00+00:00", "2025-03-30T21:30:00+00:00"):
        with clock.frozen_at(datetime.datetime.fromisoformat(moment)):
            services.card_add_transaction_amount(card=card, value="10", actor=None)
    sunday = Period("today", datetime.date(2025, 3, 30), datetime.date(2025, 3, 30))
    by_key = {f.key: f for f in home_figures(merchant=merchant, programs=[program], period=sunday)}
    assert (by_key["purchases"].value, by_key["purchases"].previous) == (2, 0)
    assert (by_key["active_customers"].value, by_key["returning_customers"].value) == (1, 0)


# ---------------------------------------------------------------------------------------------
# Charts


def test_the_weeks_series_has_a_point_per_day_with_zeros_filled(history: History) -> None:
    series = home_series(merchant=history.merchant, programs=history.programs, period=WEEK)
    assert [
        (p.bucket.start.day, p.revenue, p.visits, p.new_cards, p.ratings, p.rating_average)
        for p in series
    ] == [
        (9, D("200.00"), 1, 0, 0, None),  # Carl 200
        (10, D("125.00"), 2, 1, 1, D("5.0")),  # Berta 95 + 30, twice; issued; rated 5
        (11, D("-227.00"), 0, 0, 0, None),  # refunds: -27 (Berta) - 200 (Carl)
        (12, D("0.00"), 2, 0, 1, D("2.0")),  # Berta's reward, Carl's points; Carl rated 2
        (13, D("80.50"), 4, 0, 1, D("4.0")),  # Anna 60 + 4.50, Tessa 8 + 8; Tessa rated 4
        (14, D("12.00"), 1, 1, 0, None),  # Tessa -1 + 1, Dora 1; Dora issued
        (15, D("0.00"), 0, 0, 0, None),  # only Dora's deletion
    ]
    assert sum(p.revenue for p in series) == D("190.50")  # the revenue figure


def test_a_longer_period_is_charted_by_week_clipped_to_the_period(history: History) -> None:
    # Thursday May 1 to Sunday June 15: 46 days, by week (Monday to Sunday).
    period = Period("custom", datetime.date(2025, 5, 1), WEEK_END)
    series = home_series(merchant=history.merchant, programs=history.programs, period=period)
    assert [(p.bucket.start, p.bucket.end, p.revenue, p.visits) for p in series] == [
        (datetime.date(2025, 5, 1), datetime.date(2025, 5, 4), D("0.00"), 0),
        (datetime.date(2025, 5, 5), datetime.date(2025, 5, 11), D("0.00"), 0),
        (datetime.date(2025, 5, 12), datetime.date(2025, 5, 18), D("0.00"), 0),
        (datetime.date(2025, 5, 19), datetime.date(2025, 5, 25), D("25.00"), 1),  # Anna
        (datetime.date(2025, 5, 26), datetime.date(2025, 6, 1), D("0.00"), 0),
        (datetime.date(2025, 6, 2), datetime.date(2025, 6, 8), D("448.00"), 3),
        (datetime.date(2025, 6, 9), datetime.date(2025, 6, 15), D("190.50"), 10),
    ]
    # The week before: Anna's 4; the week: (5 + 2 + 4) / 3 = 3.67.
    assert [p.rating_average for p in series[-2:]] == [D("4.0"), D("3.7")]


def test_a_year_is_charted_by_month_with_the_rating_average_of_each(history: History) -> None:
    period = Period("12m", datetime.date(2024, 6, 16), WEEK_END)
    series = home_series(merchant=history.merchant, programs=history.programs, period=period)
    assert len(series) == 13  # June 16-30 2024, July 2024 to May 2025, June 1-15 2025
    assert (series[0].bucket.start, series[0].bucket.end) == (
        datetime.date(2024, 6, 16),
        datetime.date(2024, 6, 30),
    )
    may, june = series[-2], series[-1]
    assert (may.bucket.start, may.bucket.end, may.revenue) == (
        datetime.date(2025, 5, 1),
        datetime.date(2025, 5, 31),
        D("25.00"),
    )
    # June: 448 + 190.50 revenue; ratings 4, 5, 2, 4: 15 / 4 = 3.75, rounded half up.
    assert (june.revenue, june.new_cards, june.ratings, june.rating_average) == (
        D("638.50"),
        4,
        4,
        D("3.8"),
    )
    assert all(p.revenue == 0 and p.rating_average is None for p in series[:-2])


def test_the_series_follows_the_program_filter(history: History) -> None:
    series = home_series(merchant=history.merchant, programs=[history.tea], period=WEEK)
    # Tessa: 8 + 8 on June 13 (2 visits), -1 + 1 on June 14; rated 4 on June 13.
    assert [(p.revenue, p.visits, p.rating_average) for p in series[4:6]] == [
        (D("16.00"), 2, D("4.0")),
        (D("0.00"), 0, None),
    ]
    assert sum(p.revenue for p in series) == D("16.00")


# ---------------------------------------------------------------------------------------------
# Shares


def test_segment_shares_list_every_segment_in_order(history: History) -> None:
    segments_recompute(
        merchant=history.merchant, now=datetime.datetime(2025, 6, 15, 12, tzinfo=datetime.UTC)
    )
    counted = segment_shares(merchant=history.merchant)
    shares = counted.shares
    assert counted.counted_at == datetime.datetime(2025, 6, 15, 12, tzinfo=datetime.UTC)
    assert [share.key for share in shares] == list(Segment.values)
    # Anna: 4 visits (May 20, June 3, June 13 twice), last 2 days ago: Growing. Berta (3),
    # Tessa (1 + 2 - 1 + 1 = 3), Carl (3) and Dora (1): Beginners.
    counts = {share.key: share.count for share in shares}
    assert counts == {**dict.fromkeys(Segment.values, 0), "growing": 1, "beginners": 4}
    assert shares[2].label == "Growing"


def test_tier_shares_count_live_cards_per_tier_by_threshold(history: History) -> None:
    other: Program = CashbackProgramFactory(
        merchant=history.merchant, name="Wine", tiers=[("Gold", "300", "8"), ("Basic", "0", "2")]
    )
    with berlin("2025-06-10"):
        services.card_add_transaction_amount(card=issue_card(other), value="350", actor=None)
    shares = tier_shares(merchant=history.merchant, programs=[*history.programs, other])
    assert [(share.key, share.label, share.count) for share in shares] == [
        # Carl reached Silver (600 spent); Dora's card was deleted and left Bronze.
        ("Bronze", "Bronze (Bakery)", 0),
        ("Silver", "Silver (Bakery)", 1),
        ("Gold", "Gold (Bakery)", 0),
        ("Basic", "Basic (Wine)", 0),
        ("Gold", "Gold (Wine)", 1),
    ]
    assert tier_shares(merchant=history.merchant, programs=[history.coffee]) == []


def test_cards_in_a_renamed_tier_are_listed_under_the_name_they_hold(merchant: Merchant) -> None:
    program: Program = CashbackProgramFactory(merchant=merchant, name="Bakery")
    with berlin("2025-06-10"):
        services.card_add_transaction_amount(card=issue_card(program), value="600", actor=None)
        issue_card(program)
    renamed = [("Bronze", "0", "5"), ("Argent", "500", "7"), ("Gold", "1000", "10")]
    spec = ProgramSpec(
        name="Bakery",
        kind="cashback",
        tiers=tuple(TierSpec(name, D(threshold), D(pct)) for name, threshold, pct in renamed),
        referral_bonus=D("0"),
    )
    services.program_update(program=program, spec=spec, actor=None)
    shares = tier_shares(merchant=merchant, programs=[program])
    # The card that reached Silver keeps that name until its next upgrade.
    assert [(share.key, share.count) for share in shares] == [
        ("Bronze", 1),
        ("Argent", 0),
        ("Gold", 0),
        ("Silver", 1),
    ]


# ---------------------------------------------------------------------------------------------
# A fixed number of queries


def _busy_history(merchant: Merchant, days: int) -> list[Program]:
    coffee: Program = StampProgramFactory(merchant=merchant)
    bakery: Program = CashbackProgramFactory(merchant=merchant)
    start = datetime.datetime(2025, 6, 15, 12, tzinfo=datetime.UTC) - datetime.timedelta(days=days)
    with clock.frozen_at(start):
        cards = [issue_card(coffee), issue_card(bakery)]
    for day in range(days):
        with clock.frozen_at(start + datetime.timedelta(days=day + 1)):
            for card in cards:
                services.card_add_transaction_amount(card=card, value="10", actor=None)
            feedback_leave(card=cards[0], rating=1 + day % 5)
    return [coffee, bakery]


@pytest.mark.parametrize("days", [1, 40])
def test_the_home_page_reads_run_a_fixed_number_of_queries(
    days: int, django_assert_num_queries: Any
) -> None:
    merchant = MerchantFactory()
    programs = _busy_history(merchant, days)
    period = Period("90d", datetime.date(2025, 3, 18), WEEK_END)
    # The sums of both periods with the points outstanding, then the active and returning
    # customers of the period and of the one before (both over: read once, then kept).
    with django_assert_num_queries(3):
        home_figures(merchant=merchant, programs=programs, period=period)
    with django_assert_num_queries(1):
        home_figures(merchant=merchant, programs=programs, period=period)
    with django_assert_num_queries(1):
        home_series(merchant=merchant, programs=programs, period=period)
    with django_assert_num_queries(1):
        segment_shares(merchant=merchant)
    with django_assert_num_queries(2):  # the tiers and their counts
        tier_shares(merchant=merchant, programs=programs)
