"""Replacing a card's install link: the service, the old link's 410 on every page under it, and
the two places it is done from (the card's profile, the card page)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cards import services
from cards.models import Card, RetiredCardLink
from cards.rules import LedgerError
from loyalty.models import AuditAction, AuditEvent
from pushes.models import PushSubscription
from tests.factories import issue_card

pytestmark = pytest.mark.django_db

REPLACED = "This card's link was replaced"


def _card_urls(patterns: list[Any], namespace: str = "") -> list[str]:
    """Every URL name whose path starts with a card's install token (whichever app owns it)."""
    names = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            names += _card_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and "install_token" in pattern.pattern.converters:
            names.append(f"{namespace}:{pattern.name}" if namespace else str(pattern.name))
    return sorted(set(names))


CARD_URLS = _card_urls(get_resolver().url_patterns)
# The pages that take a POST (the others are GET).
POSTED = {
    "public:card_feedback",
    "public:card_installed",
    "public:card_replace_link",
}


def _request(client: Client, name: str, token: str) -> Any:
    kwargs: dict[str, Any] = {"install_token": token}
    if name == "public:card_icon_png":
        kwargs["size"] = 192
    url = reverse(name, kwargs=kwargs)
    return client.post(url) if name in POSTED else client.get(url)


def _subscribe(card: Card, endpoint: str) -> PushSubscription:
    return PushSubscription.objects.create(
        merchant=card.merchant, card=card, endpoint=endpoint, p256dh="key", auth="auth"
    )


# ---------------------------------------------------------------------------------------------
# The service


def test_replacing_a_link_gives_the_card_a_new_token_and_retires_the_old_one(
    stamp_card: Card,
) -> None:
    old = stamp_card.install_token

    services.card_rotate_link(card=stamp_card, actor=None, reason=services.LinkRotation.CARD_PAGE)

    stamp_card.refresh_from_db()
    assert stamp_card.install_token != old
    retired = RetiredCardLink.objects.get(card=stamp_card)
    assert retired.token == old


def test_replacing_a_link_is_in_the_audit_log_in_english(stamp_card: Card, staff: Any) -> None:
    services.card_rotate_link(card=stamp_card, actor=staff, reason=services.LinkRotation.DASHBOARD)

    event = AuditEvent.objects.get(action=AuditAction.CARD_LINK_ROTATED)
    assert event.merchant == stamp_card.merchant
    assert (event.actor, event.actor_name) == (staff, "staff")
    assert event.summary == (
        f"Replaced the install link of card {stamp_card.serial}: replaced from the dashboard"
    )
    # The audit log keeps no credential: neither token is in it.
    assert RetiredCardLink.objects.get().token not in str(event.details)
    assert stamp_card.install_token not in event.summary + str(event.details)


def test_a_customer_replacing_the_link_is_named_in_the_audit_log(stamp_card: Card) -> None:
    services.card_rotate_link(card=stamp_card, actor=None, reason=services.LinkRotation.CARD_PAGE)

    event = AuditEvent.objects.get(action=AuditAction.CARD_LINK_ROTATED)
    assert (event.actor, event.actor_name) == (None, "Customer (card page)")
    assert event.details == {"serial": stamp_card.serial, "reason": "card_page"}


def test_replacing_a_link_expires_the_cards_push_subscriptions(
    stamp_card: Card, stamp_program: Any
) -> None:
    mine = _subscribe(stamp_card, "https://push.example.com/old-holder")
    other_card = issue_card(stamp_program)
    theirs = _subscribe(other_card, "https://push.example.com/someone-else")

    services.card_rotate_link(card=stamp_card, actor=None, reason=services.LinkRotation.CARD_PAGE)

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.expired_at is not None
    assert mine.expired_reason == "The card's link was replaced."
    assert theirs.expired_at is None


def test_a_deleted_cards_link_cannot_be_replaced(stamp_card: Card) -> None:
    services.card_delete(card=stamp_card, actor=None)
    old = stamp_card.install_token

    with pytest.raises(LedgerError):
        services.card_rotate_link(
            card=stamp_card, actor=None, reason=services.LinkRotation.DASHBOARD
        )

    stamp_card.refresh_from_db()
    assert stamp_card.install_token == old
    assert not RetiredCardLink.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CARD_LINK_ROTATED).exists()


