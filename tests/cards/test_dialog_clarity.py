"""The plus/minus dialogs say what they do: each message once, a success message in the history's
words, a redeem that cannot happen refused before its dialog opens, and the counter's actions
first on the profile."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card
from tests.cards.dialog_support import (
    apply_dialog,
    dialog_url,
    history_labels,
    open_dialog,
    snapshot,
    text,
    trigger_message,
)

pytestmark = pytest.mark.django_db

NO_REWARD = "No reward available yet"


def _profile(client: Client, card: Card) -> str:
    response = client.get(reverse("cards:profile", args=[card.serial]))
    assert response.status_code == 200
    return response.content.decode()


def _counter(client: Client, card: Card) -> str:
    response = client.get(reverse("cards:counter", args=[card.serial]))
    assert response.status_code == 200
    return response.content.decode()


def _redeem_controls(html: str) -> list[str]:
    """Every element that redeems a reward (a link to its dialog or a disabled button)."""
    return re.findall(r'<(?:a|button) [^>]*data-action="rewards_subtract"[^>]*>', html)


# ---------------------------------------------------------------------------------------------
# Fields named for what they take


@pytest.mark.parametrize(
    ("action", "label", "asks_purchase"),
    [
        ("transaction_amount_add", "Amount spent", False),
        ("transaction_amount_subtract", "Amount to subtract", False),
        ("points_add", "Points to add", True),
        ("points_subtract", "Points to remove", True),
    ],
)
def test_cashback_dialogs_name_their_value_and_ask_a_purchase_only_where_it_adds(
    owner_client: Client,
    cashback_card: Card,
    owner: Any,
    action: str,
    label: str,
    asks_purchase: bool,
) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="400", actor=owner)
    html = open_dialog(owner_client, cashback_card, action).content.decode()
    assert f'<label for="id_value">{label}' in html
    assert ('name="purchase_amount"' in html) is asks_purchase


# ---------------------------------------------------------------------------------------------
# Each message once


def test_a_failed_apply_shows_its_error_beside_the_field_only(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value="2", actor=owner)
    response = apply_dialog(owner_client, stamp_card, "stamps_subtract", value="5")
    message = "The card has 2 stamps; you cannot remove more than 2."
    assert response.status_code == 422
    assert text(response).count(message) == 1
    assert 'data-preview="error"' not in response.content.decode()


def test_a_closed_cards_dialog_says_why_once_and_offers_nothing_to_apply(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    response = open_dialog(owner_client, stamp_card, "stamps_add")
    html = response.content.decode()
    assert text(response).count("This card was deleted; its balances can no longer change.") == 1
    assert 'id="ledger-preview"' not in html
    assert 'type="submit"' not in html


# ---------------------------------------------------------------------------------------------
# The message after Apply is what the history shows


def test_a_refund_says_what_the_history_says_it_wrote(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=owner)
    services.card_add_transaction_amount(card=stamp_card, value="30", actor=owner)
    message = trigger_message(
        apply_dialog(owner_client, stamp_card, "transaction_amount_subtract", value="27")
    )
    assert message == (
        "Refund of amount spent: Transaction amount \u2212$27.00. Stamps redeemed: \u22122 stamps."
    )
    assert "taken back" not in message
    assert history_labels(stamp_card)[-2:] == ["Refund of amount spent", "Stamps redeemed"]
    history = owner_client.get(
        reverse("cards:history", args=[stamp_card.serial]), headers={"HX-Request": "true"}
    ).content.decode()
    for changed in ("Transaction amount \u2212$27.00", "\u22122 stamps"):
        assert changed in history


def test_a_replayed_apply_gives_the_same_message(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    key = "k" * 32
    first = trigger_message(
        apply_dialog(owner_client, stamp_card, "stamps_add", key=key, value="4")
    )
    again = trigger_message(
        apply_dialog(owner_client, stamp_card, "stamps_add", key=key, value="4")
    )
    assert first == again == "Stamps added: +4 stamps."


# ---------------------------------------------------------------------------------------------
# Redeeming with no reward available


def test_the_profile_disables_redeem_with_no_reward_and_says_why(
    owner_client: Client, stamp_card: Card
) -> None:
    html = _profile(owner_client, stamp_card)
    controls = _redeem_controls(html)
    assert len(controls) == 2  # the counter actions' button and the metric's minus
    for control in controls:
        assert control.startswith("<button ")
        assert 'aria-disabled="true"' in control
        assert "hx-get" not in control
    assert dialog_url(stamp_card, "rewards_subtract") not in html
    # Said where the button is: in its text, and by the minus's aria-describedby.
    assert re.search(rf"Redeem rewards <small[^>]*>{NO_REWARD}</small></button>", html)
    assert 'aria-describedby="rewards_subtract-unavailable"' in html
    assert re.search(rf'<span id="rewards_subtract-unavailable"[^>]*>{NO_REWARD}</span>', html)


def test_the_counter_disables_redeem_with_no_reward_and_says_why(
    staff_client: Client, stamp_card: Card
) -> None:
    html = _counter(staff_client, stamp_card)
    (control,) = _redeem_controls(html)
    assert 'aria-disabled="true"' in control
    assert re.search(rf"Redeem rewards <small[^>]*>{NO_REWARD}</small></button>", html)
    assert dialog_url(stamp_card, "rewards_subtract") not in html


def test_redeem_is_a_link_to_its_dialog_once_a_reward_is_available(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_rewards(card=stamp_card, value="1", purchase_amount="0", actor=owner)
    for html in (_profile(owner_client, stamp_card), _counter(owner_client, stamp_card)):
        controls = _redeem_controls(html)
        assert controls
        assert all(c.startswith("<a href=") for c in controls)
        assert NO_REWARD not in html


def test_the_counters_refresh_disables_redeem_once_the_last_reward_is_used(
    staff_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_rewards(card=stamp_card, value="1", purchase_amount="0", actor=owner)
    apply_dialog(staff_client, stamp_card, "rewards_subtract", value="1")
    response = staff_client.get(
        reverse("cards:counter", args=[stamp_card.serial]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="counter-summary"')
    assert '<nav id="counter-actions"' in html
    assert 'hx-swap-oob="true"' in html
    (control,) = _redeem_controls(html)
    assert 'aria-disabled="true"' in control


@pytest.mark.parametrize("htmx", [True, False])
def test_the_redeem_dialog_asked_for_anyway_is_refused(
    owner_client: Client, stamp_card: Card, htmx: bool
) -> None:
    response = open_dialog(owner_client, stamp_card, "rewards_subtract", htmx=htmx)
    html = response.content.decode()
    assert response.status_code == 409
    assert text(response).count(NO_REWARD) == 1
    assert 'name="value"' not in html
    assert 'name="idempotency_key"' not in html


def test_applying_a_redeem_with_no_reward_is_still_refused(
    owner_client: Client, stamp_card: Card
) -> None:
    before = snapshot(stamp_card)
    response = apply_dialog(owner_client, stamp_card, "rewards_subtract", value="1")
    assert response.status_code == 422
    assert "you cannot redeem more than 0" in text(response)
    assert snapshot(stamp_card) == before
    assert history_labels(stamp_card) == ["Card issued"]


# ---------------------------------------------------------------------------------------------
# The counter's actions first on the profile


def _counter_block(html: str) -> str:
    block = re.search(r'<nav class="counter-actions profile-counter-actions".*?</nav>', html, re.S)
    assert block, "no counter actions on the profile"
    return block.group(0)


def test_the_profile_starts_its_metrics_with_the_counters_actions(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_add_rewards(card=stamp_card, value="1", purchase_amount="0", actor=owner)
    html = _profile(owner_client, stamp_card)
    block = _counter_block(html)
    assert html.index(block) < html.index('<dl class="metrics">')
    assert re.findall(r'data-action="(\w+)"', block) == [
        "transaction_amount_add",
        "rewards_subtract",
        "stamps_add",
    ]
    for label in ("Add transaction amount", "Redeem rewards", "Add stamps"):
        assert f">{label}</a>" in block
    assert 'aria-label="Counter actions"' in block
    # Each metric keeps its own plus/minus.
    metrics = html[html.index('<dl class="metrics">') :]
    for action in ("transaction_amount_add", "rewards_subtract", "stamps_add", "stamps_subtract"):
        assert f'data-action="{action}"' in metrics


def test_a_cashback_profile_starts_with_purchase_and_points(
    owner_client: Client, cashback_card: Card
) -> None:
    block = _counter_block(_profile(owner_client, cashback_card))
    assert re.findall(r'data-action="(\w+)"', block) == ["transaction_amount_add", "points_add"]


def test_a_card_that_refuses_changes_has_no_counter_actions(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    assert "profile-counter-actions" not in _profile(owner_client, stamp_card)
