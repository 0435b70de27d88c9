"""Deleting a card, its expiration date, removing the customer, the history and its CSV."""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards import services
from cards.models import Card, CardStatus, LedgerEntry, Program
from cards.rules import LedgerError
from customers.models import Customer
from loyalty.models import AuditAction, AuditEvent
from tests.factories import issue_card

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(name: str, card: Card) -> str:
    return reverse(name, args=[card.serial])


def fresh(card: Card) -> Card:
    return Card.objects.select_related("merchant").get(pk=card.pk)


# ---------------------------------------------------------------------------------------------
# Delete


def test_managers_see_the_delete_action_and_staff_do_not(
    owner_client: Client, admin_client_: Client, staff_client: Client, stamp_card: Card
) -> None:
    for client in (owner_client, admin_client_):
        assert 'data-action="card_delete"' in client.get(url("cards:profile", stamp_card)).text
    html = staff_client.get(url("cards:profile", stamp_card)).text
    assert 'data-action="card_delete"' not in html
    assert 'data-action="status_edit"' not in html


def test_staff_cannot_delete_a_card_even_by_posting(staff_client: Client, stamp_card: Card) -> None:
    assert staff_client.get(url("cards:delete", stamp_card)).status_code == 403
    assert staff_client.post(url("cards:delete", stamp_card)).status_code == 403
    assert fresh(stamp_card).status == CardStatus.NOT_INSTALLED


def test_deleting_asks_for_confirmation_first(admin_client_: Client, stamp_card: Card) -> None:
    page = admin_client_.get(url("cards:delete", stamp_card))
    assert page.status_code == 200
    assert 'data-action="card_delete_confirm"' in page.text
    assert "This is final" in page.text
    dialog = admin_client_.get(url("cards:delete", stamp_card), headers=HTMX)
    assert dialog.text.lstrip().startswith("<dialog data-modal")
    assert 'method="post"' in dialog.text
    assert fresh(stamp_card).status != CardStatus.DELETED


def test_confirmed_delete_makes_the_card_deleted_and_every_balance_action_goes(
    admin_client_: Client, stamp_card: Card, staff: Any
) -> None:
    response = admin_client_.post(url("cards:delete", stamp_card))
    assert response.status_code == 302
    assert response["Location"] == url("cards:profile", stamp_card)
    card = fresh(stamp_card)
    assert card.status == CardStatus.DELETED
    assert card.deleted_at is not None
    html = admin_client_.get(url("cards:profile", stamp_card)).text
    assert 'data-metric="status" data-value="deleted"' in html
    assert 'data-card-warning="deleted"' in html
    for action in ("stamps_add", "stamps_subtract", "transaction_amount_add", "card_delete"):
        assert f'data-action="{action}"' not in html
    with pytest.raises(LedgerError, match="deleted"):
        services.card_add_stamps(card=card, value=1, actor=staff)


