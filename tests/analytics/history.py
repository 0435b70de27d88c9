"""The worked example of docs/metrics.md: a small history, built through the real services.

A merchant in Berlin with two stamp programs and a cashback program. The period under test is
the week of Monday 9 to Sunday 15 June 2025 (``WEEK``), compared with 2 to 8 June
(``WEEK.previous()``); one card visited in May, before both. Every action happens at a local
time in Berlin (UTC+2 in June). The figures each test expects are worked out by hand in the
test, from the timeline below.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from cards import services
from cards.models import Card, Program
from cards.services.lifecycle import card_delete
from customers.models import Customer
from feedback.services import feedback_leave
from loyalty import clock
from loyalty.models import Merchant
from tests.factories import (
    CashbackProgramFactory,
    CustomerFactory,
    StampProgramFactory,
    issue_card,
)

BERLIN = "Europe/Berlin"
WEEK_START = datetime.date(2025, 6, 9)
WEEK_END = datetime.date(2025, 6, 15)


@contextmanager
def berlin(day: str, time: str = "12:00") -> Iterator[None]:
    """The clock stopped at ``day`` ``time`` in Berlin (e.g. "2025-06-10", "15:00")."""
    moment = datetime.datetime.fromisoformat(f"{day}T{time}")
    with clock.frozen_at(moment.replace(tzinfo=zoneinfo.ZoneInfo(BERLIN))):
        yield


@dataclass
class History:
    merchant: Merchant
    coffee: Program  # stamp, 1 stamp per 10.00 spent, 10 stamps a reward costing 3.50
    tea: Program  # stamp, 1 stamp per visit, 3 stamps a reward costing 2.00
    bakery: Program  # cashback, Bronze 0 / 5 %, Silver 500 / 7 %, Gold 1000 / 10 %
    anna: Card  # coffee, visits since May: returning
    berta: Card  # coffee, first visit in the week
    tessa: Card  # tea, visited the week before
    carl: Card  # bakery, visited the week before
    dora: Card  # bakery, issued and deleted in the week

    @property
    def programs(self) -> list[Program]:
        return [self.coffee, self.tea, self.bakery]


def build_history(merchant: Merchant) -> History:
    merchant.time_zone = BERLIN
    merchant.save(update_fields=["time_zone"])
    coffee = StampProgramFactory(
        merchant=merchant, name="Coffee", reward_cost=Decimal("3.50"), referral_bonus=0
    )
    tea = StampProgramFactory(
        merchant=merchant,
        name="Tea",
        mechanism="visit",
        spend_per_stamp=None,
        stamps_per_visit=1,
        stamps_per_reward=3,
        reward_cost=Decimal("2.00"),
        referral_bonus=0,
    )
    bakery = CashbackProgramFactory(merchant=merchant, name="Bakery", referral_bonus=0)
    anna = _in_may(coffee)
    tessa, carl = _week_before(anna, tea, bakery)
    berta, dora = _the_week(anna, tessa, carl, coffee, bakery)
    return History(merchant, coffee, tea, bakery, anna, berta, tessa, carl, dora)


def _customer(program: Program, name: str) -> Customer:
    return CustomerFactory(merchant=program.merchant, first_name=name)


def _in_may(coffee: Program) -> Card:
    with berlin("2025-05-20", "10:00"):
        anna = issue_card(coffee, _customer(coffee, "Anna"))
        services.card_add_transaction_amount(card=anna, value="25.00", actor=None)  # 2 stamps
    return anna


def _week_before(anna: Card, tea: Program, bakery: Program) -> tuple[Card, Card]:
    with berlin("2025-06-03", "10:00"):
        services.card_add_transaction_amount(card=anna, value="40.00", actor=None)  # 4 stamps
    with berlin("2025-06-03", "10:05"):
        feedback_leave(card=anna, rating=4)
    with berlin("2025-06-04", "11:00"):
        carl = issue_card(bakery, _customer(bakery, "Carl"))
        services.card_add_transaction_amount(card=carl, value="400.00", actor=None)  # 20 points
    with berlin("2025-06-05", "12:00"):
        tessa = issue_card(tea, _customer(tea, "Tessa"))
        services.card_add_transaction_amount(card=tessa, value="8.00", actor=None)  # 1 stamp
    return tessa, carl


def _the_week(
    anna: Card, tessa: Card, carl: Card, coffee: Program, bakery: Program
) -> tuple[Card, Card]:
    with berlin("2025-06-09", "09:00"):
        # 10.00 points at 5 %; 600 spent in all: Silver from now on.
        services.card_add_transaction_amount(card=carl, value="200.00", actor=None)
    with berlin("2025-06-10", "09:00"):
        berta = issue_card(coffee, _customer(coffee, "Berta"))
        services.card_add_transaction_amount(card=berta, value="95.00", actor=None)  # 9 stamps
    with berlin("2025-06-10", "15:00"):
        # 3 stamps: 12 make a reward, 2 left. Her second visit today.
        services.card_add_transaction_amount(card=berta, value="30.00", actor=None)
    with berlin("2025-06-10", "16:00"):
        feedback_leave(card=berta, rating=5)
    with berlin("2025-06-11", "10:00"):
        # The 30 was a typo for 3: the refund of 27 takes back min(2, 2) stamps; no visit.
        services.card_subtract_transaction_amount(card=berta, value="27.00", actor=None)
    with berlin("2025-06-11", "11:00"):
        # A correction: 14.00 points clawed back at 7 %, which is not a redemption.
        services.card_subtract_transaction_amount(card=carl, value="200.00", actor=None)
    with berlin("2025-06-12", "10:00"):
        services.card_redeem_rewards(card=berta, value=1, purchase_amount="0", actor=None)
    with berlin("2025-06-12", "12:00"):
        services.card_remove_points(card=carl, value="6.00", actor=None)
    with berlin("2025-06-12", "12:30"):
        feedback_leave(card=carl, rating=2)
    _tea_and_coffee_on_friday(anna, tessa)
    with berlin("2025-06-14", "09:00"):
        services.card_write_off_visits(card=tessa, value=1, actor=None)  # 0 stamps left to take
    with berlin("2025-06-14", "09:30"):
        services.card_redeem_rewards(card=tessa, value=1, purchase_amount="0", actor=None)
    with berlin("2025-06-14", "10:00"):
        dora = issue_card(bakery, _customer(bakery, "Dora"))
        services.card_add_points(card=dora, value="5.00", purchase_amount="12.00", actor=None)
    with berlin("2025-06-15", "11:00"):
        card_delete(card=dora, actor=None)  # her 5.00 points are no longer owed
    return berta, dora


def _tea_and_coffee_on_friday(anna: Card, tessa: Card) -> None:
    with berlin("2025-06-13", "10:00"):
        # 6 stamps: 12 make a reward, 2 left.
        services.card_add_transaction_amount(card=anna, value="60.00", actor=None)
    with berlin("2025-06-13", "10:05"):
        services.card_redeem_rewards(card=anna, value=1, purchase_amount="4.50", actor=None)
    with berlin("2025-06-13", "16:00"):
        services.card_add_transaction_amount(card=tessa, value="8.00", actor=None)  # 1 stamp
    with berlin("2025-06-13", "17:00"):
        # A third stamp makes a reward, 0 left.
        services.card_add_transaction_amount(card=tessa, value="8.00", actor=None)
    with berlin("2025-06-13", "17:30"):
        feedback_leave(card=tessa, rating=4)
