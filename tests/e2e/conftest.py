"""Browser tests: Playwright (Python) driving Debian's chromium against ``live_server``.

Never a browser download: the tests use /usr/bin/chromium (or $CHROMIUM_PATH) and skip with a
clear reason where it is not installed. Playwright's sync API runs an event loop in this
thread, so Django's async-safety check is relaxed for these tests only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


# Every browser the tests launch (the scanner's tests launch their own, with a fake camera).
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM}); apt-get install chromium")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _sign_in(page: Any, user: Any, password: str = "correct-horse-battery") -> Any:
    page.goto("/login/")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


@pytest.fixture
def login(page: Any) -> Any:
    """``login(user)`` signs ``user`` in through the real login form."""

    def _login(user: Any, password: str = "correct-horse-battery") -> Any:
        return _sign_in(page, user, password)

    return _login


@pytest.fixture
def login_without_javascript(browser: Any, live_server: Any) -> Iterator[Any]:
    """``login_without_javascript(user)``: a page with scripts off, ``user`` signed in."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)

    def _login(user: Any) -> Any:
        return _sign_in(context.new_page(), user)

    yield _login
    context.close()


@pytest.fixture
def live_user_model() -> Any:
    return get_user_model()
