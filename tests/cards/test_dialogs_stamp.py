"""The stamp card's plus/minus dialogs over HTTP: every metric they move, their history rows,
their validation errors (which change nothing), replays, roles and tenancy."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards import services
from cards.models import Card, Program
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
    preview,
    snapshot,
    text,
    trigger_message,
)
from tests.factories import StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db

STAMP_ACTIONS = [
    "transaction_amount_add",
    "transaction_amount_subtract",
    "stamps_add",
    "stamps_subtract",
    "rewards_add",
    "rewards_subtract",
]
# A valid input for each action on a card prepared by ``_ready_card``.
VALID_INPUT = {
    "transaction_amount_add": {"value": "20"},
    "transaction_amount_subtract": {"value": "10"},
    "visits_write_off": {"value": "1"},
    "stamps_add": {"value": "2"},
    "stamps_subtract": {"value": "1"},
    "rewards_add": {"value": "1", "purchase_amount": "0"},
    "rewards_subtract": {"value": "1"},
}


@pytest.fixture
def visit_program(merchant: Any) -> Program:
    return StampProgramFactory(
        merchant=merchant, mechanism="visit", spend_per_stamp=None, stamps_per_visit=1
    )


@pytest.fixture
def visit_card(visit_program: Program) -> Card:
    return issue_card(visit_program)


def _ready_card(card: Card, actor: Any) -> Card:
    """A card with something of everything: 125 spent, 1 reward available, 2 stamps, 2 visits."""
    services.card_add_transaction_amount(card=card, value="95", actor=actor)
    services.card_add_transaction_amount(card=card, value="30", actor=actor)
    return Card.objects.get(pk=card.pk)


def _entry_count(card: Card) -> int:
    return card.entries.count()


# ---------------------------------------------------------------------------------------------
# Opening a dialog


def test_dialog_partial_is_a_modal_with_a_fresh_idempotency_key(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value="7", actor=owner)
    first = open_dialog(owner_client, stamp_card, "stamps_subtract")
    second = open_dialog(owner_client, stamp_card, "stamps_subtract")
    assert first.status_code == 200
    html = first.content.decode()
    assert "<dialog data-modal data-remove-on-close" in html
    assert "<html" not in html  # a partial for #dialog-slot, not a page
    assert re.fullmatch(r"[0-9a-f]{32}", idempotency_key(first))
    assert idempotency_key(first) != idempotency_key(second)
    assert "Balance: 7 stamps" in text(first)
    for name in ("value", "comment"):
        assert f'name="{name}"' in html
    assert 'name="purchase_amount"' not in html


def test_dialog_without_javascript_is_a_full_page(owner_client: Client, stamp_card: Card) -> None:
    response = open_dialog(owner_client, stamp_card, "transaction_amount_add", htmx=False)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert (
        f'action="{reverse("cards:dialog", args=[stamp_card.serial, "transaction_amount_add"])}"'
        in html
    )
    # The amount spent is the value: no second field to type it again.
    assert 'name="purchase_amount"' not in html
    assert "Amount spent" in text(response)
    # A page posts and redirects even where JavaScript runs (say, opened in a tab of its own).
    assert 'hx-post="/cards/' + stamp_card.serial + '/dialogs/transaction_amount_add/"' not in html


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("transaction_amount_add", {"value", "comment"}),
        ("transaction_amount_subtract", {"value", "comment"}),
        ("stamps_add", {"value", "comment"}),
        ("stamps_subtract", {"value", "comment"}),
        ("rewards_add", {"value", "purchase_amount", "comment"}),
        ("rewards_subtract", {"value", "purchase_amount", "comment"}),
    ],
)
def test_each_dialog_has_its_fields(
    owner_client: Client, stamp_card: Card, owner: Any, action: str, fields: set[str]
) -> None:
    card = _ready_card(stamp_card, owner)  # a reward to redeem
    html = open_dialog(owner_client, card, action).content.decode()
    rendered = set(re.findall(r'name="(value|purchase_amount|comment)"', html))
    assert rendered == fields


@pytest.mark.parametrize(
    ("action", "label"),
    [
        ("transaction_amount_add", "Amount spent"),
        ("transaction_amount_subtract", "Amount to refund"),
        ("stamps_add", "Stamps to add"),
        ("stamps_subtract", "Stamps to remove"),
        ("rewards_add", "Rewards to add"),
        ("rewards_subtract", "Rewards to redeem"),
    ],
)
def test_the_value_field_is_labelled_for_what_it_is(
    owner_client: Client, stamp_card: Card, owner: Any, action: str, label: str
) -> None:
    card = _ready_card(stamp_card, owner)
    html = open_dialog(owner_client, card, action).content.decode()
    assert re.search(rf'<label for="id_value">{label}(?: <span[^>]*>\*</span>)?</label>', html)
    assert ">Value<" not in html


def test_writing_off_visits_asks_for_visits(
    owner_client: Client, visit_card: Card, owner: Any
) -> None:
    card = _ready_card(visit_card, owner)
    html = open_dialog(owner_client, card, "visits_write_off").content.decode()
    assert '<label for="id_value">Visits to write off' in html


def test_dialogs_show_the_balance_they_act_on(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    card = _ready_card(stamp_card, owner)
    assert "Transaction amount: $125.00" in text(
        open_dialog(owner_client, card, "transaction_amount_subtract")
    )
    assert "Balance: 2 stamps" in text(open_dialog(owner_client, card, "stamps_add"))
    assert "Rewards available: 1" in text(open_dialog(owner_client, card, "rewards_subtract"))


# ---------------------------------------------------------------------------------------------
# Transaction amount +


def test_adding_transaction_amount_earns_stamps_and_counts_a_visit(
    owner_client: Client, stamp_card: Card
) -> None:
    before = snapshot(stamp_card)
    response = apply_dialog(owner_client, stamp_card, "transaction_amount_add", value="95")
    assert "+9 stamps" in trigger_message(response)
    assert changes(before, snapshot(stamp_card)) == {
        "transaction_amount": Decimal("95.00"),
        "ltv": Decimal("95.00"),
        "peak_transaction_amount": Decimal("95.00"),
        "stamps_earned": 9,
        "stamps_balance": 9,
        "total_visits": 1,
        "last_visit_at": "moved",
        "last_stamp_earned_at": "moved",
    }
    assert history_labels(stamp_card) == ["Card issued", "Purchase"]


def test_a_big_purchase_turns_full_cards_into_rewards(
    owner_client: Client, stamp_card: Card
) -> None:
    before = snapshot(stamp_card)
    response = apply_dialog(owner_client, stamp_card, "transaction_amount_add", value="250")
    assert trigger_message(response) == (
        "Purchase: Transaction amount +$250.00, +25 stamps, +2 rewards unlocked, +1 visit."
    )
    assert changes(before, snapshot(stamp_card)) == {
        "transaction_amount": Decimal("250.00"),
        "ltv": Decimal("250.00"),
        "peak_transaction_amount": Decimal("250.00"),
        "stamps_earned": 25,
        "stamps_balance": 5,
        "rewards_earned": 2,
        "rewards_available": 2,
        "total_visits": 1,
        "last_visit_at": "moved",
        "last_stamp_earned_at": "moved",
        "last_reward_earned_at": "moved",
    }


def test_a_visit_card_earns_its_stamps_per_visit_whatever_the_amount(
    owner_client: Client, visit_card: Card
) -> None:
    apply_dialog(owner_client, visit_card, "transaction_amount_add", value="3.50")
    card = Card.objects.get(pk=visit_card.pk)
    assert (card.stamps_balance, card.stamps_earned, card.total_visits) == (1, 1, 1)
    assert card.transaction_amount == Decimal("3.50")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": ""}, "value", "This field is required."),
        ({"value": "ten"}, "value", "Enter the amount as a number, for example 12.50."),
        ({"value": "0"}, "value", "Enter an amount greater than zero."),
        ({"value": "-5"}, "value", "Enter a positive amount."),
        ({"value": "1.005"}, "value", "Use at most 2 decimal places."),
    ],
)
def test_adding_transaction_amount_refuses_bad_input_and_changes_nothing(
    owner_client: Client, stamp_card: Card, fields: dict[str, str], field: str, message: str
) -> None:
    before, entries = snapshot(stamp_card), _entry_count(stamp_card)
    response = apply_dialog(owner_client, stamp_card, "transaction_amount_add", **fields)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert snapshot(stamp_card) == before
    assert _entry_count(stamp_card) == entries


@pytest.mark.parametrize("action", ["transaction_amount_add", "transaction_amount_subtract"])
def test_the_service_still_refuses_a_purchase_amount_other_than_the_value(
    stamp_card: Card, owner: Any, action: str
) -> None:
    """The dialog asks for the amount once; a caller passing both must pass the same."""
    card = _ready_card(stamp_card, owner)
    before, entries = snapshot(card), _entry_count(card)
    with pytest.raises(LedgerError) as refused:
        services.card_apply(card=card, action=action, value="10", purchase_amount="12", actor=owner)
    assert refused.value.field_name == "purchase_amount"
    assert refused.value.text == (
        "The purchase amount must equal the value (10.00), or be left empty."
    )
    assert (snapshot(card), _entry_count(card)) == (before, entries)


def test_a_failed_apply_returns_the_form_only_so_the_dialog_stays_open(
    owner_client: Client, stamp_card: Card
) -> None:
    key = "a" * 32
    response = apply_dialog(owner_client, stamp_card, "transaction_amount_add", key=key, value="x")
    html = response.content.decode()
    assert response.status_code == 422
    assert html.lstrip().startswith("<form")
    assert "<dialog" not in html
    # The same key comes back: nothing was written with it, and a retry is still one entry.
    assert idempotency_key(response) == key
    assert 'value="x"' in html


# ---------------------------------------------------------------------------------------------
# Transaction amount - (refund of amount spent)


def test_correcting_a_typo_refunds_the_excess_and_takes_its_stamps_back(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    """The help center's flow: 100 typed instead of 10, corrected with a refund of 90."""
    services.card_add_transaction_amount(card=stamp_card, value="35", actor=owner)
    apply_dialog(owner_client, stamp_card, "transaction_amount_add", value="100")
    before = snapshot(stamp_card)
    assert (before["stamps_balance"], before["rewards_available"]) == (3, 1)

    response = apply_dialog(
        owner_client, stamp_card, "transaction_amount_subtract", value="90", comment="Typo"
    )
    # The message names the two entries written, as the history shows them.
    assert trigger_message(response) == (
        "Refund of amount spent: Transaction amount \u2212$90.00. Stamps redeemed: \u22123 stamps."
    )
    assert changes(before, snapshot(stamp_card)) == {
        "transaction_amount": Decimal("45.00"),
        "ltv": Decimal("45.00"),
        # Only 3 stamps were left of the 9 the excess earned: never below zero.
        "stamps_earned": 10,
        "stamps_balance": 0,
    }
    assert history_labels(stamp_card)[-2:] == ["Refund of amount spent", "Stamps redeemed"]
    refund = stamp_card.entries.get(kind="refund")
    assert refund.comment == "Typo"
    assert refund.purchase_amount == Decimal("90.00")


