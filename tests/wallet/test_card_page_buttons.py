"""The card page's "Add to Apple Wallet" and "Add to Google Wallet" buttons: which ones, in
which order, for which phone; the code that opens the page on a phone from a desktop; the
"card is ready" step after joining."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import segno
from django.test import Client
from django.urls import reverse

from cards import services
from cards.card_page import Platform, client_platform
from cards.models import Card, Program
from cards.selectors import card_install_url
from loyalty import clock
from wallet.views.card_page import card_page_part

pytestmark = pytest.mark.django_db

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"

APPLE, GOOGLE = "add_to_apple_wallet", "add_to_google_wallet"


@pytest.fixture
def wallets(settings: Any) -> Any:
    """Both wallets can sign (generated test credentials)."""
    settings.WALLET_TEST_CREDENTIALS = True
    return settings


def card_page(card: Card, user_agent: str = "", query: str = "") -> str:
    headers = {"User-Agent": user_agent} if user_agent else {}
    url = reverse("public:card", args=[card.install_token]) + query
    response = Client(headers=headers).get(url)
    assert response.status_code == 200
    return response.content.decode()


def buttons(page: str) -> list[str]:
    """The wallet buttons on the page, in order."""
    return re.findall(r'data-action="(add_to_(?:apple|google)_wallet)"', page)


def link(page: str, action: str) -> str:
    found = re.findall(rf'<a [^>]*data-action="{action}" href="([^"]+)"', page)
    assert len(found) == 1, found
    return found[0]


# --- which buttons, where --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (IPHONE, [APPLE]),
        (IPAD, [APPLE]),
        (ANDROID, [GOOGLE]),
        (WINDOWS, [APPLE, GOOGLE]),
        (MAC, [APPLE, GOOGLE]),
        (LINUX, [APPLE, GOOGLE]),
        ("", [APPLE, GOOGLE]),  # unknown: everything, no guess
        ("curl/8.5.0", [APPLE, GOOGLE]),
    ],
)
def test_the_phones_own_wallet_is_offered_and_both_elsewhere(
    wallets: Any, stamp_card: Card, user_agent: str, expected: list[str]
) -> None:
    assert buttons(card_page(stamp_card, user_agent)) == expected


def test_the_buttons_link_to_the_pass_and_the_save_link_of_this_card(
    wallets: Any, stamp_card: Card
) -> None:
    page = card_page(stamp_card, WINDOWS)

    token = stamp_card.install_token
    assert link(page, APPLE) == f"/c/{token}/wallet/card.pkpass"
    assert link(page, APPLE) == reverse("wallet_public:apple_pass", args=[token])
    assert link(page, GOOGLE) == reverse("wallet_public:google_save", args=[token])


def test_the_buttons_say_the_brands_words(wallets: Any, stamp_card: Card) -> None:
    page = card_page(stamp_card, WINDOWS)

    texts = re.findall(r'data-action="add_to_\w+_wallet" href="[^"]+">\s*(.*?)\s*</a>', page)
    assert texts == ["Add to Apple Wallet", "Add to Google Wallet"]
    assert 'class="wallet-button wallet-button-apple"' in page
    assert 'class="wallet-button wallet-button-google"' in page
    assert '<link rel="stylesheet" href="/static/wallet/wallet.css">' in page


@pytest.mark.parametrize(
    ("apple", "google", "expected"),
    [
        (True, False, [APPLE]),
        (False, True, [GOOGLE]),
        (False, False, []),
    ],
)
def test_only_the_wallets_that_can_sign_are_offered(
    settings: Any, stamp_card: Card, apple: bool, google: bool, expected: list[str]
) -> None:
    settings.WALLET_TEST_CREDENTIALS = False
    settings.APPLE_PASS_TYPE_ID = "pass.com.example.loyalty" if apple else ""
    settings.APPLE_PASS_CERTIFICATE = "/etc/loyalty/pass.pem" if apple else ""
    settings.APPLE_PASS_P12 = ""
    settings.GOOGLE_WALLET_ISSUER_ID = "3388000000012345678" if google else ""
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = "/etc/loyalty/google.json" if google else ""

    page = card_page(stamp_card, WINDOWS)

    assert buttons(page) == expected
    assert ("data-wallet-buttons" in page) == bool(expected)


def test_an_iphone_gets_no_button_when_only_google_can_sign(
    settings: Any, stamp_card: Card
) -> None:
    settings.WALLET_TEST_CREDENTIALS = False
    settings.GOOGLE_WALLET_ISSUER_ID = "3388000000012345678"
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = "/etc/loyalty/google.json"

    assert buttons(card_page(stamp_card, IPHONE)) == []
    assert buttons(card_page(stamp_card, ANDROID)) == [GOOGLE]


def test_a_deleted_card_offers_no_wallet(wallets: Any, stamp_card: Card, owner: Any) -> None:
    services.card_delete(card=stamp_card, actor=owner)
    stamp_card.refresh_from_db()

    response = Client(headers={"User-Agent": IPHONE}).get(
        reverse("public:card", args=[stamp_card.install_token])
    )

    assert response.status_code == 410
    assert buttons(response.content.decode()) == []
    assert card_page_part(stamp_card) == {}


def test_an_expired_card_offers_no_wallet(wallets: Any, stamp_card: Card, owner: Any) -> None:
    yesterday = clock.now().date() - datetime.timedelta(days=1)
    services.card_set_expiration(
        card=stamp_card, expires_on=yesterday, actor=owner, may_move_expired=True
    )

    assert buttons(card_page(stamp_card, IPHONE)) == []


def test_one_set_of_buttons_sits_with_the_other_ways_to_keep_the_card(
    wallets: Any, stamp_card: Card
) -> None:
    page = card_page(stamp_card, IPHONE)

    install = page.index('id="install-title"')
    assert page.count("data-wallet-buttons") == 1
    assert install < page.index("data-wallet-buttons") < page.index("data-install-help")


# --- from a desktop: a code to open the page on a phone ---------------------------------------


def test_a_desktop_gets_a_code_of_the_card_page_for_the_phones_camera(
    wallets: Any, stamp_card: Card
) -> None:
    page = card_page(stamp_card, WINDOWS)

    figure = re.search(r"<figure class=\"wallet-qr\" data-wallet-qr>(.*?)</figure>", page, re.S)
    assert figure is not None
    assert "Open on your phone" in figure.group(1)
    expected = segno.make(card_install_url(stamp_card), error="m").svg_inline(
        scale=4, border=2, title="This card's page"
    )
    assert expected in figure.group(1)
    assert "style=" not in figure.group(1)  # the content security policy allows no inline style


@pytest.mark.parametrize("user_agent", [IPHONE, ANDROID, ""])
def test_a_phone_or_an_unknown_browser_gets_no_code(
    wallets: Any, stamp_card: Card, user_agent: str
) -> None:
    assert "data-wallet-qr" not in card_page(stamp_card, user_agent)


# --- the platform ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "platform"),
    [
        (IPHONE, Platform.IOS),
        (IPAD, Platform.IOS),
        (ANDROID, Platform.ANDROID),
        (WINDOWS, Platform.DESKTOP),
        (MAC, Platform.DESKTOP),  # iPadOS asking for the desktop site too
        (LINUX, Platform.DESKTOP),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) Chrome/130.0 Safari/537.36", Platform.DESKTOP),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", Platform.OTHER),
        ("", Platform.OTHER),
    ],
)
def test_the_platform_is_read_from_the_user_agent(
    rf: Any, user_agent: str, platform: Platform
) -> None:
    request = rf.get("/", headers={"User-Agent": user_agent} if user_agent else {})
    assert client_platform(request) == platform


# --- right after joining -------------------------------------------------------------------------


def join(program: Program, user_agent: str) -> Client:
    client = Client(headers={"User-Agent": user_agent})
    response = client.post(
        reverse("public:join", args=[program.join_token]),
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": ""},
    )
    assert response.status_code == 302
    card = Card.objects.get(program=program)
    assert response["Location"] == reverse("public:card", args=[card.install_token]) + "?joined=1"
    return client


def ready_step(page: str) -> str:
    found = re.search(r"<section [^>]*data-card-ready>(.*?)</section>", page, re.S)
    assert found is not None, "no card-is-ready step"
    return found.group(1)


@pytest.mark.parametrize(("user_agent", "expected"), [(IPHONE, [APPLE]), (ANDROID, [GOOGLE])])
def test_after_joining_the_phones_wallet_is_offered_first(
    wallets: Any, stamp_program: Program, user_agent: str, expected: list[str]
) -> None:
    client = join(stamp_program, user_agent)
    card = Card.objects.get(program=stamp_program)

    page = client.get(reverse("public:card", args=[card.install_token]) + "?joined=1").text

    step = ready_step(page)
    assert "Your card is ready" in step
    assert buttons(step) == expected
    assert buttons(page) == expected  # once on the page: not again further down
    # The home-screen way is still there.
    assert 'href="#install-title"' in step
    assert "data-install-help" in page


def test_after_joining_without_a_wallet_the_home_screen_is_offered(
    stamp_program: Program,
) -> None:
    client = join(stamp_program, IPHONE)
    card = Card.objects.get(program=stamp_program)

    page = client.get(reverse("public:card", args=[card.install_token]) + "?joined=1").text

    step = ready_step(page)
    assert buttons(page) == []
    assert 'href="#install-title"' in step


def test_the_card_page_opened_later_has_no_ready_step(wallets: Any, stamp_card: Card) -> None:
    page = card_page(stamp_card, IPHONE)

    assert "data-card-ready" not in page
    assert buttons(page) == [APPLE]
