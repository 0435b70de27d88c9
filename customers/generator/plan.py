"""The plan: who joins when, which cards they hold, how many entries each card gets.

``plan_build`` decides every customer and card before a row is written, in plain lists of
integers (a million customers fit), with entry counts adding up to exactly what was asked.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from customers.generator.specs import (
    BIG_CARD_ENTRIES,
    CASHBACK,
    DAY,
    HISTORY_DAYS,
    HOUR,
    MINUTE,
    OPERATIONS_PER_DAY,
    STAMP,
    GeneratorError,
)
from customers.generator.tenants import Tenant


@dataclass
class Plan:
    """Customers in the order they joined (their ids follow it) and their cards.

    Card lists are indexed by card number; a customer's cards are numbers
    ``first_card[i]`` up to ``first_card[i + 1]``. Times are "raw": spread evenly over the day;
    the rows squeeze each local day into the shop's opening hours (``rows._opening_hours``).
    """

    merchant: list[int] = field(default_factory=list)  # tenant index per customer
    joined: list[int] = field(default_factory=list)
    first_card: list[int] = field(default_factory=list)
    program: list[int] = field(default_factory=list)  # STAMP or CASHBACK per card
    entries: list[int] = field(default_factory=list)
    issued: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # the last operation comes no later
    online: list[bool] = field(default_factory=list)  # joined from the card page
    number: list[int] = field(default_factory=list)  # card ids are base + number (issue order)
    serial: list[str] = field(default_factory=list)
    referrer: list[int] = field(default_factory=list)  # the card whose link it joined by, or -1
    friend: list[int] = field(default_factory=list)  # the card it referred, or -1
    first_purchase: list[int] = field(default_factory=list)  # referred cards: when (raw)
    deleted: list[bool] = field(default_factory=list)
    big_card: int = -1

    @property
    def customers(self) -> int:
        return len(self.merchant)

    @property
    def cards(self) -> int:
        return len(self.program)


def plan_build(
    *,
    tenants: Sequence[Tenant],
    customers: int,
    entries: int,
    seed: int,
    now: int,
    taken_serials: set[int],
) -> Plan:
    """Decide every customer and card, with entry counts adding up to exactly ``entries``."""
    rng = random.Random(f"plan:{seed}")
    plan = Plan()
    last = now - DAY  # histories end a day ago: opening hours never reach into the future
    minimum = _customers(rng, plan, tenants, merchant_sizes(customers, len(tenants)), now, last)
    _count_entries(rng, plan, entries, minimum, last)
    _end_times(rng, plan, last)
    _number_cards(rng, plan, taken_serials)
    _pair_referrals(rng, plan, minimum)
    rand = rng.random
    plan.deleted = [
        plan.referrer[k] < 0 and plan.friend[k] < 0 and k != plan.big_card and rand() < 0.01
        for k in range(plan.cards)
    ]
    return plan


def merchant_sizes(customers: int, merchants: int) -> list[int]:
    """Half the customers at the first merchant, the rest long-tailed (Zipf) over the others."""
    if merchants <= 1:
        return [customers] * merchants
    first = (customers + 1) // 2
    rest = customers - first
    weights = [1 / rank**1.1 for rank in range(1, merchants)]
    raw = [rest * weight / sum(weights) for weight in weights]
    sizes = [int(value) for value in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: sizes[i] - raw[i])
    for index in by_remainder[: rest - sum(sizes)]:
        sizes[index] += 1
    return [first, *sizes]


def _customers(
    rng: random.Random,
    plan: Plan,
    tenants: Sequence[Tenant],
    sizes: list[int],
    now: int,
    last: int,
) -> list[int]:
    """Who joins when (in that order, over two years), where, with which cards.

    Mostly one card a customer, some with both of their merchant's programs; a bit over half
    joined online. The first merchant's first customer holds the big card, issued at the
    counter. Returns each card's least number of entries: its first, and the welcome bonus of
    a card joined online.
    """
    rand = rng.random
    merchants = [m for m, size in enumerate(sizes) for _ in range(size)]
    rng.shuffle(merchants)  # the merchants' customers join side by side
    if merchants:
        first = merchants.index(0)
        merchants[0], merchants[first] = 0, merchants[0]
    earliest = now - HISTORY_DAYS * DAY
    plan.merchant = merchants
    plan.joined = sorted(earliest + int(rand() * (last - HOUR - earliest)) for _ in merchants)
    if merchants:
        plan.joined[0] = earliest
    welcome = [[program.welcome_bonus > 0 for program in t.spec.programs] for t in tenants]
    program, online, issued, first_card = plan.program, plan.online, plan.issued, plan.first_card
    minimum: list[int] = []
    for customer, (m, joined) in enumerate(zip(merchants, plan.joined, strict=True)):
        first_card.append(len(program))
        primary = STAMP if customer == 0 or rand() < 0.7 else CASHBACK
        joined_online = customer != 0 and rand() < 0.55
        program.append(primary)
        online.append(joined_online)
        issued.append(joined)
        minimum.append(1 + (joined_online and welcome[m][primary]))
        if customer and rand() < 0.12:  # a second card, some time later
            second_online = rand() < 0.3
            program.append(1 - primary)
            online.append(second_online)
            issued.append(joined + HOUR + int(rand() * (last - joined - HOUR)))
            minimum.append(1 + (second_online and welcome[m][1 - primary]))
    first_card.append(len(program))
    return minimum


def _span(entries: int) -> int:
    """The least time a history of ``entries`` spreads over (``OPERATIONS_PER_DAY``)."""
    return min(entries * DAY // OPERATIONS_PER_DAY, (HISTORY_DAYS - 2) * DAY)


def _count_entries(
    rng: random.Random, plan: Plan, entries: int, minimum: list[int], last: int
) -> None:
    """Each card's entry count: a long tail, adding up to exactly ``entries``."""
    counts = list(minimum)
    spare = entries - sum(counts)
    if spare < 0:
        raise GeneratorError(
            f"{entries:,} entries are too few: these customers hold {len(counts):,} cards, "
            f"which need at least {sum(counts):,} (a first entry each, and welcome bonuses)."
        )
    if counts and plan.merchant[0] == 0 and spare >= BIG_CARD_ENTRIES - counts[0]:
        spare -= BIG_CARD_ENTRIES - counts[0]
        counts[0] = BIG_CARD_ENTRIES
        plan.big_card = 0
    windows = [last - issued for issued in plan.issued]
    others = [k for k in range(len(counts)) if k != plan.big_card] or list(range(len(counts)))
    if not others and spare:
        raise GeneratorError(f"{entries:,} entries need at least one customer to hold them.")
    spare -= _long_tail(rng, counts, others, windows, spare)
    _spread(rng, counts, others, windows, spare)
    plan.entries = counts


