"""The customer import of N rows, timed: the upload, the preview's check and the apply.

The product promises 100,000 rows checked in under 30 s and applied in under 2 minutes.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/loyalty \\
    REDIS_URL=redis://127.0.0.1:6379/9 \\
    .venv/bin/python bench/import_customers.py [--rows 100000] [--existing 100000] \\
        [--profile] [--keep] [--reuse]

or ``python3 dev.py bench import_customers [options]``.

Creates a scratch database next to DATABASE_URL's (``<name>_importbench``; dropped at the end
unless ``--keep``), loads one merchant with ``--existing`` customers holding a card of its stamp
program (bench/crm_data.py), gives the merchant a second stamp program to import into (so the
customers on file the file names get a new card rather than being skipped), and writes a CSV of
``--rows`` rows as a merchant's former loyalty tool would export it:

- 10% customers on file, found by their email (a quarter of them in other letter case);
- 2% invalid: a malformed email, negative stamps or a last visit in the future, in turn;
- 1% repeating an earlier row's email: half an exact copy of the row (skipped), half another
  person with the same email (invalid);
- the rest new customers: unique emails, a valid US phone for half of them (mostly their own,
  2% of all rows one of the shop's ten numbers), a birthday for most, balances, a former card
  number for most, dates in ISO or US form.

It then times, in this process, what the dashboard and the worker do:

1. the upload (``import_upload``: the file read, its rows staged, the mapping guessed);
2. the check, i.e. the preview's validation (``import_map`` with the check run inline, as it
   is for a small file; the worker runs the same ``_check`` for a large one);
3. the apply (``import_apply_request``, then the worker's ``import_apply``);
4. ``verify_ledger`` for the merchant (crm_data writes its cards' visits without ledger
   entries, so those cards disagree by design: the bench says how many flagged cards are
   imported ones), then the same file uploaded, checked and applied once more, which must
   create nothing.

Nothing is queued: the worker's steps run here, and the segment recompute the apply queues is
run and timed on its own. Figures are reported, never asserted. ``--profile`` runs the check a
second time under cProfile and prints the functions that take its time. ``--reuse`` keeps a
kept database's customers; each run imports into a program of its own with fresh emails.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import datetime
import io
import pstats
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any
from unittest import mock

import phonenumbers
from django.core.management import call_command
from django.core.management.base import CommandError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import crm_data

if TYPE_CHECKING:
    from cards.models import Program
    from customers.models import ImportJob
    from loyalty.models import Merchant

HEADER = [
    "First name", "Last name", "Email", "Phone", "Birthday", "Stamps", "Rewards", "Visits",
    "Total spent", "Card number", "Last visit",
]  # fmt: skip
MATCHED_SHARE = 0.10
INVALID_SHARE = 0.02
DUPLICATE_SHARE = 0.01
# Area codes in service: a phone the import refuses would count as an invalid row.
AREA_CODES = (201, 212, 213, 305, 312, 404, 415, 503, 512, 602, 617, 646, 702, 718, 805, 919)
PHONE_FORMATS = ("+1 {a} {e} {n}", "({a}) {e}-{n}", "{a}.{e}.{n}", "+1{a}{e}{n}")
SEED = 20_250_301
TOP_FUNCTIONS = 25
NUMBERS = re.compile(r"%\(\w+\)s|\d+(?:-\d+)*")


def main() -> None:
    args = _arguments()
    with crm_data.scratch_database("importbench", keep=args.keep, reuse=args.reuse) as reused:
        # Project modules load only now: models need Django's app registry.
        from customers.imports import services

        merchant = _merchant(args.customers, reused)
        base, program, run = _programs(merchant)
        with TemporaryDirectory() as folder, _worker_in_process(services):
            path = Path(folder) / "customers.csv"
            _write_file(path, args.rows, _emails_on_file(base, args.rows), run)
            print(f"\ncustomer import of {args.rows:,} rows into a merchant with ", end="")
            print(f"{args.customers:,} customers on file, {_size(path)} CSV")
            _measure(services, merchant, program, path, profile=args.profile)
            _after(services, merchant, program, path)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    crm_data.add_scratch_arguments(parser)
    # --existing says what --customers means here; both set the same number.
    parser.add_argument("--existing", dest="customers", type=int, help="customers on file")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the imported file")
    parser.add_argument("--profile", action="store_true", help="profile the check")
    parser.set_defaults(customers=100_000)
    return parser.parse_args()


def _merchant(customers: int, reused: bool) -> Merchant:
    # Late: project modules load only after the scratch database set Django up.
    from loyalty.models import Merchant

    if reused:
        # A kept database also holds what earlier runs imported: crm_data's count check would
        # refuse it.
        return Merchant.objects.get(slug=crm_data.SLUG)
    merchant: Merchant = crm_data.load(customers)
    return merchant


def _programs(merchant: Merchant) -> tuple[Program, Program, str]:
    """crm_data's stamp program (every customer on file holds its card), a new stamp program
    to import into, and a tag that keeps this run's emails and card numbers its own."""
    # Late: project modules load only after the scratch database set Django up.
    from cards.models import Program
    from customers.models import ImportJob

    base = Program.objects.filter(merchant=merchant).order_by("pk").first()
    if base is None:
        raise SystemExit("The scratch merchant has no program.")
    run = f"r{ImportJob.objects.filter(merchant=merchant).count()}"
    program = Program.objects.create(
        merchant=merchant, name=f"Imported stamps {run}", kind="stamp", spend_per_stamp=10
    )
    return base, program, run