def test_a_refund_with_no_stamps_left_to_take_back_writes_one_row(
    owner_client: Client, stamp_card: Card
) -> None:
    apply_dialog(
        owner_client, stamp_card, "transaction_amount_add", value="100"
    )  # 1 reward, 0 left
    before = snapshot(stamp_card)
    trigger_message(
        apply_dialog(owner_client, stamp_card, "transaction_amount_subtract", value="90")
    )
    assert changes(before, snapshot(stamp_card)) == {
        "transaction_amount": Decimal("10.00"),
        "ltv": Decimal("10.00"),
    }
    assert history_labels(stamp_card)[-1] == "Refund of amount spent"
    assert "Stamps redeemed" not in history_labels(stamp_card)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": "126"}, "value", "You can refund at most the transaction amount, $125.00."),
        ({"value": ""}, "value", "This field is required."),
        ({"value": "0"}, "value", "Enter an amount greater than zero."),
    ],
)
def test_refund_refuses_bad_input_and_changes_nothing(
    owner_client: Client,
    stamp_card: Card,
    owner: Any,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    card = _ready_card(stamp_card, owner)
    before, entries = snapshot(card), _entry_count(card)
    response = apply_dialog(owner_client, card, "transaction_amount_subtract", **fields)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert snapshot(card) == before
    assert _entry_count(card) == entries


def test_a_visit_card_has_no_refund_but_writes_off_visits(
    owner_client: Client, visit_card: Card, stamp_card: Card
) -> None:
    assert open_dialog(owner_client, visit_card, "transaction_amount_subtract").status_code == 404
    assert (
        apply_dialog(owner_client, visit_card, "transaction_amount_subtract", value="1").status_code
        == 404
    )
    assert open_dialog(owner_client, visit_card, "visits_write_off").status_code == 200
    assert open_dialog(owner_client, stamp_card, "visits_write_off").status_code == 404


# ---------------------------------------------------------------------------------------------
# Write off visits (visit mechanism)


def test_writing_off_visits_takes_their_stamps_back(
    owner_client: Client, visit_card: Card, owner: Any
) -> None:
    for _ in range(3):
        services.card_add_transaction_amount(card=visit_card, value="4", actor=owner)
    before = snapshot(visit_card)
    response = apply_dialog(owner_client, visit_card, "visits_write_off", value="2")
    assert trigger_message(response) == ("Visits written off: \u22122 stamps, \u22122 visits.")
    assert changes(before, snapshot(visit_card)) == {
        "total_visits": 1,
        "stamps_balance": 1,
        "stamps_earned": 1,
    }
    assert history_labels(visit_card)[-1] == "Visits written off"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", "This card has 2 visits; you can write off at most that."),
        ("0", "Enter at least 1 visit."),
        ("1.5", "Enter a whole number of visits."),
        ("", "This field is required."),
    ],
)
def test_writing_off_visits_refuses_bad_input_and_changes_nothing(
    owner_client: Client, visit_card: Card, owner: Any, value: str, message: str
) -> None:
    for _ in range(2):
        services.card_add_transaction_amount(card=visit_card, value="4", actor=owner)
    before, entries = snapshot(visit_card), _entry_count(visit_card)
    response = apply_dialog(owner_client, visit_card, "visits_write_off", value=value)
    assert response.status_code == 422
    assert field_errors(response, "value") == [message]
    assert snapshot(visit_card) == before
    assert _entry_count(visit_card) == entries


