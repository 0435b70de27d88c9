"""The counter's guards: a double scan asks first, and the program's daily caps hold.

Both are the ledger service's, under the card's row lock: the dialogs only word them.
"""

from __future__ import annotations

import datetime
import threading
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from cards import services
from cards.models import Card, LedgerEntry, Program
from cards.rules import LedgerError
from loyalty import clock
from loyalty.models import Role
from tests.cards.dialog_support import apply_dialog
from tests.factories import MembershipFactory, StampProgramFactory, UserFactory, issue_card

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 17, 0, tzinfo=datetime.UTC)  # 12:00 in New York


@pytest.fixture
def guarded(stamp_program: Program) -> Program:
    stamp_program.repeat_guard_seconds = 60
    stamp_program.save()
    return stamp_program


@pytest.fixture
def card(guarded: Program) -> Card:
    return issue_card(guarded)


def _add(card: Card, actor: Any = None, **kw: Any) -> services.LedgerResult:
    return services.card_add_stamps(card=card, value=kw.pop("value", 2), actor=actor, **kw)


# ---------------------------------------------------------------------------------------------
# Double scan


def test_the_program_default_asks_after_sixty_seconds() -> None:
    assert Program._meta.get_field("repeat_guard_seconds").default == 60


def test_the_same_action_again_within_the_window_asks_naming_what_when_and_who(
    card: Card, staff: Any
) -> None:
    with clock.frozen_at(NOON):
        _add(card, staff)
    later = NOON + datetime.timedelta(seconds=15)
    with clock.frozen_at(later), pytest.raises(services.RepeatSuspected) as raised:
        _add(card, staff)
    assert raised.value.text == ("This card got +2 stamps 15 seconds ago by staff. Apply it again?")
    assert Card.objects.get(pk=card.pk).stamps_balance == 2


def test_confirmed_it_applies_and_after_the_window_it_does_not_ask(card: Card) -> None:
    with clock.frozen_at(NOON):
        _add(card)
        _add(card, confirm_repeat=True)
    with clock.frozen_at(NOON + datetime.timedelta(seconds=61)):
        _add(card)
    assert Card.objects.get(pk=card.pk).stamps_balance == 6


def test_a_resent_request_replays_instead_of_asking(card: Card) -> None:
    first = _add(card, idempotency_key="once")
    again = _add(card, idempotency_key="once")
    assert again.replayed
    assert again.entries == first.entries


def test_another_action_a_reversed_entry_or_a_guard_switched_off_do_not_ask(
    card: Card, guarded: Program
) -> None:
    added = _add(card)
    services.card_add_transaction_amount(card=card, value="10", actor=None)
    services.entry_reverse(card=card, entry=added.entries[0], reason="x", actor=None, role="owner")
    _add(card)  # the earlier +2 was reversed: this is no double scan
    guarded.repeat_guard_seconds = 0
    guarded.save()
    _add(Card.objects.get(pk=card.pk))
    assert Card.objects.get(pk=card.pk).stamps_balance == 5


@pytest.mark.django_db(transaction=True)
def test_two_staff_scanning_one_card_at_once_apply_it_once() -> None:
    program = StampProgramFactory(repeat_guard_seconds=60)
    card = issue_card(program)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def scan(number: int) -> None:
        try:
            barrier.wait()
            _add(Card.objects.get(pk=card.pk), idempotency_key=f"staff{number}")
            outcomes.append("applied")
        except services.RepeatSuspected:
            outcomes.append("asked")
        finally:
            connection.close()

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["applied", "asked"]
    assert Card.objects.get(pk=card.pk).stamps_balance == 2


def test_the_dialog_asks_with_the_same_fields_and_a_confirm_field(
    staff_client: Client, card: Card
) -> None:
    assert apply_dialog(staff_client, card, "stamps_add", value="2").status_code == 204

    response = apply_dialog(staff_client, card, "stamps_add", value="2", comment="<b>x</b>")

    assert response.status_code == 422
    body = response.content.decode()
    assert 'data-guard="repeat"' in body
    assert "This card got +2 stamps 0 seconds ago by staff. Apply it again?" in body
    assert 'name="confirm" value="on"' in body
    assert 'name="value" value="2"' in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body
    assert "Apply again" in body
    assert Card.objects.get(pk=card.pk).stamps_balance == 2

    confirmed = apply_dialog(staff_client, card, "stamps_add", value="2", confirm="on")
    assert confirmed.status_code == 204
    assert Card.objects.get(pk=card.pk).stamps_balance == 4


def test_without_javascript_the_question_is_a_page_and_the_answer_redirects(
    staff_client: Client, card: Card
) -> None:
    apply_dialog(staff_client, card, "stamps_add", value="2", htmx=False)

    asked = apply_dialog(staff_client, card, "stamps_add", value="2", htmx=False)
    assert asked.status_code == 422
    assert "<html" in asked.content.decode()
    assert 'name="confirm"' in asked.content.decode()

    answered = apply_dialog(staff_client, card, "stamps_add", value="2", htmx=False, confirm="on")
    assert answered.status_code == 302
    assert Card.objects.get(pk=card.pk).stamps_balance == 4


# ---------------------------------------------------------------------------------------------
# Daily caps


