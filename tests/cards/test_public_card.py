"""The card page at the personalized install link, and what makes it an installable app."""

from __future__ import annotations

import datetime
import json
import re
import struct
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cards import services
from cards.models import Card, CardStatus, Device
from pushes.models import Delivery, DeliveryStatus, MessageStatus, PushMessage, PushSubscription
from tests.factories import StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db


def card_url(card: Card) -> str:
    return reverse("public:card", args=[card.install_token])


def page_of(client: Client, card: Card) -> str:
    response = client.get(card_url(card))
    assert response.status_code == 200
    return response.content.decode()


def test_a_stamp_card_shows_its_design_balance_and_serial(client: Client, stamp_card: Card) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="95", actor=None)
    services.card_add_transaction_amount(card=stamp_card, value="30", actor=None)

    page = page_of(client, stamp_card)

    assert "Demo Coffee" in page
    assert stamp_card.program.name in page
    assert stamp_card.holder_name in page
    assert 'data-metric="stamps_balance" data-value="2"' in page
    assert 'data-metric="rewards_available" data-value="1"' in page
    slots = re.search(r'<ol class="card-slots"[^>]*>(.*?)</ol>', page, re.S)
    assert slots is not None
    assert slots.group(1).count("<li") == 10
    assert slots.group(1).count('class="filled"') == 2
    assert stamp_card.serial in page
    assert "<svg" in page  # the serial's QR code, for the counter's scanner


def test_a_cashback_card_shows_points_and_tier(client: Client, cashback_card: Card) -> None:
    services.card_add_transaction_amount(card=cashback_card, value="600", actor=None)

    page = page_of(client, cashback_card)

    assert 'data-metric="points_balance" data-value="30.00"' in page
    assert 'data-metric="cashback_tier" data-value="Silver"' in page
    assert "7 %" in page


def test_the_expiration_date_is_shown(client: Client, stamp_card: Card) -> None:
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2099, 3, 3), actor=None)

    page = page_of(client, stamp_card)

    assert 'datetime="2099-03-03"' in page
    assert "March 3, 2099" in page


def test_the_history_speaks_the_customers_words_and_hides_staff_comments(
    client: Client, stamp_card: Card
) -> None:
    services.card_add_transaction_amount(
        card=stamp_card, value="95", actor=None, comment="Grumpy regular, be nice"
    )
    services.card_add_transaction_amount(card=stamp_card, value="10", actor=None)
    services.card_redeem_rewards(card=stamp_card, value=1, purchase_amount="0", actor=None)

    page = page_of(client, stamp_card)

    assert "You joined" in page
    assert "Purchase" in page
    assert "Spent $95.00" in page
    assert "+9 stamps" in page
    assert "+1 stamp · +1 reward unlocked" in page
    assert "Reward used" in page
    assert "Grumpy regular" not in page


def test_a_deleted_card_says_it_is_no_longer_valid_and_nothing_else(
    client: Client, stamp_card: Card
) -> None:
    services.card_delete(card=stamp_card, actor=None)

    response = client.get(card_url(stamp_card))

    assert response.status_code == 410
    page = response.content.decode()
    assert "This card is no longer valid" in page
    for secret in (
        stamp_card.serial,
        stamp_card.holder_name,
        "Demo Coffee",
        stamp_card.program.name,
    ):
        assert secret not in page
    assert "<form" not in page
    assert "manifest" not in page
    token = stamp_card.install_token
    for name in ("card_manifest", "card_sw", "card_icon_svg", "card_theme"):
        assert client.get(reverse(f"public:{name}", args=[token])).status_code == 404
    feedback = client.post(reverse("public:card_feedback", args=[token]), {"rating": "5"})
    assert feedback.status_code == 410
    assert client.post(reverse("public:card_installed", args=[token])).status_code == 410