def test_a_deleted_cards_expiration_cannot_be_edited(
    owner_client: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    html = owner_client.get(url("cards:profile", stamp_card)).text
    assert 'data-action="expires_at_edit"' not in html
    response = owner_client.post(url("cards:expiration", stamp_card), {"expires_on": "2030-01-01"})
    assert response.status_code == 302
    assert fresh(stamp_card).expires_on is None


# ---------------------------------------------------------------------------------------------
# Remove the customer


def test_remove_customer_appears_only_once_every_card_is_deleted(
    owner_client: Client, stamp_card: Card, cashback_program: Program, owner: Any
) -> None:
    second = issue_card(cashback_program, customer=stamp_card.customer)
    services.card_delete(card=stamp_card, actor=owner)
    assert (
        'data-action="customer_remove"'
        not in owner_client.get(url("cards:profile", stamp_card)).text
    )
    services.card_delete(card=second, actor=owner)
    assert (
        'data-action="customer_remove"' in owner_client.get(url("cards:profile", stamp_card)).text
    )


def test_removing_a_customer_erases_personal_data_and_keeps_the_ledger(
    admin_client_: Client, stamp_card: Card, staff: Any, owner: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=staff)
    services.card_delete(card=stamp_card, actor=owner)
    customer = stamp_card.customer
    remove_url = reverse("customers:remove", args=[customer.pk])
    confirm = admin_client_.get(remove_url)
    assert 'data-action="customer_remove_confirm"' in confirm.text
    assert "erased" in confirm.text
    assert Customer.objects.filter(pk=customer.pk).exists()
    response = admin_client_.post(remove_url)
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list")
    assert not Customer.objects.filter(pk=customer.pk).exists()
    card = fresh(stamp_card)
    assert card.customer_id is None
    assert card.holder_name == ""
    assert LedgerEntry.objects.filter(card=card).count() == 2
    assert card.ltv == 95


def test_a_customer_with_a_live_card_cannot_be_removed(
    owner_client: Client, stamp_card: Card
) -> None:
    remove_url = reverse("customers:remove", args=[stamp_card.customer_id])
    assert 'data-action="customer_remove_confirm"' not in owner_client.get(remove_url).text
    response = owner_client.post(remove_url, follow=True)
    assert "Delete all of this customer" in response.text
    assert Customer.objects.filter(pk=stamp_card.customer_id).exists()


def test_staff_cannot_remove_a_customer(staff_client: Client, stamp_card: Card, owner: Any) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    remove_url = reverse("customers:remove", args=[stamp_card.customer_id])
    assert staff_client.post(remove_url).status_code == 403
    assert Customer.objects.filter(pk=stamp_card.customer_id).exists()


# ---------------------------------------------------------------------------------------------
# Expiration date


def test_expiration_editor_is_an_htmx_partial_with_a_date_input(
    staff_client: Client, stamp_card: Card
) -> None:
    response = staff_client.get(url("cards:expiration", stamp_card), headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="profile-metrics"')
    assert re.search(r'<input type="date" name="expires_on"', response.text)
    assert "<html" not in response.text


def test_a_future_expiration_date_is_saved(staff_client: Client, stamp_card: Card) -> None:
    day = timezone.localdate() + datetime.timedelta(days=30)
    response = staff_client.post(
        url("cards:expiration", stamp_card), {"expires_on": day.isoformat()}, headers=HTMX
    )
    assert response.status_code == 200
    assert f'data-metric="expires_at" data-value="{day.isoformat()}"' in response.text
    assert "data-card-warning" not in response.text
    assert 'data-action="stamps_add"' in response.text
    assert fresh(stamp_card).expires_on == day


def test_a_past_expiration_date_expires_the_card_at_once_with_a_warning(
    staff_client: Client, stamp_card: Card, staff: Any
) -> None:
    day = timezone.localdate() - datetime.timedelta(days=1)
    response = staff_client.post(
        url("cards:expiration", stamp_card), {"expires_on": day.isoformat()}, headers=HTMX
    )
    assert response.status_code == 200
    assert 'data-card-warning="expired"' in response.text
    assert 'role="alert"' in response.text
    assert 'data-action="stamps_add"' not in response.text
    # The status summary in the page header is refreshed too (out of band).
    assert 'id="card-summary" class="card-summary" hx-swap-oob="true"' in response.text
    assert "data-card-expired" in response.text
    card = fresh(stamp_card)
    assert card.is_expired
    with pytest.raises(LedgerError, match="expired"):
        services.card_add_stamps(card=card, value=1, actor=staff)


def test_clearing_the_expiration_date_makes_the_card_never_expire(
    admin_client_: Client, stamp_card: Card, owner: Any
) -> None:
    services.card_set_expiration(
        card=stamp_card, expires_on=timezone.localdate() - datetime.timedelta(days=3), actor=owner
    )
    response = admin_client_.post(url("cards:expiration", stamp_card), {"expires_on": ""})
    assert response.status_code == 302
    assert fresh(stamp_card).expires_on is None
    assert not fresh(stamp_card).is_expired


@pytest.mark.parametrize("value", ["31/02/2030", "not a date", "1899-12-31", "2400-01-01"])
def test_an_invalid_expiration_date_is_refused_and_nothing_changes(
    staff_client: Client, stamp_card: Card, value: str
) -> None:
    response = staff_client.post(
        url("cards:expiration", stamp_card), {"expires_on": value}, headers=HTMX
    )
    assert response.status_code == 422
    assert 'class="error" role="alert"' in response.text
    assert 'name="expires_on"' in response.text
    assert fresh(stamp_card).expires_on is None


def test_expiration_works_without_javascript(staff_client: Client, stamp_card: Card) -> None:
    page = staff_client.get(url("cards:expiration", stamp_card))
    assert page.status_code == 200
    assert "<html" in page.text
    assert 'type="date"' in page.text
    day = timezone.localdate() - datetime.timedelta(days=2)
    response = staff_client.post(
        url("cards:expiration", stamp_card), {"expires_on": day.isoformat()}, follow=True
    )
    assert 'data-card-warning="expired"' in response.text
    assert "it refuses balance changes" in response.text


# ---------------------------------------------------------------------------------------------
# History


def test_history_tells_every_entry_newest_first_in_words(
    owner_client: Client, stamp_card: Card, staff: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=staff)
    services.card_add_transaction_amount(card=stamp_card, value="30", actor=staff)
    services.card_subtract_transaction_amount(
        card=stamp_card, value="27", comment="typo: 3, not 30", actor=staff
    )
    html = owner_client.get(url("cards:profile", stamp_card)).text
    history = html[html.index('id="history"') :]
    kinds = re.findall(r'<tr data-entry="([a-z_]+)"', history)
    assert kinds == ["stamps_clawback", "refund", "purchase", "purchase", "card_issued"]
    assert "Refund of amount spent" in history
    assert "Stamps redeemed" in history
    assert "typo: 3, not 30" in history
    assert "Transaction amount \u2212$27.00" in history
    assert "\u22122 stamps" in history
    assert "+1 reward unlocked" in history
    assert staff.get_username() in history


def test_history_is_paginated_and_its_pages_work_with_and_without_htmx(
    owner_client: Client, stamp_card: Card, staff: Any
) -> None:
    for _ in range(30):
        services.card_add_stamps(card=stamp_card, value=1, actor=staff)
    first = owner_client.get(url("cards:profile", stamp_card)).text
    assert first.count('<tr data-entry="') == 25
    assert "Page 1 of 2" in first
    partial = owner_client.get(url("cards:history", stamp_card) + "?page=2", headers=HTMX)
    assert partial.text.lstrip().startswith('<section id="history"')
    assert partial.text.count('<tr data-entry="') == 6
    full = owner_client.get(url("cards:history", stamp_card) + "?page=2")
    assert "<html" in full.text
    assert full.text.count('<tr data-entry="') == 6


def test_history_csv_is_streamed_with_every_entry(
    owner_client: Client, stamp_card: Card, staff: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", comment="hi", actor=staff)
    response = owner_client.get(url("cards:history_csv", stamp_card))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:2] == ["Date", "What happened"]
    assert [row[1] for row in rows[1:]] == ["Purchase", "Card issued"]
    assert rows[1][2] == "95.00"
    assert rows[1][-1] == "hi"


def test_history_csv_neutralises_formulas_in_comments(
    owner_client: Client, stamp_card: Card, staff: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value=1, comment="=HYPERLINK(1)", actor=staff)
    response = owner_client.get(url("cards:history_csv", stamp_card))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][-1] == "'=HYPERLINK(1)"


def test_metrics_partial_is_the_block_alone(owner_client: Client, stamp_card: Card) -> None:
    response = owner_client.get(url("cards:metrics", stamp_card), headers=HTMX)
    assert response.status_code == 200
    text = response.text.lstrip()
    assert text.startswith('<div id="profile-metrics"')
    assert 'hx-trigger="ledger-changed from:body"' in text
    assert "<html" not in text


# ---------------------------------------------------------------------------------------------
# Who may export the history, move an expired card's date; what the audit log keeps


def _audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_staff_can_neither_download_the_history_nor_see_its_button(
    staff_client: Client, owner_client: Client, stamp_card: Card
) -> None:
    assert staff_client.get(url("cards:history_csv", stamp_card)).status_code == 403
    assert (
        'data-action="history_csv"' not in staff_client.get(url("cards:profile", stamp_card)).text
    )
    assert 'data-action="history_csv"' in owner_client.get(url("cards:profile", stamp_card)).text
    assert not _audit(AuditAction.CARD_HISTORY_EXPORTED)


def test_a_history_download_is_audited_with_its_row_count_before_any_row_is_sent(
    admin_client_: Client, admin_user: Any, stamp_card: Card, staff: Any
) -> None:
    services.card_add_stamps(card=stamp_card, value=2, actor=staff)
    response = admin_client_.get(url("cards:history_csv", stamp_card))
    # Recorded when the download starts, not when (or if) it finishes.
    [event] = _audit(AuditAction.CARD_HISTORY_EXPORTED)
    assert (event.actor, event.merchant_id) == (admin_user, stamp_card.merchant_id)
    assert event.details == {"serial": stamp_card.serial, "rows": 2}
    assert event.summary == f"Exported the history of card {stamp_card.serial} as CSV (2 entries)"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1 + 2


def test_history_csv_writes_negative_amounts_as_numbers(
    owner_client: Client, stamp_card: Card, staff: Any
) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=staff)
    services.card_subtract_transaction_amount(card=stamp_card, value="27", actor=staff)
    response = owner_client.get(url("cards:history_csv", stamp_card))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    amounts = [row[rows[0].index("Transaction amount change")] for row in rows[1:]]
    assert "-27.00" in amounts  # the refund: a number a spreadsheet can sum
    assert not [cell for row in rows for cell in row if cell.startswith("'")]