# ---------------------------------------------------------------------------------------------
# Stamps + and -


def test_adding_stamps_credits_them_without_a_visit(owner_client: Client, stamp_card: Card) -> None:
    before = snapshot(stamp_card)
    trigger_message(
        apply_dialog(owner_client, stamp_card, "stamps_add", value="3", comment="Birthday")
    )
    assert changes(before, snapshot(stamp_card)) == {
        "stamps_earned": 3,
        "stamps_balance": 3,
        "last_stamp_earned_at": "moved",
    }
    assert history_labels(stamp_card)[-1] == "Stamps added"
    assert stamp_card.entries.get(kind="stamps_added").comment == "Birthday"


def test_added_stamps_that_fill_the_card_become_a_reward(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value="7", actor=owner)
    before = snapshot(stamp_card)
    message = trigger_message(apply_dialog(owner_client, stamp_card, "stamps_add", value="3"))
    assert message == "Stamps added: +3 stamps, +1 reward unlocked."
    assert changes(before, snapshot(stamp_card)) == {
        "stamps_earned": 10,
        "stamps_balance": 0,
        "rewards_earned": 1,
        "rewards_available": 1,
        "last_stamp_earned_at": "moved",
        "last_reward_earned_at": "moved",
    }


def test_removing_stamps_lowers_balance_and_earned(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value="5", actor=owner)
    before = snapshot(stamp_card)
    trigger_message(apply_dialog(owner_client, stamp_card, "stamps_subtract", value="3"))
    assert changes(before, snapshot(stamp_card)) == {"stamps_earned": 2, "stamps_balance": 2}
    assert history_labels(stamp_card)[-1] == "Stamps removed"


