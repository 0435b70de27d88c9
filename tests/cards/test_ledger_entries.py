"""What the services write: every ledger entry's stored values, read back from the database."""

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from cards import rules, services
from cards.models import Card, LedgerEntry, Source
from cards.rules import LedgerError
from customers.models import Customer
from tests.factories import CashbackProgramFactory, CustomerFactory, issue_card

pytestmark = pytest.mark.django_db
D = Decimal


def entries(card: Card) -> list[LedgerEntry]:
    """The card's entries after its issue, oldest first."""
    return list(card.entries.exclude(kind="card_issued").order_by("id"))


def deltas(entry: LedgerEntry) -> dict[str, object]:
    names = (
        "kind",
        "purchase_amount",
        "amount_delta",
        "ltv_delta",
        "stamps_delta",
        "stamps_earned_delta",
        "rewards_earned_delta",
        "rewards_available_delta",
        "rewards_redeemed_delta",
        "points_delta",
        "points_earned_delta",
        "points_redeemed_delta",
        "visits_delta",
        "cashback_percentage",
        "tier_name",
        "tier_threshold",
        "tier_percentage",
    )
    return {
        name: getattr(entry, name) for name in names if getattr(entry, name) not in (0, "", None)
    }


def refused(action, **kwargs) -> LedgerError:
    with pytest.raises(LedgerError) as error:
        action(**kwargs)
    return error.value


def assert_ledger_matches(capsys) -> None:
    call_command("verify_ledger")
    assert "disagree" not in capsys.readouterr().out


# ------------------------------------------------------------------------ purchase amounts


def test_a_stamp_purchase_and_its_refund_store_their_purchase_amounts(
    stamp_card: Card, staff, capsys
) -> None:
    services.card_add_transaction_amount(
        card=stamp_card, value="123.45", purchase_amount="123.45", actor=staff
    )
    services.card_subtract_transaction_amount(card=stamp_card, value="20", actor=staff)
    purchase, refund, clawback = entries(stamp_card)
    assert deltas(purchase) == {
        "kind": "purchase",
        "purchase_amount": D("123.45"),
        "amount_delta": D("123.45"),
        "ltv_delta": D("123.45"),
        "stamps_delta": 2,
        "stamps_earned_delta": 12,
        "rewards_earned_delta": 1,
        "rewards_available_delta": 1,
        "visits_delta": 1,
    }
    assert deltas(refund) == {
        "kind": "refund",
        "purchase_amount": D("20.00"),
        "amount_delta": D("-20.00"),
        "ltv_delta": D("-20.00"),
    }
    assert deltas(clawback) == {
        "kind": "stamps_clawback",
        "stamps_delta": -2,
        "stamps_earned_delta": -2,
    }
    assert clawback.purchase_amount is None
    assert_ledger_matches(capsys)


def test_rewards_store_their_purchase_amount_even_when_zero(
    stamp_card: Card, staff, capsys
) -> None:
    services.card_add_rewards(card=stamp_card, value=2, purchase_amount="0", actor=staff)
    services.card_redeem_rewards(card=stamp_card, value=1, purchase_amount="7.5", actor=staff)
    added, redeemed = entries(stamp_card)
    assert deltas(added) == {
        "kind": "rewards_added",
        "rewards_earned_delta": 2,
        "rewards_available_delta": 2,
        "visits_delta": 1,
    }
    assert added.purchase_amount == D("0.00")
    assert deltas(redeemed) == {
        "kind": "rewards_redeemed",
        "purchase_amount": D("7.50"),
        "amount_delta": D("7.50"),
        "ltv_delta": D("7.50"),
        "rewards_available_delta": -1,
        "rewards_redeemed_delta": 1,
        "visits_delta": 1,
    }
    card = Card.objects.get(pk=stamp_card.pk)
    assert (card.rewards_available, card.rewards_redeemed, card.ltv) == (1, 1, D("7.50"))
    assert_ledger_matches(capsys)


