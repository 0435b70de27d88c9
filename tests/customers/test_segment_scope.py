"""A segment is the customer's, from the visits of all their cards: wherever it is shown
beside a card, the page says how many cards it covers, so "Total visits 1" on one card next to
"Champions" reads as it is. The grid's bands read the same on the Segments page and in the
Settings preview."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from cards.models import Card, Program
from customers.models import Segment
from customers.segments import SegmentBands, segment_grid
from loyalty.models import Merchant
from tests.factories import CustomerFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db


def champion_with_cards(program: Program, count: int) -> list[Card]:
    customer = CustomerFactory(merchant=program.merchant, total_visits=9, segment=Segment.CHAMPIONS)
    first = issue_card(program, customer)
    others = [
        issue_card(StampProgramFactory(merchant=program.merchant), customer)
        for _ in range(count - 1)
    ]
    return [first, *others]


def segment_metric(html: str) -> str:
    found = re.search(r'<dd data-metric="segment"[^>]*>(.*?)</dd>', html, re.S)
    assert found is not None
    return " ".join(found.group(1).split())


def test_the_profile_says_the_segment_covers_all_the_customers_cards(
    staff_client: Client, stamp_program: Program
) -> None:
    cards = champion_with_cards(stamp_program, 2)
    html = staff_client.get(reverse("cards:profile", args=[cards[0].serial])).text
    assert segment_metric(html) == "Champions, across 2 cards"


def test_with_one_card_the_profile_says_so_in_the_singular(
    staff_client: Client, stamp_program: Program
) -> None:
    (card,) = champion_with_cards(stamp_program, 1)
    html = staff_client.get(reverse("cards:profile", args=[card.serial])).text
    assert segment_metric(html) == "Champions, across 1 card"


def test_the_list_says_how_many_cards_a_segment_covers_when_there_are_several(
    staff_client: Client, stamp_program: Program
) -> None:
    several = champion_with_cards(stamp_program, 3)[0].customer
    one = champion_with_cards(stamp_program, 1)[0].customer
    html = staff_client.get(reverse("customers:list")).text
    row_of_several = html[html.index(f'data-customer="{several.pk}"') :]
    row_of_one = html[html.index(f'data-customer="{one.pk}"') :]
    assert "across 3 cards" in row_of_several[: row_of_several.index("</tr>")]
    assert "data-segment-scope" not in row_of_one[: row_of_one.index("</tr>")]


def _headers(html: str, table: str) -> list[str]:
    start = html.index(table)
    grid = html[start : html.index("</table>", start)]
    return [
        " ".join(cell.split()) for cell in re.findall(r"<th scope=\"(?:col|row)\">(.*?)</th>", grid)
    ]


def test_the_segments_page_and_the_settings_preview_name_the_bands_alike(
    owner_client: Client, merchant: Merchant
) -> None:
    page = owner_client.get(reverse("customers:segments")).text
    preview = owner_client.get(reverse("settings:segments")).text
    page_headers = _headers(page, '<table class="segment-grid">')
    preview_headers = _headers(preview, '<table class="segment-grid" data-preview>')
    assert page_headers == preview_headers
    assert "1–3 visits" in page_headers  # no visit at all is "No visits", outside the grid
    assert "0–30 days" in page_headers


def test_the_grid_starts_its_visit_bands_at_one_visit() -> None:
    grid = segment_grid(SegmentBands(recency=(10, 20, 40), frequency=(2, 5)))
    assert grid.frequency == ("1–2 visits", "3–5 visits", "6+ visits")
    assert [label for label, _cells in grid.rows] == ["0–10 days", "11–20 days", "21–40 days"]
    assert grid.rows[0][1] == (Segment.BEGINNERS, Segment.GROWING, Segment.CHAMPIONS)
    assert grid.lost_after == 40
