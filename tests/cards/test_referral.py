"""Referral links: a newcomer who joins through a card's link, then buys, credits that card once.

A join alone earns the referrer nothing (fake sign-ups pay nothing); the referred card's first
purchase credits the referrer, in the purchase's transaction, within the program's monthly cap.
"""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from cards import rules, services
from cards.models import Card, LedgerEntry, Program, Source
from customers.models import Customer
from loyalty import clock
from loyalty.models import AuditEvent
from tests.cards.dialog_support import apply_dialog, trigger_message
from tests.factories import CustomerFactory, StampProgramFactory, issue_card, stamp_program_form

pytestmark = pytest.mark.django_db
D = Decimal


def referral_url(card: Card) -> str:
    return reverse("public:referral", args=[card.referral_token])


def join_through(
    client: Client, referrer: Card, program: Program | None = None, **data: str
) -> Any:
    """Follow the referral link to the join page, then send the form as a browser would."""
    program = program or referrer.program
    landing = client.get(referral_url(referrer))
    query = parse_qs(urlparse(landing["Location"]).query)
    form = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "phone": "",
        "ref": query["ref"][0],
    }
    form.update(data)
    return client.post(reverse("public:join", args=[program.join_token]), form)


def newcomer_of(referrer: Card) -> Card:
    return Card.objects.exclude(pk=referrer.pk).get(program=referrer.program)


def buy(card: Card, value: str = "10", **kwargs: Any) -> services.LedgerResult:
    return services.card_add_transaction_amount(card=card, value=value, actor=None, **kwargs)


def bonuses(card: Card) -> list[LedgerEntry]:
    return list(card.entries.filter(kind="referral_bonus").order_by("id"))


def refreshed(card: Card) -> Card:
    return Card.objects.get(pk=card.pk)


def referred(referrer: Card, **kwargs: Any) -> Card:
    """A newcomer's card issued through the referrer's link (the join's checks passed)."""
    return issue_card(referrer.program, referred_by=referrer, **kwargs)


def assert_ledger_matches(capsys: Any) -> None:
    call_command("verify_ledger")
    assert "disagree" not in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# The link and the join


def test_a_referral_link_opens_the_join_page_with_the_referrer_attached(
    client: Client, stamp_card: Card
) -> None:
    response = client.get(referral_url(stamp_card) + "?utm_source=whatsapp")

    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == reverse("public:join", args=[stamp_card.program.join_token])
    assert parse_qs(location.query) == {
        "ref": [stamp_card.referral_token],
        "utm_source": ["whatsapp"],
    }
    page = client.get(response["Location"]).content.decode()
    assert f'name="ref" value="{stamp_card.referral_token}"' in page
    assert "A friend invited you." in page
    # Nothing about the referrer is shown to the newcomer.
    assert stamp_card.holder_name not in page


def test_joining_through_a_referral_link_alone_credits_nothing(
    client: Client, stamp_card: Card
) -> None:
    join_through(client, stamp_card)

    newcomer = newcomer_of(stamp_card)
    assert newcomer.referred_by == stamp_card
    assert refreshed(stamp_card).referral_stamps == 0
    assert bonuses(stamp_card) == []


def test_the_referred_cards_first_purchase_credits_the_referrer(
    client: Client, stamp_card: Card, capsys: Any
) -> None:
    join_through(client, stamp_card)
    newcomer = newcomer_of(stamp_card)

    buy(newcomer, "35")

    referrer = refreshed(stamp_card)
    assert (referrer.referral_stamps, referrer.stamps_balance, referrer.total_visits) == (2, 2, 0)
    (bonus,) = bonuses(stamp_card)
    assert (bonus.source, bonus.referred_card, bonus.actor_id) == (Source.REFERRAL, newcomer, None)
    assert bonus.operation_key == f"referral:{newcomer.pk}"
    # The purchase itself is the newcomer's, unchanged by the bonus.
    assert refreshed(newcomer).stamps_balance == 3
    assert_ledger_matches(capsys)