def test_a_purchase_amount_of_zero_is_kept_on_points_added_and_removed(
    cashback_card: Card, staff, capsys
) -> None:
    services.card_add_points(card=cashback_card, value="3", purchase_amount="0", actor=staff)
    services.card_remove_points(card=cashback_card, value="1", purchase_amount="0", actor=staff)
    services.card_add_points(card=cashback_card, value="2", purchase_amount="40", actor=staff)
    services.card_remove_points(card=cashback_card, value="4", purchase_amount="", actor=staff)
    added, removed, added_again, removed_again = entries(cashback_card)
    assert [e.purchase_amount for e in (added, removed, added_again, removed_again)] == [
        D("0.00"),
        D("0.00"),
        D("40.00"),
        None,
    ]
    assert deltas(added_again) == {
        "kind": "points_added",
        "purchase_amount": D("40.00"),
        "ltv_delta": D("40.00"),
        "points_delta": D("2.00"),
        "points_earned_delta": D("2.00"),
        "visits_delta": 1,
    }
    assert deltas(removed_again) == {
        "kind": "points_removed",
        "points_delta": D("-4.00"),
        "points_redeemed_delta": D("4.00"),
        "visits_delta": 1,
    }
    card = Card.objects.get(pk=cashback_card.pk)
    assert (card.points_balance, card.ltv, card.transaction_amount) == (
        D("0.00"),
        D("40.00"),
        D("0.00"),
    )
    assert_ledger_matches(capsys)


def test_cashback_purchases_store_the_percentage_used_and_the_tier_reached(
    cashback_card: Card, staff, capsys
) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="400", actor=staff)
    services.card_add_transaction_amount(card=cashback_card, value="100", actor=staff)
    services.card_subtract_transaction_amount(
        card=cashback_card, value="50", purchase_amount="50", actor=staff
    )
    first, upgrade, correction = entries(cashback_card)
    assert deltas(first) == {
        "kind": "purchase",
        "purchase_amount": D("400.00"),
        "amount_delta": D("400.00"),
        "ltv_delta": D("400.00"),
        "points_delta": D("20.00"),
        "points_earned_delta": D("20.00"),
        "visits_delta": 1,
        "cashback_percentage": D("5.00"),
    }
    assert deltas(upgrade)["cashback_percentage"] == D("5.00")
    assert (upgrade.tier_name, upgrade.tier_threshold, upgrade.tier_percentage) == (
        "Silver",
        D("500.00"),
        D("7.00"),
    )
    assert deltas(correction) == {
        "kind": "refund",
        "purchase_amount": D("50.00"),
        "amount_delta": D("-50.00"),
        "ltv_delta": D("-50.00"),
        "points_delta": D("-3.50"),
        "points_redeemed_delta": D("3.50"),
        "cashback_percentage": D("7.00"),
    }
    assert (first.tier_threshold, first.tier_percentage) == (None, None)
    card = Card.objects.get(pk=cashback_card.pk)
    assert (card.tier_name, card.points_balance, card.transaction_amount) == (
        "Silver",
        D("21.50"),
        D("450.00"),
    )
    assert_ledger_matches(capsys)


def test_visit_write_offs_and_stamp_changes_store_their_deltas(
    stamp_program, staff, capsys
) -> None:
    stamp_program.mechanism = "visit"
    stamp_program.stamps_per_visit = 2
    stamp_program.save()
    card = issue_card(stamp_program)
    for _ in range(3):
        services.card_add_transaction_amount(card=card, value="5", actor=staff)
    services.card_write_off_visits(card=card, value=2, actor=staff)
    services.card_add_stamps(card=card, value=9, actor=staff)
    services.card_remove_stamps(card=card, value=1, actor=staff)
    *_, write_off, added, removed = entries(card)
    assert deltas(write_off) == {
        "kind": "visits_write_off",
        "stamps_delta": -4,
        "stamps_earned_delta": -4,
        "visits_delta": -2,
    }
    assert deltas(added) == {
        "kind": "stamps_added",
        "stamps_delta": -1,
        "stamps_earned_delta": 9,
        "rewards_earned_delta": 1,
        "rewards_available_delta": 1,
    }
    assert deltas(removed) == {
        "kind": "stamps_removed",
        "stamps_delta": -1,
        "stamps_earned_delta": -1,
    }
    card = Card.objects.get(pk=card.pk)
    assert (card.total_visits, card.stamps_balance, card.rewards_available) == (1, 0, 1)
    assert_ledger_matches(capsys)


