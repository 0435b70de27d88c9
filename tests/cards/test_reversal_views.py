"""The history's Reverse button and its dialog, over HTTP."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card, LedgerEntry
from cards.rules import Kind
from loyalty import clock
from tests.cards.dialog_support import HTMX
from tests.factories import issue_card

pytestmark = pytest.mark.django_db


def _url(card: Card, entry: LedgerEntry) -> str:
    return reverse("cards:entry_reverse", args=[card.serial, entry.pk])


def _post(client: Client, card: Card, entry: LedgerEntry, htmx: bool = True, **data: str):
    data = {"idempotency_key": uuid.uuid4().hex, "reason": "Wrong card", **data}
    return client.post(_url(card, entry), data, headers=HTMX if htmx else {})


def _history(client: Client, card: Card) -> str:
    return client.get(reverse("cards:history", args=[card.serial]), headers=HTMX).content.decode()


def test_owners_see_reverse_on_every_entry_but_the_first(
    owner_client: Client, stamp_card: Card, staff: Any
) -> None:
    entry = services.card_add_stamps(card=stamp_card, value=2, actor=staff).entries[0]

    body = _history(owner_client, stamp_card)

    assert body.count('data-action="entry_reverse"') == 1
    assert f'href="{_url(stamp_card, entry)}"' in body


def test_staff_see_reverse_on_their_own_recent_entries_only(
    staff_client: Client, stamp_card: Card, staff: Any, owner: Any
) -> None:
    mine = services.card_add_stamps(card=stamp_card, value=1, actor=staff).entries[0]
    theirs = services.card_add_stamps(card=stamp_card, value=1, actor=owner).entries[0]

    body = _history(staff_client, stamp_card)
    assert _url(stamp_card, mine) in body
    assert _url(stamp_card, theirs) not in body
    assert _post(staff_client, stamp_card, theirs).status_code == 403

    with clock.frozen_at(clock.now() + datetime.timedelta(minutes=16)):
        assert _url(stamp_card, mine) not in _history(staff_client, stamp_card)
        assert _post(staff_client, stamp_card, mine).status_code == 403
    assert stamp_card.entries.filter(kind=Kind.REVERSAL).count() == 0


def test_the_dialog_shows_what_the_entry_did_and_asks_for_a_reason(
    owner_client: Client, stamp_card: Card
) -> None:
    entry = services.card_add_transaction_amount(card=stamp_card, value="35", actor=None).entries[0]

    body = owner_client.get(_url(stamp_card, entry), headers=HTMX).content.decode()

    assert "<dialog" in body
    assert "Transaction amount +$35.00" in body
    assert 'name="reason"' in body
    assert 'name="idempotency_key"' in body


def test_applying_answers_ledger_changed_and_the_history_shows_both_entries(
    owner_client: Client, stamp_card: Card
) -> None:
    entry = services.card_add_stamps(card=stamp_card, value=2, actor=None).entries[0]

    response = _post(owner_client, stamp_card, entry, reason="<script>x</script>")

    assert response.status_code == 204
    event = json.loads(response.headers["HX-Trigger"])["ledger-changed"]
    assert event["message"] == "Reversed: Stamps added (+2 stamps)."
    body = _history(owner_client, stamp_card)
    assert 'data-entry="reversal"' in body
    assert 'data-badge="reversed"' in body
    assert "Undoes Stamps added of" in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body
    assert "<script>x" not in body
    # Reversed once: no second button on either row.
    assert body.count('data-action="entry_reverse"') == 0


def test_without_javascript_it_is_a_page_and_redirects_to_the_profile(
    owner_client: Client, stamp_card: Card
) -> None:
    entry = services.card_add_stamps(card=stamp_card, value=2, actor=None).entries[0]
    page = owner_client.get(_url(stamp_card, entry))
    assert "<html" in page.content.decode()

    response = _post(owner_client, stamp_card, entry, htmx=False)

    assert response.status_code == 302
    assert response.url == stamp_card.get_absolute_url()
    assert Card.objects.get(pk=stamp_card.pk).stamps_balance == 0


def test_a_missing_reason_or_a_used_reward_re_renders_the_form_and_changes_nothing(
    owner_client: Client, stamp_card: Card
) -> None:
    services.card_add_stamps(card=stamp_card, value=8, actor=None)
    bought = services.card_add_stamps(card=stamp_card, value=2, actor=None).entries[0]
    services.card_redeem_rewards(card=stamp_card, value=1, purchase_amount="0", actor=None)

    empty = _post(owner_client, stamp_card, bought, reason="")
    assert empty.status_code == 422
    assert "Say why this entry is reversed." in empty.content.decode()

    used = _post(owner_client, stamp_card, bought)
    assert used.status_code == 422
    assert "already redeemed" in used.content.decode()
    assert used.content.decode().count("already redeemed") == 1
    assert not stamp_card.entries.filter(kind=Kind.REVERSAL).exists()


def test_a_double_click_reverses_once(owner_client: Client, stamp_card: Card) -> None:
    entry = services.card_add_stamps(card=stamp_card, value=2, actor=None).entries[0]
    key = uuid.uuid4().hex
    assert _post(owner_client, stamp_card, entry, idempotency_key=key).status_code == 204
    assert _post(owner_client, stamp_card, entry, idempotency_key=key).status_code == 204
    assert stamp_card.entries.filter(kind=Kind.REVERSAL).count() == 1


def test_the_first_entry_a_reversal_or_another_cards_entry_is_a_404(
    owner_client: Client, stamp_card: Card, stamp_program: Any
) -> None:
    issued = stamp_card.entries.get(kind=Kind.CARD_ISSUED)
    entry = services.card_add_stamps(card=stamp_card, value=2, actor=None).entries[0]
    _post(owner_client, stamp_card, entry)
    reversal = stamp_card.entries.get(kind=Kind.REVERSAL)
    other = issue_card(stamp_program)

    assert owner_client.get(_url(stamp_card, issued)).status_code == 404
    assert owner_client.get(_url(stamp_card, reversal)).status_code == 404
    assert owner_client.get(_url(other, entry)).status_code == 404


def test_the_history_runs_the_same_queries_with_reversals(
    owner_client: Client, stamp_card: Card, django_assert_max_num_queries: Any
) -> None:
    for _ in range(5):
        entry = services.card_add_stamps(card=stamp_card, value=1, actor=None).entries[0]
        services.entry_reverse(card=stamp_card, entry=entry, reason="x", actor=None, role="owner")
    _history(owner_client, stamp_card)
    with django_assert_max_num_queries(5):
        _history(owner_client, stamp_card)
