"""Every page a person sees is valid HTML, as the Nu HTML Checker (vnu) judges it.

The pages are rendered with the test client for a merchant with data (a stamp card and a
cashback card with history, a customer list, campaigns, an import...): every GET page of the
permission matrix, the cashback card's own pages, and the 404 page for a member and a visitor.
Fragments that htmx swaps into a page are checked inside a minimal document. All of them go to
one run of vnu (it starts a JVM, which takes seconds); the errors are reported per page. htmx's
own ``hx-*`` attributes are the only errors allowed.

vnu comes from npm (``python3 dev.py test`` installs the pinned vnu-jar into .tools/vnu where
Java and npm are present); the test skips with the reason where Java or the jar is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import services as card_services
from tests.factories import CashbackProgramFactory, issue_card
from tests.test_permission_matrix import ACCESS, GET, PUBLIC, URLS, _url
from tests.test_translated_pages import NOT_PAGES

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
VNU_JAR = Path(
    os.environ.get("VNU_JAR")
    or ROOT / ".tools" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
)
JAVA = shutil.which("java")

# htmx's attributes (hx-get, hx-target, hx-on::after-request ...) are not HTML's: vnu names
# each one it meets, and those are the only errors allowed.
HTMX_ATTRIBUTE = re.compile(r"^Attribute [“\"]hx-[\w:.-]+[”\"] not allowed")

# Pages the check must never lose (the rest: every other GET page of the permission matrix).
MAIN_PAGES = {
    "home", "customers:list", "customers:segments", "cards:profile", "cards:history",
    "cards:counter", "scan", "activity", "campaigns:list", "settings:home",
    "settings:programs", "settings:program_edit", "settings:segments", "public:join",
    "public:card", "login", "cashback card profile", "404 for a member", "404 for a visitor",
}  # fmt: skip

FRAGMENT = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fragment</title>'
    "</head><body>{}</body></html>"
)


def _vnu_or_skip() -> list[str]:
    if not JAVA:
        pytest.skip("Java is not installed (apt-get install default-jre-headless)")
    if not VNU_JAR.exists():
        pytest.skip(
            f"the Nu HTML Checker is not installed ({VNU_JAR}); `python3 dev.py test` installs"
            " it with npm"
        )
    return [JAVA, "-jar", str(VNU_JAR)]


def _cashback_card_with_history(world: dict[str, Any], staff: Any) -> Any:
    program = CashbackProgramFactory(merchant=world["merchant"])
    card = issue_card(program, world["customer"])
    card_services.card_add_transaction_amount(card=card, value="120", actor=staff)
    card_services.card_add_transaction_amount(card=card, value="45.50", actor=staff)
    card_services.card_subtract_transaction_amount(card=card, value="3", actor=staff)
    return card


def _pages(world: dict[str, Any], owner: Any, staff: Any) -> dict[str, bytes]:
    """Each page's HTML by a name that says which page it is."""
    card_services.card_add_stamps(card=world["card"], value=12, actor=staff)
    card_services.card_redeem_rewards(card=world["card"], value=1, purchase_amount="0", actor=staff)
    cashback = _cashback_card_with_history(world, staff)
    member, visitor = Client(), Client()
    member.force_login(owner)
    pages = {}
    for name, arguments in URLS:
        if ACCESS[name].method != GET or name in NOT_PAGES:
            continue
        client = visitor if ACCESS[name].access == PUBLIC else member
        response = client.get(_url(name, arguments, world), follow=True)
        # Not a form's POST address (405), nor a file: whatever page it shows is checked.
        if response.status_code != 405 and _is_html(response):
            pages[name] = response.content
    serial = {"serial": cashback.serial}
    extra = {
        "cashback card profile": member.get(reverse("cards:profile", kwargs=serial)),
        "cashback card history": member.get(reverse("cards:history", kwargs=serial)),
        "cashback counter view": member.get(reverse("cards:counter", kwargs=serial)),
        "cashback dialog": member.get(
            reverse("cards:dialog", kwargs={**serial, "action": "transaction_amount_add"})
        ),
        "cashback card page": visitor.get(
            reverse("public:card", kwargs={"install_token": cashback.install_token})
        ),
        "404 for a member": member.get("/no-such-page/"),
        "404 for a visitor": visitor.get("/no-such-page/"),
    }
    for label, response in extra.items():
        assert response.status_code in (200, 404), f"{label}: status {response.status_code}"
        pages[label] = response.content
    return pages


def _is_html(response: Any) -> bool:
    return str(response.get("Content-Type", "")).startswith("text/html")


def _as_document(content: bytes) -> str:
    html = content.decode()
    return html if html.lstrip()[:15].lower().startswith("<!doctype") else FRAGMENT.format(html)


def _errors(vnu: list[str], pages: dict[str, bytes], folder: Path) -> dict[str, list[str]]:
    files = {}
    for number, (name, content) in enumerate(pages.items()):
        path = folder / f"page-{number}.html"
        path.write_text(_as_document(content), encoding="utf-8")
        files[path.name] = name
    result = subprocess.run(
        [*vnu, "--format", "json", "--errors-only", *(str(folder / file) for file in files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found: dict[str, list[str]] = {}
    for message in json.loads(result.stderr or result.stdout)["messages"]:
        text = message.get("message", "")
        # Errors, and files vnu could not read ("non-document-error"), fail; htmx's do not.
        if message.get("type") == "info" or HTMX_ATTRIBUTE.match(text):
            continue
        url = message.get("url", "?")
        page = files.get(url.rpartition("/")[2], url)
        extract = " ".join(message.get("extract", "").split())
        found.setdefault(page, []).append(f"line {message.get('lastLine')}: {text} [{extract}]")
    return found


def test_every_page_is_valid_html(world, owner, staff, tmp_path) -> None:
    vnu = _vnu_or_skip()
    pages = _pages(world, owner, staff)
    assert set(pages) >= MAIN_PAGES, MAIN_PAGES - set(pages)

    errors = _errors(vnu, pages, tmp_path)

    report = "\n".join(
        f"{page}:\n  " + "\n  ".join(messages) for page, messages in sorted(errors.items())
    )
    assert not errors, f"vnu found errors on {len(errors)} of {len(pages)} pages:\n{report}"