@contextlib.contextmanager
def _worker_in_process(services: Any) -> Iterator[None]:
    """The check runs inline whatever the file's size, and nothing goes to the broker: the
    bench calls the worker's steps itself, so they can be timed. The apply's ANALYZE (in its
    transaction) is timed with it; the tasks it queues are not queued (the segment recompute
    is timed on its own)."""
    with (
        mock.patch.object(services, "INLINE_CHECK_ROWS", sys.maxsize),
        mock.patch.object(services, "_queue"),
        mock.patch("customers.tasks.recompute_merchant_segments.delay"),
        mock.patch("customers.tasks.send_import_links.delay"),
    ):
        yield


# ---------------------------------------------------------------------------------------------
# The file


def _emails_on_file(base: Program, rows: int) -> list[str]:
    """Emails of random customers on file: the file's rows that match them."""
    # Late: project modules load only after the scratch database set Django up.
    from customers.models import Customer

    wanted = round(rows * MATCHED_SHARE)
    emails = (
        Customer.objects.filter(cards__program=base)
        .exclude(email="")
        .order_by("?")
        .values_list("email", flat=True)[:wanted]
    )
    return list(emails)


class Phones:
    """Valid US numbers, written the several ways people write them: half the rows have none,
    most others a number of their own, and a few share the shop's few numbers (typed in for
    walk-in customers who gave none), as real customer lists do."""

    NONE, SHARED = 0.5, 0.02

    def __init__(self, generator: random.Random) -> None:
        self.generator = generator
        # Exchange 555 holds the fictional numbers; the others are valid in these areas.
        self.prefixes = [
            (area, exchange)
            for area in AREA_CODES
            for exchange in range(200, 1000)
            if exchange != 555 and _valid(f"+1{area}{exchange}4321")
        ]
        self.shared = [self._own() for _ in range(10)]

    def draw(self) -> str:
        draw = self.generator.random()
        if draw < self.NONE:
            return ""
        return self.generator.choice(self.shared) if draw < self.NONE + self.SHARED else self._own()

    def _own(self) -> str:
        area, exchange = self.generator.choice(self.prefixes)
        number = f"{self.generator.randint(0, 9999):04d}"
        return self.generator.choice(PHONE_FORMATS).format(a=area, e=exchange, n=number)


def _valid(number: str) -> bool:
    return bool(phonenumbers.is_valid_number(phonenumbers.parse(number)))


def _day(day: datetime.date, generator: random.Random) -> str:
    # A quarter in the US order a US merchant's spreadsheet writes, the rest in ISO form.
    return day.strftime("%m/%d/%Y") if generator.random() < 0.25 else day.isoformat()


