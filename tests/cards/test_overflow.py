"""Huge numbers get a message, never a database overflow (a 500).

One entry credits at most ``rules.MAX_STAMPS_PER_ENTRY`` stamps and ``rules.MAX_AMOUNT`` of money
or points; programs cannot be set so that one large purchase passes that; and a change that
would take a card's balance past what its columns hold is refused in words.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cards import rules, services
from cards.actions import ACTIONS
from cards.models import Card, LedgerEntry, Program
from cards.rules import Balances, Delta, LedgerError
from cards.services import ProgramSpec
from tests.cards.dialog_support import apply_dialog, preview, preview_parts, text
from tests.factories import CashbackProgramFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db
D = Decimal
HUGE = str(10**15)


def state(card: Card) -> tuple:
    fresh = Card.objects.get(pk=card.pk)
    return (fresh.balances(), LedgerEntry.objects.filter(card=card).count())


def assert_ledger_matches(capsys: Any) -> None:
    call_command("verify_ledger")
    assert "disagree" not in capsys.readouterr().out


@pytest.fixture
def cent_card(merchant: Any) -> Card:
    """A card of a program saved before the settings refused a spend per stamp of 0.01."""
    return issue_card(StampProgramFactory(merchant=merchant, spend_per_stamp=D("0.01")))


# ---------------------------------------------------------------------------------------------
# Stamps per entry


def test_a_purchase_earning_more_stamps_than_one_entry_holds_is_refused(
    cent_card: Card, staff: Any
) -> None:
    before = state(cent_card)

    with pytest.raises(LedgerError) as error:
        services.card_add_transaction_amount(card=cent_card, value="1000000", actor=staff)

    assert (error.value.field_name, error.value.text) == (
        "value",
        "That purchase would earn 100,000,000 stamps; a single purchase can earn at most 10,000. "
        "Check the amount.",
    )
    assert state(cent_card) == before


def test_many_purchases_at_a_cent_per_stamp_no_longer_overflow(
    cent_card: Card, staff: Any, capsys: Any
) -> None:
    # Before the limit, 22 purchases of 1,000,000.00 passed the 32-bit stamp columns.
    for _ in range(30):
        services.card_add_transaction_amount(card=cent_card, value="100", actor=staff)
        with pytest.raises(LedgerError):
            services.card_add_transaction_amount(card=cent_card, value="1000000", actor=staff)

    card = Card.objects.get(pk=cent_card.pk)
    assert card.stamps_earned == 30 * 10_000
    assert_ledger_matches(capsys)


def test_the_dialog_preview_and_apply_refuse_a_purchase_over_the_stamp_limit(
    owner_client: Client, cent_card: Card
) -> None:
    before = state(cent_card)
    message = (
        "That purchase would earn 1,000,000 stamps; a single purchase can earn at most 10,000."
    )

    assert (
        message
        in preview_parts(preview(owner_client, cent_card, "transaction_amount_add", value="10000"))[
            1
        ]
    )
    response = apply_dialog(owner_client, cent_card, "transaction_amount_add", value="10000")

    assert response.status_code == 422
    assert message in text(response)
    assert state(cent_card) == before


def test_the_largest_purchase_a_program_must_take_stays_within_the_stamp_limit() -> None:
    lowest = rules.StampRules(mechanism="spend", stamps_per_reward=100, spend_per_stamp=D("0.10"))
    (delta,) = rules.stamp_add_transaction_amount(Balances(), lowest, value="1000")
    assert delta.stamps_earned == rules.MAX_STAMPS_PER_ENTRY
    visits = rules.StampRules(
        mechanism="visit", stamps_per_reward=100, stamps_per_visit=services.MAX_STAMPS_PER_VISIT
    )
    (delta,) = rules.stamp_add_transaction_amount(Balances(), visits, value=rules.MAX_AMOUNT)
    assert delta.stamps_earned <= rules.MAX_STAMPS_PER_ENTRY


# ---------------------------------------------------------------------------------------------
# Program settings


def stamp_spec(**overrides: Any) -> ProgramSpec:
    values: dict[str, Any] = {
        "name": "Penny card",
        "kind": "stamp",
        "mechanism": "spend",
        "spend_per_stamp": D("10"),
        "stamps_per_reward": 10,
    }
    return ProgramSpec(**{**values, **overrides})


def test_a_spend_per_stamp_that_turns_a_large_purchase_into_too_many_stamps_is_refused(
    merchant: Any,
) -> None:
    with pytest.raises(ValidationError) as error:
        services.program_create(
            merchant=merchant, spec=stamp_spec(spend_per_stamp=D("0.01")), actor=None
        )
    assert error.value.message_dict["spend_per_stamp"] == [
        "At $0.01 per stamp, a purchase of $1,000.00 would earn more than the 10,000 stamps "
        "one purchase can earn. Use at least $0.10 per stamp."
    ]
    assert not Program.objects.exists()
    program = services.program_create(
        merchant=merchant, spec=stamp_spec(spend_per_stamp=D("0.10")), actor=None
    )
    assert program.spend_per_stamp == D("0.10")


def _program_post(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Bean club",
        "kind": "stamp",
        "mechanism": "spend",
        "spend_per_stamp": "10",
        "stamps_per_visit": "1",
        "stamps_per_reward": "10",
        "referral_bonus": "2",
        "referral_cap": "10",
        "welcome_bonus": "0",
        "validity": "none",
        "valid_until": "",
        "valid_days": "",
        "background_color": "#5b3a29",
        "foreground_color": "#ffffff",
        "tiers-TOTAL_FORMS": "1",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "20",
        "tiers-0-name": "",
        "tiers-0-threshold": "",
        "tiers-0-percentage": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "overrides",
    [
        {"spend_per_stamp": HUGE},
        {"spend_per_stamp": "1e999999"},
        {"mechanism": "visit", "stamps_per_visit": HUGE},
        {"stamps_per_reward": HUGE},
        {"referral_bonus": HUGE},
        {"referral_cap": HUGE},
        {"welcome_bonus": HUGE},
        {"validity": "days", "valid_days": HUGE},
        {
            "kind": "cashback",
            "tiers-0-name": "Bronze",
            "tiers-0-threshold": "0",
            "tiers-0-percentage": HUGE,
        },
        {"kind": "cashback", "referral_bonus": HUGE},
    ],
    ids=lambda overrides: "-".join(overrides),
)
def test_huge_numbers_in_the_program_form_get_a_message(
    owner_client: Client, merchant: Any, overrides: dict[str, str]
) -> None:
    response = owner_client.post(reverse("settings:program_create"), _program_post(**overrides))

    assert response.status_code == 422
    assert 'class="errorlist' in response.content.decode()
    assert not Program.objects.exists()


def test_a_huge_tier_threshold_gets_a_message(owner_client: Client, merchant: Any) -> None:
    data = _program_post(
        kind="cashback",
        **{
            "tiers-TOTAL_FORMS": "2",
            "tiers-0-name": "Bronze",
            "tiers-0-threshold": "0",
            "tiers-0-percentage": "5",
            "tiers-1-name": "Gold",
            "tiers-1-threshold": HUGE,
            "tiers-1-percentage": "10",
        },
    )
    response = owner_client.post(reverse("settings:program_create"), data)
    assert response.status_code == 422
    assert "the threshold must be between 0 and $1,000,000.00" in text(response)


# ---------------------------------------------------------------------------------------------
# Every dialog field


def _cards(merchant: Any) -> list[Card]:
    spend = issue_card(StampProgramFactory(merchant=merchant, name="Spend"))
    visit = issue_card(
        StampProgramFactory(
            merchant=merchant, name="Visit", mechanism="visit", spend_per_stamp=None
        )
    )
    cashback = issue_card(CashbackProgramFactory(merchant=merchant))
    for card in (spend, visit, cashback):
        services.card_add_transaction_amount(card=card, value="50", actor=None)
    return [spend, visit, cashback]


@pytest.mark.parametrize("field", ["value", "purchase_amount", "comment", "idempotency_key"])
def test_a_huge_number_in_any_dialog_field_never_fails_the_request(
    owner_client: Client, merchant: Any, field: str, capsys: Any
) -> None:
    cards = _cards(merchant)
    for card in cards:
        for (kind, name), action in ACTIONS.items():
            # Only the dialogs with a purchase amount field besides the value.
            asks = action.asks_purchase
            if not action.offered_on(card) or (field == "purchase_amount" and not asks):
                continue
            fields = {"value": "1", "purchase_amount": "1" if asks else ""}
            fields[field] = HUGE * 40 if field == "comment" else HUGE
            key = fields.pop("idempotency_key", None)
            before = state(card)

            shown = preview(owner_client, card, name, **fields)
            response = apply_dialog(owner_client, card, name, key=key, **fields)

            assert shown.status_code == 200, (kind, name)
            if field == "idempotency_key":
                # A long number is a fine key: the request is judged on its inputs.
                assert response.status_code in (204, 422), (kind, name)
            else:
                assert response.status_code == 422, (kind, name, text(response)[:300])
                assert state(card) == before, (kind, name)
    assert_ledger_matches(capsys)


# ---------------------------------------------------------------------------------------------
# What a card can hold


def test_a_change_past_what_a_card_can_hold_is_refused(stamp_card: Card, staff: Any) -> None:
    Card.objects.filter(pk=stamp_card.pk).update(
        stamps_earned=rules.MAX_WHOLE - 5, rewards_earned=0
    )
    before = state(stamp_card)

    with pytest.raises(LedgerError) as error:
        services.card_add_stamps(card=stamp_card, value=10, actor=staff)

    assert (error.value.field_name, error.value.text) == (
        "value",
        "That change would take a balance past the largest a card can hold.",
    )
    assert state(stamp_card) == before


def test_money_past_what_a_card_can_hold_is_refused(cashback_card: Card, staff: Any) -> None:
    near = rules.MAX_MONEY - D("10.00")
    Card.objects.filter(pk=cashback_card.pk).update(
        transaction_amount=near, ltv=near, peak_transaction_amount=near
    )
    before = state(cashback_card)

    with pytest.raises(LedgerError, match="past the largest a card can hold"):
        services.card_add_transaction_amount(card=cashback_card, value="20", actor=staff)

    assert state(cashback_card) == before


def test_balances_and_deltas_know_their_column_limits() -> None:
    assert Balances(stamps_earned=rules.MAX_WHOLE, ltv=rules.MAX_MONEY).fits()
    assert not Balances(stamps_earned=rules.MAX_WHOLE + 1).fits()
    assert not Balances(points_balance=rules.MAX_MONEY + D("0.01")).fits()
    assert Delta(kind="purchase", stamps=-rules.MAX_WHOLE).fits()
    assert not Delta(kind="purchase", amount=-rules.MAX_MONEY - 1).fits()
