"""generate_data: exact sizes, histories every action could have written, the CRM columns the
services would have left, the same indexes afterwards, the same rows from the same seed."""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, Max, Sum

from analytics.consistency import rollup_differences
from analytics.models import DailyTotals, VisitDays
from cards import rules
from cards.actions import ACTIONS
from cards.models import Card, Device, LedgerEntry, Program
from cards.rules import Kind
from cards.services.ledger import request_fingerprint
from cards.services.lifecycle import INSTALLABLE_DEVICES
from customers.generator import generate
from customers.generator.cashback_fold import _taken
from customers.generator.columns import money
from customers.generator.load import indexes_dropped
from customers.generator.plan import plan_build
from customers.generator.rows import DigestSink, rows_write
from customers.generator.specs import merchant_specs
from customers.generator.tenants import Tenant
from customers.models import Customer, Segment, SegmentChange
from loyalty.models import Membership, Merchant, Role
from loyalty.phones import normalize_phone
from tests.factories import CustomerFactory, MerchantFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db

SIZES = {"customers": 300, "entries": 4_000, "merchants": 6, "seed": 7}
TABLES = ["cards_ledgerentry", "cards_card", "customers_customer"]


def _generate(**options: Any) -> str:
    out = StringIO()
    call_command("generate_data", **{**SIZES, **options}, stdout=out)
    return out.getvalue()


def _verify_ledger() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    return out.getvalue()


def _schema() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The indexes and constraints of the tables the generator loads, as PostgreSQL has them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE tablename = ANY(%s) ORDER BY 1, 2",
            [TABLES],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), "
            "condeferrable, condeferred, convalidated FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
            [TABLES],
        )
        return indexes, cursor.fetchall()


# ---------------------------------------------------------------------------------------------
# Refusal and --force


def test_refuses_a_database_that_has_merchants_without_force() -> None:
    MerchantFactory()
    with pytest.raises(CommandError, match="already holds 1 merchant"):
        _generate()
    assert Merchant.objects.count() == 1
    assert not Customer.objects.exists()


def test_force_adds_alongside_and_deletes_nothing() -> None:
    merchant = MerchantFactory()
    program = StampProgramFactory(merchant=merchant)
    card = issue_card(program, CustomerFactory(merchant=merchant))
    before = list(LedgerEntry.objects.values_list("pk", "kind", "card_id"))

    _generate(force=True)

    assert Merchant.objects.count() == 1 + SIZES["merchants"]
    assert Customer.objects.exclude(merchant=merchant).count() == SIZES["customers"]
    assert LedgerEntry.objects.exclude(merchant=merchant).count() == SIZES["entries"]
    assert (
        list(LedgerEntry.objects.filter(merchant=merchant).values_list("pk", "kind", "card_id"))
        == before
    )
    assert Card.objects.get(pk=card.pk).serial == card.serial
    assert "match their ledger" in _verify_ledger()


def test_too_few_entries_for_the_cards_is_an_error_and_writes_nothing() -> None:
    with pytest.raises(CommandError, match="too few"):
        _generate(customers=100, entries=50)
    assert not Merchant.objects.exists()


# ---------------------------------------------------------------------------------------------
# One generated database, looked at from every side


@pytest.fixture
def generated() -> str:
    return _generate()


def test_counts_are_exact_and_the_first_merchant_holds_half(generated: str) -> None:
    assert Merchant.objects.count() == SIZES["merchants"]
    assert Customer.objects.count() == SIZES["customers"]
    assert LedgerEntry.objects.count() == SIZES["entries"]
    first = Merchant.objects.order_by("pk").first()
    assert Customer.objects.filter(merchant=first).count() == SIZES["customers"] // 2
    sizes = sorted(
        Customer.objects.values("merchant").annotate(n=Count("id")).values_list("n", flat=True)
    )
    assert sizes[-1] > 3 * sizes[0]
    assert f"{SIZES['entries']:,} ledger entries" in generated


def test_the_ledger_verifies(generated: str) -> None:
    assert "300 customers" in generated
    assert f"{Card.objects.count()} cards match their ledger" in _verify_ledger()