def test_only_the_first_purchase_credits_the_referrer(client: Client, stamp_card: Card) -> None:
    join_through(client, stamp_card)
    newcomer = newcomer_of(stamp_card)

    buy(newcomer)
    services.card_subtract_transaction_amount(card=newcomer, value="10", actor=None)
    buy(newcomer)
    buy(newcomer)

    assert len(bonuses(stamp_card)) == 1
    assert refreshed(stamp_card).referral_stamps == 2


def test_entries_without_money_spent_are_not_a_first_purchase(stamp_card: Card) -> None:
    newcomer = referred(stamp_card)

    services.card_add_stamps(card=newcomer, value=3, actor=None)
    services.card_add_rewards(card=newcomer, value=1, purchase_amount="0", actor=None)
    assert bonuses(stamp_card) == []

    services.card_redeem_rewards(card=newcomer, value=1, purchase_amount="4.50", actor=None)
    assert len(bonuses(stamp_card)) == 1


def test_points_added_with_a_purchase_amount_are_a_first_purchase(cashback_card: Card) -> None:
    newcomer = referred(cashback_card)

    services.card_add_points(card=newcomer, value="1", actor=None)
    assert bonuses(cashback_card) == []
    services.card_add_points(card=newcomer, value="1", purchase_amount="20", actor=None)

    assert refreshed(cashback_card).referral_points == D("5.00")


def test_a_first_purchase_in_the_dialog_credits_the_referrer(
    owner_client: Client, stamp_card: Card
) -> None:
    newcomer = referred(stamp_card)

    response = apply_dialog(owner_client, newcomer, "transaction_amount_add", value="20")

    assert trigger_message(response).startswith("Purchase:")
    assert refreshed(stamp_card).referral_stamps == 2


def test_a_referral_on_a_cashback_card_credits_points(client: Client, cashback_card: Card) -> None:
    join_through(client, cashback_card)
    assert refreshed(cashback_card).referral_points == D("0.00")

    buy(newcomer_of(cashback_card), "100")

    referrer = refreshed(cashback_card)
    assert referrer.referral_points == D("5.00")
    assert referrer.points_balance == D("5.00")


def test_referral_stamps_convert_into_rewards(client: Client, stamp_card: Card) -> None:
    services.card_add_stamps(card=stamp_card, value=9, actor=None)
    join_through(client, stamp_card)

    buy(newcomer_of(stamp_card))

    referrer = refreshed(stamp_card)
    assert (referrer.stamps_balance, referrer.rewards_available) == (1, 1)
    assert referrer.referral_stamps == 2


def test_the_referral_shows_in_the_referrers_card_history(client: Client, stamp_card: Card) -> None:
    join_through(client, stamp_card)
    buy(newcomer_of(stamp_card))

    page = client.get(reverse("public:card", args=[stamp_card.install_token])).content.decode()
    assert "Thanks for inviting a friend" in page
    assert "+2 stamps" in page


def test_the_card_page_says_the_bonus_comes_with_a_friends_first_purchase(
    client: Client, stamp_card: Card
) -> None:
    page = client.get(reverse("public:card", args=[stamp_card.install_token])).content.decode()
    assert "When a friend joins with your link and makes a first purchase, you get 2" in page


def test_a_card_credited_at_join_before_is_not_credited_again(stamp_card: Card) -> None:
    """Cards referred when the bonus came with the join already hold their bonus."""
    newcomer = referred(stamp_card)
    with transaction.atomic():
        services.ledger_append(
            card=Card.objects.select_for_update().get(pk=stamp_card.pk),
            deltas=rules.stamp_bonus(
                stamp_card.balances(),
                stamp_card.program.rule_set(),
                stamps=2,
                kind=rules.Kind.REFERRAL_BONUS,
            ),
            key=f"referral:{newcomer.pk}",
            actor=None,
            source=Source.REFERRAL,
            referred_card=newcomer,
        )

    buy(newcomer)

    assert len(bonuses(stamp_card)) == 1
    assert refreshed(newcomer).transaction_amount == D("10.00")


