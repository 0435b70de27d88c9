"""Recompute every card from its ledger and report any aggregate that disagrees, and any entry
that no action of the card's kind could have written."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cards.models import Card
from cards.selectors import cards_with_entries, foreign_entry_kinds, ledger_differences


class Command(BaseCommand):
    help = "Recompute every card's balances from its ledger entries; exit 1 on any difference."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", type=int, help="Only this merchant's cards (id).")

    def handle(self, *args: Any, **options: Any) -> None:
        cards = Card.objects.all()
        if options["merchant"]:
            cards = cards.filter(merchant_id=options["merchant"])
        checked = broken = 0
        for card, entries in cards_with_entries(cards):
            checked += 1
            differences = ledger_differences(card, entries)
            foreign = foreign_entry_kinds(card, entries)
            if differences or foreign:
                broken += 1
            for name, stored, expected in differences:
                self.stdout.write(
                    f"card {card.serial}: {name} is {stored}, the ledger says {expected}"
                )
            for kind in foreign:
                self.stdout.write(
                    f"card {card.serial}: holds {kind} entries, "
                    f"which no action of a {card.program.kind} card writes"
                )
        if broken:
            raise CommandError(f"{broken} of {checked} cards disagree with their ledger.")
        self.stdout.write(self.style.SUCCESS(f"{checked} cards match their ledger."))
