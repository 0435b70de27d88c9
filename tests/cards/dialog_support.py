"""Driving the plus/minus dialogs over HTTP the way the profile page does, and reading results.

``apply_dialog`` posts a dialog as htmx would (or as a plain form); ``metric_values`` reads the
``data-metric``/``data-value`` attributes of the metrics partial; ``snapshot`` is everything the
ledger decides about a card, straight from the database, to assert that a dialog changed exactly
what it should and nothing else.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from typing import Any

from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from cards.models import BALANCE_FIELDS, Card
from cards.selectors import LAST_DATE_FIELDS

HTMX = {"HX-Request": "true"}


def dialog_url(card: Card, action: str) -> str:
    return reverse("cards:dialog", args=[card.serial, action])


def preview_url(card: Card, action: str) -> str:
    return reverse("cards:dialog_preview", args=[card.serial, action])


def open_dialog(client: Client, card: Card, action: str, *, htmx: bool = True) -> HttpResponse:
    return client.get(dialog_url(card, action), headers=HTMX if htmx else {})


def idempotency_key(response: HttpResponse) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode())
    assert match, "the dialog carries no idempotency key"
    return match.group(1)


def apply_dialog(
    client: Client,
    card: Card,
    action: str,
    *,
    key: str | None = None,
    htmx: bool = True,
    **fields: Any,
) -> HttpResponse:
    """POST a dialog; ``fields`` are value, purchase_amount, comment (strings)."""
    data = {"idempotency_key": key or uuid.uuid4().hex, **fields}
    return client.post(dialog_url(card, action), data, headers=HTMX if htmx else {})


def preview(client: Client, card: Card, action: str, **fields: Any) -> HttpResponse:
    return client.post(preview_url(card, action), fields, headers=HTMX)


def trigger_message(response: HttpResponse) -> str:
    """The message of the ``ledger-changed`` event a successful dialog sends."""
    assert response.status_code == 204, response.content.decode()[:2000]
    return json.loads(response.headers["HX-Trigger"])["ledger-changed"]["message"]


def text(response: HttpResponse) -> str:
    """The response's visible text, tags stripped and entities decoded, spaces collapsed."""
    stripped = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(unescape(stripped).split())


def field_errors(response: HttpResponse, field: str) -> list[str]:
    """The messages Django renders next to ``field`` (``<ul id="id_<field>_error">``)."""
    match = re.search(
        rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', response.content.decode(), re.S
    )
    if not match:
        return []
    return [unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def preview_parts(response: HttpResponse) -> tuple[str, str]:
    """(state, text) of a rendered preview: state is ok, error or idle."""
    match = re.search(r'data-preview="(\w+)"[^>]*>(.*?)</span>', response.content.decode(), re.S)
    assert match, response.content.decode()[:2000]
    return match.group(1), " ".join(unescape(match.group(2)).split())


def dialog_buttons(html: str) -> set[str]:
    """The actions of the plus/minus buttons in a page: links to a dialog, marked with it."""
    found = re.findall(r'<a href="[^"]*/dialogs/(\w+)/"[^>]*data-action="(\w+)"', html)
    assert all(href == action for href, action in found)
    return {action for action, _ in found}


class _MetricParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.duplicates: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        key = found.get("data-metric")
        if key is None:
            return
        if key in self.values:
            self.duplicates.append(key)
        self.values[key] = found.get("data-value") or ""


def parse_metrics(html: str) -> dict[str, str]:
    parser = _MetricParser()
    parser.feed(html)
    assert not parser.duplicates, f"metrics rendered twice: {parser.duplicates}"
    return parser.values


def metric_values(client: Client, card: Card) -> dict[str, str]:
    """The raw ``data-value`` of every metric in the card's metrics partial."""
    response = client.get(reverse("cards:metrics", args=[card.serial]), headers=HTMX)
    assert response.status_code == 200
    return parse_metrics(response.content.decode())


def snapshot(card: Card) -> dict[str, Any]:
    """Every aggregate and "last ... at" date of the card, fresh from the database."""
    fresh = Card.objects.get(pk=card.pk)
    return {name: getattr(fresh, name) for name in (*BALANCE_FIELDS, *LAST_DATE_FIELDS)}


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields that differ, with their new values (dates reported as "moved")."""
    changed: dict[str, Any] = {}
    for name, old in before.items():
        new = after[name]
        if new != old:
            changed[name] = "moved" if name in LAST_DATE_FIELDS else new
    return changed


def history_labels(card: Card) -> list[str]:
    """The card's history as the merchant reads it, oldest first."""
    entries = card.entries.order_by("created_at", "id")
    return [entry.label for entry in entries]


def money(value: str) -> Decimal:
    return Decimal(value)