def test_the_referrer_joining_through_their_own_link_credits_nothing(
    client: Client, stamp_program: Program
) -> None:
    customer = CustomerFactory(merchant=stamp_program.merchant, email="grace@example.com")
    own = issue_card(stamp_program, customer=customer)

    join_through(client, own)

    assert list(Card.objects.all()) == [own]  # a duplicate join makes no second card
    own.refresh_from_db()
    assert own.referral_stamps == 0
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


# ---------------------------------------------------------------------------------------------
# Aliases of the referrer


@pytest.mark.parametrize(
    ("referrer_email", "alias"),
    [
        ("grace@gmail.com", "grace+farm1@gmail.com"),
        ("grace@gmail.com", "G.Race@googlemail.com"),
        ("grace.hopper@gmail.com", "gracehopper+2@gmail.com"),
        ("grace@example.com", "Grace+x@Example.com"),
    ],
)
def test_an_alias_of_the_referrers_email_is_not_a_referral(
    client: Client, stamp_program: Program, referrer_email: str, alias: str
) -> None:
    holder = CustomerFactory(merchant=stamp_program.merchant, email=referrer_email)
    referrer = issue_card(stamp_program, customer=holder)

    join_through(client, referrer, email=alias)

    newcomer = newcomer_of(referrer)
    assert newcomer.customer is not None
    assert newcomer.customer.email == alias  # the join itself stands
    assert newcomer.referred_by is None
    buy(newcomer)
    assert bonuses(referrer) == []


def test_the_referrers_phone_written_differently_is_not_a_referral(
    client: Client, stamp_program: Program
) -> None:
    # Stored before phones were normalised: the join's exact match misses it, the digits do not.
    holder = CustomerFactory(
        merchant=stamp_program.merchant, email="grace@example.com", phone="+1 (415) 555-0123"
    )
    referrer = issue_card(stamp_program, customer=holder)

    join_through(client, referrer, email="someone@example.com", phone="415 555 0123")

    newcomer = newcomer_of(referrer)
    assert newcomer.referred_by is None
    buy(newcomer)
    assert bonuses(referrer) == []


def test_a_different_gmail_address_is_still_a_referral(
    client: Client, stamp_program: Program
) -> None:
    holder = CustomerFactory(merchant=stamp_program.merchant, email="grace@gmail.com")
    referrer = issue_card(stamp_program, customer=holder)

    join_through(client, referrer, email="grace.h@gmail.com")

    assert newcomer_of(referrer).referred_by == referrer


# ---------------------------------------------------------------------------------------------
# Who is never credited


def test_no_credit_for_a_customer_who_already_had_a_card_of_the_program(
    client: Client, stamp_card: Card
) -> None:
    returning = CustomerFactory(merchant=stamp_card.merchant, email="grace@example.com")
    old = issue_card(stamp_card.program, customer=returning)
    services.card_delete(card=old, actor=None)

    join_through(client, stamp_card)

    new = Card.objects.exclude(pk__in=[stamp_card.pk, old.pk]).get()
    assert new.customer == returning
    assert new.referred_by is None
    buy(new)
    assert refreshed(stamp_card).referral_stamps == 0


def test_a_known_customer_new_to_the_program_credits_the_referrer_at_first_purchase(
    client: Client, stamp_card: Card, cashback_program: Program
) -> None:
    known = CustomerFactory(merchant=stamp_card.merchant, email="grace@example.com")
    issue_card(cashback_program, customer=known)

    join_through(client, stamp_card)
    assert refreshed(stamp_card).referral_stamps == 0
    buy(newcomer_of(stamp_card))

    assert refreshed(stamp_card).referral_stamps == 2


def test_a_referral_link_of_another_program_credits_nothing(
    client: Client, stamp_card: Card, merchant: Any
) -> None:
    other_program = StampProgramFactory(merchant=merchant, name="Bakery Card")

    join_through(client, stamp_card, program=other_program)

    new = Card.objects.get(program=other_program)
    assert new.referred_by is None
    buy(new)
    assert refreshed(stamp_card).referral_stamps == 0


def test_a_referrer_deleted_at_join_is_not_recorded(client: Client, stamp_card: Card) -> None:
    services.card_delete(card=stamp_card, actor=None)

    join_through(client, stamp_card)

    new = Card.objects.exclude(pk=stamp_card.pk).get()
    assert new.referred_by is None
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


