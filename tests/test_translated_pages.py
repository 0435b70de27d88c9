"""Every page of the dashboard and of the customer's card, in Spanish and in German.

Each page the permission matrix knows is fetched as a user who chose the language (dashboard)
or a browser asking for it (customer pages). It must say ``<html lang>``, show none of a list of
English UI phrases, and show no text exactly as the English page does once what people typed
(names, emails, program names, messages) and words the two languages share are set aside: an
unwrapped or untranslated string fails. The same pages in English must show every phrase of the
list, so the list cannot drift into phrases no page shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from cards.models import CustomField, Program
from customers.models import Customer, ImportJob, ImportProblem
from loyalty.models import Invitation, Merchant, UserPreference
from pushes.automatic import PLACEHOLDERS
from pushes.devinbox import PushInbox
from pushes.models import AutoMessage, Campaign, PushMessage
from tests.test_permission_matrix import ACCESS, PUBLIC, URLS, _url

pytestmark = pytest.mark.django_db

# Phrases of the interface (not of the merchant's data) that a page in another language must
# not show. Whole words, case-sensitive.
ENGLISH = [
    "Customers",
    "Settings",
    "Log out",
    "Skip to content",
    "Add customer",
    "Search",
    "Stamps",
    "Rewards",
    "Balance",
    "History",
    "Information",
    "Send push",
    "Delete card",
    "Programs",
    "Segments",
    "Save",
    "Cancel",
    "Never",
    "Password",
    "Username",
    "Your card",
    "Join",
    "Invite",
    "Audit log",
    "Expires",
]

# Answers that are not pages for people: files, scripts, images, CSV, JSON.
NOT_PAGES = {
    "healthz",
    "javascript_catalog",
    "customers:export",
    "customers:import_problems",
    "cards:history_csv",
    "activity_csv",
    "analytics:revenue_csv",
    "analytics:visits_csv",
    "analytics:new_cards_csv",
    "analytics:rating_csv",
    "analytics:segments_csv",
    "analytics:tiers_csv",
    "analytics:reversal_reasons_csv",
    "public:card_manifest",
    "public:card_sw",
    "public:card_icon_png",
    "public:card_icon_svg",
    "public:card_theme",
    "public:join_qr",
    "public:join_theme",
    "settings:program_logo",
    "media",
    "wallet_public:apple_pass",
    "wallet_public:google_save",
    "passkit:registration",
    "passkit:updated_serials",
    "passkit:latest_pass",
    "passkit:log",
}


@pytest.fixture(autouse=True)
def _push_dev_inbox_on(settings: Any) -> Iterator[None]:
    """The development push inbox's page exists only with DEBUG on and an inbox (dev.py run)."""
    with PushInbox() as inbox:
        settings.DEBUG = True
        settings.PUSH_DEV_INBOX_URL = inbox.origin
        yield


PAGES = [
    (name, arguments)
    for name, arguments in URLS
    if ACCESS[name].method == "get" and name not in NOT_PAGES
]


