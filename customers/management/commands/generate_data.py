"""Fill the database with generated merchants, customers, cards and ledger histories, fast.

    python3 dev.py manage generate_data --customers 1000000 --entries 10000000

For benchmarks: see ``customers.generator``. Adds to the database and never deletes; a database
that already has merchants is refused unless ``--force``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.generator import GeneratorError, Summary, generate
from loyalty.models import Merchant


class Command(BaseCommand):
    help = (
        "Generate merchants, customers, cards and ledger histories with COPY (a million "
        "customers in minutes). Refuses a database with merchants unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=10_000)
        parser.add_argument(
            "--entries", type=int, default=100_000, help="Ledger entries in all (exactly)."
        )
        parser.add_argument("--merchants", type=int, default=50)
        parser.add_argument("--seed", type=int, default=2026, help="Same seed, same data.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Add alongside the merchants already there (nothing is deleted).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        existing = Merchant.objects.count()
        if existing and not options["force"]:
            raise CommandError(
                f"The database already holds {existing} merchant(s). generate_data adds "
                "generated merchants, customers and ledger histories and never deletes; run it "
                "on an empty database, or pass --force to add them alongside."
            )
        try:
            summary = generate(
                customers=options["customers"],
                entries=options["entries"],
                merchants=options["merchants"],
                seed=options["seed"],
                say=self.stdout.write,
            )
        except GeneratorError as error:
            raise CommandError(str(error)) from None
        self._report(summary)

    def _report(self, summary: Summary) -> None:
        timings = summary.timings
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {summary.merchants:,} merchants, {summary.customers:,} customers, "
                f"{summary.cards:,} cards and {summary.entries:,} ledger entries "
                f"in {timings['total']:.1f} s."
            )
        )
        largest = summary.largest
        if largest is not None:
            team = ", ".join(f"{m.username} ({m.role})" for m in largest.members)
            self.stdout.write(
                f"Largest merchant: {largest.name} ({largest.slug}), "
                f"{summary.largest_customers:,} customers; team: {team}."
            )
        if summary.big_card_serial:
            self.stdout.write(
                f"Biggest card: {summary.big_card_serial}, {summary.big_card_entries:,} entries "
                "(the largest merchant's stamp card)."
            )
        if not summary.fk_triggers_skipped:
            self.stdout.write(
                "Foreign keys were dropped and re-checked (session_replication_role needs a "
                "superuser)."
            )