def test_a_referrer_deleted_before_the_first_purchase_gets_nothing_and_the_purchase_stands(
    client: Client, stamp_card: Card, capsys: Any
) -> None:
    join_through(client, stamp_card)
    newcomer = newcomer_of(stamp_card)
    services.card_delete(card=stamp_card, actor=None)

    result = buy(newcomer, "35")

    assert [entry.kind for entry in result.entries] == ["purchase"]
    assert refreshed(newcomer).stamps_balance == 3
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()
    assert_ledger_matches(capsys)


def test_an_expired_referrer_is_not_credited(client: Client, stamp_card: Card) -> None:
    join_through(client, stamp_card)
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2020, 1, 1), actor=None)

    buy(newcomer_of(stamp_card))

    assert Card.objects.count() == 2
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


def test_no_referral_bonus_when_the_program_has_none(client: Client, merchant: Any) -> None:
    program = StampProgramFactory(merchant=merchant, referral_bonus=Decimal("0"))
    referrer = issue_card(program)

    join_through(client, referrer)
    buy(newcomer_of(referrer))

    assert Card.objects.count() == 2
    assert not LedgerEntry.objects.filter(kind="referral_bonus").exists()


def test_a_bonus_the_referrers_card_cannot_hold_leaves_the_purchase_standing(
    cashback_card: Card,
) -> None:
    newcomer = referred(cashback_card)
    full = rules.MAX_MONEY - D("1.00")
    Card.objects.filter(pk=cashback_card.pk).update(points_balance=full, points_earned=full)

    result = buy(newcomer, "100")

    assert [entry.kind for entry in result.entries] == ["purchase"]
    assert refreshed(newcomer).points_balance == D("5.00")
    assert refreshed(cashback_card).points_balance == full
    assert bonuses(cashback_card) == []


# ---------------------------------------------------------------------------------------------
# The monthly cap


def at(tz: str, *args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=ZoneInfo(tz))


def test_a_referrer_earns_at_most_the_cap_per_calendar_month_in_the_merchants_time_zone(
    stamp_card: Card,
) -> None:
    merchant = stamp_card.merchant
    merchant.time_zone = "America/Los_Angeles"
    merchant.save()
    program = stamp_card.program
    program.referral_cap = 2
    program.save()
    la = "America/Los_Angeles"
    moments = [
        at(la, 2026, 1, 15, 12, 0),
        # Already February 1st in UTC, still January in Los Angeles: January's second.
        at(la, 2026, 1, 31, 23, 30),
        at(la, 2026, 1, 31, 23, 45),  # January's third: over the cap
        at(la, 2026, 2, 1, 0, 30),  # a new month in Los Angeles
    ]
    newcomers = [referred(stamp_card) for _ in moments]

    for newcomer, moment in zip(newcomers, moments, strict=True):
        with clock.frozen_at(moment):
            buy(newcomer)

    credited = [entry.referred_card_id for entry in bonuses(stamp_card)]
    assert credited == [newcomers[0].pk, newcomers[1].pk, newcomers[3].pk]
    # Over the cap the purchase still stands.
    assert refreshed(newcomers[2]).transaction_amount == D("10.00")


def test_a_cap_of_zero_means_referrals_earn_nothing(stamp_card: Card) -> None:
    program = stamp_card.program
    program.referral_cap = 0
    program.save()

    buy(referred(stamp_card))

    assert bonuses(stamp_card) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_purchases_never_pass_the_cap(capsys: Any) -> None:
    program = StampProgramFactory(referral_cap=1)
    referrer = issue_card(program)
    newcomers = [referred(referrer) for _ in range(6)]
    errors: list[Exception] = []
    start = threading.Barrier(len(newcomers))

    def first_purchase(card_pk: int) -> None:
        try:
            start.wait()
            buy(Card.objects.get(pk=card_pk))
        except Exception as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_purchase, args=(c.pk,)) for c in newcomers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(bonuses(referrer)) == 1
    assert LedgerEntry.objects.filter(kind="purchase").count() == len(newcomers)
    assert_ledger_matches(capsys)