def test_every_entry_is_what_its_action_computes(generated: str) -> None:
    """Replays every operation through ``cards.rules`` (the services' own rules) and compares
    the deltas, the request hash, the keys, the actors and the times with the entries."""
    staff = defaultdict(set)
    for merchant_id, user_id, role in Membership.objects.values_list("merchant", "user", "role"):
        if role != Role.OWNER:
            staff[merchant_id].add(user_id)
    cards = Card.objects.select_related("program").prefetch_related("program__tiers")
    entries = defaultdict(list)
    for entry in LedgerEntry.objects.order_by("created_at", "id"):
        entries[entry.card_id].append(entry)
    operations = 0
    for card in cards:
        operations += _replay(card, entries[card.pk], staff[card.merchant_id])
    assert operations > SIZES["entries"] * 0.9


def _replay(card: Card, entries: list[LedgerEntry], staff: set[int]) -> int:
    program = card.program
    rule_set = program.rule_set()
    balances = rules.Balances()
    operations = _operations(entries)
    previous: datetime.datetime | None = None
    for index, operation in enumerate(operations):
        first = operation[0]
        assert [e.sequence for e in operation] == list(range(len(operation)))
        assert len({e.created_at for e in operation}) == 1  # one operation, one moment
        assert previous is None or first.created_at > previous
        previous = first.created_at
        assert (index == 0) == (first.kind == Kind.CARD_ISSUED)
        expected, fingerprint = _expected(card, program, rule_set, balances, first)
        assert [e.delta() for e in operation] == expected, (card.serial, first.kind)
        assert {e.request_hash for e in operation} == {fingerprint}, (card.serial, first.kind)
        _check_who(card, first, staff)
        for delta in expected:
            balances = rules.apply(balances, delta)
    return len(operations)


def _operations(entries: list[LedgerEntry]) -> list[list[LedgerEntry]]:
    operations: list[list[LedgerEntry]] = []
    for entry in entries:
        if operations and operations[-1][0].operation_key == entry.operation_key:
            operations[-1].append(entry)
        else:
            operations.append([entry])
    return operations


def _expected(
    card: Card, program: Program, rule_set: Any, balances: rules.Balances, entry: LedgerEntry
) -> tuple[list[rules.Delta], str]:
    """The deltas and request hash the services write for the action behind ``entry``."""
    if entry.kind == Kind.CARD_ISSUED:
        return [rules.issue_delta(rule_set)], request_fingerprint("card_issued")
    if entry.kind in (Kind.WELCOME_BONUS, Kind.REFERRAL_BONUS):
        bonus = (
            program.welcome_bonus if entry.kind == Kind.WELCOME_BONUS else program.referral_bonus
        )
        if program.is_stamp:
            deltas = rules.stamp_bonus(balances, rule_set, stamps=int(bonus), kind=entry.kind)
        else:
            deltas = rules.cashback_bonus(balances, rule_set, points=bonus, kind=entry.kind)
        return deltas, request_fingerprint(entry.kind)
    name, value, purchase = _action_inputs(entry)
    action = ACTIONS[(program.kind, name)]
    data = {"value": value, "purchase_amount": purchase}
    fingerprint = request_fingerprint(
        name, {**action.canonical_inputs(data), "comment": entry.comment}
    )
    return action.compute(balances, rule_set, data), fingerprint


def _action_inputs(entry: LedgerEntry) -> tuple[str, str, str]:
    """The dialog behind a staff entry and what was typed (the purchase field left empty where
    it may be)."""
    typed = "" if entry.purchase_amount is None else str(entry.purchase_amount)
    inputs: dict[str, tuple[str, str, str]] = {
        Kind.PURCHASE: ("transaction_amount_add", typed, ""),
        Kind.REFUND: ("transaction_amount_subtract", typed, ""),
        Kind.STAMPS_ADDED: ("stamps_add", str(entry.stamps_earned_delta), ""),
        Kind.STAMPS_REMOVED: ("stamps_subtract", str(-entry.stamps_delta), ""),
        Kind.REWARDS_ADDED: ("rewards_add", str(entry.rewards_earned_delta), typed),
        Kind.REWARDS_REDEEMED: ("rewards_subtract", str(entry.rewards_redeemed_delta), typed),
        Kind.POINTS_ADDED: ("points_add", str(entry.points_delta), typed),
        Kind.POINTS_REMOVED: ("points_subtract", str(-entry.points_delta), typed),
        Kind.VISITS_WRITE_OFF: ("visits_write_off", str(-entry.visits_delta), ""),
    }
    return inputs[entry.kind]