def _expire(card: Card, owner: Any) -> datetime.date:
    day = timezone.localdate() - datetime.timedelta(days=3)
    services.card_set_expiration(card=card, expires_on=day, actor=owner)
    return day


def test_staff_cannot_move_an_expired_cards_date_even_by_posting(
    staff_client: Client, stamp_card: Card, owner: Any
) -> None:
    day = _expire(stamp_card, owner)
    later = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    for data in ({"expires_on": later}, {"expires_on": ""}):
        response = staff_client.post(url("cards:expiration", stamp_card), data, headers=HTMX)
        assert response.status_code == 422
        assert "Only an owner or an admin can move its expiration date" in response.text
    assert fresh(stamp_card).expires_on == day
    assert len(_audit(AuditAction.CARD_EXPIRATION_CHANGED)) == 1  # the owner's, only


def test_the_service_refuses_to_move_an_expired_cards_date_without_a_managers_say(
    stamp_card: Card, owner: Any, staff: Any
) -> None:
    day = _expire(stamp_card, owner)
    with pytest.raises(LedgerError, match="Only an owner or an admin"):
        services.card_set_expiration(card=stamp_card, expires_on=None, actor=staff)
    assert fresh(stamp_card).expires_on == day


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "page"])
def test_staff_opening_an_expired_cards_date_are_told_to_ask_a_manager(
    staff_client: Client, stamp_card: Card, owner: Any, headers: dict[str, str]
) -> None:
    _expire(stamp_card, owner)
    response = staff_client.get(url("cards:expiration", stamp_card), headers=headers)
    assert response.status_code == 200
    assert "data-expiration-locked" in response.text
    assert "ask one of them" in response.text
    assert 'name="expires_on"' not in response.text


