"""Rebuild the statistics' daily rollup from the ledger, or check that it matches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.consistency import rollup_differences
from analytics.services import rollup_rebuild
from loyalty.models import Merchant


class Command(BaseCommand):
    help = (
        "Recompute the home page's rollup from the ledger, cards and ratings (after changing a "
        "merchant's time zone, or to repair). --check only compares and exits 1 on a difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", help="the merchant's slug (default: every merchant)")
        parser.add_argument("--check", action="store_true", help="compare, change nothing")

    def handle(self, *args: Any, merchant: str | None, check: bool, **options: Any) -> None:
        merchants = Merchant.objects.order_by("pk")
        if merchant:
            merchants = merchants.filter(slug=merchant)
            if not merchants.exists():
                raise CommandError(f"No merchant with the slug {merchant!r}.")
        differing = 0
        for each in merchants:
            if check:
                differences = rollup_differences(merchant=each)
                for line in differences:
                    self.stdout.write(f"{each.slug}: {line}")
                differing += bool(differences)
            else:
                rollup_rebuild(merchant=each)
                self.stdout.write(f"{each.slug}: rebuilt")
        if differing:
            raise CommandError(
                f"{differing} merchant(s) have a rollup that differs from the ledger."
            )
        if check:
            self.stdout.write("The rollup matches the ledger.")