def _long_tail(
    rng: random.Random, counts: list[int], cards: list[int], windows: list[int], spare: int
) -> int:
    """Give a few cards hundreds of entries and fewer thousands; returns how many were given.

    One card in 10,000 gets 1,000-4,000 and six in 1,000 get 100-1,000 (log-uniform), scaled
    down when they would take more than 45 % of what there is to share; each goes to a card
    issued early enough to spread them out.
    """
    thousands = round(len(cards) * 0.0001)
    hundreds = max(int(len(cards) >= 100), round(len(cards) * 0.006))
    wanted = [math.exp(rng.uniform(math.log(1000), math.log(4000))) for _ in range(thousands)]
    wanted += [math.exp(rng.uniform(math.log(100), math.log(1000))) for _ in range(hundreds)]
    scale = min(1.0, 0.45 * spare / sum(wanted)) if wanted else 1.0
    given, chosen = 0, set()
    for extra in (int(value * scale) for value in wanted):
        for _attempt in range(200):
            k = cards[int(rng.random() * len(cards))]
            if k not in chosen and windows[k] >= _span(counts[k] + extra):
                counts[k] += extra
                given += extra
                chosen.add(k)
                break
    return given


def _spread(
    rng: random.Random, counts: list[int], cards: list[int], windows: list[int], spare: int
) -> None:
    """Share ``spare`` entries over ``cards``, exactly: skewed weights (an exponential draw to
    the power 2.2: most get few, a tail gets dozens), smaller for cards issued in the last two
    months (they had less time)."""
    if not cards:
        return
    rand = rng.random
    recent = 60 * DAY
    # Integer weights: the shares' floors add up to at most ``spare``, short by less than one
    # entry a card, and that remainder goes one by one to randomly chosen cards.
    log = math.log
    weights = [
        1 + int((-log(1.0 - rand())) ** 2.2 * min(windows[k], recent) / recent * 1_000_000)
        for k in cards
    ]
    total = sum(weights)
    given = 0
    for k, weight in zip(cards, weights, strict=True):
        extra = spare * weight // total
        counts[k] += extra
        given += extra
    for k in rng.sample(cards, spare - given):
        counts[k] += 1