# ---------------------------------------------------------------------------------------------
# The old link, on every page under it


def test_the_pages_under_a_card_link_are_all_checked() -> None:
    # The walk below finds every app's pages under /c/<token>/, not a list kept by hand.
    assert {
        "public:card",
        "public:card_manifest",
        "public:card_sw",
        "public:card_installed",
        "public:card_feedback",
        "public:card_replace_link",
        "pushes_public:subscribe",
    } <= set(CARD_URLS)


@pytest.mark.parametrize("name", CARD_URLS)
def test_every_page_under_a_replaced_link_answers_410(
    client: Client, stamp_card: Card, name: str
) -> None:
    old = stamp_card.install_token
    services.card_rotate_link(card=stamp_card, actor=None, reason=services.LinkRotation.CARD_PAGE)

    response = _request(client, name, old)

    assert response.status_code == 410
    assert REPLACED in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "noindex" in response["X-Robots-Tag"]
    stamp_card.refresh_from_db()
    assert RetiredCardLink.objects.filter(card=stamp_card).count() == 1  # nothing else happened


@pytest.mark.parametrize("name", CARD_URLS)
def test_every_page_under_an_unknown_link_is_still_not_found(
    client: Client, stamp_card: Card, name: str
) -> None:
    assert _request(client, name, "not-a-card-token-at-all").status_code == 404


def test_the_replaced_page_says_where_the_new_link_is(client: Client, stamp_card: Card) -> None:
    old = stamp_card.install_token
    services.card_rotate_link(card=stamp_card, actor=None, reason=services.LinkRotation.CARD_PAGE)

    page = client.get(reverse("public:card", args=[old])).content.decode()

    assert "Open the newest link from your email, or ask at the counter of Demo Coffee." in page
    # Neither the card nor its new link.
    assert stamp_card.install_token not in page
    assert stamp_card.serial not in page


def test_the_new_link_opens_the_card(client: Client, stamp_card: Card) -> None:
    services.card_rotate_link(card=stamp_card, actor=None, reason=services.LinkRotation.CARD_PAGE)

    response = client.get(reverse("public:card", args=[stamp_card.install_token]))

    assert response.status_code == 200
    assert stamp_card.serial in response.content.decode()


# ---------------------------------------------------------------------------------------------
# From the card's profile (staff too: the counter meets customers who lost their phone)


def test_the_profile_offers_to_replace_the_link(staff_client: Client, stamp_card: Card) -> None:
    page = staff_client.get(reverse("cards:profile", args=[stamp_card.serial])).content.decode()

    assert reverse("cards:replace_link", args=[stamp_card.serial]) in page
    assert 'data-action="install_link_replace"' in page


def test_staff_are_asked_to_confirm_before_the_link_is_replaced(
    staff_client: Client, stamp_card: Card
) -> None:
    url = reverse("cards:replace_link", args=[stamp_card.serial])

    dialog = staff_client.get(url, headers={"HX-Request": "true"})
    page = staff_client.get(url)

    assert dialog.status_code == 200
    assert 'data-dialog="card_replace_link"' in dialog.content.decode()
    assert "<html" not in dialog.content.decode()
    assert 'data-confirm-page="card_replace_link"' in page.content.decode()
    old = stamp_card.install_token
    stamp_card.refresh_from_db()
    assert stamp_card.install_token == old  # asking changes nothing


def test_staff_replace_the_link_and_the_profile_shows_the_new_one(
    staff_client: Client, client: Client, stamp_card: Card, staff: Any
) -> None:
    old = stamp_card.install_token

    response = staff_client.post(reverse("cards:replace_link", args=[stamp_card.serial]))

    assert response.status_code == 302
    assert response["Location"] == reverse("cards:profile", args=[stamp_card.serial])
    stamp_card.refresh_from_db()
    assert stamp_card.install_token != old
    profile = staff_client.get(response["Location"]).content.decode()
    assert reverse("public:card", args=[stamp_card.install_token]) in profile
    assert old not in profile
    assert "The card&#x27;s link was replaced" in profile
    assert client.get(reverse("public:card", args=[old])).status_code == 410
    event = AuditEvent.objects.get(action=AuditAction.CARD_LINK_ROTATED)
    assert event.actor == staff


