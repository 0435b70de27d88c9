"""Automatic messages' text: the placeholders a merchant may write and how they are filled.

A text such as "Happy birthday {first_name}! You have {balance}." is stored as typed and
filled per card when its message is created (the profile's Send push tab shows what was sent).
Only the names below are replaced, in one pass: a customer's name cannot smuggle in a
placeholder, and braces the merchant typed for another reason stay as they are.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cards.models import Card, Program
from loyalty.i18n import format_money
from loyalty.models import Merchant
from pushes.models import MESSAGE_MAX_LENGTH, Trigger

# Name -> what it becomes (the form's help lists them).
PLACEHOLDERS = {
    "first_name": gettext_lazy("the customer's first name"),
    "balance": gettext_lazy("the card's balance: stamps, or cashback in your currency"),
    "rewards": gettext_lazy("the rewards ready to redeem"),
    "expiry": gettext_lazy("the card's expiration date"),
}
_WRITTEN = re.compile(r"\{([a-z_]+)\}")

# The kinds that wait a number of days, with the range a merchant may pick.
DAYS_RANGE = {Trigger.EXPIRING: (1, 90), Trigger.LAPSED: (7, 365)}
DEFAULT_DAYS = {Trigger.EXPIRING: 7, Trigger.LAPSED: 30}


def default_texts() -> dict[str, str]:
    """A starting text per kind, in the active language (a merchant edits it before turning
    the message on)."""
    return {
        Trigger.REWARD_READY: _("{first_name}, your reward is ready! Show your card next time."),
        Trigger.EXPIRING: _("{first_name}, your card expires on {expiry}. Come by before then!"),
        Trigger.BIRTHDAY: _("Happy birthday, {first_name}! Treat yourself: you have {balance}."),
        Trigger.LAPSED: _("We miss you, {first_name}! Your card still holds {balance}."),
    }


def check_placeholders(body: str) -> None:
    """Refuses a text naming a placeholder that does not exist (a typo would reach customers
    as "{frist_name}")."""
    unknown = sorted({name for name in _WRITTEN.findall(body) if name not in PLACEHOLDERS})
    if unknown:
        raise ValidationError(
            _("Unknown placeholder %(names)s. Use %(known)s.")
            % {
                "names": ", ".join(f"{{{name}}}" for name in unknown),
                "known": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
            }
        )


@dataclass(frozen=True)
class Values:
    """What the placeholders become for one card."""

    first_name: str
    balance: str
    rewards: str
    expiry: str


def card_values(card: Card) -> Values:
    """The card's values, written in its merchant's language (the language of the text)."""
    merchant, program = card.merchant, card.program
    with translation.override(merchant.language):
        first = card.customer.first_name if card.customer else card.holder_name.split(" ")[0]
        return Values(
            first_name=first,
            balance=_balance(program, merchant, card),
            rewards=str(card.rewards_available),
            expiry=formats.date_format(card.expires_on, "DATE_FORMAT") if card.expires_on else "",
        )


def _balance(program: Program, merchant: Merchant, card: Card) -> str:
    if program.is_cashback:
        return format_money(card.points_balance, merchant.currency, language=merchant.language)
    count = card.stamps_balance
    return ngettext("%(count)d stamp", "%(count)d stamps", count) % {"count": count}


def sample_values(program: Program) -> Values:
    """Made-up values for the preview, shaped like the program's cards."""
    merchant = program.merchant
    with translation.override(merchant.language):
        if program.is_cashback:
            balance = format_money(12, merchant.currency, language=merchant.language)
        else:
            count = max(program.stamps_per_reward - 2, 1)
            balance = ngettext("%(count)d stamp", "%(count)d stamps", count) % {"count": count}
        # Translators: the first name the automatic messages' preview fills in.
        first_name = _("Alex")
        in_a_week = timezone.localdate(timezone=merchant.tz) + datetime.timedelta(days=7)
        expiry = formats.date_format(in_a_week, "DATE_FORMAT")
        return Values(first_name=first_name, balance=balance, rewards="1", expiry=expiry)


def fill(body: str, values: Values) -> str:
    """The text with its placeholders replaced, cut to what one push may carry."""
    # One pass: what a placeholder becomes is never read again for placeholders.
    text = _WRITTEN.sub(
        lambda found: getattr(values, found[1]) if found[1] in PLACEHOLDERS else found[0], body
    )
    return text[:MESSAGE_MAX_LENGTH]


def triggers_of(program: Program) -> list[Trigger]:
    """The kinds a program offers: a cashback card has no rewards to announce."""
    if program.is_cashback:
        return [Trigger.EXPIRING, Trigger.BIRTHDAY, Trigger.LAPSED]
    return list(Trigger)