@pytest.mark.parametrize(
    ("action", "value", "message"),
    [
        ("stamps_subtract", "3", "The card has 2 stamps; you cannot remove more than 2."),
        ("stamps_subtract", "0", "Enter at least 1 stamp."),
        ("stamps_subtract", "", "This field is required."),
        ("stamps_add", "2.5", "Enter a whole number of stamps."),
        ("stamps_add", "0", "Enter at least 1 stamp."),
        ("stamps_add", "20000", "That is more than the 10,000 stamps allowed at once."),
    ],
)
def test_stamp_dialogs_refuse_bad_input_and_change_nothing(
    owner_client: Client, stamp_card: Card, owner: Any, action: str, value: str, message: str
) -> None:
    services.card_add_stamps(card=stamp_card, value="2", actor=owner)
    before, entries = snapshot(stamp_card), _entry_count(stamp_card)
    response = apply_dialog(owner_client, stamp_card, action, value=value)
    assert response.status_code == 422
    assert field_errors(response, "value") == [message]
    assert snapshot(stamp_card) == before
    assert _entry_count(stamp_card) == entries


def test_removing_more_stamps_than_the_balance_shows_the_balance_again(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value="2", actor=owner)
    response = apply_dialog(owner_client, stamp_card, "stamps_subtract", value="5")
    assert response.status_code == 422
    assert "Balance: 2 stamps" in text(response)
    assert 'aria-invalid="true"' in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Rewards + and - (redeem)


