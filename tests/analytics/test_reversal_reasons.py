"""The home page's "Top reasons for reversals": reversals of the period counted by reason.

Reversals are written through the real services (an entry, then ``entry_reverse`` with the
reason typed) with the clock stopped at given moments; the page is asked for "today" = 15 June
2025, noon UTC.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.periods import Period
from analytics.selectors import ReversalReasons, reversal_reasons
from cards import services
from cards.models import Card, Program
from loyalty import clock
from loyalty.models import Merchant
from tests.factories import (
    CashbackProgramFactory,
    MerchantFactory,
    StampProgramFactory,
    issue_card,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 6, 15, 12, 0, tzinfo=datetime.UTC)
TODAY = NOW.date()
LAST_30_DAYS = Period(preset="30d", start=TODAY - datetime.timedelta(days=29), end=TODAY)
HOSTILE = '<script>alert("x")</script>'
FORMULA = '=HYPERLINK("http://evil.example")'


def reverse_one(
    card: Card, reason: str, *, when: datetime.datetime = NOW, purchase: bool = False
) -> None:
    """An entry on ``card`` (a purchase, or two stamps added by hand), reversed for ``reason``."""
    with clock.frozen_at(when):
        if purchase:
            written = services.card_add_transaction_amount(
                card=card, value="10.00", actor=None, confirm_repeat=True
            )
        else:
            written = services.card_add_stamps(card=card, value=2, actor=None, confirm_repeat=True)
        services.entry_reverse(
            card=card, entry=written.entries[0], reason=reason, actor=None, role="owner"
        )


def counted(reasons: ReversalReasons) -> list[tuple[str, int]]:
    return [(reason.label, reason.count) for reason in reasons.reasons]


def reasons_of(
    merchant: Merchant, *, program: Program | None = None, period: Period = LAST_30_DAYS
) -> ReversalReasons:
    return reversal_reasons(merchant=merchant, program=program, period=period)


@pytest.fixture
def stamps(merchant: Merchant) -> Program:
    return StampProgramFactory(merchant=merchant, referral_bonus=0)


def issued(program: Program) -> Card:
    """A card issued well before any period asked for."""
    with clock.frozen_at(NOW - datetime.timedelta(days=60)):
        return issue_card(program)


@pytest.fixture
def card(stamps: Program) -> Card:
    return issued(stamps)


def get(client: Client, path: str = "/", **params: Any) -> Any:
    with clock.frozen_at(NOW):
        return client.get(path, params)


def panel(response: Any) -> str:
    content = response.content.decode()
    start = content.index('data-chart="reversal_reasons"')
    return content[start : content.index("</article>", start)]


def csv_lines(response: Any) -> list[str]:
    return b"".join(response.streaming_content).decode("utf-8").splitlines()


# ---------------------------------------------------------------------------------------------
# Counting


def test_reasons_are_grouped_whatever_their_case_and_spacing(
    merchant: Merchant, card: Card
) -> None:
    for reason in ("Wrong card", "  wrong   CARD ", "Wrong card", "wrong\tcard", "Wrong amount"):
        reverse_one(card, reason)

    reasons = reasons_of(merchant)

    assert counted(reasons) == [("Wrong card", 4), ("Wrong amount", 1)]
    assert reasons.total == 5
    assert [reason.share for reason in reasons.reasons] == [Decimal("80.0"), Decimal("20.0")]


def test_a_reason_is_shown_as_most_often_typed_or_else_as_first_typed(
    merchant: Merchant, card: Card
) -> None:
    for reason in ("Added by mistake", "added by mistake", "added  by mistake"):
        reverse_one(card, reason)
    for reason in ("entered twice", "Entered twice"):
        reverse_one(card, reason)

    assert counted(reasons_of(merchant)) == [("added by mistake", 3), ("entered twice", 2)]


def test_the_five_most_common_reasons_are_listed_and_the_rest_is_other(
    merchant: Merchant, card: Card
) -> None:
    # Ties rank alphabetically, so the five shown do not change from one request to the next.
    for reason, times in (("G", 1), ("F", 1), ("E", 1), ("D", 2), ("C", 2), ("B", 3), ("A", 3)):
        for _ in range(times):
            reverse_one(card, reason)

    reasons = reasons_of(merchant)

    assert counted(reasons) == [("A", 3), ("B", 3), ("C", 2), ("D", 2), ("E", 1), ("Other", 2)]
    assert [reason.other for reason in reasons.reasons] == [False] * 5 + [True]
    assert reasons.total == 13
    assert reasons.reasons[0].share == Decimal("23.1")  # 3 / 13
    assert reasons.reasons[-1].share == Decimal("15.4")  # 2 / 13


def test_no_other_when_there_are_five_reasons_or_fewer(merchant: Merchant, card: Card) -> None:
    for reason in ("A", "B", "C", "D", "E"):
        reverse_one(card, reason)

    assert [reason.label for reason in reasons_of(merchant).reasons] == ["A", "B", "C", "D", "E"]


def test_each_reason_says_how_many_of_its_reversals_undid_a_purchase(
    merchant: Merchant, card: Card
) -> None:
    reverse_one(card, "Wrong amount", purchase=True)
    reverse_one(card, "Wrong amount", purchase=True)
    reverse_one(card, "Wrong amount")
    reverse_one(card, "Wrong card")

    reasons = reasons_of(merchant).reasons

    assert [(reason.label, reason.purchases) for reason in reasons] == [
        ("Wrong amount", 2),
        ("Wrong card", 0),
    ]


def test_only_reversals_of_the_period_count(merchant: Merchant, card: Card) -> None:
    reverse_one(card, "Today", when=NOW)
    reverse_one(card, "Last week", when=NOW - datetime.timedelta(days=6))
    reverse_one(card, "Long ago", when=NOW - datetime.timedelta(days=30))

    last_7_days = Period(preset="7d", start=TODAY - datetime.timedelta(days=6), end=TODAY)
    today = Period(preset="today", start=TODAY, end=TODAY)
    assert counted(reasons_of(merchant, period=last_7_days)) == [("Last week", 1), ("Today", 1)]
    assert counted(reasons_of(merchant, period=today)) == [("Today", 1)]
    assert reasons_of(merchant).total == 2  # 30 days ago is the day before the last 30


def test_a_reversal_counts_on_the_merchants_local_day() -> None:
    merchant = MerchantFactory(time_zone="Europe/Berlin")
    card = issued(StampProgramFactory(merchant=merchant))
    # 23:59 on 14 June and 00:30 on 15 June in Berlin (UTC+2 in summer).
    reverse_one(card, "Late", when=datetime.datetime(2025, 6, 14, 21, 59, tzinfo=datetime.UTC))
    reverse_one(card, "Early", when=datetime.datetime(2025, 6, 14, 22, 30, tzinfo=datetime.UTC))

    june_14 = Period(
        preset="custom", start=datetime.date(2025, 6, 14), end=datetime.date(2025, 6, 14)
    )
    june_15 = Period(preset="custom", start=TODAY, end=TODAY)
    assert counted(reasons_of(merchant, period=june_14)) == [("Late", 1)]
    assert counted(reasons_of(merchant, period=june_15)) == [("Early", 1)]


def test_the_program_filter_counts_that_programs_reversals_only(
    merchant: Merchant, stamps: Program, card: Card
) -> None:
    cashback = CashbackProgramFactory(merchant=merchant, referral_bonus=0)
    cashback_card = issued(cashback)
    reverse_one(card, "Wrong card")
    reverse_one(cashback_card, "Wrong card", purchase=True)
    reverse_one(cashback_card, "Wrong amount", purchase=True)

    assert counted(reasons_of(merchant, program=stamps)) == [("Wrong card", 1)]
    assert counted(reasons_of(merchant, program=cashback)) == [
        ("Wrong amount", 1),
        ("Wrong card", 1),
    ]
    assert counted(reasons_of(merchant)) == [("Wrong card", 2), ("Wrong amount", 1)]


def test_another_merchants_reversals_are_never_counted(
    merchant: Merchant, other_merchant: Merchant, card: Card
) -> None:
    theirs = issued(StampProgramFactory(merchant=other_merchant))
    reverse_one(card, "Wrong card")
    reverse_one(theirs, "Wrong card")
    reverse_one(theirs, "Their own reason")

    assert counted(reasons_of(merchant)) == [("Wrong card", 1)]
    assert counted(reasons_of(other_merchant)) == [("Their own reason", 1), ("Wrong card", 1)]


def test_a_period_without_reversals_counts_none(merchant: Merchant, card: Card) -> None:
    with clock.frozen_at(NOW):
        services.card_add_stamps(card=card, value=2, actor=None)

    assert reasons_of(merchant) == ReversalReasons(reasons=[], total=0)


# ---------------------------------------------------------------------------------------------
# One query, on the reversals' own index


def test_the_reasons_are_read_in_one_query_whatever_the_history(
    merchant: Merchant, card: Card, django_assert_num_queries: Any
) -> None:
    for day in range(20):
        reverse_one(card, f"Reason {day % 8}", when=NOW - datetime.timedelta(days=day))

    with django_assert_num_queries(1):
        reasons = reasons_of(merchant)
    assert reasons.total == 20


@pytest.mark.parametrize("filtered", [False, True])
def test_the_reasons_are_read_through_the_partial_index_of_reversals(
    merchant: Merchant, stamps: Program, card: Card, filtered: bool
) -> None:
    reverse_one(card, "Wrong card")
    with CaptureQueriesContext(connection) as captured:
        reasons_of(merchant, program=stamps if filtered else None)
    (query,) = captured.captured_queries

    with connection.cursor() as cursor:
        # A handful of rows is cheapest to scan; what matters is that the index can serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ledger_merchant_reversals" in plan


# ---------------------------------------------------------------------------------------------
# The page and the download


@pytest.fixture
def reversed_entries(card: Card) -> None:
    reverse_one(card, "Wrong card", purchase=True)
    reverse_one(card, "wrong card")
    reverse_one(card, "Entered twice", when=NOW - datetime.timedelta(days=3))


def test_the_panel_shows_each_reason_with_its_count_and_share_and_the_total(
    owner_client: Client, reversed_entries: None
) -> None:
    html = panel(get(owner_client))

    assert 'data-chart-total data-value="3">3 reversals</span>' in html
    assert 'role="img"' in html
    assert html.count('<rect class="bar"') == 2
    assert ">2 · 66.7 %</text>" in html
    assert (
        '<tr><th scope="row">Wrong card</th><td data-label="Reversals">2</td>'
        '<td data-label="Share">66.7 %</td><td data-label="Of purchases">1</td></tr>'
    ) in html
    assert (
        '<tr><th scope="row">Entered twice</th><td data-label="Reversals">1</td>'
        '<td data-label="Share">33.3 %</td><td data-label="Of purchases">0</td></tr>'
    ) in html
    assert '<table class="stack">' in html  # four columns: stacked rows on a phone
    assert 'href="/statistics/reversal-reasons.csv"' in html
    assert "data-chart-empty" not in html


def test_the_panel_follows_the_period_and_the_program(
    owner_client: Client, merchant: Merchant, stamps: Program, reversed_entries: None
) -> None:
    other = StampProgramFactory(merchant=merchant, name="Tea Stamp Card")

    today = panel(get(owner_client, period="today"))
    assert 'data-value="2">2 reversals' in today
    assert "Entered twice" not in today
    assert 'data-value="3"' in panel(get(owner_client, program=str(stamps.pk)))
    elsewhere = panel(get(owner_client, program=str(other.pk)))
    assert 'data-value="0">0 reversals' in elsewhere
    assert f"program={other.pk}" in elsewhere  # the download keeps the filter


def test_a_period_without_reversals_shows_the_empty_state(owner_client: Client, card: Card) -> None:
    html = panel(get(owner_client))

    assert '<p class="chart-empty" data-chart-empty>No reversals in this period.</p>' in html
    assert 'data-chart-total data-value="0">0 reversals</span>' in html
    assert "data-chart-svg" not in html
    assert "data-chart-numbers" not in html  # no empty table to open
    assert "Download CSV" in html


def test_a_hostile_reason_is_escaped_in_the_picture_and_the_table(
    owner_client: Client, card: Card
) -> None:
    reverse_one(card, HOSTILE)

    response = get(owner_client)

    assert HOSTILE not in response.content.decode()
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    html = panel(response)
    assert re.search(rf'<text class="row-label"[^>]*>{re.escape(escaped)}</text>', html)
    assert f'<th scope="row">{escaped}</th>' in html
    assert f'<desc id="chart-reversal_reasons-desc">Top reasons for reversals: {escaped} 1.' in html


def test_the_reasons_download_as_csv_for_the_same_filter(
    owner_client: Client, reversed_entries: None
) -> None:
    response = get(owner_client, reverse("analytics:reversal_reasons_csv"))

    assert response.status_code == 200
    start, end = LAST_30_DAYS.start.isoformat(), TODAY.isoformat()
    disposition = f'attachment; filename="reversal-reasons-{start}-{end}.csv"'
    assert response["Content-Disposition"] == disposition
    assert csv_lines(response) == [
        '"Reason","Reversals","Share"',
        '"Wrong card",2,66.7',
        '"Entered twice",1,33.3',
    ]
    today = get(owner_client, reverse("analytics:reversal_reasons_csv"), period="today")
    assert csv_lines(today)[1:] == ['"Wrong card",2,100.0']


def test_a_reason_cannot_run_as_a_formula_in_the_download(owner_client: Client, card: Card) -> None:
    reverse_one(card, FORMULA)
    reverse_one(card, HOSTILE)

    lines = csv_lines(get(owner_client, reverse("analytics:reversal_reasons_csv")))

    assert '"\'=HYPERLINK(""http://evil.example"")",1,50.0' in lines
    assert '"<script>alert(""x"")</script>",1,50.0' in lines


def test_a_period_without_reversals_downloads_the_header_only(
    owner_client: Client, card: Card
) -> None:
    lines = csv_lines(get(owner_client, reverse("analytics:reversal_reasons_csv")))

    assert lines == ['"Reason","Reversals","Share"']


def test_staff_cannot_download_the_reasons(staff_client: Client, reversed_entries: None) -> None:
    assert get(staff_client, reverse("analytics:reversal_reasons_csv")).status_code == 403


def test_another_merchants_owner_sees_none_of_the_reasons(
    outsider_client: Client, reversed_entries: None
) -> None:
    response = get(outsider_client)

    assert 'data-value="0">0 reversals' in panel(response)
    assert "Wrong card" not in response.content.decode()
    lines = csv_lines(get(outsider_client, reverse("analytics:reversal_reasons_csv")))
    assert lines == ['"Reason","Reversals","Share"']
