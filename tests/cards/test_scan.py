"""The counter: the scanner page reads a code (serial, install link, former number) and opens the
card's counter view, which shows the balances and the buttons of the counter's actions."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cards import services
from cards.models import Card, Program
from cards.selectors import ScanOutcome, card_for_scan
from customers.services import customer_remove
from loyalty import clock
from loyalty.models import Merchant
from tests.factories import CustomerFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db

SCAN = reverse("scan")


def counter_url(card: Card) -> str:
    return reverse("cards:counter", args=[card.serial])


def scan(client: Client, code: str) -> Any:
    return client.get(SCAN, {"code": code})


def metric(page: str, key: str) -> str:
    """The data-value of the metric ``key`` (exactly one on the page)."""
    found = re.findall(rf'data-metric="{key}" data-value="([^"]*)"', page)
    assert len(found) == 1, f"{key}: {found}"
    return found[0]


def actions(page: str) -> list[str]:
    """The counter's buttons, in order (the data-action of every dialog link)."""
    return re.findall(r'href="/cards/[^"]+/dialogs/[^"]+" [^>]*data-action="([a-z_]+)"', page)


def counter_page(client: Client, card: Card) -> str:
    response = client.get(counter_url(card))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def others_card(other_merchant: Merchant) -> Card:
    program = StampProgramFactory(merchant=other_merchant, name="Bakery Stamp Card")
    customer = CustomerFactory(merchant=other_merchant, first_name="Bernadette", last_name="Baker")
    return issue_card(program, customer)


# ---------------------------------------------------------------------------------------------
# The scanner


def test_the_scanner_page_has_the_camera_and_a_form_that_works_without_it(
    staff_client: Client,
) -> None:
    response = staff_client.get(SCAN)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<video" in page
    assert "js/scanner.js" in page
    assert "vendor/jsQR-1.4.0.js" in page  # loaded by scanner.js only where needed
    assert "css/counter.css" in page
    form = re.search(r'<form method="get" action="/scan/".*?</form>', page, re.S)
    assert form is not None
    field = re.search(r"<input [^>]*name=\"code\"[^>]*>", form.group(0))
    assert field is not None
    assert "autofocus" in field.group(0)
    assert 'autocomplete="off"' in field.group(0)
    assert "data-scan-outcome" not in page
    assert 'aria-current="page" data-nav="scan"' in page


@pytest.mark.parametrize("shape", ["dashes", "digits", "spaces", "scanner keys"])
def test_a_serial_with_or_without_dashes_opens_the_counter_view(
    staff_client: Client, stamp_card: Card, shape: str
) -> None:
    code = {
        "dashes": stamp_card.serial,
        "digits": stamp_card.serial.replace("-", ""),
        "spaces": f"  {stamp_card.serial} ",
        # What some barcode scanners send around the code.
        "scanner keys": f"\x02{stamp_card.serial}\r",
    }[shape]
    response = scan(staff_client, code)
    assert response.status_code == 302
    assert response["Location"] == counter_url(stamp_card)


def test_the_install_link_of_a_card_opens_it_whatever_the_host(
    staff_client: Client, stamp_card: Card
) -> None:
    token = stamp_card.install_token
    for link in (
        f"https://loyalty.example.com/c/{token}/",
        f"http://127.0.0.1:8000/c/{token}/",
        f"https://shop.example/loyalty/c/{token}/installed/?utm_source=qr#top",
        f"/c/{token}/",
    ):
        response = scan(staff_client, link)
        assert response.status_code == 302, link
        assert response["Location"] == counter_url(stamp_card)


def test_a_former_card_number_opens_the_card_it_became(
    staff_client: Client, stamp_card: Card
) -> None:
    Card.objects.filter(pk=stamp_card.pk).update(external_number="Paper-0042")
    response = scan(staff_client, "paper-0042")
    assert response.status_code == 302
    assert response["Location"] == counter_url(stamp_card)


def test_this_merchants_serial_comes_before_a_former_number_that_looks_like_one(
    merchant: Merchant, stamp_program: Program, stamp_card: Card
) -> None:
    imported = issue_card(stamp_program)
    Card.objects.filter(pk=imported.pk).update(external_number=stamp_card.serial)
    assert card_for_scan(merchant=merchant, text=stamp_card.serial).card == stamp_card