def test_adding_rewards_is_a_visit_with_its_purchase_amount(
    owner_client: Client, stamp_card: Card
) -> None:
    before = snapshot(stamp_card)
    response = apply_dialog(
        owner_client, stamp_card, "rewards_add", value="2", purchase_amount="15"
    )
    assert trigger_message(response) == (
        "Rewards added: Transaction amount +$15.00, +2 rewards, +1 visit."
    )
    assert changes(before, snapshot(stamp_card)) == {
        "rewards_earned": 2,
        "rewards_available": 2,
        "transaction_amount": Decimal("15.00"),
        "ltv": Decimal("15.00"),
        "peak_transaction_amount": Decimal("15.00"),
        "total_visits": 1,
        "last_visit_at": "moved",
        "last_reward_earned_at": "moved",
    }
    assert history_labels(stamp_card)[-1] == "Rewards added"


def test_adding_rewards_with_a_zero_purchase_leaves_the_amount(
    owner_client: Client, stamp_card: Card
) -> None:
    before = snapshot(stamp_card)
    trigger_message(
        apply_dialog(owner_client, stamp_card, "rewards_add", value="1", purchase_amount="0")
    )
    assert changes(before, snapshot(stamp_card)) == {
        "rewards_earned": 1,
        "rewards_available": 1,
        "total_visits": 1,
        "last_visit_at": "moved",
        "last_reward_earned_at": "moved",
    }


