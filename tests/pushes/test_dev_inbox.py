"""The development push inbox: the local push service ``python3 dev.py run`` starts, the demo
devices seed_demo subscribes to it, and the dashboard page showing what it received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cards.models import Card
from loyalty.models import Merchant
from pushes import services
from pushes.demo import DEMO_DEVICES_PER_MERCHANT, DEMO_USER_AGENT
from pushes.devinbox import PushInbox, inbox_endpoints, inbox_messages, inbox_subscribe
from pushes.models import Delivery, DeliveryStatus, PushMessage, PushSubscription
from tests.factories import StampProgramFactory, issue_card
from tests.pushes.support import wait_until

pytestmark = pytest.mark.django_db

PAGE = "/dev/push-inbox/"


@pytest.fixture
def inbox() -> Iterator[PushInbox]:
    """As ``dev.py run`` starts it: it does not know the site's VAPID key, any valid one does."""
    with PushInbox() as service:
        yield service


@pytest.fixture
def inbox_on(settings: Any, inbox: PushInbox) -> PushInbox:
    settings.DEBUG = True
    settings.PUSH_DEV_INBOX_URL = inbox.origin
    return inbox


def _device(card: Card, inbox: PushInbox) -> PushSubscription:
    """A device of the card on the inbox, subscribed over its HTTP interface."""
    browser = inbox_subscribe(inbox.origin)
    return services.subscription_save(
        card=card,
        endpoint=browser["endpoint"],
        p256dh=browser["keys"]["p256dh"],
        auth=browser["keys"]["auth"],
        user_agent=DEMO_USER_AGENT,
    )


def _send(card: Card, body: str) -> PushMessage:
    """Send now through the real services, running the queued pairs here as the worker would."""
    message = services.message_create(card=card, body=body, actor=None)
    services.messages_dispatch_due()
    for delivery in Delivery.objects.filter(message=message):
        services.delivery_send(delivery_id=delivery.pk)
    return message


# The inbox ----------------------------------------------------------------------------------


def test_the_inbox_decrypts_real_deliveries_and_lists_them_newest_first(
    inbox: PushInbox, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    _device(card, inbox)

    first = _send(card, "First ☕")
    second = _send(card, "Second 🥐")

    received = inbox_messages(inbox.origin)
    assert [m["payload"]["body"] for m in received] == ["Second 🥐", "First ☕"]
    assert [m["errors"] for m in received] == [[], []]
    assert received[0]["payload"]["title"] == card.merchant.name
    assert received[0]["payload"]["url"] == f"/c/{card.install_token}/"
    assert (received[0]["ttl"], received[0]["urgency"]) == ("86400", "normal")
    assert received[1]["topic"] == f"m{first.pk}"
    statuses = Delivery.objects.filter(message__in=[first, second]).values_list("status", flat=True)
    assert set(statuses) == {DeliveryStatus.DELIVERED}


def test_an_inbox_restarted_on_its_state_file_still_decrypts_for_its_subscriptions(
    tmp_path: Path, stamp_program: Any
) -> None:
    state = tmp_path / "subscriptions.json"
    card = issue_card(stamp_program)
    with PushInbox(state_file=state) as before:
        device = _device(card, before)
        port = int(before.origin.rsplit(":", 1)[1])

    with PushInbox(port=port, state_file=state) as after:
        assert inbox_endpoints(after.origin) == {device.endpoint}
        _send(card, "Still here")
        (received,) = inbox_messages(after.origin)

    assert received["errors"] == []
    assert received["payload"]["body"] == "Still here"


# seed_demo ----------------------------------------------------------------------------------


def _demo_devices(slug: str) -> set[tuple[int, str, str]]:
    return set(
        PushSubscription.objects.filter(
            merchant__slug=slug, expired_at__isnull=True, user_agent=DEMO_USER_AGENT
        ).values_list("card_id", "endpoint", "p256dh")
    )


def test_seed_demo_subscribes_a_few_demo_cards_to_the_inbox_once(inbox_on: PushInbox) -> None:
    call_command("seed_demo", customers=5)
    coffee, bakery = _demo_devices("demo-coffee"), _demo_devices("other-bakery")

    assert len(coffee) == len(bakery) == DEMO_DEVICES_PER_MERCHANT
    assert {endpoint for _card, endpoint, _key in coffee | bakery} == inbox_endpoints(
        inbox_on.origin
    )
    assert len({key for _card, _endpoint, key in coffee | bakery}) == 2 * DEMO_DEVICES_PER_MERCHANT
    subscribed = Card.objects.filter(pk__in=[card for card, _endpoint, _key in coffee])
    assert {card.status for card in subscribed} == {"installed"}

    call_command("seed_demo", customers=5)
    assert (_demo_devices("demo-coffee"), _demo_devices("other-bakery")) == (coffee, bakery)
    assert PushSubscription.objects.count() == 2 * DEMO_DEVICES_PER_MERCHANT


def test_seed_demo_gives_new_devices_when_the_inbox_lost_the_old_ones(
    settings: Any, inbox_on: PushInbox
) -> None:
    call_command("seed_demo", customers=3)
    old = _demo_devices("demo-coffee")

    with PushInbox() as new_inbox:
        settings.PUSH_DEV_INBOX_URL = new_inbox.origin
        call_command("seed_demo", customers=3)
        new = _demo_devices("demo-coffee")
        known = inbox_endpoints(new_inbox.origin)

    assert {card for card, *_ in new} == {card for card, *_ in old}
    assert {endpoint for _card, endpoint, _key in new} <= known
    lost = PushSubscription.objects.filter(endpoint__in=[e for _c, e, _k in old])
    assert all(device.expired_at is not None for device in lost)


def test_seed_demo_subscribes_no_card_without_an_inbox(settings: Any) -> None:
    settings.DEBUG = True
    settings.PUSH_DEV_INBOX_URL = ""

    call_command("seed_demo", customers=3)

    assert Card.objects.exists()
    assert not PushSubscription.objects.exists()


# The page -----------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_page_lists_a_push_sent_from_the_send_push_tab(
    celery_worker: Any, inbox_on: PushInbox, owner_client: Client, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    _device(card, inbox_on)

    response = owner_client.post(
        reverse("pushes:tab", args=[card.serial]), {"card": card.serial, "body": "Hello ☕"}
    )
    assert response.status_code == 302
    inbox_on.wait_for(1)

    page = owner_client.get(PAGE)
    assert page.status_code == 200
    (message,) = page.context["inbox"]
    assert (message.card, message.title, message.body) == (card, card.merchant.name, "Hello ☕")
    assert (message.url, message.ttl, message.urgency) == (
        f"/c/{card.install_token}/",
        "86400",
        "normal",
    )
    assert message.errors == []
    content = page.content.decode()
    assert 'data-field="body">Hello ☕<' in content
    assert f'data-card="{card.serial}"' in content
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).exists())