def _check_who(card: Card, entry: LedgerEntry, staff: set[int]) -> None:
    key = entry.operation_key
    if entry.kind == Kind.CARD_ISSUED:
        assert key == f"issue:{card.pk}"
        assert entry.actor_id in staff if entry.source == "dashboard" else entry.actor_id is None
    elif entry.kind == Kind.WELCOME_BONUS:
        assert (key, entry.source, entry.actor_id) == (f"welcome:{card.pk}", "system", None)
    elif entry.kind == Kind.REFERRAL_BONUS:
        friend = Card.objects.get(pk=entry.referred_card_id)
        assert (key, entry.source, entry.actor_id) == (f"referral:{friend.pk}", "referral", None)
        assert friend.referred_by_id == card.pk
        assert friend.program_id == card.program_id
        assert friend.customer_id != card.customer_id
        first_purchase = friend.entries.filter(purchase_amount__gt=0).order_by("created_at")[0]
        assert first_purchase.kind == Kind.PURCHASE
        assert entry.created_at <= first_purchase.created_at
    else:
        assert ":" not in key
        assert len(key) == 32
        assert entry.source == "dashboard"
        assert entry.actor_id in staff


def test_histories_have_a_long_tail_and_every_kind(generated: str) -> None:
    counts = sorted(Card.objects.annotate(n=Count("entries")).values_list("n", flat=True))
    assert counts[0] >= 1
    assert statistics.median(counts) <= 10
    assert counts[-1] >= 100
    # Every kind a card's life here writes; an opening balance comes only from an import, a
    # reversal only from a manager's correction (seed_demo writes a few through the service).
    assert set(LedgerEntry.objects.values_list("kind", flat=True)) == set(Kind.values) - {
        Kind.IMPORTED,
        Kind.REVERSAL,
    }
    # Some customers hold both of their merchant's programs.
    assert Customer.objects.annotate(n=Count("cards")).filter(n=2).exists()


def test_customer_columns_are_what_the_services_leave(generated: str) -> None:
    """customer_record_activity after every write of the customer's cards, in time order."""
    cards = {
        row["customer"]: row
        for row in Card.objects.values("customer").annotate(
            visits=Sum("total_visits"), last_visit=Max("last_visit_at")
        )
    }
    last_entry = dict(
        LedgerEntry.objects.values("card__customer")
        .annotate(last=Max("created_at"))
        .values_list("card__customer", "last")
    )
    for customer in Customer.objects.select_related("merchant"):
        assert customer.total_visits == cards[customer.pk]["visits"]
        assert customer.last_visit_at == cards[customer.pk]["last_visit"]
        assert customer.last_activity_at == last_entry[customer.pk]
        assert customer.created_at < customer.cards.order_by("issued_at")[0].issued_at
        if customer.phone:
            assert (
                normalize_phone(customer.phone, region=customer.merchant.country) == customer.phone
            )


def test_installed_cards_are_on_one_kind_of_device_and_some_on_two(generated: str) -> None:
    cards = Card.objects.values_list("status", "devices", "installed_at")
    installed = [devices for status, devices, at in cards if at is not None]
    assert all(devices == [] for status, devices, at in cards if at is None)
    assert all(1 <= len(devices) <= 2 for devices in installed)
    assert all(len(set(devices)) == len(devices) for devices in installed)
    assert {kind for devices in installed for kind in devices} == set(INSTALLABLE_DEVICES)
    two = sum(len(devices) == 2 for devices in installed)
    assert 0 < two < len(installed) / 4
    # The CRM's device filter reads what the COPY wrote.
    pwa = Card.objects.filter(devices__contains=[Device.PWA]).count()
    assert pwa == sum(Device.PWA in devices for devices in installed)


def test_segments_are_computed(generated: str) -> None:
    assert not Customer.objects.filter(total_visits__gt=0, segment=Segment.NO_VISITS).exists()
    assert Customer.objects.filter(total_visits=0).exists()
    assert len(set(Customer.objects.values_list("segment", flat=True))) >= 4
    assert SegmentChange.objects.exists()


