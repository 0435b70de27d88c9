"""A double click or a resent request changes things once."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.utils import translation

from cards import services
from cards.models import Card, LedgerEntry
from cards.rules import Delta, LedgerError
from tests.cards.dialog_support import apply_dialog, text
from tests.factories import issue_card

pytestmark = pytest.mark.django_db


def test_replaying_an_idempotency_key_writes_nothing_new(stamp_card: Card, staff) -> None:
    first = services.card_add_transaction_amount(
        card=stamp_card, value="35", actor=staff, idempotency_key="click-1"
    )
    again = services.card_add_transaction_amount(
        card=stamp_card, value="35", actor=staff, idempotency_key="click-1"
    )
    assert again.replayed
    assert not first.replayed
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    card = Card.objects.get(pk=stamp_card.pk)
    assert card.stamps_balance == 3
    assert LedgerEntry.objects.filter(card=card, operation_key="click-1").count() == 1


def test_a_replayed_refund_returns_both_of_its_entries(stamp_card: Card, staff) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="50", actor=staff)
    first = services.card_subtract_transaction_amount(
        card=stamp_card, value="20", actor=staff, idempotency_key="refund-1"
    )
    again = services.card_subtract_transaction_amount(
        card=stamp_card, value="20", actor=staff, idempotency_key="refund-1"
    )
    assert len(first.entries) == 2
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    assert Card.objects.get(pk=stamp_card.pk).transaction_amount == 30


def test_the_same_key_on_another_card_is_independent(stamp_program, staff) -> None:
    one, two = issue_card(stamp_program), issue_card(stamp_program)
    services.card_add_stamps(card=one, value=1, actor=staff, idempotency_key="k")
    services.card_add_stamps(card=two, value=1, actor=staff, idempotency_key="k")
    assert Card.objects.get(pk=one.pk).stamps_balance == 1
    assert Card.objects.get(pk=two.pk).stamps_balance == 1


# ---------------------------------------------------------------------------------------------
# A key is bound to its action and inputs


def _state(card: Card) -> tuple:
    fresh = Card.objects.get(pk=card.pk)
    return (fresh.balances(), LedgerEntry.objects.filter(card=card).count())


REUSED = "This form was already used for another change; reload the page and try again."


def test_a_key_reused_under_another_action_is_refused_and_changes_nothing(
    stamp_card: Card, staff
) -> None:
    services.card_add_transaction_amount(
        card=stamp_card, value="35", actor=staff, idempotency_key="click-1"
    )
    before = _state(stamp_card)

    with pytest.raises(LedgerError) as error:
        services.card_add_stamps(card=stamp_card, value=3, actor=staff, idempotency_key="click-1")

    assert (error.value.field_name, error.value.text) == ("idempotency_key", REUSED)
    assert _state(stamp_card) == before


@pytest.mark.parametrize(
    "changed",
    [{"value": "36"}, {"purchase_amount": "35"}, {"comment": "another"}],
    ids=["value", "purchase amount", "comment"],
)
def test_a_key_reused_with_other_inputs_is_refused(stamp_card: Card, staff, changed) -> None:
    first = {"value": "35", "purchase_amount": "", "comment": "typo?"}
    services.card_add_transaction_amount(
        card=stamp_card, actor=staff, idempotency_key="click-1", **first
    )
    before = _state(stamp_card)

    with pytest.raises(LedgerError, match="already used for another change"):
        services.card_add_transaction_amount(
            card=stamp_card, actor=staff, idempotency_key="click-1", **{**first, **changed}
        )

    assert _state(stamp_card) == before


def test_the_same_inputs_written_differently_still_replay(stamp_card: Card, staff) -> None:
    first = services.card_add_transaction_amount(
        card=stamp_card, value="35", comment="Latte ", actor=staff, idempotency_key="click-1"
    )
    again = services.card_add_transaction_amount(
        card=stamp_card,
        value=" 35.00",
        purchase_amount="",
        comment="Latte",
        actor=staff,
        idempotency_key="click-1",
    )
    assert again.replayed
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 3


def test_the_same_amount_typed_in_spanish_replays(stamp_card: Card, staff) -> None:
    services.card_add_transaction_amount(
        card=stamp_card, value="12.50", actor=staff, idempotency_key="click-1"
    )
    with translation.override("es"):
        again = services.card_add_transaction_amount(
            card=stamp_card, value="12,50", actor=staff, idempotency_key="click-1"
        )
    assert again.replayed


def test_a_key_from_before_fingerprints_still_replays(stamp_card: Card, staff) -> None:
    """Entries written before keys carried a fingerprint (blank) replay as they always did."""
    with transaction.atomic():
        services.ledger_append(
            card=Card.objects.select_for_update().get(pk=stamp_card.pk),
            deltas=[Delta(kind="stamps_added", stamps=1, stamps_earned=1)],
            key="old-click",
            request_hash="",
            actor=staff,
            source="dashboard",
        )
    again = services.card_add_stamps(
        card=stamp_card, value=1, actor=staff, idempotency_key="old-click"
    )
    assert again.replayed
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 1


def test_a_dialog_resent_to_another_action_is_refused_on_the_form(
    owner_client: Client, stamp_card: Card
) -> None:
    response = apply_dialog(owner_client, stamp_card, "stamps_add", key="dialog-1", value="2")
    assert response.status_code == 204
    before = _state(stamp_card)

    response = apply_dialog(
        owner_client, stamp_card, "rewards_add", key="dialog-1", value="2", purchase_amount="0"
    )

    assert response.status_code == 422
    assert REUSED in text(response)
    assert _state(stamp_card) == before
    # The same dialog sent again is still the one change.
    response = apply_dialog(owner_client, stamp_card, "stamps_add", key="dialog-1", value="2")
    assert response.status_code == 204
    assert _state(stamp_card) == before


# ---------------------------------------------------------------------------------------------
# The system's keys are out of a request's reach


@pytest.mark.parametrize("key", ["referral:1", "welcome:1", "issue:1", "x:y"])
def test_a_request_key_cannot_enter_the_systems_namespace(stamp_card: Card, staff, key) -> None:
    before = _state(stamp_card)
    with pytest.raises(LedgerError) as error:
        services.card_add_stamps(card=stamp_card, value=1, actor=staff, idempotency_key=key)
    assert error.value.field_name == "idempotency_key"
    assert _state(stamp_card) == before


def test_a_request_cannot_block_or_replay_a_referral_bonus(stamp_card: Card, staff) -> None:
    newcomer = issue_card(stamp_card.program, referred_by=stamp_card)
    with pytest.raises(LedgerError):
        services.card_add_stamps(
            card=stamp_card, value=1, actor=staff, idempotency_key=f"referral:{newcomer.pk}"
        )

    services.card_add_transaction_amount(card=newcomer, value="10", actor=staff)

    (bonus,) = stamp_card.entries.filter(kind="referral_bonus")
    assert bonus.operation_key == f"referral:{newcomer.pk}"
    assert Card.objects.get(pk=stamp_card.pk).referral_stamps == 2


def test_a_welcome_bonus_replays_under_its_system_key(stamp_program) -> None:
    stamp_program.welcome_bonus = Decimal("3")
    stamp_program.save()
    card = issue_card(stamp_program)
    first = services.card_credit_welcome_bonus(card=card)
    stamp_program.welcome_bonus = Decimal("5")  # a later program edit changes no replay
    stamp_program.save()
    again = services.card_credit_welcome_bonus(card=Card.objects.get(pk=card.pk))
    assert first is not None
    assert again is not None
    assert again.replayed
    assert Card.objects.get(pk=card.pk).stamps_balance == 3
