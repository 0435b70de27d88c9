"""The live preview in every dialog: what Apply would do, from the same rules, writing nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from cards import services
from cards.models import Card, Program
from tests.cards.dialog_support import (
    apply_dialog,
    field_errors,
    history_labels,
    open_dialog,
    preview,
    preview_parts,
    preview_url,
    snapshot,
)
from tests.factories import StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit_program(merchant: Any) -> Program:
    return StampProgramFactory(
        merchant=merchant, mechanism="visit", spend_per_stamp=None, stamps_per_visit=2
    )


def _stamps(card: Card, actor: Any, count: str) -> Card:
    services.card_add_stamps(card=card, value=count, actor=actor)
    return Card.objects.get(pk=card.pk)


def _spent(card: Card, actor: Any, *amounts: str) -> Card:
    for amount in amounts:
        services.card_add_transaction_amount(card=card, value=amount, actor=actor)
    return Card.objects.get(pk=card.pk)


# ---------------------------------------------------------------------------------------------
# Stamp cards


def test_adding_stamps_that_fill_the_card_previews_the_reward(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    card = _stamps(stamp_card, owner, "7")
    assert preview_parts(preview(owner_client, card, "stamps_add", value="3")) == (
        "ok",
        "+3 stamps, balance 7 -> 0 stamps, 1 reward unlocked.",
    )


def test_adding_stamps_below_a_full_card_previews_the_new_balance(
    owner_client: Client, merchant: Any, owner: Any
) -> None:
    card = _stamps(
        issue_card(StampProgramFactory(merchant=merchant, stamps_per_reward=12)), owner, "7"
    )
    assert preview_parts(preview(owner_client, card, "stamps_add", value="3")) == (
        "ok",
        "+3 stamps, balance 7 -> 10 stamps.",
    )


def test_a_purchase_previews_stamps_and_rewards(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    card = _spent(stamp_card, owner, "95")
    assert preview_parts(preview(owner_client, card, "transaction_amount_add", value="30")) == (
        "ok",
        "+$30.00 transaction amount, +3 stamps, balance 9 -> 2 stamps, 1 reward unlocked.",
    )
    assert preview_parts(preview(owner_client, card, "transaction_amount_add", value="9.99")) == (
        "ok",
        "+$9.99 transaction amount, no stamps, balance 9 -> 9 stamps.",
    )


def test_a_refund_previews_the_stamps_taken_back(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    card = _spent(stamp_card, owner, "95", "30")
    assert preview_parts(
        preview(owner_client, card, "transaction_amount_subtract", value="27")
    ) == (
        "ok",
        "-$27.00 transaction amount, 2 stamps taken back, balance 2 -> 0 stamps, "
        "rewards unchanged.",
    )


def test_writing_off_visits_previews_visits_and_stamps(
    owner_client: Client, visit_program: Program, owner: Any
) -> None:
    card = _spent(issue_card(visit_program), owner, "5", "5", "5")
    assert preview_parts(preview(owner_client, card, "visits_write_off", value="2")) == (
        "ok",
        "-2 visits, visits 3 -> 1, 4 stamps taken back, balance 6 -> 2 stamps.",
    )


def test_removing_and_rewards_previews(owner_client: Client, stamp_card: Card, owner: Any) -> None:
    card = _spent(stamp_card, owner, "95", "30")
    assert preview_parts(preview(owner_client, card, "stamps_subtract", value="1")) == (
        "ok",
        "-1 stamp, balance 2 -> 1 stamp.",
    )
    assert preview_parts(preview(owner_client, card, "rewards_subtract", value="1")) == (
        "ok",
        "1 reward redeemed, rewards available 1 -> 0, counts as a visit.",
    )
    assert preview_parts(
        preview(owner_client, card, "rewards_add", value="2", purchase_amount="5")
    ) == (
        "ok",
        "+2 rewards, rewards available 1 -> 3, +$5.00 transaction amount, counts as a visit.",
    )


# ---------------------------------------------------------------------------------------------
# Cashback cards


def test_a_purchase_that_reaches_a_tier_previews_it(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    assert preview_parts(preview(owner_client, card, "transaction_amount_add", value="200")) == (
        "ok",
        "+$200.00 transaction amount, +10.00 points at 5 %, balance 20.00 -> 30.00 points, "
        "reaches Silver (7 % from the next purchase).",
    )


def test_a_purchase_below_the_next_tier_previews_the_distance(
    owner_client: Client, cashback_card: Card
) -> None:
    assert preview_parts(
        preview(owner_client, cashback_card, "transaction_amount_add", value="400")
    ) == (
        "ok",
        "+$400.00 transaction amount, +20.00 points at 5 %, balance 0.00 -> 20.00 points, "
        "$100.00 more to Silver.",
    )


def test_points_and_decrease_previews(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400", "200")
    assert preview_parts(preview(owner_client, card, "points_add", value="30")) == (
        "ok",
        "+30.00 points, balance 30.00 -> 60.00 points, transaction amount unchanged.",
    )
    assert preview_parts(
        preview(owner_client, card, "points_add", value="5", purchase_amount="12")
    ) == (
        "ok",
        "+5.00 points, balance 30.00 -> 35.00 points, LTV +$12.00, transaction amount unchanged.",
    )
    assert preview_parts(preview(owner_client, card, "points_subtract", value="10")) == (
        "ok",
        "-10.00 points, balance 30.00 -> 20.00 points, tier unchanged.",
    )
    assert preview_parts(
        preview(owner_client, card, "transaction_amount_subtract", value="200")
    ) == (
        "ok",
        "-$200.00 transaction amount, -14.00 points at 7 %, balance 30.00 -> 16.00 points, "
        "tier stays Silver.",
    )


# ---------------------------------------------------------------------------------------------
# Errors, nothing written, and agreement with Apply


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("stamps_subtract", {"value": "5"}),
        ("stamps_add", {"value": "1.5"}),
        ("transaction_amount_subtract", {"value": "200"}),
        ("transaction_amount_add", {"value": "10.001"}),
        ("rewards_subtract", {"value": "3", "purchase_amount": "0"}),
        ("rewards_subtract", {"value": "1", "purchase_amount": "-2"}),
        ("rewards_add", {"value": "1", "purchase_amount": ""}),
    ],
)
def test_a_preview_error_is_the_message_apply_gives(
    owner_client: Client, stamp_card: Card, owner: Any, action: str, fields: dict[str, str]
) -> None:
    card = _spent(stamp_card, owner, "95", "30")
    state, message = preview_parts(preview(owner_client, card, action, **fields))
    response = apply_dialog(owner_client, card, action, **fields)
    assert state == "error"
    assert response.status_code == 422
    applied = field_errors(response, "value") + field_errors(response, "purchase_amount")
    assert applied == [message]


def test_a_cashback_preview_error_is_the_message_apply_gives(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    state, message = preview_parts(preview(owner_client, card, "points_subtract", value="25"))
    assert (state, message) == (
        "error",
        "The balance is 20.00 points; you cannot remove more than 20.00.",
    )
    response = apply_dialog(owner_client, card, "points_subtract", value="25")
    assert field_errors(response, "value") == [message]


def test_a_preview_with_nothing_typed_is_idle(owner_client: Client, stamp_card: Card) -> None:
    assert preview_parts(preview(owner_client, stamp_card, "stamps_add", value=""))[0] == "idle"
    assert preview_parts(open_dialog(owner_client, stamp_card, "stamps_add"))[0] == "idle"


def test_a_preview_on_a_deleted_card_gives_the_refusal(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    assert preview_parts(preview(owner_client, stamp_card, "stamps_add", value="1")) == (
        "error",
        "This card was deleted; its balances can no longer change.",
    )


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("transaction_amount_add", {"value": "30"}),
        ("transaction_amount_subtract", {"value": "27"}),
        ("stamps_add", {"value": "9"}),
        ("stamps_subtract", {"value": "2"}),
        ("rewards_add", {"value": "1", "purchase_amount": "3"}),
        ("rewards_subtract", {"value": "1"}),
    ],
)
def test_a_preview_writes_nothing_and_apply_does_what_it_said(
    owner_client: Client, stamp_card: Card, owner: Any, action: str, fields: dict[str, str]
) -> None:
    card = _spent(stamp_card, owner, "95", "30")
    before, labels = snapshot(card), history_labels(card)
    state, said = preview_parts(preview(owner_client, card, action, **fields))
    assert state == "ok"
    assert snapshot(card) == before
    assert history_labels(card) == labels

    apply_dialog(owner_client, card, action, **fields)
    after = snapshot(card)
    if "balance" in said:  # "balance 2 -> 0": the preview's "after" is what Apply wrote
        assert said.split("balance ")[1].split(" -> ")[1].split(" stamp")[0] == str(
            after["stamps_balance"]
        )


def test_a_cashback_preview_matches_what_apply_writes(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "333.33")
    _, said = preview_parts(preview(owner_client, card, "transaction_amount_add", value="177.77"))
    apply_dialog(owner_client, card, "transaction_amount_add", value="177.77")
    balance = said.split("balance ")[1].split(" -> ")[1].split(" points")[0]
    assert Decimal(balance) == snapshot(card)["points_balance"]


def test_previews_are_post_only_and_tenant_scoped(
    owner_client: Client, outsider_client: Client, stamp_card: Card
) -> None:
    url = preview_url(stamp_card, "stamps_add")
    assert owner_client.get(url).status_code == 405
    assert outsider_client.post(url, {"value": "1"}).status_code == 404
    assert (
        owner_client.post(preview_url(stamp_card, "points_add"), {"value": "1"}).status_code == 404
    )


def test_staff_see_previews(staff_client: Client, stamp_card: Card) -> None:
    assert preview_parts(preview(staff_client, stamp_card, "stamps_add", value="2")) == (
        "ok",
        "+2 stamps, balance 0 -> 2 stamps.",
    )


def test_the_dialog_wires_its_preview_to_the_form(owner_client: Client, stamp_card: Card) -> None:
    html = open_dialog(owner_client, stamp_card, "stamps_add").content.decode()
    assert f'hx-post="{preview_url(stamp_card, "stamps_add")}"' in html
    assert 'hx-trigger="input delay:300ms from:closest form"' in html


def test_a_decrease_with_no_points_left_claws_back_nothing(
    owner_client: Client, cashback_card: Card, owner: Any
) -> None:
    card = _spent(cashback_card, owner, "400")
    services.card_remove_points(card=card, value="20", actor=owner)
    response = preview(owner_client, card, "transaction_amount_subtract", value="100")
    assert preview_parts(response) == (
        "ok",
        "-$100.00 transaction amount, -0.00 points at 5 %, balance 0.00 -> 0.00 points, "
        "tier stays Bronze.",
    )