def test_redeeming_a_reward_is_a_visit_and_counts_redeemed(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    card = _ready_card(stamp_card, owner)
    before = snapshot(card)
    response = apply_dialog(
        owner_client, card, "rewards_subtract", value="1", purchase_amount="4.50"
    )
    assert trigger_message(response) == (
        "Reward redeemed: Transaction amount +$4.50, \u22121 reward, +1 visit."
    )
    assert changes(before, snapshot(card)) == {
        "rewards_available": 0,
        "rewards_redeemed": 1,
        "transaction_amount": Decimal("129.50"),
        "ltv": Decimal("129.50"),
        "peak_transaction_amount": Decimal("129.50"),
        "total_visits": 3,
        "last_visit_at": "moved",
        "last_reward_redeemed_at": "moved",
    }
    assert history_labels(card)[-1] == "Reward redeemed"


@pytest.mark.parametrize(
    ("action", "fields", "field", "message"),
    [
        (
            "rewards_subtract",
            {"value": "2", "purchase_amount": "0"},
            "value",
            "The card has 1 reward available; you cannot redeem more than 1.",
        ),
        (
            "rewards_subtract",
            {"value": "1", "purchase_amount": "-1"},
            "purchase_amount",
            "Enter a positive amount.",
        ),
        (
            "rewards_subtract",
            {"value": "0", "purchase_amount": "0"},
            "value",
            "Enter at least 1 reward.",
        ),
        (
            "rewards_add",
            {"value": "1", "purchase_amount": ""},
            "purchase_amount",
            "This field is required.",
        ),
        (
            "rewards_add",
            {"value": "1", "purchase_amount": "-1"},
            "purchase_amount",
            "Enter a positive amount.",
        ),
        (
            "rewards_add",
            {"value": "one", "purchase_amount": "0"},
            "value",
            "Enter a whole number of rewards.",
        ),
    ],
)
def test_reward_dialogs_refuse_bad_input_and_change_nothing(
    owner_client: Client,
    stamp_card: Card,
    owner: Any,
    action: str,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    card = _ready_card(stamp_card, owner)
    before, entries = snapshot(card), _entry_count(card)
    response = apply_dialog(owner_client, card, action, **fields)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert snapshot(card) == before
    assert _entry_count(card) == entries


def test_a_reward_is_redeemed_without_a_purchase_and_still_counts_a_visit(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    card = _ready_card(stamp_card, owner)
    before = snapshot(card)
    response = apply_dialog(owner_client, card, "rewards_subtract", value="1")
    assert trigger_message(response) == "Reward redeemed: \u22121 reward, +1 visit."
    assert changes(before, snapshot(card)) == {
        "rewards_available": 0,
        "rewards_redeemed": 1,
        "total_visits": 3,
        "last_visit_at": "moved",
        "last_reward_redeemed_at": "moved",
    }


def test_the_redeem_dialog_asks_for_an_optional_purchase_amount(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    html = open_dialog(owner_client, _ready_card(stamp_card, owner), "rewards_subtract").text
    field = re.search(r'<input [^>]*name="purchase_amount"[^>]*>', html)
    assert field is not None
    assert "required" not in field.group(0)
    assert "Leave it empty when the reward is redeemed without a purchase." in html


def test_a_comment_over_500_characters_is_refused(owner_client: Client, stamp_card: Card) -> None:
    response = apply_dialog(owner_client, stamp_card, "stamps_add", value="1", comment="x" * 501)
    assert response.status_code == 422
    assert field_errors(response, "comment") == ["Keep the comment under 500 characters."]
    assert history_labels(stamp_card) == ["Card issued"]


# ---------------------------------------------------------------------------------------------
# Every dialog: replay, roles, tenancy, closed cards, no JavaScript


def _card_for(action: str, stamp_card: Card, visit_card: Card, actor: Any) -> Card:
    card = visit_card if action == "visits_write_off" else stamp_card
    return _ready_card(card, actor)


ALL_STAMP_ACTIONS = [*STAMP_ACTIONS, "visits_write_off"]


@pytest.mark.parametrize("action", ALL_STAMP_ACTIONS)
def test_a_replayed_apply_makes_one_entry_and_the_same_answer(
    owner_client: Client, stamp_card: Card, visit_card: Card, owner: Any, action: str
) -> None:
    card = _card_for(action, stamp_card, visit_card, owner)
    key = idempotency_key(open_dialog(owner_client, card, action))
    entries = _entry_count(card)
    first = apply_dialog(owner_client, card, action, key=key, **VALID_INPUT[action])
    after_first = snapshot(card)
    second = apply_dialog(owner_client, card, action, key=key, **VALID_INPUT[action])
    assert trigger_message(second) == trigger_message(first)
    assert snapshot(card) == after_first
    assert _entry_count(card) - entries in (1, 2)  # a refund may add its "Stamps redeemed"
    assert card.entries.filter(operation_key=key).count() == _entry_count(card) - entries


@pytest.mark.parametrize("action", ALL_STAMP_ACTIONS)
def test_staff_may_use_every_stamp_dialog(
    staff_client: Client, stamp_card: Card, visit_card: Card, owner: Any, staff: Any, action: str
) -> None:
    card = _card_for(action, stamp_card, visit_card, owner)
    assert open_dialog(staff_client, card, action).status_code == 200
    entries = _entry_count(card)
    trigger_message(apply_dialog(staff_client, card, action, **VALID_INPUT[action]))
    assert _entry_count(card) > entries
    assert card.entries.order_by("-id").first().actor == staff


@pytest.mark.parametrize("action", ALL_STAMP_ACTIONS)
def test_another_merchants_owner_gets_404_and_changes_nothing(
    outsider_client: Client, stamp_card: Card, visit_card: Card, owner: Any, action: str
) -> None:
    card = _card_for(action, stamp_card, visit_card, owner)
    before = snapshot(card)
    assert open_dialog(outsider_client, card, action).status_code == 404
    assert apply_dialog(outsider_client, card, action, **VALID_INPUT[action]).status_code == 404
    assert snapshot(card) == before


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, stamp_card: Card) -> None:
    response = apply_dialog(client, stamp_card, "stamps_add", htmx=False, value="1")
    assert response.status_code == 302
    assert response.url.startswith("/login/")
    assert history_labels(stamp_card) == ["Card issued"]


@pytest.mark.parametrize("action", ["points_add", "points_subtract", "nonsense"])
def test_actions_that_do_not_apply_to_a_stamp_card_are_404(
    owner_client: Client, stamp_card: Card, action: str
) -> None:
    assert open_dialog(owner_client, stamp_card, action).status_code == 404
    assert apply_dialog(owner_client, stamp_card, action, value="1").status_code == 404


@pytest.mark.parametrize("action", ALL_STAMP_ACTIONS)
def test_a_deleted_card_refuses_every_dialog_with_the_services_message(
    owner_client: Client, stamp_card: Card, visit_card: Card, owner: Any, action: str
) -> None:
    card = _card_for(action, stamp_card, visit_card, owner)
    services.card_delete(card=card, actor=owner)
    before, entries = snapshot(card), _entry_count(card)
    message = "This card was deleted; its balances can no longer change."
    dialog = open_dialog(owner_client, card, action)
    assert message in text(dialog)
    assert ">Apply</button>" not in dialog.content.decode()
    response = apply_dialog(owner_client, card, action, **VALID_INPUT[action])
    assert response.status_code == 422
    assert field_errors(response, "value") == [message]
    assert snapshot(card) == before
    assert _entry_count(card) == entries


def test_an_expired_card_refuses_with_the_date(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2020, 3, 1), actor=owner)
    response = apply_dialog(owner_client, stamp_card, "stamps_add", value="1")
    assert response.status_code == 422
    assert field_errors(response, "value") == [
        "This card expired on March 1, 2020. Move the expiration date to change its balances."
    ]
    assert history_labels(stamp_card) == ["Card issued"]


def test_a_missing_idempotency_key_is_refused(owner_client: Client, stamp_card: Card) -> None:
    url = reverse("cards:dialog", args=[stamp_card.serial, "stamps_add"])
    response = owner_client.post(url, {"value": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "The form expired; reload the page and try again." in text(response)
    assert history_labels(stamp_card) == ["Card issued"]


def test_without_javascript_apply_redirects_to_the_profile_with_a_message(
    owner_client: Client, stamp_card: Card
) -> None:
    response = apply_dialog(owner_client, stamp_card, "stamps_add", htmx=False, value="4")
    assert response.status_code == 302
    assert response.url == reverse("cards:profile", args=[stamp_card.serial])
    page = owner_client.get(response.url)
    assert "Stamps added: +4 stamps." in text(page)
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 4


def test_without_javascript_an_error_renders_the_page_with_the_form(
    owner_client: Client, stamp_card: Card
) -> None:
    response = apply_dialog(owner_client, stamp_card, "stamps_subtract", htmx=False, value="1")
    assert response.status_code == 422
    assert "<html" in response.content.decode()
    assert field_errors(response, "value") == [
        "The card has 0 stamps; you cannot remove more than 0."
    ]


def test_get_and_post_only(owner_client: Client, stamp_card: Card) -> None:
    url = reverse("cards:dialog", args=[stamp_card.serial, "stamps_add"])
    assert owner_client.put(url).status_code == 405


# ---------------------------------------------------------------------------------------------
# The metrics block: every stamp metric, its buttons, and the worked example over HTTP


def test_stamp_metrics_render_every_key_with_raw_values(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    card = _ready_card(stamp_card, owner)
    values = metric_values(owner_client, card)
    for key in (
        "ltv",
        "transaction_amount",
        "stamps_earned",
        "stamps_balance",
        "rewards_earned",
        "rewards_available",
        "rewards_redeemed",
        "last_stamp_earned_at",
        "last_reward_earned_at",
        "last_reward_redeemed_at",
        "total_visits",
        "referral_stamps",
    ):
        assert key in values
    assert values["ltv"] == "125.00"
    assert values["last_reward_redeemed_at"] == ""
    fresh = Card.objects.get(pk=card.pk)
    assert (
        datetime.datetime.fromisoformat(values["last_stamp_earned_at"])
        == fresh.last_stamp_earned_at
    )


def test_stamp_metrics_show_the_balance_as_slots(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value="3", actor=owner)
    html = owner_client.get(
        reverse("cards:metrics", args=[stamp_card.serial]), headers={"HX-Request": "true"}
    ).content.decode()
    slots = re.search(r'<ul class="stamp-slots"[^>]*>(.*?)</ul>', html, re.S)
    assert slots
    assert slots.group(1).count('<li class="filled">') == 3
    assert slots.group(1).count("<li") == 10


def test_stamp_metrics_carry_a_button_for_every_dialog(
    owner_client: Client, stamp_card: Card, visit_card: Card
) -> None:
    def actions(card: Card) -> set[str]:
        html = owner_client.get(
            reverse("cards:metrics", args=[card.serial]), headers={"HX-Request": "true"}
        ).content.decode()
        return dialog_buttons(html)

    # No reward to redeem yet: that button is disabled (no link to its dialog).
    assert actions(stamp_card) == set(STAMP_ACTIONS) - {"rewards_subtract"}
    assert actions(visit_card) == (
        set(STAMP_ACTIONS) - {"transaction_amount_subtract", "rewards_subtract"}
    ) | {"visits_write_off"}
    services.card_add_rewards(card=stamp_card, value="1", purchase_amount="0", actor=None)
    assert actions(stamp_card) == set(STAMP_ACTIONS)


def test_every_button_opens_its_dialog(owner_client: Client, stamp_card: Card) -> None:
    html = owner_client.get(
        reverse("cards:metrics", args=[stamp_card.serial]), headers={"HX-Request": "true"}
    ).content.decode()
    for href in re.findall(r'<a href="([^"]+)" hx-get="\1" hx-target="#dialog-slot"', html):
        assert owner_client.get(href, headers={"HX-Request": "true"}).status_code == 200


def test_a_deleted_card_shows_no_plus_or_minus_buttons(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    html = owner_client.get(
        reverse("cards:metrics", args=[stamp_card.serial]), headers={"HX-Request": "true"}
    ).content.decode()
    assert dialog_buttons(html) == set()
    assert 'data-metric="stamps_balance"' in html


def test_an_expired_card_shows_no_plus_or_minus_buttons(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2020, 3, 1), actor=owner)
    html = owner_client.get(
        reverse("cards:metrics", args=[stamp_card.serial]), headers={"HX-Request": "true"}
    ).content.decode()
    assert dialog_buttons(html) == set()


def test_dialogs_run_a_fixed_number_of_queries(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    def queries(request: Any) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert request().status_code in (200, 204)
        return len(captured)

    def measure() -> tuple[int, int]:
        return (
            queries(lambda: open_dialog(owner_client, stamp_card, "stamps_subtract")),
            queries(lambda: preview(owner_client, stamp_card, "stamps_subtract", value="1")),
        )

    services.card_add_stamps(card=stamp_card, value="1", actor=owner)
    few = measure()
    for _ in range(60):
        services.card_add_stamps(card=stamp_card, value="1", actor=owner)
    assert measure() == few
    assert max(few) <= 8


def test_the_stamp_worked_example_through_the_dialogs(
    owner_client: Client, stamp_card: Card
) -> None:
    """domain.md: spend, S = 10, N = 10."""
    trigger_message(apply_dialog(owner_client, stamp_card, "transaction_amount_add", value="95"))
    values = metric_values(owner_client, stamp_card)
    assert (values["stamps_balance"], values["total_visits"], values["ltv"]) == ("9", "1", "95.00")

    trigger_message(apply_dialog(owner_client, stamp_card, "transaction_amount_add", value="30"))
    values = metric_values(owner_client, stamp_card)
    assert values["stamps_balance"] == "2"
    assert values["stamps_earned"] == "12"
    assert values["rewards_available"] == "1"
    assert values["rewards_earned"] == "1"
    assert values["total_visits"] == "2"
    assert values["ltv"] == values["transaction_amount"] == "125.00"

    trigger_message(
        apply_dialog(owner_client, stamp_card, "transaction_amount_subtract", value="27")
    )
    values = metric_values(owner_client, stamp_card)
    assert values["stamps_balance"] == "0"
    assert values["stamps_earned"] == "10"
    assert values["ltv"] == values["transaction_amount"] == "98.00"
    assert values["rewards_available"] == "1"
    assert values["total_visits"] == "2"
    assert history_labels(stamp_card) == [
        "Card issued",
        "Purchase",
        "Purchase",
        "Refund of amount spent",
        "Stamps redeemed",
    ]


def test_the_help_center_correction_read_from_the_metrics(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="35", actor=owner)
    trigger_message(apply_dialog(owner_client, stamp_card, "transaction_amount_add", value="100"))
    before = metric_values(owner_client, stamp_card)
    trigger_message(
        apply_dialog(owner_client, stamp_card, "transaction_amount_subtract", value="90")
    )
    after = metric_values(owner_client, stamp_card)
    assert Decimal(before["ltv"]) - Decimal(after["ltv"]) == Decimal("90")
    assert Decimal(before["transaction_amount"]) - Decimal(after["transaction_amount"]) == 90
    assert (before["stamps_earned"], after["stamps_earned"]) == ("13", "10")
    assert after["stamps_balance"] == "0"
    assert after["rewards_available"] == before["rewards_available"] == "1"
    assert after["rewards_earned"] == before["rewards_earned"]