def _end_times(rng: random.Random, plan: Plan, last: int) -> None:
    """When each card's last operation comes at the latest: four cards in ten are still in
    use, the others stopped some time after their entries could spread out."""
    rand = rng.random
    plan.ends = ends = [last] * plan.cards
    for k, (issued, entries) in enumerate(zip(plan.issued, plan.entries, strict=True)):
        ready = issued + _span(entries)
        if ready < last and k != plan.big_card and rand() >= 0.4:
            ends[k] = ready + int(rand() * (last - ready))


def _number_cards(rng: random.Random, plan: Plan, taken: set[int]) -> None:
    """Card numbers in the order they were issued, and unique serials that look random.

    ``(number * a + b) mod 10**12`` with ``a`` prime to 10 gives every card its own 12 digits;
    one that a card already in the database has is drawn again (then checked against all).
    """
    order = sorted(range(plan.cards), key=plan.issued.__getitem__)
    plan.number = [0] * plan.cards
    plan.serial = [""] * plan.cards
    space = 10**12
    factor = rng.randrange(10**11, space) // 10 * 10 + rng.choice((1, 3, 7, 9))
    shift = rng.randrange(space)
    mine: set[int] = set()
    for number, k in enumerate(order):
        plan.number[k] = number
        digits = (number * factor + shift) % space
        if taken:
            while digits in taken or digits in mine:
                digits = rng.randrange(space)
            mine.add(digits)
        plan.serial[k] = f"{digits // 10**8:04d}-{digits // 10**4 % 10**4:04d}-{digits % 10**4:04d}"


def _pair_referrals(rng: random.Random, plan: Plan, minimum: list[int]) -> None:
    """About one online joiner in twenty came by an earlier customer's referral link.

    The referrer is a recent card of the same program (the bonus is credited on the friend's
    first purchase, which the plan fixes here). Both cards need an entry to spare for it.
    """
    plan.referrer = [-1] * plan.cards
    plan.friend = [-1] * plan.cards
    plan.first_purchase = [0] * plan.cards
    pools: dict[tuple[int, int], list[int]] = {}
    rand = rng.random
    for customer in range(plan.customers):
        m = plan.merchant[customer]
        k = plan.first_card[customer]
        pool = pools.get((m, plan.program[k]))
        room = plan.ends[k] - plan.issued[k] - 2 * MINUTE
        if pool and plan.online[k] and plan.entries[k] > minimum[k] and room > 0 and rand() < 0.05:
            referrer = pool.pop(len(pool) - 1 - rng.randrange(min(5, len(pool))))
            if plan.issued[referrer] < plan.issued[k]:
                plan.referrer[k] = referrer
                plan.friend[referrer] = k
                plan.first_purchase[k] = plan.issued[k] + MINUTE + int(rand() * min(room, 7 * DAY))
        for card in range(k, plan.first_card[customer + 1]):
            spare = plan.entries[card] > minimum[card]
            if spare and card != plan.big_card and plan.referrer[card] < 0:
                pool = pools.setdefault((m, plan.program[card]), [])
                pool.append(card)
                if len(pool) > 5:  # only recent customers refer
                    del pool[0]