# ------------------------------------------------------------------------ who, when, where


SERVICES: dict[str, tuple[Callable[..., services.LedgerResult], dict[str, Any]]] = {
    "purchase": (services.card_add_transaction_amount, {"value": "12"}),
    "refund": (services.card_subtract_transaction_amount, {"value": "1"}),
    "write off": (services.card_write_off_visits, {"value": 1}),
    "stamps +": (services.card_add_stamps, {"value": 1}),
    "stamps -": (services.card_remove_stamps, {"value": 1}),
    "rewards +": (services.card_add_rewards, {"value": 1, "purchase_amount": "0"}),
    "rewards -": (services.card_redeem_rewards, {"value": 1, "purchase_amount": "0"}),
}


@pytest.mark.parametrize("name", SERVICES)
def test_every_stamp_action_records_who_where_the_comment_and_its_key_once(
    stamp_program, staff, name: str
) -> None:
    if name == "write off":
        stamp_program.mechanism = "visit"
        stamp_program.save()
    card = issue_card(stamp_program)
    services.card_add_transaction_amount(card=card, value="30", actor=staff)
    services.card_add_rewards(card=card, value=2, purchase_amount="0", actor=staff)
    action, inputs = SERVICES[name]
    kwargs = {
        "card": card,
        "actor": staff,
        "comment": "  At the counter  ",
        "idempotency_key": f"key-{name}",
        "source": Source.CARD_PAGE,
        **inputs,
    }
    first = action(**kwargs)
    again = action(**kwargs)
    assert not first.replayed
    assert again.replayed
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    assert again.card.pk == card.pk
    (entry,) = first.entries
    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert (stored.comment, stored.actor_id, stored.source, stored.operation_key) == (
        "At the counter",
        staff.pk,
        "card_page",
        f"key-{name}",
    )
    assert card.entries.filter(operation_key=f"key-{name}").count() == 1
    del kwargs["comment"], kwargs["idempotency_key"]
    plain = action(**kwargs)
    assert LedgerEntry.objects.get(pk=plain.entries[0].pk).comment == ""


CASHBACK_SERVICES = {
    "purchase": (services.card_add_transaction_amount, {"value": "10"}),
    "correction": (services.card_subtract_transaction_amount, {"value": "10"}),
    "points +": (services.card_add_points, {"value": "1"}),
    "points -": (services.card_remove_points, {"value": "1"}),
}


@pytest.mark.parametrize("name", CASHBACK_SERVICES)
def test_every_cashback_action_records_who_where_the_comment_and_its_key_once(
    cashback_card: Card, staff, name: str
) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="100", actor=staff)
    action, inputs = CASHBACK_SERVICES[name]
    kwargs = {
        "card": cashback_card,
        "actor": staff,
        "comment": "Fixed",
        "idempotency_key": f"cb-{name}",
        "source": Source.CARD_PAGE,
        **inputs,
    }
    first = action(**kwargs)
    again = action(**kwargs)
    assert again.replayed
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    stored = LedgerEntry.objects.get(pk=first.entries[0].pk)
    assert (stored.comment, stored.actor_id, stored.source, stored.operation_key) == (
        "Fixed",
        staff.pk,
        "card_page",
        f"cb-{name}",
    )
    del kwargs["comment"], kwargs["idempotency_key"]
    plain = action(**kwargs)
    assert LedgerEntry.objects.get(pk=plain.entries[0].pk).comment == ""


def test_the_comment_is_on_the_first_entry_of_an_operation_only(stamp_card: Card, staff) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="50", actor=staff)
    result = services.card_subtract_transaction_amount(
        card=stamp_card, value="20", comment="Typo", actor=staff
    )
    assert [(e.comment, e.sequence) for e in result.entries] == [("Typo", 0), ("", 1)]
    assert [e.comment for e in entries(stamp_card)] == ["", "Typo", ""]
    key = result.entries[0].operation_key
    assert [e.operation_key for e in result.entries] == [key, key]


def test_an_anonymous_or_missing_actor_is_stored_as_nobody(stamp_card: Card) -> None:
    from django.contrib.auth.models import AnonymousUser

    services.card_add_stamps(card=stamp_card, value=1, actor=None)
    services.card_add_stamps(card=stamp_card, value=1, actor=AnonymousUser())
    assert [e.actor_id for e in entries(stamp_card)] == [None, None]
    assert [e.source for e in entries(stamp_card)] == ["dashboard", "dashboard"]