def test_a_former_number_that_looks_like_another_merchants_serial_opens_ours(
    merchant: Merchant, stamp_card: Card, others_card: Card
) -> None:
    Card.objects.filter(pk=stamp_card.pk).update(external_number=others_card.serial)
    result = card_for_scan(merchant=merchant, text=others_card.serial)
    assert result.found
    assert result.card == stamp_card


def test_another_merchants_card_is_named_as_such_and_nothing_of_it_shows(
    staff_client: Client, merchant: Merchant, others_card: Card
) -> None:
    for code in (others_card.serial, f"https://elsewhere.example/c/{others_card.install_token}/"):
        response = scan(staff_client, code)
        assert response.status_code == 200
        page = response.content.decode()
        assert 'data-scan-outcome="other_merchant"' in page
        assert "This card belongs to another business" in page
        # Nothing the code did not already say: no name, no program, no link to the card, and
        # no serial when the code was a link.
        for secret in ("Bernadette", "Baker", "Bakery", "/cards/"):
            assert secret not in page
        if code != others_card.serial:
            assert others_card.serial not in page
        result = card_for_scan(merchant=merchant, text=code)
        assert result.outcome == ScanOutcome.OTHER_MERCHANT
        assert result.card is None


def test_another_merchants_former_number_is_simply_unknown(
    merchant: Merchant, others_card: Card
) -> None:
    # Two businesses may have used the same numbers on their paper cards.
    Card.objects.filter(pk=others_card.pk).update(external_number="PAPER-7")
    assert card_for_scan(merchant=merchant, text="PAPER-7").outcome == ScanOutcome.UNKNOWN


