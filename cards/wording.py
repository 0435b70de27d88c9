"""What the ledger's actions say to a merchant, in words.

``describe_*`` turn the deltas a rule computed into one line: the dialog's live preview before
Apply (with the balances before, so it can say "balance 7 -> 9") and the message after it
(without), so the two always say the same thing. The ``*_line`` helpers say what a dialog shows
before anything is typed. ``cards.actions`` picks the ones each action uses.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cards import rules
from cards.models import Card
from cards.rules import Balances, Delta
from cards.templatetags.ledger_format import percent

RuleSet = Any  # rules.StampRules | rules.CashbackRules
Describe = Callable[[list[Delta], Balances | None, RuleSet], str]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _after(deltas: list[Delta], before: Balances) -> Balances:
    return rules.fold(deltas, before)


def _stamp_balance(deltas: list[Delta], before: Balances | None) -> list[str]:
    if before is None:
        return []
    return [f"balance {before.stamps_balance} -> {_after(deltas, before).stamps_balance}"]


def _rewards_unlocked(deltas: list[Delta]) -> list[str]:
    unlocked = sum(delta.rewards_earned for delta in deltas)
    return [f"{_count(unlocked, 'reward')} unlocked"] if unlocked else []


def _stamps_taken_back(deltas: list[Delta]) -> str:
    taken = -sum(delta.stamps_earned for delta in deltas)
    return f"{_count(taken, 'stamp')} taken back" if taken else "no stamps taken back"


def describe_stamp_purchase(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    stamps = deltas[0].stamps_earned
    return ", ".join(
        [
            f"+{deltas[0].amount} transaction amount",
            f"+{_count(stamps, 'stamp')}" if stamps else "no stamps",
            *_stamp_balance(deltas, before),
            *_rewards_unlocked(deltas),
        ]
    )


def describe_stamp_refund(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    return ", ".join(
        [
            f"-{abs(deltas[0].amount)} transaction amount",
            _stamps_taken_back(deltas),
            *_stamp_balance(deltas, before),
            "rewards unchanged",
        ]
    )


def describe_visits_write_off(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    visits = -deltas[0].visits
    parts = [f"-{_count(visits, 'visit')}"]
    if before is not None:
        parts.append(f"visits {before.total_visits} -> {_after(deltas, before).total_visits}")
    return ", ".join([*parts, _stamps_taken_back(deltas), *_stamp_balance(deltas, before)])


def describe_stamps_added(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    return ", ".join(
        [
            f"+{_count(deltas[0].stamps_earned, 'stamp')}",
            *_stamp_balance(deltas, before),
            *_rewards_unlocked(deltas),
        ]
    )


def describe_stamps_removed(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    return ", ".join(
        [f"-{_count(-deltas[0].stamps_earned, 'stamp')}", *_stamp_balance(deltas, before)]
    )


def _rewards_parts(delta: Delta, before: Balances | None, headline: str) -> str:
    parts = [headline]
    if before is not None:
        after = before.rewards_available + delta.rewards_available
        parts.append(f"rewards available {before.rewards_available} -> {after}")
    if delta.amount:
        parts.append(f"+{delta.amount} transaction amount")
    parts.append("counts as a visit")
    return ", ".join(parts)


def describe_rewards_added(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    return _rewards_parts(delta, before, f"+{_count(delta.rewards_earned, 'reward')}")


def describe_rewards_redeemed(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    return _rewards_parts(delta, before, f"{_count(delta.rewards_redeemed, 'reward')} redeemed")


def _points_balance(deltas: list[Delta], before: Balances | None) -> list[str]:
    if before is None:
        return []
    return [f"balance {before.points_balance} -> {_after(deltas, before).points_balance}"]


def describe_points_added(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    parts = [f"+{delta.points} points", *_points_balance(deltas, before)]
    if delta.ltv:
        parts.append(f"LTV +{delta.ltv}")
    parts.append("transaction amount unchanged")
    return ", ".join(parts)


def describe_points_removed(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    return ", ".join(
        [f"-{abs(delta.points)} points", *_points_balance(deltas, before), "tier unchanged"]
    )


def describe_cashback_purchase(
    deltas: list[Delta], before: Balances | None, rule_set: RuleSet
) -> str:
    delta = deltas[0]
    parts = [
        f"+{delta.points} points at {percent(delta.cashback_percentage)}",
        *_points_balance(deltas, before),
    ]
    if delta.tier is not None:
        # The purchase itself earned at the old rate; the new one starts with the next.
        parts.append(
            f"reaches {delta.tier.name} ({percent(delta.tier.percentage)} from the next purchase)"
        )
    elif before is not None:
        after = _after(deltas, before)
        upcoming = rules.next_tier(
            rule_set.tiers, rules.current_tier(rule_set.tiers, after).threshold
        )
        to_next = rules.to_next_tier(rule_set.tiers, after)
        if upcoming is not None and to_next is not None:
            parts.append(f"{to_next} more to {upcoming.name}")
    return ", ".join([f"+{delta.amount} transaction amount", *parts])


def describe_cashback_refund(deltas: list[Delta], before: Balances | None, _: RuleSet) -> str:
    delta = deltas[0]
    parts = [
        f"-{abs(delta.amount)} transaction amount",
        f"-{abs(delta.points)} points at {percent(delta.cashback_percentage)}",
        *_points_balance(deltas, before),
    ]
    if before is not None and before.tier_name:
        parts.append(f"tier stays {before.tier_name}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# What a dialog shows before anything is typed: the card's balances it changes


def _money_line(label: str, value: Decimal) -> str:
    return f"{label}: {value}"


def _stamps_line(card: Card) -> str:
    return f"Balance: {_count(card.stamps_balance, 'stamp')}"


def _stamp_earning_rule(card: Card) -> str:
    program = card.program
    if program.mechanism == "visit":
        return f"{_count(program.stamps_per_visit, 'stamp')} per visit"
    return f"1 stamp per {program.spend_per_stamp} spent"


def _tier_line(card: Card) -> str:
    return f"Cashback: {card.tier_name}, {percent(card.cashback_percentage)}"


def _points_line(card: Card) -> str:
    return f"Balance: {card.points_balance} points"


def stamp_purchase_lines(card: Card) -> list[str]:
    return [
        _money_line("Transaction amount", card.transaction_amount),
        _stamps_line(card),
        f"Earns {_stamp_earning_rule(card)}",
    ]


def stamp_refund_lines(card: Card) -> list[str]:
    return [_money_line("Transaction amount", card.transaction_amount), _stamps_line(card)]


def visits_lines(card: Card) -> list[str]:
    return [f"Total visits: {card.total_visits}", _stamps_line(card)]


def stamps_added_lines(card: Card) -> list[str]:
    return [_stamps_line(card), f"{_count(card.program.stamps_per_reward, 'stamp')} make a reward"]


def stamps_lines(card: Card) -> list[str]:
    return [_stamps_line(card)]


def rewards_lines(card: Card) -> list[str]:
    return [f"Rewards available: {card.rewards_available}"]


def points_lines(card: Card) -> list[str]:
    return [_points_line(card)]


def cashback_purchase_lines(card: Card) -> list[str]:
    return [
        _money_line("Transaction amount", card.transaction_amount),
        _points_line(card),
        _tier_line(card),
    ]