def test_the_key_and_comment_limits(stamp_card: Card, staff) -> None:
    services.card_add_stamps(card=stamp_card, value=1, actor=staff, idempotency_key="k" * 64)
    services.card_add_stamps(card=stamp_card, value=1, actor=staff, comment="c" * 500)
    error = refused(
        services.card_add_stamps, card=stamp_card, value=1, actor=staff, idempotency_key="k" * 65
    )
    assert (error.field_name, error.text) == (
        "idempotency_key",
        "The form expired; reload the page and try again.",
    )
    error = refused(
        services.card_add_stamps, card=stamp_card, value=1, actor=staff, comment="c" * 501
    )
    assert (error.field_name, error.text) == ("comment", "Keep the comment under 500 characters.")
    assert [(e.operation_key, len(e.comment)) for e in entries(stamp_card)] == [
        ("k" * 64, 0),
        (entries(stamp_card)[1].operation_key, 500),
    ]
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 2


def test_calls_without_a_key_or_comment_are_separate_operations(stamp_card: Card, staff) -> None:
    first = services.card_add_stamps(card=stamp_card, value=1, actor=staff)
    second = services.card_add_stamps(card=stamp_card, value=1, actor=staff, idempotency_key=" ")
    third = services.card_add_stamps(card=stamp_card, value=1, actor=staff, comment=None)
    assert [first.replayed, second.replayed, third.replayed] == [False, False, False]
    keys = {e.operation_key for e in entries(stamp_card)}
    assert len(keys) == 3
    assert all(len(key) == 32 for key in keys)
    assert [e.comment for e in entries(stamp_card)] == ["", "", ""]
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 3


def test_the_result_and_the_callers_card_show_the_new_balances(stamp_card: Card, staff) -> None:
    result = services.card_add_transaction_amount(card=stamp_card, value="35", actor=staff)
    assert (result.card.stamps_balance, stamp_card.stamps_balance) == (3, 3)
    assert stamp_card.transaction_amount == D("35.00")
    assert result.entries == entries(stamp_card)
    assert result.entries[0].pk is not None
    replay = services.card_add_transaction_amount(
        card=stamp_card, value="35", actor=staff, idempotency_key=result.entries[0].operation_key
    )
    assert replay.replayed
    assert (replay.card.pk, replay.card.stamps_balance) == (stamp_card.pk, 3)


# ------------------------------------------------------------------------ dates and the customer


def test_a_visit_moves_the_dates_of_the_card_and_the_customer_to_the_entrys_time(
    stamp_card: Card, staff
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="100", actor=staff)
    (entry,) = entries(stamp_card)
    card = Card.objects.get(pk=stamp_card.pk)
    assert card.last_visit_at == entry.created_at
    assert card.last_stamp_earned_at == entry.created_at
    assert card.last_reward_earned_at == entry.created_at
    assert card.last_reward_redeemed_at is None
    customer = Customer.objects.get(pk=card.customer_id)
    assert (customer.total_visits, customer.last_visit_at) == (1, entry.created_at)
    assert customer.last_activity_at == entry.created_at


def test_a_change_without_a_visit_touches_only_the_customers_activity(
    stamp_card: Card, staff
) -> None:
    services.card_add_stamps(card=stamp_card, value=2, actor=staff)
    (entry,) = entries(stamp_card)
    customer = Customer.objects.get(pk=stamp_card.customer_id)
    assert (customer.total_visits, customer.last_visit_at) == (0, None)
    assert customer.last_activity_at == entry.created_at
    card = Card.objects.get(pk=stamp_card.pk)
    assert (card.last_visit_at, card.last_stamp_earned_at) == (None, entry.created_at)


def test_writing_off_visits_lowers_the_customers_visits_without_a_new_visit_date(
    stamp_program, staff
) -> None:
    stamp_program.mechanism = "visit"
    stamp_program.save()
    card = issue_card(stamp_program)
    services.card_add_transaction_amount(card=card, value="5", actor=staff)
    services.card_add_transaction_amount(card=card, value="5", actor=staff)
    services.card_write_off_visits(card=card, value=2, actor=staff)
    purchase = entries(card)[1]
    customer = Customer.objects.get(pk=card.customer_id)
    assert (customer.total_visits, customer.last_visit_at) == (0, purchase.created_at)