def test_a_deleted_card_is_explained_on_the_scanner(
    staff_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    response = scan(staff_client, stamp_card.serial)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-scan-outcome="deleted"' in page
    assert f"Card {stamp_card.serial} was deleted on" in page
    assert "it no longer works" in page


def test_an_old_link_of_a_card_is_explained_not_opened(
    staff_client: Client, stamp_card: Card
) -> None:
    old = stamp_card.install_token
    services.card_rotate_link(card=stamp_card, actor=None, reason=services.LinkRotation.DASHBOARD)
    response = scan(staff_client, f"https://loyalty.example.com/c/{old}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-scan-outcome="link_replaced"' in page
    assert f"This is an old link of card {stamp_card.serial}" in page


@pytest.mark.parametrize(
    "code",
    [
        "hello",
        "0000-0000-0000",
        "1234-5678-90",
        "https://example.com/join/abc/",
        "https://example.com/c/no-such-token/",
        "mailto:someone@example.com",
        "x" * 2000,
        "48\x0021",
    ],
)
def test_anything_else_is_unknown_and_the_field_keeps_it(
    staff_client: Client, stamp_card: Card, code: str
) -> None:
    response = scan(staff_client, code)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-scan-outcome="unknown"' in page
    assert "No card matches this code" in page
    if code.isprintable():
        assert f'value="{html.escape(code)}"' in page


def test_an_empty_code_is_just_the_scanner(staff_client: Client) -> None:
    response = scan(staff_client, "   ")
    assert response.status_code == 200
    assert "data-scan-outcome" not in response.content.decode()


def test_a_code_that_looks_like_html_is_shown_as_text(staff_client: Client) -> None:
    code = '"><script>alert(1)</script>'
    page = scan(staff_client, code).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


@pytest.mark.parametrize("client_name", ["owner_client", "admin_client_", "staff_client"])
def test_every_member_can_scan(client_name: str, stamp_card: Card, request: Any) -> None:
    client = request.getfixturevalue(client_name)
    assert scan(client, stamp_card.serial)["Location"] == counter_url(stamp_card)
    assert client.get(counter_url(stamp_card)).status_code == 200


def test_signed_out_visitors_are_sent_to_log_in(client: Client, stamp_card: Card) -> None:
    for url in (f"{SCAN}?code={stamp_card.serial}", counter_url(stamp_card)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_a_lookup_costs_the_same_few_queries_whatever_the_code(
    staff_client: Client, stamp_card: Card, others_card: Card
) -> None:
    staff_client.get(SCAN)  # the session and the user are warm alike for every request below
    with CaptureQueriesContext(connection) as plain:
        staff_client.get(SCAN)
    base = len(plain)
    Card.objects.filter(pk=stamp_card.pk).update(external_number="PAPER-1")
    one_query = [
        stamp_card.serial,
        stamp_card.serial.replace("-", ""),
        "PAPER-1",
        "not a code",
        others_card.serial,
        f"https://x.example/c/{stamp_card.install_token}/",
    ]
    for code in one_query:
        with CaptureQueriesContext(connection) as captured:
            scan(staff_client, code)
        assert len(captured) == base + 1, code
    # Only a token that is no live link looks among the replaced ones.
    with CaptureQueriesContext(connection) as captured:
        scan(staff_client, "https://x.example/c/unknown-token/")
    assert len(captured) == base + 2


# ---------------------------------------------------------------------------------------------
# The counter view


def test_a_stamp_cards_counter_view_shows_the_balances_and_its_actions(
    staff_client: Client, stamp_program: Program, staff: Any
) -> None:
    ann = CustomerFactory(merchant=stamp_program.merchant, first_name="Ann", last_name="Lee")
    card = issue_card(stamp_program, ann)
    services.card_add_transaction_amount(card=card, value="125", actor=staff)
    page = counter_page(staff_client, card)

    assert "Ann Lee" in page
    assert metric(page, "stamps_balance") == "2"
    assert re.search(r'data-metric="stamps_balance" data-value="2">2 <small[^>]*>of 10<', page)
    assert metric(page, "rewards_available") == "1"
    assert metric(page, "last_visit_at") != ""
    assert metric(page, "expires_at") == ""
    assert actions(page) == [
        "transaction_amount_add",
        "rewards_subtract",
        "stamps_add",
        "stamps_subtract",
    ]
    assert "Add transaction amount" in page
    assert "Redeem rewards" in page
    dialog = reverse("cards:dialog", args=[card.serial, "stamps_add"])
    assert f'href="{dialog}?from=counter" hx-get="{dialog}?from=counter"' in page
    # The balances re-fetch themselves after a change; Scan next and the profile are a tap away.
    assert 'hx-trigger="ledger-changed from:body"' in page
    assert f'hx-get="{counter_url(card)}"' in page
    assert 'data-action="scan_next"' in page
    assert f'href="{SCAN}"' in page
    assert f'href="{reverse("cards:profile", args=[card.serial])}"' in page
    assert 'id="dialog-slot"' in page
    assert "js/counter.js" in page


def test_a_cashback_cards_counter_view_shows_points_and_tier(
    staff_client: Client, cashback_card: Card, staff: Any
) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="600", actor=staff)
    page = counter_page(staff_client, cashback_card)
    assert metric(page, "points_balance") == "30.00"
    assert metric(page, "cashback_tier") == "Silver"
    assert metric(page, "cashback_percentage") == "7.00"
    assert "stamps_balance" not in page
    assert actions(page) == ["transaction_amount_add", "points_add", "points_subtract"]
    assert "Increase transaction amount" in page
    assert "Add points" in page


def test_a_visit_stamp_card_offers_the_same_counter_actions(
    staff_client: Client, merchant: Merchant
) -> None:
    program = StampProgramFactory(merchant=merchant, mechanism="visit", spend_per_stamp=None)
    card = issue_card(program)
    # No reward yet: redeeming is a disabled button saying why, not a link to its dialog.
    assert actions(counter_page(staff_client, card)) == [
        "transaction_amount_add",
        "stamps_add",
        "stamps_subtract",
    ]
    services.card_add_rewards(card=card, value="1", purchase_amount="0", actor=None)
    assert actions(counter_page(staff_client, card)) == [
        "transaction_amount_add",
        "rewards_subtract",
        "stamps_add",
        "stamps_subtract",
    ]


def test_the_summary_alone_for_htmx(staff_client: Client, stamp_card: Card) -> None:
    response = staff_client.get(counter_url(stamp_card), headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="counter-summary"')
    assert "<html" not in body
    assert metric(body, "stamps_balance") == "0"


def test_a_deleted_cards_counter_view_says_so_and_offers_nothing(
    staff_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    page = counter_page(staff_client, stamp_card)
    assert 'data-card-warning="deleted"' in page
    assert "This card was deleted on" in page
    assert actions(page) == []
    assert "/dialogs/" not in page


def test_an_expired_cards_counter_view_says_so_and_offers_nothing(
    staff_client: Client, stamp_card: Card
) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Card.objects.filter(pk=stamp_card.pk).update(expires_on=yesterday)
    page = counter_page(staff_client, stamp_card)
    assert 'data-card-warning="expired"' in page
    assert "This card expired on" in page
    assert metric(page, "expires_at") == yesterday.isoformat()
    assert actions(page) == []


def test_a_card_whose_customer_was_removed_still_opens(
    staff_client: Client, stamp_card: Card, owner: Any
) -> None:
    # Removing a customer needs every card of theirs deleted first.
    services.card_delete(card=stamp_card, actor=owner)
    assert stamp_card.customer is not None
    customer_remove(customer=stamp_card.customer)
    assert "Removed customer" in counter_page(staff_client, stamp_card)


def test_another_merchants_counter_view_is_not_found(
    staff_client: Client, others_card: Card
) -> None:
    assert staff_client.get(counter_url(others_card)).status_code == 404


def test_the_counter_view_costs_the_same_queries_whatever_the_history(
    staff_client: Client,
    stamp_program: Program,
    cashback_program: Program,
    staff: Any,
    django_assert_num_queries: Any,
) -> None:
    staff_client.get(SCAN)  # the session and the user are warm alike for every request below
    with CaptureQueriesContext(connection) as plain:
        staff_client.get(SCAN)
    # The page's own: the card (with its program, customer and merchant); a cashback card's
    # tier also needs the program's tiers.
    for program, own in ((stamp_program, 1), (cashback_program, 2)):
        small, big = issue_card(program), issue_card(program)
        start = timezone.now() - datetime.timedelta(days=3)
        for hour in range(30):  # a purchase an hour: the counter's double-scan guard stays out
            with clock.frozen_at(start + datetime.timedelta(hours=hour)):
                services.card_add_transaction_amount(card=big, value="12", actor=staff)
        for card in (small, big):
            with django_assert_num_queries(len(plain) + own):
                counter_page(staff_client, card)


# ---------------------------------------------------------------------------------------------
# The customers list's search box, filled by a barcode scanner


def test_a_submitted_search_for_a_card_code_opens_its_counter_view(
    staff_client: Client, stamp_card: Card
) -> None:
    for code in (stamp_card.serial, stamp_card.serial.replace("-", "")):
        response = staff_client.get(reverse("customers:list"), {"q": code, "go": "1"})
        assert response.status_code == 302
        assert response["Location"] == counter_url(stamp_card)


def test_the_live_search_for_a_card_code_still_lists_the_customer(
    staff_client: Client, stamp_card: Card
) -> None:
    live = staff_client.get(
        reverse("customers:list"), {"q": stamp_card.serial}, headers={"HX-Request": "true"}
    )
    assert live.status_code == 200
    assert f'data-serial="{stamp_card.serial}"' in live.content.decode()
    # A link to a search (the live search puts it in the address bar) lists too.
    plain = staff_client.get(reverse("customers:list"), {"q": stamp_card.serial})
    assert plain.status_code == 200


def test_a_submitted_search_that_is_no_live_card_of_ours_lists_as_before(
    owner_client: Client, stamp_card: Card, others_card: Card, owner: Any
) -> None:
    for query in ("ann", others_card.serial):
        response = owner_client.get(reverse("customers:list"), {"q": query, "go": "1"})
        assert response.status_code == 200
        assert 'id="customer-results"' in response.text
        # The export of what is listed names the search, not how it was sent.
        export = re.search(r'<a href="([^"]*)" [^>]*data-action="customer_export"', response.text)
        assert export is not None
        assert "go=1" not in export.group(1)
    services.card_delete(card=stamp_card, actor=owner)
    response = owner_client.get(reverse("customers:list"), {"q": stamp_card.serial, "go": "1"})
    assert response.status_code == 200
    assert f'data-serial="{stamp_card.serial}"' in response.text


def test_the_search_form_submits_as_a_plain_get_and_the_live_search_leaves_go_out(
    staff_client: Client,
) -> None:
    page = staff_client.get(reverse("customers:list")).content.decode()
    form = re.search(r'<form method="get" action="/customers/"[^>]*>', page, re.S)
    assert form is not None
    assert 'hx-trigger="input delay:300ms"' in form.group(0)
    assert 'hx-params="not go"' in form.group(0)
    assert '<button type="submit" name="go" value="1">' in page


def test_the_main_navigation_offers_scan_to_every_member(
    owner_client: Client, staff_client: Client
) -> None:
    for client in (owner_client, staff_client):
        page = client.get(reverse("customers:list")).content.decode()
        assert f'<a href="{SCAN}"' in page
        assert 'data-nav="scan"' in page