def test_replacing_from_the_profile_with_htmx_reloads_the_profile(
    staff_client: Client, stamp_card: Card
) -> None:
    response = staff_client.post(
        reverse("cards:replace_link", args=[stamp_card.serial]), headers={"HX-Request": "true"}
    )

    assert response["HX-Redirect"] == reverse("cards:profile", args=[stamp_card.serial])


def test_a_deleted_cards_profile_offers_no_new_link(owner_client: Client, stamp_card: Card) -> None:
    services.card_delete(card=stamp_card, actor=None)
    old = stamp_card.install_token

    page = owner_client.get(reverse("cards:profile", args=[stamp_card.serial])).content.decode()
    owner_client.post(reverse("cards:replace_link", args=[stamp_card.serial]))

    assert 'data-action="install_link_replace"' not in page
    stamp_card.refresh_from_db()
    assert stamp_card.install_token == old


def test_another_merchant_cannot_replace_the_link(
    outsider_client: Client, stamp_card: Card
) -> None:
    old = stamp_card.install_token

    response = outsider_client.post(reverse("cards:replace_link", args=[stamp_card.serial]))

    assert response.status_code == 404
    stamp_card.refresh_from_db()
    assert stamp_card.install_token == old


# ---------------------------------------------------------------------------------------------
# From the card page (the customer)


def test_the_card_page_has_a_form_to_replace_its_link(client: Client, stamp_card: Card) -> None:
    page = client.get(reverse("public:card", args=[stamp_card.install_token])).content.decode()

    action = reverse("public:card_replace_link", args=[stamp_card.install_token])
    assert f'action="{action}"' in page
    assert "Replace this card's link" in page


def test_the_customer_replaces_the_link_and_moves_to_the_new_one(
    client: Client, stamp_card: Card
) -> None:
    old = stamp_card.install_token

    response = client.post(reverse("public:card_replace_link", args=[old]))

    stamp_card.refresh_from_db()
    assert stamp_card.install_token != old
    assert response.status_code == 302
    assert response["Location"] == reverse("public:card", args=[stamp_card.install_token])
    assert client.get(response["Location"]).status_code == 200
    assert client.get(reverse("public:card", args=[old])).status_code == 410
    event = AuditEvent.objects.get(action=AuditAction.CARD_LINK_ROTATED)
    assert event.actor_name == "Customer (card page)"


def test_replacing_from_the_card_page_needs_its_csrf_token(stamp_card: Card) -> None:
    client = Client(enforce_csrf_checks=True)
    old = stamp_card.install_token

    response = client.post(reverse("public:card_replace_link", args=[old]))

    assert response.status_code == 403
    stamp_card.refresh_from_db()
    assert stamp_card.install_token == old


def test_replacing_from_the_card_page_is_rate_limited(client: Client, stamp_card: Card) -> None:
    for _ in range(3):
        response = client.post(reverse("public:card_replace_link", args=[stamp_card.install_token]))
        assert response.status_code == 302
        stamp_card.refresh_from_db()
    current = stamp_card.install_token

    response = client.post(reverse("public:card_replace_link", args=[current]))

    assert response.status_code == 429
    stamp_card.refresh_from_db()
    assert stamp_card.install_token == current
    assert RetiredCardLink.objects.filter(card=stamp_card).count() == 3


def test_a_deleted_card_page_replaces_nothing(client: Client, stamp_card: Card) -> None:
    services.card_delete(card=stamp_card, actor=None)
    old = stamp_card.install_token

    response = client.post(reverse("public:card_replace_link", args=[old]))

    assert response.status_code == 410
    assert not RetiredCardLink.objects.exists()