def test_points_dates_move_with_points_earned_and_redeemed(cashback_card: Card, staff) -> None:
    services.card_add_points(card=cashback_card, value="5", actor=staff)
    services.card_remove_points(card=cashback_card, value="2", actor=staff)
    added, removed = entries(cashback_card)
    card = Card.objects.get(pk=cashback_card.pk)
    assert (card.last_points_earned_at, card.last_points_redeemed_at) == (
        added.created_at,
        removed.created_at,
    )
    assert card.last_visit_at == removed.created_at


# ------------------------------------------------------------------------ refusals


def test_actions_for_the_other_kind_of_card_are_refused(
    stamp_card: Card, cashback_card: Card, staff
) -> None:
    error = refused(services.card_add_points, card=stamp_card, value="1", actor=staff)
    assert (error.field_name, error.text) == ("value", "This action is for cashback cards only.")
    error = refused(services.card_remove_stamps, card=cashback_card, value=1, actor=staff)
    assert (error.field_name, error.text) == ("value", "This action is for stamp cards only.")
    assert entries(stamp_card) == entries(cashback_card) == []


def test_a_deleted_or_expired_card_is_refused_with_its_reason(stamp_card: Card, owner) -> None:
    services.card_check_open(card=stamp_card)
    services.card_delete(card=stamp_card, actor=owner)
    error = refused(services.card_check_open, card=stamp_card)
    assert (error.field_name, error.text) == (
        "value",
        "This card was deleted; its balances can no longer change.",
    )
    card = issue_card(stamp_card.program)
    services.card_set_expiration(card=card, expires_on=datetime.date(2020, 3, 9), actor=owner)
    error = refused(services.card_add_stamps, card=card, value=1, actor=owner)
    assert (error.field_name, error.text) == (
        "value",
        "This card expired on March 9, 2020. Move the expiration date to change its balances.",
    )
    assert entries(card) == []


def test_a_drifted_aggregate_is_refused_before_it_goes_negative(stamp_card: Card, staff) -> None:
    Card.objects.filter(pk=stamp_card.pk).update(stamps_balance=5)  # stamps_earned stays 0
    error = refused(services.card_remove_stamps, card=stamp_card, value=5, actor=staff)
    assert (error.field_name, error.text) == ("value", "That change would make a balance negative.")
    assert entries(stamp_card) == []


# ------------------------------------------------------------------------ bonuses


def referred(referrer: Card, **kwargs: Any) -> Card:
    """A newcomer's card of the referrer's program, issued through the referrer's link."""
    return issue_card(referrer.program, referred_by=referrer, **kwargs)


def buy(card: Card, value: str = "10", **kwargs: Any) -> services.LedgerResult:
    return services.card_add_transaction_amount(card=card, value=value, actor=None, **kwargs)


def test_a_referral_credits_the_referrer_once_with_a_referral_entry(stamp_card: Card) -> None:
    newcomer = referred(stamp_card)
    buy(newcomer)
    buy(newcomer)
    (entry,) = entries(stamp_card)
    assert deltas(entry) == {
        "kind": "referral_bonus",
        "stamps_delta": 2,
        "stamps_earned_delta": 2,
    }
    assert (entry.source, entry.actor_id, entry.referred_card_id, entry.comment) == (
        "referral",
        None,
        newcomer.pk,
        f"Referred card {newcomer.serial}",
    )
    assert entry.operation_key == f"referral:{newcomer.pk}"
    assert len(entry.request_hash) == 64
    card = Card.objects.get(pk=stamp_card.pk)
    assert (card.referral_stamps, card.stamps_balance, card.total_visits) == (2, 2, 0)


