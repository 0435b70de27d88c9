"""What the ledger's actions say to a merchant, in words.

``describe_*`` turn the deltas a rule computed into one line: the dialog's live preview
before Apply (with the balances before, so it can say "balance 7 -> 9 stamps") and, without
them, the counter's double-scan warning about an earlier change. The ``*_line`` helpers say
what a dialog shows before anything is typed, ``no_reward_available`` why a button is
disabled. ``cards.actions`` picks the ones each action uses. After Apply, the message names
the entries written, in the history's words (``cards.history.entries_summary``).

Every phrase is translated on its own (a line is a comma-separated list of them); money is
written in the merchant's currency the active language's way, points and percentages with the
language's decimal separator.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cards import rules
from cards.models import Card
from cards.rules import Balances, Delta
from cards.templatetags.ledger_format import percent
from loyalty.i18n import format_money

RuleSet = Any  # rules.StampRules | rules.CashbackRules
# (deltas, balances before or None, the program's rules, the merchant's currency) -> the line.
Describe = Callable[[list[Delta], Balances | None, RuleSet, str], str]


def _after(deltas: list[Delta], before: Balances) -> Balances:
    return rules.fold(deltas, before)


def _points(value: Decimal) -> str:
    return number_format(value)


def _stamp_balance(deltas: list[Delta], before: Balances | None) -> list[str]:
    if before is None:
        return []
    after = _after(deltas, before).stamps_balance
    # Translators: the card's stamp balance before and after the change, e.g.
    # "balance 7 -> 9 stamps".
    return [
        ngettext(
            "balance %(before)s -> %(after)s stamp", "balance %(before)s -> %(after)s stamps", after
        )
        % {"before": before.stamps_balance, "after": after}
    ]


def _rewards_unlocked(deltas: list[Delta]) -> list[str]:
    unlocked = sum(delta.rewards_earned for delta in deltas)
    if not unlocked:
        return []
    return [
        ngettext("%(count)s reward unlocked", "%(count)s rewards unlocked", unlocked)
        % {"count": unlocked}
    ]


def _stamps_taken_back(deltas: list[Delta]) -> str:
    taken = -sum(delta.stamps_earned for delta in deltas)
    if not taken:
        return _("no stamps taken back")
    return ngettext("%(count)s stamp taken back", "%(count)s stamps taken back", taken) % {
        "count": taken
    }


def _plus_stamps(count: int) -> str:
    return ngettext("+%(count)s stamp", "+%(count)s stamps", count) % {"count": count}


def _minus_stamps(count: int) -> str:
    return ngettext("-%(count)s stamp", "-%(count)s stamps", count) % {"count": count}


def _plus_amount(amount: Decimal, currency: str) -> str:
    # Translators: money added to the card's transaction amount, e.g. "+$12.50 transaction amount".
    return _("+%(amount)s transaction amount") % {"amount": format_money(amount, currency)}


def _minus_amount(amount: Decimal, currency: str) -> str:
    return _("-%(amount)s transaction amount") % {"amount": format_money(abs(amount), currency)}


def describe_stamp_purchase(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    stamps = deltas[0].stamps_earned
    return ", ".join(
        [
            _plus_amount(deltas[0].amount, currency),
            _plus_stamps(stamps) if stamps else _("no stamps"),
            *_stamp_balance(deltas, before),
            *_rewards_unlocked(deltas),
        ]
    )


def describe_stamp_refund(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    return ", ".join(
        [
            _minus_amount(deltas[0].amount, currency),
            _stamps_taken_back(deltas),
            *_stamp_balance(deltas, before),
            _("rewards unchanged"),
        ]
    )


def describe_visits_write_off(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    visits = -deltas[0].visits
    parts = [ngettext("-%(count)s visit", "-%(count)s visits", visits) % {"count": visits}]
    if before is not None:
        # Translators: the card's total visits before and after the change.
        parts.append(
            _("visits %(before)s -> %(after)s")
            % {"before": before.total_visits, "after": _after(deltas, before).total_visits}
        )
    return ", ".join([*parts, _stamps_taken_back(deltas), *_stamp_balance(deltas, before)])


def describe_stamps_added(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    return ", ".join(
        [
            _plus_stamps(deltas[0].stamps_earned),
            *_stamp_balance(deltas, before),
            *_rewards_unlocked(deltas),
        ]
    )


def describe_stamps_removed(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    return ", ".join([_minus_stamps(-deltas[0].stamps_earned), *_stamp_balance(deltas, before)])


def _rewards_parts(delta: Delta, before: Balances | None, headline: str, currency: str) -> str:
    parts = [headline]
    if before is not None:
        after = before.rewards_available + delta.rewards_available
        # Translators: the card's available rewards before and after the change.
        parts.append(
            _("rewards available %(before)s -> %(after)s")
            % {"before": before.rewards_available, "after": after}
        )
    if delta.amount:
        parts.append(_plus_amount(delta.amount, currency))
    parts.append(_("counts as a visit"))
    return ", ".join(parts)


def describe_rewards_added(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    delta = deltas[0]
    count = delta.rewards_earned
    headline = ngettext("+%(count)s reward", "+%(count)s rewards", count) % {"count": count}
    return _rewards_parts(delta, before, headline, currency)


def describe_rewards_redeemed(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    delta = deltas[0]
    count = delta.rewards_redeemed
    headline = ngettext("%(count)s reward redeemed", "%(count)s rewards redeemed", count) % {
        "count": count
    }
    return _rewards_parts(delta, before, headline, currency)


def _points_balance(deltas: list[Delta], before: Balances | None) -> list[str]:
    if before is None:
        return []
    # Translators: the card's points balance before and after the change, e.g.
    # "balance 7.00 -> 9.00 points".
    return [
        _("balance %(before)s -> %(after)s points")
        % {
            "before": _points(before.points_balance),
            "after": _points(_after(deltas, before).points_balance),
        }
    ]


def describe_points_added(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    delta = deltas[0]
    parts = [_("+%(points)s points") % {"points": _points(delta.points)}]
    parts.extend(_points_balance(deltas, before))
    if delta.ltv:
        parts.append(_("LTV +%(amount)s") % {"amount": format_money(delta.ltv, currency)})
    parts.append(_("transaction amount unchanged"))
    return ", ".join(parts)


def describe_points_removed(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    delta = deltas[0]
    return ", ".join(
        [
            _("-%(points)s points") % {"points": _points(abs(delta.points))},
            *_points_balance(deltas, before),
            _("tier unchanged"),
        ]
    )


def describe_cashback_purchase(
    deltas: list[Delta], before: Balances | None, rule_set: RuleSet, currency: str
) -> str:
    delta = deltas[0]
    parts = [
        # Translators: points earned at a cashback percentage, e.g. "+0.60 points at 5 %".
        _("+%(points)s points at %(percentage)s")
        % {"points": _points(delta.points), "percentage": percent(delta.cashback_percentage)},
        *_points_balance(deltas, before),
    ]
    if delta.tier is not None:
        # The purchase itself earned at the old rate; the new one starts with the next.
        parts.append(
            # Translators: the card reaches a cashback tier (its name) and its percentage.
            _("reaches %(tier)s (%(percentage)s from the next purchase)")
            % {"tier": delta.tier.name, "percentage": percent(delta.tier.percentage)}
        )
    elif before is not None:
        after = _after(deltas, before)
        upcoming = rules.next_tier(
            rule_set.tiers, rules.current_tier(rule_set.tiers, after).threshold
        )
        to_next = rules.to_next_tier(rule_set.tiers, after)
        if upcoming is not None and to_next is not None:
            # Translators: money left to spend to reach the next tier (its name).
            parts.append(
                _("%(amount)s more to %(tier)s")
                % {"amount": format_money(to_next, currency), "tier": upcoming.name}
            )
    return ", ".join([_plus_amount(delta.amount, currency), *parts])


def describe_cashback_refund(
    deltas: list[Delta], before: Balances | None, _rules: RuleSet, currency: str
) -> str:
    delta = deltas[0]
    parts = [
        _minus_amount(delta.amount, currency),
        _("-%(points)s points at %(percentage)s")
        % {"points": _points(abs(delta.points)), "percentage": percent(delta.cashback_percentage)},
        *_points_balance(deltas, before),
    ]
    if before is not None and before.tier_name:
        parts.append(_("tier stays %(tier)s") % {"tier": before.tier_name})
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# What a dialog shows before anything is typed: the card's balances it changes


def _amount_line(card: Card) -> str:
    return _("Transaction amount: %(amount)s") % {
        "amount": format_money(card.transaction_amount, card.merchant.currency)
    }


def _stamps_line(card: Card) -> str:
    count = card.stamps_balance
    return ngettext("Balance: %(count)s stamp", "Balance: %(count)s stamps", count) % {
        "count": count
    }


def _stamp_earning_line(card: Card) -> str:
    program = card.program
    if program.mechanism == "visit":
        count = program.stamps_per_visit
        return ngettext(
            "Earns %(count)s stamp per visit", "Earns %(count)s stamps per visit", count
        ) % {"count": count}
    spend = program.spend_per_stamp
    return _("Earns 1 stamp per %(amount)s spent") % {
        "amount": format_money(spend, card.merchant.currency)
    }


def _tier_line(card: Card) -> str:
    # Translators: the card's cashback tier (its name) and percentage, e.g. "Cashback: Gold, 5 %".
    return _("Cashback: %(tier)s, %(percentage)s") % {
        "tier": card.tier_name,
        "percentage": percent(card.cashback_percentage),
    }


def _points_line(card: Card) -> str:
    return _("Balance: %(points)s points") % {"points": _points(card.points_balance)}


def stamp_purchase_lines(card: Card) -> list[str]:
    return [_amount_line(card), _stamps_line(card), _stamp_earning_line(card)]


def stamp_refund_lines(card: Card) -> list[str]:
    return [_amount_line(card), _stamps_line(card)]


def visits_lines(card: Card) -> list[str]:
    return [_("Total visits: %(count)s") % {"count": card.total_visits}, _stamps_line(card)]


def stamps_added_lines(card: Card) -> list[str]:
    count = card.program.stamps_per_reward
    return [
        _stamps_line(card),
        ngettext("%(count)s stamp makes a reward", "%(count)s stamps make a reward", count)
        % {"count": count},
    ]


def stamps_lines(card: Card) -> list[str]:
    return [_stamps_line(card)]


def no_reward_available(card: Card) -> str:
    """Why a reward cannot be redeemed now, or "" when one can."""
    if card.rewards_available > 0:
        return ""
    return _("No reward available yet")


def rewards_lines(card: Card) -> list[str]:
    return [_("Rewards available: %(count)s") % {"count": card.rewards_available}]


def points_lines(card: Card) -> list[str]:
    return [_points_line(card)]


def cashback_purchase_lines(card: Card) -> list[str]:
    return [_amount_line(card), _points_line(card), _tier_line(card)]
