"""Recompute RFM segments now, for every merchant or one (the nightly task does the same)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.segments import segments_recompute
from loyalty.models import Merchant


class Command(BaseCommand):
    help = "Recompute every customer's RFM segment in this process; prints who moved."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", help="Only this merchant (slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        merchants = Merchant.objects.order_by("pk")
        if options["merchant"]:
            merchants = merchants.filter(slug=options["merchant"])
            if not merchants.exists():
                raise CommandError(f"No merchant with the slug {options['merchant']!r}.")
        for merchant in merchants:
            moved = segments_recompute(merchant=merchant)
            self.stdout.write(f"{merchant.slug}: {moved} customer{'s' * (moved != 1)} moved")