@pytest.mark.django_db(transaction=True)
def test_customers_who_referred_each_other_can_make_first_purchases_at_once(
    capsys: Any,
) -> None:
    """Each purchase writes both holders' CRM rows: always in the same order, so no deadlock."""
    first = StampProgramFactory(name="Coffee")
    second = StampProgramFactory(merchant=first.merchant, name="Bakery")
    errors: list[Exception] = []
    for _ in range(3):
        ada, bob = (CustomerFactory(merchant=first.merchant) for _ in range(2))
        bobs_coffee = issue_card(first, customer=bob)
        adas_bakery = issue_card(second, customer=ada)
        adas_coffee = issue_card(first, customer=ada, referred_by=bobs_coffee)
        bobs_bakery = issue_card(second, customer=bob, referred_by=adas_bakery)
        start = threading.Barrier(2)

        def first_purchase(card_pk: int, start: threading.Barrier = start) -> None:
            try:
                start.wait()
                buy(Card.objects.get(pk=card_pk))
            except Exception as error:  # surfaced in the main thread
                errors.append(error)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=first_purchase, args=(card.pk,))
            for card in (adas_coffee, bobs_bakery)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(bonuses(bobs_coffee)) == len(bonuses(adas_bakery)) == 1
    assert_ledger_matches(capsys)


# ---------------------------------------------------------------------------------------------
# Farming


def test_joins_through_one_referral_link_are_rate_limited(client: Client, stamp_card: Card) -> None:
    for n in range(10):
        response = join_through(client, stamp_card, email=f"friend{n}@example.com")
        assert response.status_code == 302

    response = join_through(client, stamp_card, email="one-too-many@example.com")

    assert response.status_code == 429
    assert Customer.objects.filter(email="one-too-many@example.com").count() == 0
    # Ten sign-ups that never buy earn the referrer nothing.
    assert refreshed(stamp_card).referral_stamps == 0
    assert stamp_card.referrals.count() == 10


# ---------------------------------------------------------------------------------------------
# The cap in the program settings


def _stamp_program_post(program: Program, **overrides: str) -> dict[str, str]:
    return stamp_program_form(**{"name": program.name, "referral_bonus": "2", **overrides})


def test_the_program_form_sets_the_monthly_referral_cap(
    owner_client: Client, stamp_program: Program
) -> None:
    url = reverse("settings:program_edit", args=[stamp_program.pk])
    page = owner_client.get(url).content.decode()
    assert 'name="referral_cap"' in page
    assert "Referral bonuses per month" in page
    assert page.index('name="referral_bonus"') < page.index('name="referral_cap"')

    response = owner_client.post(url, _stamp_program_post(stamp_program, referral_cap="3"))

    assert response.status_code == 302
    stamp_program.refresh_from_db()
    assert stamp_program.referral_cap == 3
    assert "monthly referral cap" in AuditEvent.objects.latest("id").summary


def test_an_empty_cap_keeps_the_programs_and_an_impossible_one_is_refused(
    owner_client: Client, stamp_program: Program
) -> None:
    stamp_program.referral_cap = 4
    stamp_program.save()
    url = reverse("settings:program_edit", args=[stamp_program.pk])

    assert owner_client.post(url, _stamp_program_post(stamp_program)).status_code == 302
    stamp_program.refresh_from_db()
    assert stamp_program.referral_cap == 4

    response = owner_client.post(url, _stamp_program_post(stamp_program, referral_cap="1001"))
    assert response.status_code == 422
    assert "Enter between 0 and 1,000 referral bonuses a month." in response.content.decode()
    stamp_program.refresh_from_db()
    assert stamp_program.referral_cap == 4


def test_a_new_program_starts_with_the_default_cap(merchant: Any) -> None:
    spec = services.ProgramSpec(
        name="Tea card", kind="stamp", mechanism="spend", spend_per_stamp=D("5")
    )
    assert services.program_create(merchant=merchant, spec=spec, actor=None).referral_cap == 10
