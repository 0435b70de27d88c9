"""Recompute every card from its ledger and report any aggregate that disagrees, and any entry
that no action of the card's kind could have written.

Set-based: for each run of 50,000 cards one SQL statement folds their entries and returns only
the cards that disagree (``cards.selectors.ledger_disagreeing_card_ids``); the Python fold
(``ledger_differences``, ``foreign_entry_kinds``) then explains just those, line by line. Both
read one snapshot, so a purchase committed meanwhile cannot make them disagree.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from cards.models import Card
from cards.selectors import (
    card_ranges,
    cards_with_entries,
    foreign_entry_kinds,
    ledger_differences,
    ledger_disagreeing_card_ids,
)

CARDS_PER_STATEMENT = 50_000


@contextlib.contextmanager
def one_snapshot() -> Iterator[None]:
    """A read-only, repeatable-read transaction: every query inside sees the same data.

    Inside a transaction the caller opened (a test's), that transaction is used as it is.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        # Read only as well: checking must never be able to change what it checks.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


class Command(BaseCommand):
    help = (
        "Recompute every card's balances from its ledger entries; exit 1 on any difference. "
        "Progress goes to stderr with -v 2 or on a terminal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", type=int, help="Only this merchant's cards (id).")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant_id = options["merchant"] or None
        cards = Card.objects.all()
        if merchant_id is not None:
            cards = cards.filter(merchant_id=merchant_id)
        show_progress = options["verbosity"] >= 2 or self.stderr.isatty()
        total = cards.count() if show_progress else 0
        checked = broken = 0
        for card_range in card_ranges(cards, size=CARDS_PER_STATEMENT):
            with one_snapshot():
                ids = ledger_disagreeing_card_ids(
                    low=card_range.low, high=card_range.high, merchant_id=merchant_id
                )
                broken += self.explain(ids)
            checked += card_range.count
            if show_progress:
                self.stderr.write(f"{checked} of {total} cards checked, {broken} disagree")
        if broken:
            raise CommandError(f"{broken} of {checked} cards disagree with their ledger.")
        self.stdout.write(self.style.SUCCESS(f"{checked} cards match their ledger."))

    def explain(self, ids: list[int]) -> int:
        """Write what is wrong with each card the SQL flagged; return how many there were."""
        for card, entries in cards_with_entries(Card.objects.filter(pk__in=ids)):
            lines = [
                f"card {card.serial}: {name} is {stored}, the ledger says {expected}"
                for name, stored, expected in ledger_differences(card, entries)
            ]
            lines += [
                f"card {card.serial}: holds {kind} entries, "
                f"which no action of a {card.program.kind} card writes"
                for kind in foreign_entry_kinds(card, entries)
            ]
            if not lines:
                # The SQL and the Python fold must agree (a test holds them to it); should they
                # not, the card is still reported rather than passed over.
                lines = [
                    f"card {card.serial}: the SQL check flags it but the fold of its entries "
                    "finds no difference (a fault in verify_ledger itself)"
                ]
            for line in lines:
                self.stdout.write(line)
        return len(ids)