def _row(index: int, generator: random.Random, email: str, phone: str, run: str) -> list[str]:
    today = datetime.date.today()
    first, last = generator.choice(crm_data.FIRST_NAMES), generator.choice(crm_data.LAST_NAMES)
    birthday = ""
    if generator.random() < 0.7:
        birthday = _day(
            datetime.date(1950, 1, 1) + datetime.timedelta(generator.randint(0, 20000)), generator
        )
    visits = generator.randint(0, 60)
    last_visit = ""
    if visits:
        last_visit = _day(today - datetime.timedelta(days=generator.randint(1, 700)), generator)
    card_number = f"{run.upper()}-{index:07d}" if generator.random() < 0.6 else ""
    return [
        first,
        last,
        email or f"{first}.{last}.{run}.{index}@example.org".lower(),
        phone,
        birthday,
        str(generator.randint(0, 25)),
        str(generator.randint(0, 3)),
        str(visits),
        f"{generator.randint(0, 200_000) / 100:.2f}",
        card_number,
        last_visit,
    ]


def _spoiled(row: list[str], turn: int) -> list[str]:
    """An invalid row: a malformed email, negative stamps or a last visit in the future."""
    spoiled = list(row)
    if turn % 3 == 0:
        spoiled[2] = spoiled[2].replace("@", " at ")
    elif turn % 3 == 1:
        spoiled[5] = "-3"
    else:
        spoiled[10] = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    return spoiled


def _kinds(rows: int, matched: int, generator: random.Random) -> list[str]:
    invalid, duplicate = round(rows * INVALID_SHARE), round(rows * DUPLICATE_SHARE)
    kinds = ["matched"] * matched + ["invalid"] * invalid + ["duplicate"] * duplicate
    kinds += ["new"] * (rows - len(kinds))
    generator.shuffle(kinds)
    return kinds


def _write_file(path: Path, rows: int, on_file: list[str], run: str) -> None:
    # The run's tag in the seed: a kept database's earlier imports must not share its phones.
    generator = random.Random(f"{SEED}-{run}")
    phones = Phones(generator)
    kinds = _kinds(rows, len(on_file), generator)
    matched = iter(on_file)
    earlier: list[list[str]] = []
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for index, kind in enumerate(kinds):
            phone = phones.draw()
            if kind == "duplicate" and earlier:
                writer.writerow(_duplicate(generator, earlier, index))
                continue
            email = next(matched) if kind == "matched" else ""
            if kind == "matched" and index % 4 == 0:
                email = email.upper()
            row = _row(index, generator, email, phone, run)
            if kind == "invalid":
                row = _spoiled(row, index)
            elif kind == "new":
                earlier.append(row)
            writer.writerow(row)


def _duplicate(generator: random.Random, earlier: list[list[str]], index: int) -> list[str]:
    """An earlier row again: as it was (skipped), or someone else with its email (invalid)."""
    row = list(generator.choice(earlier))
    if index % 2:
        row[0] = "Other" + row[0].lower()
        row[9] = ""
    return row


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024 / 1024:.1f} MB"


# ---------------------------------------------------------------------------------------------
# The measurements


def _measure(
    services: Any, merchant: Merchant, program: Program, path: Path, *, profile: bool
) -> None:
    job, upload = _upload(services, merchant, program, path)
    rows = job.rows_total
    _report("upload (read + stage)", upload, rows)
    job, check = _check(services, job)
    _report("check (the preview)", check, rows, promise=30)
    previewed = _counts(job)
    if profile:
        job = _profiled_check(services, job)
    job, apply = _apply(services, job)
    _report("apply", apply, rows, promise=120)
    if _counts(job) != previewed:
        # The apply runs the preview's very check: its counts should be the preview's.
        print(f"{'':24} the apply's counts differ from the preview's")


def _report(label: str, seconds: float, rows: int, promise: float | None = None) -> None:
    against = f"   (promised under {promise:.0f} s)" if promise else ""
    print(f"{label:24} {seconds:7.2f} s {rows / seconds:>9,.0f} rows/s{against}")


def _counts(job: ImportJob) -> tuple[int, int, int, int]:
    """Print the job's counts and its problems by reason; return the counts."""
    # Late: project modules load only after the scratch database set Django up.
    from customers.models import ImportProblem

    counts = (job.new_customers, job.matched_customers, job.skipped_rows, job.invalid_rows)
    print(f"{'':24} new {counts[0]:,}, matched {counts[1]:,}, ", end="")
    print(f"skipped {counts[2]:,}, invalid {counts[3]:,}")
    reasons = ImportProblem.objects.filter(job=job).values_list("kind", "reason")
    # Row numbers and card serials (or their placeholders) masked: one line per kind of reason.
    tally = Counter((kind, NUMBERS.sub("#", reason)) for kind, reason in reasons.iterator())
    for (kind, reason), count in sorted(tally.items()):
        print(f"{'':28} {count:>7,} {kind}: {reason}")
    return counts