def test_a_new_card_credits_only_one_referrer(stamp_card: Card) -> None:
    newcomer = referred(stamp_card)
    other = issue_card(stamp_card.program)
    buy(newcomer)
    # The database's partial unique index is the last word on "once", whatever the caller.
    with pytest.raises(LedgerError) as error, transaction.atomic():
        services.ledger_append(
            card=Card.objects.select_for_update().get(pk=other.pk),
            deltas=[rules.Delta(kind="referral_bonus", stamps=1, stamps_earned=1)],
            key=f"referral:{newcomer.pk}",
            actor=None,
            source=Source.REFERRAL,
            referred_card=newcomer,
        )
    assert (error.value.field_name, error.value.text) == (
        "value",
        "This new card already credited a referrer.",
    )
    assert entries(other) == []


def test_a_referral_bonus_of_one_stamp_is_credited(stamp_card: Card) -> None:
    program = stamp_card.program
    program.referral_bonus = D("1")
    program.save()
    buy(referred(stamp_card))
    assert Card.objects.get(pk=stamp_card.pk).referral_stamps == 1


def test_no_referral_is_due_without_a_bonus_or_for_oneself(stamp_card: Card, owner) -> None:
    program = stamp_card.program
    same_holder = referred(stamp_card, customer=stamp_card.customer)
    other_program_card = issue_card(
        CashbackProgramFactory(merchant=program.merchant), referred_by=stamp_card
    )
    buy(same_holder)
    buy(other_program_card)
    program.referral_bonus = D("0")
    program.save()
    buy(referred(stamp_card))
    assert entries(stamp_card) == []


def test_no_referral_is_due_to_a_deleted_or_expired_card(stamp_card: Card, owner) -> None:
    program = stamp_card.program
    expired = issue_card(program)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    services.card_set_expiration(card=expired, expires_on=yesterday, actor=owner)
    services.card_delete(card=stamp_card, actor=owner)
    for referrer in (stamp_card, expired):
        newcomer = referred(referrer)
        buy(newcomer)
        assert entries(referrer) == []
        assert Card.objects.get(pk=newcomer.pk).transaction_amount == D("10.00")


def test_a_referral_of_a_cardless_customer_still_counts(stamp_program) -> None:
    referrer = issue_card(stamp_program)
    newcomer = issue_card(
        stamp_program,
        customer=CustomerFactory(merchant=stamp_program.merchant),
        referred_by=referrer,
    )
    buy(newcomer)
    assert Card.objects.get(pk=referrer.pk).referral_stamps == 2


def test_a_cashback_referral_credits_points(cashback_card: Card) -> None:
    buy(referred(cashback_card))
    (entry,) = entries(cashback_card)
    assert deltas(entry) == {
        "kind": "referral_bonus",
        "points_delta": D("5.00"),
        "points_earned_delta": D("5.00"),
    }
    card = Card.objects.get(pk=cashback_card.pk)
    assert (card.referral_points, card.points_balance) == (D("5.00"), D("5.00"))


@pytest.mark.parametrize(
    ("kind", "bonus", "expected"),
    [
        ("stamp", D("3"), {"stamps_delta": 3, "stamps_earned_delta": 3}),
        ("stamp", D("1"), {"stamps_delta": 1, "stamps_earned_delta": 1}),
        ("cashback", D("2.50"), {"points_delta": D("2.50"), "points_earned_delta": D("2.50")}),
    ],
)
def test_a_welcome_bonus_is_credited_once_by_the_system(
    stamp_program, cashback_program, kind: str, bonus: Decimal, expected: dict
) -> None:
    program = stamp_program if kind == "stamp" else cashback_program
    program.welcome_bonus = bonus
    program.save()
    card = issue_card(program)
    first = services.card_credit_welcome_bonus(card=card)
    again = services.card_credit_welcome_bonus(card=card)
    assert first is not None
    assert again is not None
    assert (first.replayed, again.replayed) == (False, True)
    (entry,) = entries(card)
    assert deltas(entry) == {"kind": "welcome_bonus", **expected}
    assert (entry.source, entry.actor_id, entry.comment, entry.operation_key) == (
        "system",
        None,
        "",
        f"welcome:{card.pk}",
    )
    card = Card.objects.get(pk=card.pk)
    assert (card.referral_stamps, card.referral_points, card.total_visits) == (0, D("0.00"), 0)


def test_no_welcome_bonus_without_one(stamp_card: Card) -> None:
    assert services.card_credit_welcome_bonus(card=stamp_card) is None
    assert entries(stamp_card) == []