def test_the_statistics_rollup_is_built_and_equals_the_ledger(generated: str) -> None:
    assert DailyTotals.objects.exists()
    assert VisitDays.objects.exists()
    for merchant in Merchant.objects.all():
        assert rollup_differences(merchant=merchant) == [], merchant.slug


# ---------------------------------------------------------------------------------------------
# The big card, the indexes, the seed


def test_the_largest_merchants_stamp_card_gets_exactly_ten_thousand_entries() -> None:
    out = _generate(customers=60, entries=12_500, merchants=2)
    first = Merchant.objects.order_by("pk").first()
    card = (
        Card.objects.filter(merchant=first, program__kind="stamp")
        .annotate(n=Count("entries"))
        .order_by("-n")
        .first()
    )
    assert card.n == 10_000
    assert f"Biggest card: {card.serial}, 10,000 entries" in out
    assert LedgerEntry.objects.count() == 12_500
    assert "match their ledger" in _verify_ledger()


def test_indexes_and_constraints_are_the_same_after_a_run() -> None:
    before = _schema()
    _generate()
    assert _schema() == before


def test_without_the_replica_role_foreign_keys_are_dropped_and_re_checked() -> None:
    before = _schema()
    summary = generate(**SIZES, skip_fk_triggers=False)
    assert not summary.fk_triggers_skipped
    assert _schema() == before
    assert LedgerEntry.objects.count() == SIZES["entries"]
    assert "match their ledger" in _verify_ledger()


def test_a_load_that_fails_leaves_indexes_rows_and_merchants_as_they_were() -> None:
    before = _schema()

    def fail_before_the_indexes_come_back(text: str) -> None:
        if "re-creating the indexes" in text:
            assert _schema() != before  # they were dropped for the load
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        generate(**SIZES, say=fail_before_the_indexes_come_back)
    assert _schema() == before
    assert not Merchant.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_indexes_dropped_restores_them_when_the_transaction_rolls_back() -> None:
    before = _schema()
    with (
        pytest.raises(RuntimeError),
        transaction.atomic(),
        connection.cursor() as cursor,
        indexes_dropped(cursor, TABLES, foreign_keys=True) as dropped,
    ):
        raise RuntimeError("copy failed")
    assert {item.name for item in dropped} >= {"ledger_idempotency", "ledger_card_newest"}
    assert _schema() == before


def _digest(seed: int) -> dict[str, str]:
    specs = merchant_specs(count=4, seed=seed, taken=lambda slug: False)
    tenants = [
        Tenant(spec, index + 1, (2 * index + 1, 2 * index + 2), (10 * index + 1,))
        for index, spec in enumerate(specs)
    ]
    now = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
    plan = plan_build(
        tenants=tenants,
        customers=200,
        entries=3_000,
        seed=seed,
        now=int(now.timestamp() * 1_000_000),
        taken_serials=set(),
    )
    sink = DigestSink()
    written = rows_write(
        tenants=tenants,
        plan=plan,
        now=now,
        customer_base=1,
        card_base=1,
        seed=seed,
        sink=sink,
        token=lambda: "token",  # unguessable by default; fixed to compare the rest
    )
    assert written == 3_000
    return sink.hexdigests()


def test_the_same_seed_writes_the_same_rows_and_another_seed_others() -> None:
    first = _digest(seed=11)
    assert _digest(seed=11) == first
    other = _digest(seed=12)
    assert all(other[table] != first[table] for table in first)


def test_the_tokens_are_unguessable_and_unique(generated: str) -> None:
    tokens = list(Card.objects.values_list("install_token", "referral_token"))
    flat = [token for pair in tokens for token in pair]
    assert len(set(flat)) == len(flat)
    assert all(len(token) == 32 for token in flat)


def test_money_formats_match_the_columns() -> None:
    assert money(0) == "0.00"
    assert money(5) == "0.05"
    assert money(-1250) == "-12.50"
    assert money(123_456_789) == "1234567.89"
    assert Decimal(money(199_999)) == Decimal("1999.99")
    assert _taken(0) == "0.00"