def _upload(
    services: Any, merchant: Merchant, program: Program, path: Path
) -> tuple[ImportJob, float]:
    started = time.perf_counter()
    with path.open("rb") as file:
        job = services.import_upload(
            merchant=merchant,
            program=program,
            file=file,
            name=path.name,
            size=path.stat().st_size,
            actor=None,
        )
    return job, time.perf_counter() - started


def _check(services: Any, job: ImportJob) -> tuple[ImportJob, float]:
    started = time.perf_counter()
    job = services.import_map(job=job, mapping=job.mapping, actor=None)
    return job, time.perf_counter() - started


def _apply(services: Any, job: ImportJob) -> tuple[ImportJob, float]:
    # Late: project modules load only after the scratch database set Django up.
    from customers.models import ImportJob

    started = time.perf_counter()
    services.import_apply_request(job=job, actor=None)
    if not services.import_apply(job_id=job.pk):
        raise SystemExit(f"The apply did not run: {ImportJob.objects.get(pk=job.pk).failure}")
    seconds = time.perf_counter() - started
    return ImportJob.objects.get(pk=job.pk), seconds


def _profiled_check(services: Any, job: ImportJob) -> ImportJob:
    """The check once more under cProfile (a checked job can be checked again)."""
    profiler = cProfile.Profile()
    profiler.enable()
    job, seconds = _check(services, job)
    profiler.disable()
    print(f"\nthe check under cProfile: {seconds:.2f} s (the profiler slows it down)")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("cumulative").print_stats(TOP_FUNCTIONS)
    stats.sort_stats("tottime").print_stats(TOP_FUNCTIONS)
    return job


def _after(services: Any, merchant: Merchant, program: Program, path: Path) -> None:
    """The segments the apply moves, the ledger's check, and the same file imported again."""
    # Late: project modules load only after the scratch database set Django up.
    from cards.models import Card
    from customers.models import Customer
    from customers.segments import segments_recompute

    started = time.perf_counter()
    moved = segments_recompute(merchant=merchant)
    seconds = time.perf_counter() - started
    print(f"{'segments (queued after)':24} {seconds:7.2f} s {moved:>9,} customers moved")
    _verify(merchant, program)
    customers = Customer.objects.filter(merchant=merchant).count()
    cards = Card.objects.filter(program=program).count()
    started = time.perf_counter()
    job, upload = _upload(services, merchant, program, path)
    job, check = _check(services, job)
    job, apply = _apply(services, job)
    total = time.perf_counter() - started
    print(f"\nthe same file again     {total:7.2f} s: upload {upload:.2f} s, ", end="")
    print(f"check {check:.2f} s, apply {apply:.2f} s")
    _counts(job)
    added = Customer.objects.filter(merchant=merchant).count() - customers
    issued = Card.objects.filter(program=program).count() - cards
    print(f"{'':24} customers added {added:,}, cards issued {issued:,}")


def _verify(merchant: Merchant, program: Program) -> None:
    """verify_ledger for the merchant, and which of the cards it flags the import wrote."""
    output = io.StringIO()
    started = time.perf_counter()
    try:
        call_command("verify_ledger", merchant=merchant.pk, stdout=output)
    except CommandError as error:
        output.write(f"{error}\n")
    seconds = time.perf_counter() - started
    lines = output.getvalue().strip().splitlines()
    print(f"{'verify_ledger':24} {seconds:7.2f} s {lines[-1] if lines else ''}")
    if len(lines) > 1:
        _flagged_imports(lines, program)


def _flagged_imports(lines: list[str], program: Program) -> None:
    # crm_data writes its cards' visits without ledger entries (a loading shortcut), so those
    # cards disagree by design; what matters here is the imported cards.
    from cards.models import Card

    imported = set(Card.objects.filter(program=program).values_list("serial", flat=True))
    flagged = [line for line in lines[:-1] if line.split(":")[0].removeprefix("card ") in imported]
    cards = {line.split(":")[0] for line in flagged}
    print(f"{'':24} of them imported cards: {len(cards):,} of {len(imported):,}")
    for line in flagged[:10]:
        print(f"{'':28} {line}")


if __name__ == "__main__":
    main()