def test_an_expired_card_says_since_when(client: Client, stamp_card: Card) -> None:
    services.card_add_transaction_amount(card=stamp_card, value="20", actor=None)
    services.card_set_expiration(card=stamp_card, expires_on=datetime.date(2024, 3, 3), actor=None)

    page = page_of(client, stamp_card)

    assert "This card expired on March 3, 2024." in page
    assert 'data-expired-on="2024-03-03"' in page
    # It no longer collects anything, so it asks for nothing either.
    assert "public:card_feedback" not in page
    assert 'name="rating"' not in page


def test_unknown_tokens_and_serials_are_not_found(client: Client, stamp_card: Card) -> None:
    assert client.get("/c/not-a-real-token/").status_code == 404
    assert client.get(f"/c/{stamp_card.serial}/").status_code == 404
    assert client.get(f"/c/{stamp_card.pk}/").status_code == 404
    assert client.get(f"/c/{stamp_card.referral_token}/").status_code == 404


def test_the_card_page_is_not_cached_or_indexed(client: Client, stamp_card: Card) -> None:
    response = client.get(card_url(stamp_card))

    assert "no-store" in response["Cache-Control"]
    assert "noindex" in response["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()


def test_the_card_page_runs_under_the_strict_csp(client: Client, stamp_card: Card) -> None:
    response = client.get(card_url(stamp_card))

    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "script-src 'self'" in policy
    page = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"


def test_the_page_reveals_nothing_of_other_cards(client: Client, stamp_card: Card) -> None:
    neighbour = issue_card(stamp_card.program)

    page = page_of(client, stamp_card)

    assert neighbour.serial not in page
    assert neighbour.holder_name not in page
    assert neighbour.install_token not in page


def test_the_card_page_runs_a_fixed_number_of_queries(client: Client, stamp_program: Any) -> None:
    short = issue_card(stamp_program)
    long = issue_card(stamp_program)
    for _ in range(60):
        services.card_add_stamps(card=long, value=1, actor=None)

    with CaptureQueriesContext(connection) as few:
        client.get(card_url(short))
    with CaptureQueriesContext(connection) as many:
        client.get(card_url(long))

    assert len(many) == len(few)


# ---------------------------------------------------------------------------------------------
# The installable app


def test_the_manifest_opens_the_card_in_its_own_window(client: Client, stamp_card: Card) -> None:
    response = client.get(reverse("public:card_manifest", args=[stamp_card.install_token]))

    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == card_url(stamp_card)
    assert manifest["scope"] == card_url(stamp_card)
    assert manifest["display"] == "standalone"
    assert "Demo Coffee" in manifest["name"]
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert 'rel="manifest"' in page_of(client, stamp_card)


def test_the_manifest_speaks_the_customers_language(client: Client, stamp_card: Card) -> None:
    url = reverse("public:card_manifest", args=[stamp_card.install_token])
    manifest = json.loads(client.get(url, HTTP_ACCEPT_LANGUAGE="es-ES,es").content)
    assert manifest["lang"] == "es"
    assert manifest["description"] == f"Tu tarjeta {stamp_card.program.name}"


@pytest.mark.parametrize("size", [192, 512])
def test_the_icons_are_png_images_of_the_announced_size(
    client: Client, stamp_card: Card, size: int
) -> None:
    response = client.get(reverse("public:card_icon_png", args=[stamp_card.install_token, size]))

    assert response["Content-Type"] == "image/png"
    data = response.content
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (size, size)


def test_only_the_announced_icon_sizes_exist(client: Client, stamp_card: Card) -> None:
    url = reverse("public:card_icon_png", args=[stamp_card.install_token, 64])

    assert client.get(url).status_code == 404


def test_the_program_colours_cannot_inject_css(client: Client, merchant: Any) -> None:
    program = StampProgramFactory(
        merchant=merchant, background_color="red;}*{", foreground_color="#abc"
    )
    card = issue_card(program)

    css = client.get(reverse("public:card_theme", args=[card.install_token])).content.decode()

    assert "red" not in css
    assert "--card-fg: #abc" in css


def test_the_service_worker_is_scoped_to_the_card_and_loads_the_push_handler(
    client: Client, stamp_card: Card
) -> None:
    response = client.get(reverse("public:card_sw", args=[stamp_card.install_token]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    script = response.content.decode()
    assert 'importScripts("/static/card/sw-push.js")' in script
    declared = re.search(r'var CARD_URL = ("[^"]*");', script)
    assert declared is not None
    assert json.loads(declared.group(1)) == card_url(stamp_card)
    # Served from under the card's path, its default scope is the card: no special header.
    assert reverse("public:card_sw", args=[stamp_card.install_token]).startswith(
        card_url(stamp_card)
    )


def test_a_first_visit_alone_does_not_mark_the_card_installed(
    client: Client, stamp_card: Card
) -> None:
    page_of(client, stamp_card)

    stamp_card.refresh_from_db()
    assert stamp_card.status == CardStatus.NOT_INSTALLED
    assert stamp_card.devices == []


def test_installing_the_app_marks_the_card_installed_on_pwa(
    client: Client, stamp_card: Card
) -> None:
    page_of(client, stamp_card)
    url = reverse("public:card_installed", args=[stamp_card.install_token])

    assert client.get(url).status_code == 405
    response = client.post(url)

    assert response.status_code == 204
    stamp_card.refresh_from_db()
    assert stamp_card.status == CardStatus.INSTALLED
    assert stamp_card.devices == [Device.PWA]
    assert stamp_card.installed_at is not None


def test_installing_the_app_keeps_the_wallet_the_card_is_already_in(
    client: Client, stamp_card: Card
) -> None:
    services.card_mark_installed(card=stamp_card, device=Device.APPLE_WALLET)
    url = reverse("public:card_installed", args=[stamp_card.install_token])

    assert client.post(url).status_code == 204
    assert client.post(url).status_code == 204  # reported again: listed once

    stamp_card.refresh_from_db()
    assert stamp_card.devices == [Device.APPLE_WALLET, Device.PWA]


def test_marking_installed_needs_the_csrf_token(stamp_card: Card) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(card_url(stamp_card)).content.decode()
    url = reverse("public:card_installed", args=[stamp_card.install_token])

    assert client.post(url).status_code == 403
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    assert client.post(url, headers={"X-CSRFToken": token.group(1)}).status_code == 204


# ---------------------------------------------------------------------------------------------
# The last push message


def test_the_last_push_message_that_reached_the_card_is_shown(
    client: Client, stamp_card: Card
) -> None:
    now = timezone.now()
    subscription = PushSubscription.objects.create(
        merchant=stamp_card.merchant,
        card=stamp_card,
        endpoint="https://push.example.com/abc",
        p256dh="key",
        auth="auth",
    )
    for body, minutes_ago in (("Old news", 60), ("Double stamps <b>today</b>!", 5)):
        message = PushMessage.objects.create(
            merchant=stamp_card.merchant,
            card=stamp_card,
            body=body,
            status=MessageStatus.SENT,
            send_at=now - datetime.timedelta(minutes=minutes_ago),
        )
        Delivery.objects.create(
            message=message,
            subscription=subscription,
            status=DeliveryStatus.DELIVERED,
            next_attempt_at=now,
            enqueued_at=now,
            finished_at=now - datetime.timedelta(minutes=minutes_ago),
        )

    page = page_of(client, stamp_card)

    assert "Double stamps &lt;b&gt;today&lt;/b&gt;!" in page
    assert "Old news" not in page


def test_without_a_push_message_there_is_no_message_section(
    client: Client, stamp_card: Card
) -> None:
    assert "Latest message" not in page_of(client, stamp_card)


def test_the_service_worker_carries_its_texts_in_the_customers_language(
    client: Client, stamp_card: Card
) -> None:
    url = reverse("public:card_sw", args=[stamp_card.install_token])
    script = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'newMessage: "Neue Nachricht"' in script