class _VisibleText(HTMLParser):
    """The words a person reads or hears: text outside scripts, and accessible names."""

    SPOKEN_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1
        self.parts.extend(v for k, v in attrs if k in self.SPOKEN_ATTRIBUTES and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _visible_text(content: bytes) -> str:
    return " ".join(_text_nodes(content))


def _text_nodes(content: bytes) -> list[str]:
    parser = _VisibleText()
    parser.feed(content.decode())
    return [text for part in parser.parts if (text := " ".join(part.split()))]


def _english_left(text: str) -> list[str]:
    return [phrase for phrase in ENGLISH if re.search(rf"\b{re.escape(phrase)}\b", text)]


def _fetch_all(language: str, world: dict[str, Any], owner: Any) -> dict[str, Any]:
    UserPreference.objects.update_or_create(user=owner, defaults={"language": language})
    member, visitor = Client(), Client()
    member.force_login(owner)
    responses = {}
    for name, arguments in PAGES:
        client = visitor if ACCESS[name].access == PUBLIC else member
        url = _url(name, arguments, world)
        responses[name] = client.get(url, follow=True, HTTP_ACCEPT_LANGUAGE=language)
    return responses


@pytest.mark.parametrize("language", ["es", "de"])
def test_every_page_speaks_the_chosen_language(language: str, world, owner) -> None:
    problems = {}
    for name, response in _fetch_all(language, world, owner).items():
        content = response.content
        if response.status_code == 405:
            continue  # a form's POST address: no page of its own
        if response.status_code not in (200, 410):  # 410: an invitation that no longer works
            problems[name] = f"status {response.status_code}"
        elif b"<html" in content and f'<html lang="{language}"'.encode() not in content:
            problems[name] = "wrong <html lang>"
        elif left := _english_left(_visible_text(content)):
            problems[name] = f"English left: {left}"
    assert problems == {}


# The same word in English and in the language, or a name that is nobody's to translate.
BRANDS = ["Google Wallet", "Apple Wallet", "Android", "Chrome", "PWA", "LTV", "UTM", "Logo"]
SAME_IN_BOTH = {
    "es": [*BRANDS, "Email", "Total"],
    "de": [*BRANDS, "Feedback", "Dashboard", "Segment", "Status", "Champions", "Name", "Team",
           "Text", "Admin", "Cashback", "optional", "Website"],
}  # fmt: skip
# The automatic messages' placeholders: names the software fills, written alike in every language.
PLACEHOLDER_TOKENS = [f"{{{name}}}" for name in PLACEHOLDERS]
URL = re.compile(r"https?://\S+")


def _typed_data() -> list[str]:
    """What merchants, staff and customers typed: shown as typed, in no language of ours."""
    values: list[str] = [name for _code, name in settings.LANGUAGES]
    for model, fields in (
        (Merchant, ["name"]),
        (Program, ["name"]),
        (Customer, ["first_name", "last_name", "email"]),
        (get_user_model(), ["username", "email"]),
        (CustomField, ["label"]),
        (PushMessage, ["body"]),
        (Campaign, ["body"]),
        (AutoMessage, ["body"]),
        (Invitation, ["email"]),
        (ImportJob, ["file_name"]),
        (ImportProblem, ["column", "value"]),
    ):
        for row in model.objects.values_list(*fields):
            values.extend(value for value in row if value)
    for columns in ImportJob.objects.values_list("columns", flat=True):  # a file's own headers
        values.extend(columns)
    return sorted(values, key=len, reverse=True)  # "Demo Coffee Card" before "Demo Coffee"


def _english_nodes(english: list[str], translated: list[str], known: list[str]) -> list[str]:
    """Text shown word for word as on the English page, once typed data and words that are the
    same in both languages are taken out."""
    left = []
    for node in sorted(set(translated) & set(english)):
        rest = URL.sub(" ", node)
        for value in known:
            rest = rest.replace(value, " ")
        if re.search(r"[A-Za-z]{3,}", rest):
            left.append(node)
    return left


@pytest.mark.parametrize("language", ["es", "de"])
def test_no_text_of_the_english_page_is_left_untranslated(language: str, world, owner) -> None:
    english = _fetch_all("en", world, owner)
    translated = _fetch_all(language, world, owner)
    known = _typed_data() + SAME_IN_BOTH[language] + PLACEHOLDER_TOKENS
    problems = {
        name: left
        for name, response in translated.items()
        if (
            left := _english_nodes(
                _text_nodes(english[name].content), _text_nodes(response.content), known
            )
        )
    }
    assert problems == {}


def test_the_english_phrases_are_ones_the_english_pages_show(world, owner) -> None:
    shown = set()
    for response in _fetch_all("en", world, owner).values():
        shown.update(_english_left(_visible_text(response.content)))
    assert sorted(set(ENGLISH) - shown) == []