@pytest.mark.parametrize(("debug", "configured"), [(False, True), (True, False), (False, False)])
def test_the_page_is_absent_unless_debug_and_an_inbox(
    debug: bool,
    configured: bool,
    settings: Any,
    inbox: PushInbox,
    owner_client: Client,
    stamp_card: Card,
) -> None:
    settings.DEBUG = debug
    settings.PUSH_DEV_INBOX_URL = inbox.origin if configured else ""

    assert owner_client.get(PAGE).status_code == 404
    tab = owner_client.get(reverse("pushes:tab", args=[stamp_card.serial]))
    assert b"data-push-dev-inbox" not in tab.content


def test_the_push_tab_links_to_the_page_when_the_inbox_is_on(
    inbox_on: PushInbox, staff_client: Client, stamp_card: Card
) -> None:
    tab = staff_client.get(reverse("pushes:tab", args=[stamp_card.serial]))
    assert f'href="{PAGE}" data-action="push_dev_inbox"'.encode() in tab.content


def test_the_page_needs_a_login(inbox_on: PushInbox, client: Client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_lists_only_the_merchants_own_cards_in_fixed_queries(
    inbox_on: PushInbox,
    owner_client: Client,
    outsider_client: Client,
    stamp_card: Card,
    other_merchant: Merchant,
    django_assert_num_queries: Any,
) -> None:
    theirs = issue_card(StampProgramFactory(merchant=other_merchant))
    _device(stamp_card, inbox_on)
    _device(theirs, inbox_on)
    _send(stamp_card, "Ours")
    _send(theirs, "Theirs")

    with django_assert_num_queries(QUERIES):
        ours = owner_client.get(PAGE)
    _send(stamp_card, "Ours again")
    with django_assert_num_queries(QUERIES):
        ours_later = owner_client.get(PAGE)
    other = outsider_client.get(PAGE)

    assert [m.body for m in ours.context["inbox"]] == ["Ours"]
    assert [m.body for m in ours_later.context["inbox"]] == ["Ours again", "Ours"]
    assert [m.card for m in other.context["inbox"]] == [theirs]
    assert b"Theirs" not in ours_later.content


# The membership (with its user and merchant), then the devices the messages went to.
QUERIES = 2


def test_the_page_says_when_nothing_arrived_yet(inbox_on: PushInbox, owner_client: Client) -> None:
    page = owner_client.get(PAGE)
    assert page.status_code == 200
    assert b"data-empty-state" in page.content
    assert b"data-inbox-unreachable" not in page.content


def test_the_page_says_when_the_inbox_does_not_answer(settings: Any, owner_client: Client) -> None:
    with PushInbox() as gone:
        url = gone.origin
    settings.DEBUG = True
    settings.PUSH_DEV_INBOX_URL = url

    page = owner_client.get(PAGE)

    assert page.status_code == 200
    assert b"data-inbox-unreachable" in page.content
