"""The cashback card's plus/minus dialogs over HTTP: points, transaction amount and tiers, the
help center's FAQ answers, rounding, replays, roles and tenancy."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card
from cards.rules import LedgerError
from tests.cards.dialog_support import (
    apply_dialog,
    changes,
    dialog_buttons,
    field_errors,
    history_labels,
    idempotency_key,
    metric_values,
    open_dialog,
    snapshot,
    text,
    trigger_message,
)
from tests.factories import CashbackProgramFactory, issue_card

pytestmark = pytest.mark.django_db

CASHBACK_ACTIONS = [
    "points_add",
    "points_subtract",
    "transaction_amount_add",
    "transaction_amount_subtract",
]
VALID_INPUT = {
    "points_add": {"value": "5"},
    "points_subtract": {"value": "5"},
    "transaction_amount_add": {"value": "50"},
    "transaction_amount_subtract": {"value": "50"},
}


def _spent(card: Card, actor: Any, *amounts: str) -> Card:
    for amount in amounts:
        services.card_add_transaction_amount(card=card, value=amount, actor=actor)
    return Card.objects.get(pk=card.pk)


def _entry_count(card: Card) -> int:
    return card.entries.count()


# ---------------------------------------------------------------------------------------------
# Points +


def test_adding_points_credits_the_balance_and_counts_a_visit(
    owner_client: Client, cashback_card: Card
) -> None:
    before = snapshot(cashback_card)
    response = apply_dialog(owner_client, cashback_card, "points_add", value="30", comment="Sorry")
    assert trigger_message(response) == "Points added: +30.00 points, +1 visit."
    assert changes(before, snapshot(cashback_card)) == {
        "points_balance": Decimal("30.00"),
        "points_earned": Decimal("30.00"),
        "total_visits": 1,
        "last_visit_at": "moved",
        "last_points_earned_at": "moved",
    }
    assert history_labels(cashback_card)[-1] == "Points added"
    assert cashback_card.entries.get(kind="points_added").comment == "Sorry"


def test_adding_points_does_not_change_the_transaction_amount(
    owner_client: Client, cashback_card: Card
) -> None:
    """FAQ: adding points credits the balance without changing the transaction amount."""
    before = snapshot(cashback_card)
    trigger_message(
        apply_dialog(owner_client, cashback_card, "points_add", value="30", purchase_amount="12")
    )
    after = snapshot(cashback_card)
    assert after["transaction_amount"] == before["transaction_amount"] == Decimal("0.00")
    assert after["ltv"] == Decimal("12.00")
    assert after["tier_name"] == "Bronze"
    assert cashback_card.entries.get(kind="points_added").purchase_amount == Decimal("12.00")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": ""}, "value", "This field is required."),
        ({"value": "0"}, "value", "Enter an amount greater than zero."),
        ({"value": "1.234"}, "value", "Use at most 2 decimal places."),
        ({"value": "abc"}, "value", "Enter the amount as a number, for example 12.50."),
        ({"value": "5", "purchase_amount": "-1"}, "purchase_amount", "Enter a positive amount."),
        (
            {"value": "2000000"},
            "value",
            "That is more than the 1,000,000.00 allowed at once.",
        ),
    ],
)
def test_adding_points_refuses_bad_input_and_changes_nothing(
    owner_client: Client, cashback_card: Card, fields: dict[str, str], field: str, message: str
) -> None:
    before, entries = snapshot(cashback_card), _entry_count(cashback_card)
    response = apply_dialog(owner_client, cashback_card, "points_add", **fields)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert snapshot(cashback_card) == before
    assert _entry_count(cashback_card) == entries


# ---------------------------------------------------------------------------------------------
# Points -


def test_removing_points_counts_redeemed_and_a_visit(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    before = snapshot(card)
    response = apply_dialog(owner_client, card, "points_subtract", value="10", purchase_amount="8")
    message = trigger_message(response)  # the history row's words
    assert message.startswith("Points removed: ")
    assert "\u221210.00 points" in message
    assert changes(before, snapshot(card)) == {
        "points_balance": Decimal("10.00"),
        "points_redeemed": Decimal("10.00"),
        "total_visits": 2,
        "last_visit_at": "moved",
        "last_points_redeemed_at": "moved",
    }
    entry = card.entries.get(kind="points_removed")
    assert entry.purchase_amount == Decimal("8.00")  # kept on the entry, nowhere else
    assert history_labels(card)[-1] == "Points removed"


def test_removing_points_does_not_change_tier_or_percentage(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    """FAQ: removing points changes neither the tier nor the percentage."""
    card = _spent(cashback_card, owner, "600")  # Silver, 30.00 points
    trigger_message(apply_dialog(owner_client, card, "points_subtract", value="30"))
    after = snapshot(card)
    assert after["points_balance"] == Decimal("0.00")
    assert (after["tier_name"], after["cashback_percentage"]) == ("Silver", Decimal("7.00"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("20.01", "The balance is 20.00 points; you cannot remove more than 20.00."),
        ("0", "Enter an amount greater than zero."),
        ("", "This field is required."),
    ],
)
def test_removing_points_refuses_bad_input_and_changes_nothing(
    owner_client: Client, cashback_card: Card, owner: Any, value: str, message: str
) -> None:
    card = _spent(cashback_card, owner, "400")
    before, entries = snapshot(card), _entry_count(card)
    response = apply_dialog(owner_client, card, "points_subtract", value=value)
    assert response.status_code == 422
    assert field_errors(response, "value") == [message]
    assert "Balance: 20.00 points" in text(response)
    assert snapshot(card) == before
    assert _entry_count(card) == entries


# ---------------------------------------------------------------------------------------------
# Transaction amount +


def test_increasing_the_transaction_amount_simulates_a_purchase(
    owner_client: Client, cashback_card: Card
) -> None:
    """FAQ: LTV, points by the percentage, and a visit."""
    before = snapshot(cashback_card)
    response = apply_dialog(owner_client, cashback_card, "transaction_amount_add", value="400")
    assert "+20.00 points at 5 %" in trigger_message(response)
    assert changes(before, snapshot(cashback_card)) == {
        "transaction_amount": Decimal("400.00"),
        "ltv": Decimal("400.00"),
        "peak_transaction_amount": Decimal("400.00"),
        "points_balance": Decimal("20.00"),
        "points_earned": Decimal("20.00"),
        "total_visits": 1,
        "last_visit_at": "moved",
        "last_points_earned_at": "moved",
    }
    assert history_labels(cashback_card)[-1] == "Purchase"


def test_a_purchase_earns_at_the_old_rate_and_upgrades_for_the_next(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    before = snapshot(card)
    message = trigger_message(
        apply_dialog(owner_client, card, "transaction_amount_add", value="200")
    )
    assert message == (
        "Purchase: Transaction amount +$200.00, +10.00 points at 5 %, +1 visit, "
        "reaches Silver (7 % from the next purchase)."
    )
    assert changes(before, snapshot(card)) == {
        "transaction_amount": Decimal("600.00"),
        "ltv": Decimal("600.00"),
        "peak_transaction_amount": Decimal("600.00"),
        "points_balance": Decimal("30.00"),
        "points_earned": Decimal("30.00"),
        "total_visits": 2,
        "tier_name": "Silver",
        "tier_threshold": Decimal("500.00"),
        "cashback_percentage": Decimal("7.00"),
        "last_visit_at": "moved",
        "last_points_earned_at": "moved",
    }


def test_one_purchase_can_cross_two_thresholds_at_once(
    owner_client: Client, cashback_card: Card
) -> None:
    message = trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_add", value="1200")
    )
    assert "+60.00 points at 5 %" in message
    assert "reaches Gold (10 % from the next purchase)" in message
    values = metric_values(owner_client, cashback_card)
    assert values["cashback_tier"] == "Gold"
    assert values["cashback_percentage"] == "10.00"
    assert values["points_balance"] == "60.00"
    assert values["to_next_tier"] == ""  # top tier

    trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_add", value="100")
    )
    assert metric_values(owner_client, cashback_card)["points_balance"] == "70.00"


@pytest.mark.parametrize(
    ("amount", "points"),
    [
        ("0.10", "0.01"),  # 0.005: half up, not to even
        ("0.50", "0.03"),  # 0.025
        ("12.34", "0.62"),  # 0.617
        ("12.29", "0.61"),  # 0.6145
        ("0.09", "0.00"),  # 0.0045
    ],
)
def test_points_are_rounded_half_up_to_two_places(
    owner_client: Client, cashback_card: Card, amount: str, points: str
) -> None:
    trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_add", value=amount)
    )
    values = metric_values(owner_client, cashback_card)
    assert values["points_balance"] == values["points_earned"] == points
    assert values["transaction_amount"] == amount


def test_a_percentage_with_decimals_rounds_half_up(owner_client: Client, merchant: Any) -> None:
    program = CashbackProgramFactory(
        merchant=merchant, tiers=[("Base", "0", "2.5"), ("Plus", "100", "7.25")]
    )
    card = issue_card(program)
    trigger_message(apply_dialog(owner_client, card, "transaction_amount_add", value="0.30"))
    assert metric_values(owner_client, card)["points_balance"] == "0.01"  # 0.0075
    trigger_message(apply_dialog(owner_client, card, "transaction_amount_add", value="100"))
    trigger_message(apply_dialog(owner_client, card, "transaction_amount_add", value="2.00"))
    # 0.01 + 2.50 at 2.5 % + 0.145 -> 0.15 at 7.25 %
    assert metric_values(owner_client, card)["points_balance"] == "2.66"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": ""}, "value", "This field is required."),
        ({"value": "-3"}, "value", "Enter a positive amount."),
    ],
)
def test_increasing_the_amount_refuses_bad_input_and_changes_nothing(
    owner_client: Client, cashback_card: Card, fields: dict[str, str], field: str, message: str
) -> None:
    before, entries = snapshot(cashback_card), _entry_count(cashback_card)
    response = apply_dialog(owner_client, cashback_card, "transaction_amount_add", **fields)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert snapshot(cashback_card) == before
    assert _entry_count(cashback_card) == entries


# ---------------------------------------------------------------------------------------------
# Transaction amount -


def test_decreasing_the_amount_claws_back_at_the_current_rate_and_keeps_the_tier(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    """FAQ: amount, LTV and balance drop, points redeemed rises, the tier is not downgraded."""
    card = _spent(cashback_card, owner, "400", "200")
    before = snapshot(card)
    message = trigger_message(
        apply_dialog(owner_client, card, "transaction_amount_subtract", value="200")
    )
    assert message == (
        "Refund of amount spent: Transaction amount \u2212$200.00, \u221214.00 points at 7 %."
    )
    assert changes(before, snapshot(card)) == {
        "transaction_amount": Decimal("400.00"),
        "ltv": Decimal("400.00"),
        "points_balance": Decimal("16.00"),
        "points_redeemed": Decimal("14.00"),
        "last_points_redeemed_at": "moved",
    }
    assert history_labels(card)[-1] == "Refund of amount spent"


def test_the_clawback_takes_at_most_the_balance(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    services.card_remove_points(card=card, value="15", actor=owner)
    trigger_message(apply_dialog(owner_client, card, "transaction_amount_subtract", value="400"))
    after = snapshot(card)
    assert after["points_balance"] == Decimal("0.00")
    assert after["points_redeemed"] == Decimal("20.00")  # 15 removed + 5 clawed back
    assert after["transaction_amount"] == Decimal("0.00")


def test_the_clawback_rounds_half_up(owner_client: Client, cashback_card: Card, owner: Any) -> None:
    card = _spent(cashback_card, owner, "600")  # Silver, 7 %
    trigger_message(apply_dialog(owner_client, card, "transaction_amount_subtract", value="0.50"))
    assert snapshot(card)["points_redeemed"] == Decimal("0.04")  # 0.035


@pytest.mark.parametrize("action", ["transaction_amount_add", "transaction_amount_subtract"])
def test_the_service_still_refuses_a_purchase_amount_other_than_the_value(
    cashback_card: Card, owner: Any, action: str
) -> None:
    """The dialog asks for the amount once; a caller passing both must pass the same."""
    card = _spent(cashback_card, owner, "400")
    before, entries = snapshot(card), _entry_count(card)
    with pytest.raises(LedgerError) as refused:
        services.card_apply(
            card=card, action=action, value="50", purchase_amount="49.99", actor=owner
        )
    assert (refused.value.field_name, refused.value.text) == (
        "purchase_amount",
        "The purchase amount must equal the value (50.00), or be left empty.",
    )
    assert (snapshot(card), _entry_count(card)) == (before, entries)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": "400.01"}, "value", "You can subtract at most the transaction amount, $400.00."),
        ({"value": "0"}, "value", "Enter an amount greater than zero."),
    ],
)
def test_decreasing_the_amount_refuses_bad_input_and_changes_nothing(
    owner_client: Client,
    cashback_card: Card,
    owner: Any,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    card = _spent(cashback_card, owner, "400")
    before, entries = snapshot(card), _entry_count(card)
    response = apply_dialog(owner_client, card, "transaction_amount_subtract", **fields)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert snapshot(card) == before
    assert _entry_count(card) == entries


# ---------------------------------------------------------------------------------------------
# Every dialog: replay, roles, tenancy, closed cards


@pytest.mark.parametrize("action", CASHBACK_ACTIONS)
def test_a_replayed_apply_makes_one_entry_and_the_same_answer(
    owner_client: Client, cashback_card: Card, owner: Any, action: str
) -> None:
    card = _spent(cashback_card, owner, "400")
    key = idempotency_key(open_dialog(owner_client, card, action))
    entries = _entry_count(card)
    first = apply_dialog(owner_client, card, action, key=key, **VALID_INPUT[action])
    after_first = snapshot(card)
    second = apply_dialog(owner_client, card, action, key=key, **VALID_INPUT[action])
    assert trigger_message(second) == trigger_message(first)
    assert snapshot(card) == after_first
    assert _entry_count(card) == entries + 1


@pytest.mark.parametrize("action", CASHBACK_ACTIONS)
def test_staff_may_use_every_cashback_dialog(
    staff_client: Client, cashback_card: Card, owner: Any, staff: Any, action: str
) -> None:
    card = _spent(cashback_card, owner, "400")
    assert open_dialog(staff_client, card, action).status_code == 200
    trigger_message(apply_dialog(staff_client, card, action, **VALID_INPUT[action]))
    assert card.entries.order_by("-id").first().actor == staff


@pytest.mark.parametrize("action", CASHBACK_ACTIONS)
def test_another_merchants_owner_gets_404_and_changes_nothing(
    outsider_client: Client, cashback_card: Card, owner: Any, action: str
) -> None:
    card = _spent(cashback_card, owner, "400")
    before = snapshot(card)
    assert open_dialog(outsider_client, card, action).status_code == 404
    assert apply_dialog(outsider_client, card, action, **VALID_INPUT[action]).status_code == 404
    assert snapshot(card) == before


@pytest.mark.parametrize(
    "action",
    ["stamps_add", "stamps_subtract", "rewards_add", "rewards_subtract", "visits_write_off"],
)
def test_stamp_actions_are_404_on_a_cashback_card(
    owner_client: Client, cashback_card: Card, action: str
) -> None:
    assert open_dialog(owner_client, cashback_card, action).status_code == 404
    assert apply_dialog(owner_client, cashback_card, action, value="1").status_code == 404


@pytest.mark.parametrize("action", CASHBACK_ACTIONS)
def test_a_deleted_card_refuses_every_cashback_dialog(
    owner_client: Client, cashback_card: Card, owner: Any, action: str
) -> None:
    card = _spent(cashback_card, owner, "400")
    services.card_delete(card=card, actor=owner)
    before, entries = snapshot(card), _entry_count(card)
    response = apply_dialog(owner_client, card, action, **VALID_INPUT[action])
    assert response.status_code == 422
    assert field_errors(response, "value") == [
        "This card was deleted; its balances can no longer change."
    ]
    assert snapshot(card) == before
    assert _entry_count(card) == entries


def test_cashback_dialogs_show_balance_and_tier(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    assert "Balance: 20.00 points" in text(open_dialog(owner_client, card, "points_subtract"))
    dialog = text(open_dialog(owner_client, card, "transaction_amount_add"))
    assert "Transaction amount: $400.00" in dialog
    assert "Cashback: Bronze, 5 %" in dialog


# ---------------------------------------------------------------------------------------------
# The metrics block and the worked example over HTTP


def test_cashback_metrics_render_every_key_with_raw_values(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    values = metric_values(owner_client, card)
    for key in (
        "ltv",
        "points_balance",
        "points_earned",
        "points_redeemed",
        "transaction_amount",
        "last_points_earned_at",
        "last_points_redeemed_at",
        "cashback_percentage",
        "cashback_tier",
        "to_next_tier",
        "referral_points",
        "total_visits",
    ):
        assert key in values
    assert values["last_points_redeemed_at"] == ""
    assert values["cashback_percentage"] == "5.00"


def test_cashback_metrics_carry_a_button_for_every_dialog_and_a_progress_bar(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    html = owner_client.get(
        reverse("cards:metrics", args=[card.serial]), headers={"HX-Request": "true"}
    ).content.decode()
    assert dialog_buttons(html) == set(CASHBACK_ACTIONS)
    progress = re.search(r'<progress class="tier-progress" value="(\d+)" max="100"', html)
    assert progress
    assert progress.group(1) == "80"  # 400 of Silver's 500


def test_the_top_tier_says_so(owner_client: Client, cashback_card: Card, owner: Any) -> None:
    card = _spent(cashback_card, owner, "1000")
    html = owner_client.get(
        reverse("cards:metrics", args=[card.serial]), headers={"HX-Request": "true"}
    ).content.decode()
    assert re.search(r'data-metric="to_next_tier" data-value="">\s*Top tier', html)
    assert "<progress" not in html


def test_the_cashback_worked_example_through_the_dialogs(
    owner_client: Client, cashback_card: Card
) -> None:
    """domain.md: Bronze 0 / 5 %, Silver 500 / 7 %, Gold 1000 / 10 %."""
    trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_add", value="400")
    )
    values = metric_values(owner_client, cashback_card)
    assert values["points_balance"] == "20.00"
    assert values["cashback_tier"] == "Bronze"
    assert values["to_next_tier"] == "100.00"

    trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_add", value="200")
    )
    values = metric_values(owner_client, cashback_card)
    assert values["transaction_amount"] == "600.00"
    assert values["points_balance"] == "30.00"
    assert values["cashback_tier"] == "Silver"
    assert values["cashback_percentage"] == "7.00"
    assert values["to_next_tier"] == "400.00"

    trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_subtract", value="200")
    )
    values = metric_values(owner_client, cashback_card)
    assert values["transaction_amount"] == "400.00"
    assert values["ltv"] == "400.00"
    assert values["points_balance"] == "16.00"
    assert values["points_redeemed"] == "14.00"
    assert values["cashback_tier"] == "Silver"
    assert values["to_next_tier"] == "600.00"
    assert values["total_visits"] == "2"


def test_faq_decreasing_the_amount_does_not_downgrade_the_tier(
    owner_client: Client, cashback_card: Card
) -> None:
    trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_add", value="1000")
    )
    trigger_message(
        apply_dialog(owner_client, cashback_card, "transaction_amount_subtract", value="900")
    )
    values = metric_values(owner_client, cashback_card)
    assert values["transaction_amount"] == "100.00"
    assert (values["cashback_tier"], values["cashback_percentage"]) == ("Gold", "10.00")
    assert values["to_next_tier"] == ""


def test_a_refused_amount_is_written_in_the_merchants_currency(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    """The rules know no currency: the dialog writes their amounts in the merchant's."""
    merchant = cashback_card.merchant
    merchant.currency = "EUR"
    merchant.save(update_fields=["currency"])
    services.card_add_transaction_amount(card=cashback_card, value="12.5", actor=owner)
    response = apply_dialog(owner_client, cashback_card, "transaction_amount_subtract", value="13")
    assert field_errors(response, "value") == [
        "You can subtract at most the transaction amount, €12.50."
    ]