@pytest.fixture
def capped(guarded: Program) -> Program:
    guarded.repeat_guard_seconds = 0
    guarded.daily_earn_cap = 10
    guarded.daily_purchase_cap = 2
    guarded.merchant.time_zone = "America/New_York"
    guarded.merchant.save()
    guarded.save()
    return guarded


def test_stamps_past_the_daily_cap_are_refused_naming_the_cap(capped: Program) -> None:
    card = issue_card(capped)
    with clock.frozen_at(NOON):
        _add(card, value=8)
        with pytest.raises(services.CapReached) as raised:
            _add(card, value=3)
    assert "The daily cap is 10 stamps per card; this card earned 8 today." in raised.value.text
    assert "Only an owner or admin" in raised.value.text
    assert Card.objects.get(pk=card.pk).stamps_balance == 8


def test_the_cap_counts_the_merchants_day_not_utcs(capped: Program) -> None:
    card = issue_card(capped)
    new_york = zoneinfo.ZoneInfo("America/New_York")
    late = datetime.datetime(2026, 3, 9, 23, 30, tzinfo=new_york)  # 04:30 UTC on the 10th
    with clock.frozen_at(late):
        _add(card, value=9)
    with clock.frozen_at(datetime.datetime(2026, 3, 10, 0, 30, tzinfo=new_york)):
        _add(card, value=9)  # a new day in New York, though the same UTC day
        with pytest.raises(services.CapReached):
            _add(card, value=2)


def test_an_owner_overrides_a_cap_with_a_comment_and_the_entry_records_it(
    capped: Program, owner: Any
) -> None:
    card = issue_card(capped)
    with clock.frozen_at(NOON):
        _add(card, value=10)
        with pytest.raises(services.CapReached) as raised:
            _add(card, owner, value=1, role=Role.OWNER)
        assert "tick Override" in raised.value.text
        with pytest.raises(LedgerError, match="Say in the comment why"):
            _add(card, owner, value=1, role=Role.OWNER, override_cap=True)
        result = _add(
            card, owner, value=1, role=Role.OWNER, override_cap=True, comment="Birthday treat"
        )
        # Staff asking for an override get the refusal all the same.
        with pytest.raises(services.CapReached):
            _add(card, value=1, role=Role.STAFF, override_cap=True, comment="please")
    assert result.entries[0].cap_overridden
    assert (
        not LedgerEntry.objects.filter(card=card, cap_overridden=True)
        .exclude(pk=result.entries[0].pk)
        .exists()
    )


def test_purchases_past_the_daily_cap_are_refused_but_a_reversed_one_no_longer_counts(
    capped: Program,
) -> None:
    capped.daily_earn_cap = None
    capped.save()
    card = issue_card(capped)
    with clock.frozen_at(NOON):
        first = services.card_add_transaction_amount(card=card, value="5", actor=None)
        services.card_add_transaction_amount(card=card, value="5", actor=None)
        with pytest.raises(services.CapReached, match="already has 2 purchases today"):
            services.card_add_transaction_amount(card=card, value="5", actor=None)
        services.entry_reverse(
            card=card, entry=first.entries[0], reason="wrong card", actor=None, role="owner"
        )
        services.card_add_transaction_amount(card=card, value="5", actor=None)
        # Stamps added by hand are no purchase.
        _add(card, value=1)
    assert Card.objects.get(pk=card.pk).transaction_amount == Decimal("10.00")


def test_a_cashback_cap_counts_points(cashback_program: Program) -> None:
    cashback_program.daily_earn_cap = 20
    cashback_program.save()
    card = issue_card(cashback_program)
    services.card_add_points(card=card, value="15", actor=None)
    with pytest.raises(services.CapReached, match="cap is 20 points per card; this card earned 15"):
        services.card_add_points(card=card, value="6", actor=None)
    services.card_remove_points(card=card, value="5", actor=None)  # spending is no earning


def test_the_dialog_offers_the_override_to_managers_only(
    capped: Program, owner_client: Client, staff_client: Client
) -> None:
    card = issue_card(capped)
    apply_dialog(owner_client, card, "stamps_add", value="10")

    staff_answer = apply_dialog(staff_client, card, "stamps_add", value="1")
    assert staff_answer.status_code == 422
    assert 'data-guard="override"' not in staff_answer.content.decode()
    assert "Only an owner or admin" in staff_answer.content.decode()

    owner_answer = apply_dialog(owner_client, card, "stamps_add", value="1")
    assert 'data-guard="override"' in owner_answer.content.decode()
    done = apply_dialog(
        owner_client, card, "stamps_add", value="1", override="on", comment="Regular's birthday"
    )
    assert done.status_code == 204
    assert Card.objects.get(pk=card.pk).stamps_balance == 1  # 11 stamps: one reward and one


def test_a_staff_member_of_another_role_in_another_merchant_changes_nothing(
    capped: Program, other_merchant: Any
) -> None:
    """The role comes from the request's membership: an owner elsewhere is staff here."""
    user = UserFactory()
    MembershipFactory(user=user, merchant=other_merchant, role=Role.OWNER)
    MembershipFactory(user=user, merchant=capped.merchant, role=Role.STAFF)
    client = Client()
    client.force_login(user)
    card = issue_card(capped)
    apply_dialog(client, card, "stamps_add", value="10")
    answer = apply_dialog(client, card, "stamps_add", value="1", override="on", comment="x")
    assert answer.status_code == 422
    assert Card.objects.get(pk=card.pk).stamps_balance == 0