def test_a_manager_revives_an_expired_card_and_the_audit_log_says_from_what_to_what(
    admin_client_: Client, admin_user: Any, stamp_card: Card, owner: Any
) -> None:
    day = _expire(stamp_card, owner)
    page = admin_client_.get(url("cards:expiration", stamp_card), headers=HTMX)
    assert 'name="expires_on"' in page.text
    later = timezone.localdate() + datetime.timedelta(days=30)
    response = admin_client_.post(
        url("cards:expiration", stamp_card), {"expires_on": later.isoformat()}, headers=HTMX
    )
    assert response.status_code == 200
    assert not fresh(stamp_card).is_expired
    event = _audit(AuditAction.CARD_EXPIRATION_CHANGED)[-1]
    assert event.actor == admin_user
    assert event.summary == (
        f"Changed the expiration date of card {stamp_card.serial} from {day.isoformat()} "
        f"to {later.isoformat()}"
    )
    assert event.details == {
        "serial": stamp_card.serial,
        "from": day.isoformat(),
        "to": later.isoformat(),
    }


def test_staff_still_move_a_valid_cards_date_either_way_and_each_move_is_audited(
    staff_client: Client, staff: Any, stamp_card: Card
) -> None:
    later = timezone.localdate() + datetime.timedelta(days=60)
    sooner = timezone.localdate() + datetime.timedelta(days=5)
    for day in (later, sooner):
        response = staff_client.post(
            url("cards:expiration", stamp_card), {"expires_on": day.isoformat()}
        )
        assert response.status_code == 302
        assert fresh(stamp_card).expires_on == day
    events = _audit(AuditAction.CARD_EXPIRATION_CHANGED)
    assert [(e.actor, e.details["from"], e.details["to"]) for e in events] == [
        (staff, None, later.isoformat()),
        (staff, later.isoformat(), sooner.isoformat()),
    ]
    assert f"from never to {later.isoformat()}" in events[0].summary
    # Saving the same date again changes nothing and records nothing.
    staff_client.post(url("cards:expiration", stamp_card), {"expires_on": sooner.isoformat()})
    assert len(_audit(AuditAction.CARD_EXPIRATION_CHANGED)) == 2


def test_deleting_a_card_is_audited_once(
    admin_client_: Client, admin_user: Any, stamp_card: Card
) -> None:
    admin_client_.post(url("cards:delete", stamp_card))
    services.card_delete(card=stamp_card, actor=admin_user)  # already deleted: nothing more
    [event] = _audit(AuditAction.CARD_DELETED)
    assert event.actor == admin_user
    assert event.summary == f"Deleted card {stamp_card.serial} of {stamp_card.program.name}"
    assert event.details == {"serial": stamp_card.serial, "customer_id": stamp_card.customer_id}


def test_the_audit_log_lists_card_deletions_expirations_and_downloads(
    owner_client: Client, owner: Any, stamp_card: Card
) -> None:
    _expire(stamp_card, owner)
    owner_client.get(url("cards:history_csv", stamp_card))
    services.card_delete(card=stamp_card, actor=owner)
    html = owner_client.get(reverse("settings:audit")).text
    for action in (
        AuditAction.CARD_EXPIRATION_CHANGED,
        AuditAction.CARD_HISTORY_EXPORTED,
        AuditAction.CARD_DELETED,
    ):
        assert f'data-audit-action="{action}"' in html
    assert f"Deleted card {stamp_card.serial}" in html
    assert f"Exported the history of card {stamp_card.serial}" in html
