"""The Send push tab: who may use it, choosing a card, the message, scheduling, the list."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards import services as card_services
from cards.models import Card
from loyalty import clock
from pushes import services
from pushes.models import (
    MESSAGE_MAX_LENGTH,
    Channel,
    Delivery,
    DeliveryStatus,
    MessageStatus,
    PushMessage,
    PushSubscription,
)
from tests.factories import CustomerFactory, issue_card
from tests.pushes.support import FakeDNS

pytestmark = pytest.mark.django_db

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def _subscribe(card: Card, n: int = 1, agent: str = "") -> PushSubscription:
    return services.subscription_save(
        card=card,
        endpoint=f"https://fcm.googleapis.com/fcm/send/device-{card.pk}-{n}",
        p256dh=P256DH,
        auth=AUTH,
        user_agent=agent or "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36",
    )


@pytest.fixture(autouse=True)
def push_service_name(fake_dns: FakeDNS) -> None:
    """No DNS here: the push service's name resolves to one of its public addresses."""
    fake_dns.set("fcm.googleapis.com", "142.250.74.42")


@pytest.fixture
def card(stamp_program: Any) -> Card:
    card = issue_card(stamp_program)
    card_services.card_mark_installed(card=card, device="pwa")
    _subscribe(card)
    return card


def _wallet(card: Card, channel: Channel, n: int = 1) -> PushSubscription:
    """A wallet holding the card, as the wallet app records it: a subscription of its channel."""
    card_services.card_mark_installed(card=card, device=channel.value)
    return PushSubscription.objects.create(
        merchant=card.merchant,
        card=card,
        channel=channel,
        endpoint=f"https://wallet.invalid/{channel.value}/{card.pk}/{n}",
    )


def _url(card: Card, name: str = "pushes:tab", *args: Any) -> str:
    return reverse(name, args=[card.serial, *args])


# --- who may use it ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("owner_client", 200),
        ("admin_client_", 200),
        ("staff_client", 200),  # staff send pushes too
        ("outsider_client", 404),  # another merchant's card does not exist for them
        ("client", 302),  # anonymous: to the login page
    ],
)
def test_every_member_may_open_the_tab_and_nobody_else(
    request: Any, persona: str, expected: int, card: Card
) -> None:
    client = request.getfixturevalue(persona)
    scheduled = services.message_create(
        card=card, body="Hi", send_at=timezone.now() + datetime.timedelta(hours=1), actor=None
    )
    urls = [
        ("get", _url(card)),
        ("get", _url(card, "pushes:messages")),
        ("get", _url(card, "pushes:edit", scheduled.pk)),
    ]
    for method, url in urls:
        response = getattr(client, method)(url)
        assert (url, response.status_code) == (url, expected)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("owner_client", 302),
        ("admin_client_", 302),
        ("staff_client", 302),
        ("outsider_client", 404),
        ("client", 302),
    ],
)
def test_only_members_can_send_cancel_or_edit(
    request: Any, persona: str, expected: int, card: Card
) -> None:
    client = request.getfixturevalue(persona)
    later = timezone.now() + datetime.timedelta(hours=1)
    scheduled = services.message_create(card=card, body="Hi", send_at=later, actor=None)

    sent = client.post(_url(card), {"card": card.serial, "body": "Hello"})
    edited = client.post(_url(card, "pushes:edit", scheduled.pk), {"body": "Changed"})
    cancelled = client.post(_url(card, "pushes:cancel", scheduled.pk))

    assert [sent.status_code, edited.status_code, cancelled.status_code] == [expected] * 3
    scheduled.refresh_from_db()
    member = persona not in {"outsider_client", "client"}
    assert PushMessage.objects.filter(body="Hello").exists() is member
    assert scheduled.status == (MessageStatus.CANCELLED if member else MessageStatus.SCHEDULED)
    if not member:
        assert scheduled.body == "Hi"


def test_every_push_url_is_in_the_permission_matrix() -> None:
    from django.urls import get_resolver

    names = {
        name
        for name in get_resolver().namespace_dict["pushes"][1].reverse_dict
        if isinstance(name, str)
    }
    # The matrix above: tab and messages (GET), tab, edit and cancel (POST), edit (GET).
    assert names == {"tab", "messages", "edit", "cancel"}


def test_cancelling_needs_a_post(owner_client: Client, card: Card) -> None:
    later = timezone.now() + datetime.timedelta(hours=1)
    message = services.message_create(card=card, body="Hi", send_at=later, actor=None)

    assert owner_client.get(_url(card, "pushes:cancel", message.pk)).status_code == 405
    message.refresh_from_db()
    assert message.status == MessageStatus.SCHEDULED


def test_another_merchants_message_id_is_not_found(
    owner_client: Client, card: Card, other_merchant: Any, outsider: Any
) -> None:
    from tests.factories import StampProgramFactory

    program: Any = StampProgramFactory(merchant=other_merchant)
    theirs = issue_card(program)
    _subscribe(theirs)
    later = timezone.now() + datetime.timedelta(hours=1)
    message = services.message_create(card=theirs, body="Theirs", send_at=later, actor=None)

    assert owner_client.post(_url(card, "pushes:cancel", message.pk)).status_code == 404
    assert owner_client.get(_url(card, "pushes:edit", message.pk)).status_code == 404
    message.refresh_from_db()
    assert message.status == MessageStatus.SCHEDULED


# --- choosing the card --------------------------------------------------------------------


def test_cards_that_cannot_receive_are_listed_with_the_reason(
    owner_client: Client, stamp_program: Any, cashback_program: Any
) -> None:
    customer: Any = CustomerFactory(merchant=stamp_program.merchant)
    ready = issue_card(stamp_program, customer=customer)
    _subscribe(ready)
    deleted = issue_card(cashback_program, customer=customer)
    _subscribe(deleted)
    card_services.card_delete(card=deleted, actor=None)
    not_installed = issue_card(stamp_program, customer=customer)
    no_permission = issue_card(cashback_program, customer=customer)
    card_services.card_mark_installed(card=no_permission, device="pwa")

    page = owner_client.get(_url(ready)).content.decode()

    def option(card: Card) -> str:
        start = page.index(f'data-card-option="{card.serial}"')
        return page[start : page.index("</label>", start)]

    assert 'data-receivable="true"' in option(ready)
    assert "checked" in option(ready)
    assert "1 device" in option(ready)
    for card, reason in [
        (deleted, "Deleted"),
        (not_installed, "Not installed"),
        (no_permission, "No push permission"),
    ]:
        assert "disabled" in option(card)
        assert f"data-reason>{reason}<" in option(card)


def test_a_card_that_cannot_receive_is_refused_even_if_posted(
    owner_client: Client, stamp_program: Any, card: Card
) -> None:
    other = issue_card(stamp_program, customer=card.customer)  # not installed, no device

    response = owner_client.post(_url(card), {"card": other.serial, "body": "Hello"})

    assert response.status_code == 422
    assert "cannot receive a push" in response.content.decode()
    assert not PushMessage.objects.exists()


def test_with_no_receivable_card_the_tab_says_why_instead_of_a_form(
    owner_client: Client, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)

    page = owner_client.get(_url(card)).content.decode()

    assert "data-push-unavailable" in page
    assert "<textarea" not in page


def test_a_card_held_only_in_a_wallet_can_receive(
    owner_client: Client, stamp_program: Any, cashback_program: Any
) -> None:
    customer: Any = CustomerFactory(merchant=stamp_program.merchant)
    apple = issue_card(stamp_program, customer=customer)
    _wallet(apple, Channel.APPLE_WALLET)
    google_and_browser = issue_card(cashback_program, customer=customer)
    _wallet(google_and_browser, Channel.GOOGLE_WALLET)
    _subscribe(google_and_browser)

    page = owner_client.get(_url(apple)).content.decode()

    def option(card: Card) -> str:
        start = page.index(f'data-card-option="{card.serial}"')
        return page[start : page.index("</label>", start)]

    assert 'data-receivable="true"' in option(apple)
    assert "1 device" in option(apple)
    assert 'data-receivable="true"' in option(google_and_browser)
    assert "2 devices" in option(google_and_browser)
    assert "<textarea" in page


def test_a_wallet_that_let_go_of_the_card_no_longer_counts(
    owner_client: Client, stamp_program: Any
) -> None:
    card = issue_card(stamp_program)
    subscription = _wallet(card, Channel.APPLE_WALLET)
    services.subscription_expire(subscription=subscription, reason="Unregistered")

    page = owner_client.get(_url(card)).content.decode()

    assert "data-push-unavailable" in page
    assert "adds it to Apple Wallet or Google Wallet" in page


def test_a_device_that_unsubscribed_no_longer_counts(owner_client: Client, card: Card) -> None:
    services.subscription_expire(subscription=card.push_subscriptions.get(), reason="410")

    page = owner_client.get(_url(card)).content.decode()

    assert "data-reason>No push permission<" in page


# --- sending and scheduling ---------------------------------------------------------------


def test_send_now_creates_a_message_due_at_once(
    owner_client: Client, owner: Any, card: Card
) -> None:
    response = owner_client.post(_url(card), {"card": card.serial, "body": "  Free coffee!  "})

    assert response.status_code == 302
    message = PushMessage.objects.get()
    assert (message.body, message.card, message.created_by) == ("Free coffee!", card, owner)
    assert message.status == MessageStatus.SCHEDULED  # claimed by the dispatcher right away
    assert not message.scheduled
    assert message.send_at <= timezone.now()


def test_send_now_queues_the_dispatcher_on_commit(
    owner_client: Client, card: Card, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        owner_client.post(_url(card), {"card": card.serial, "body": "Now"})
    assert len(callbacks) == 1  # the broker only hears of it once the row is committed


def test_a_scheduled_time_is_read_in_the_merchants_time_zone(
    owner_client: Client, card: Card
) -> None:
    card.merchant.time_zone = "America/New_York"
    card.merchant.save()
    tomorrow = timezone.localdate(timezone=card.merchant.tz) + datetime.timedelta(days=1)

    response = owner_client.post(
        _url(card),
        {"card": card.serial, "body": "Opening soon", "send_at": f"{tomorrow}T09:30"},
    )

    assert response.status_code == 302
    message = PushMessage.objects.get()
    local = timezone.localtime(message.send_at, card.merchant.tz)
    assert (local.date(), local.hour, local.minute) == (tomorrow, 9, 30)
    assert message.scheduled
    page = owner_client.get(_url(card)).content.decode()
    assert "09:30" in page  # shown back in the shop's time


@pytest.mark.parametrize(
    ("body", "send_at", "error"),
    [
        ("", "", "Type the message to send."),
        (
            "x" * (MESSAGE_MAX_LENGTH + 1),
            "",
            f"Keep the message to {MESSAGE_MAX_LENGTH} characters",
        ),
        ("Hi", "2020-01-01T10:00", "Pick a time in the future"),
        ("Hi", "tomorrow", "Enter a valid date/time."),
    ],
)
def test_invalid_messages_are_refused_with_a_clear_error(
    owner_client: Client, card: Card, body: str, send_at: str, error: str
) -> None:
    response = owner_client.post(
        _url(card), {"card": card.serial, "body": body, "send_at": send_at}
    )

    assert response.status_code == 422
    assert error in response.content.decode()
    assert not PushMessage.objects.exists()


def test_the_length_limit_is_shown_and_counts_line_breaks_once(
    owner_client: Client, card: Card
) -> None:
    page = owner_client.get(_url(card)).content.decode()
    assert f'maxlength="{MESSAGE_MAX_LENGTH}"' in page
    assert f"Up to {MESSAGE_MAX_LENGTH} characters." in page

    # A browser sends line breaks as CRLF; the limit counts them as one, like the counter.
    body = ("a" * 99 + "\r\n") * 5
    response = owner_client.post(_url(card), {"card": card.serial, "body": body})
    assert response.status_code == 302
    assert len(PushMessage.objects.get().body) == 499


def test_a_time_skipped_by_a_clock_change_is_refused(owner_client: Client, card: Card) -> None:
    card.merchant.time_zone = "Europe/Paris"
    card.merchant.save()
    year = timezone.now().year + 1
    # Last Sunday of March: 02:30 does not exist in Paris.
    day = max(
        datetime.date(year, 3, d) for d in range(25, 32) if datetime.date(year, 3, d).weekday() == 6
    )
    response = owner_client.post(
        _url(card), {"card": card.serial, "body": "Hi", "send_at": f"{day}T02:30"}
    )

    assert response.status_code == 422
    assert "does not exist in Europe/Paris" in response.content.decode()


def test_a_deleted_card_gets_no_push(owner_client: Client, card: Card) -> None:
    card_services.card_delete(card=card, actor=None)

    response = owner_client.post(_url(card), {"card": card.serial, "body": "Hi"})

    assert response.status_code == 422
    assert not PushMessage.objects.exists()


# --- the list, cancelling and editing -----------------------------------------------------


def test_the_list_shows_each_state_and_each_devices_result(
    owner_client: Client, owner: Any, card: Card, stamp_program: Any
) -> None:
    iphone = _subscribe(card, 2, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")
    later = timezone.now() + datetime.timedelta(days=1)
    scheduled = services.message_create(card=card, body="Tomorrow", send_at=later, actor=owner)
    cancelled = services.message_create(card=card, body="Oops", send_at=later, actor=owner)
    services.message_cancel(message=cancelled, actor=owner)
    sent = services.message_create(card=card, body="<b>Now</b>", actor=owner)
    services.messages_dispatch_due()
    android_delivery, iphone_delivery = Delivery.objects.filter(message=sent).order_by("id")
    Delivery.objects.filter(pk=android_delivery.pk).update(
        status=DeliveryStatus.DELIVERED, status_code=201
    )
    Delivery.objects.filter(pk=iphone_delivery.pk).update(
        status=DeliveryStatus.EXPIRED, status_code=410, reason="The browser unsubscribed."
    )
    assert iphone_delivery.subscription == iphone
    other_card = issue_card(stamp_program, customer=card.customer)
    _subscribe(other_card)
    services.message_create(card=other_card, body="Other card", send_at=later, actor=owner)

    page = owner_client.get(_url(card)).content.decode()

    assert f'data-message="{scheduled.pk}" data-status="scheduled"' in page
    assert f'data-message="{cancelled.pk}" data-status="cancelled"' in page
    assert f'data-message="{sent.pk}" data-status="sending"' in page
    assert "&lt;b&gt;Now&lt;/b&gt;" in page  # escaped
    assert "Chrome on Android</span>:" in page
    assert 'data-delivery-status="delivered"' in page
    assert "Safari on iPhone</span>:" in page
    assert 'data-delivery-status="expired"' in page
    assert "(410)" in page
    assert "Other card" in page  # the customer's other card's messages are listed too
    assert page.count('data-action="push_cancel"') == 2  # only scheduled ones
    assert 'hx-trigger="every 5s"' in page  # refreshes while something is pending


def test_wallets_are_listed_by_name_with_their_results(
    owner_client: Client, owner: Any, card: Card
) -> None:
    apple = _wallet(card, Channel.APPLE_WALLET)
    google = _wallet(card, Channel.GOOGLE_WALLET)
    message = services.message_create(card=card, body="Double stamps today", actor=owner)
    services.messages_dispatch_due()
    results = {
        apple.pk: (DeliveryStatus.DELIVERED, 200, ""),
        google.pk: (DeliveryStatus.FAILED, 500, "Google Wallet answered 500."),
    }
    for subscription_id, (status, code, reason) in results.items():
        Delivery.objects.filter(message=message, subscription_id=subscription_id).update(
            status=status, status_code=code, reason=reason
        )

    page = owner_client.get(_url(card)).content.decode()

    start = page.index(f'data-message="{message.pk}"')
    listed = page[start:]  # the only message
    deliveries = re.findall(
        r'<li data-delivery-status="(\w+)" data-channel="(\w+)">\s*<span>([^<]+)</span>', listed
    )
    assert sorted(deliveries) == [
        ("delivered", "apple_wallet", "Apple Wallet"),
        ("failed", "google_wallet", "Google Wallet"),
        ("pending", "web_push", "Chrome on Android"),
    ]
    assert "(500)" in listed
    assert "Google Wallet answered 500." in listed


def test_a_wallet_subscription_is_named_after_its_wallet(card: Card) -> None:
    apple = _wallet(card, Channel.APPLE_WALLET)
    google = _wallet(card, Channel.GOOGLE_WALLET)
    browser = card.push_subscriptions.get(channel=Channel.WEB_PUSH)

    assert apple.device_label == "Apple Wallet"
    assert google.device_label == "Google Wallet"
    assert browser.device_label == "Chrome on Android"


def test_the_list_alone_is_served_for_refreshing(owner_client: Client, card: Card) -> None:
    services.message_create(card=card, body="Pending", actor=None)

    response = owner_client.get(_url(card, "pushes:messages"), headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="push-messages"')
    assert "<html" not in html
    assert "Pending" in html


def test_the_tab_runs_a_fixed_number_of_queries(
    owner_client: Client, card: Card, django_assert_max_num_queries: Any
) -> None:
    def load() -> None:
        assert owner_client.get(_url(card)).status_code == 200

    services.message_create(card=card, body="One", actor=None)
    with django_assert_max_num_queries(20) as few:
        load()
    for n in range(30):
        services.message_create(card=card, body=f"Message {n}", actor=None)
        _subscribe(card, n + 10)
    services.messages_dispatch_due()
    with django_assert_max_num_queries(len(few.captured_queries)):
        load()


def test_a_scheduled_message_can_be_cancelled(
    owner_client: Client, staff: Any, staff_client: Client, card: Card
) -> None:
    later = timezone.now() + datetime.timedelta(hours=2)
    message = services.message_create(card=card, body="Later", send_at=later, actor=None)

    response = staff_client.post(_url(card, "pushes:cancel", message.pk), follow=True)

    message.refresh_from_db()
    assert (message.status, message.cancelled_by) == (MessageStatus.CANCELLED, staff)
    assert "Message cancelled" in response.content.decode()


def test_a_scheduled_message_can_be_edited_until_it_starts_sending(
    owner_client: Client, card: Card
) -> None:
    later = timezone.now() + datetime.timedelta(hours=2)
    message = services.message_create(card=card, body="Draft", send_at=later, actor=None)
    form = owner_client.get(_url(card, "pushes:edit", message.pk)).content.decode()
    assert "Draft</textarea>" in form
    new_time = timezone.localtime(later + datetime.timedelta(hours=1), card.merchant.tz)

    response = owner_client.post(
        _url(card, "pushes:edit", message.pk),
        {"body": "Final", "send_at": new_time.strftime("%Y-%m-%dT%H:%M")},
    )

    assert response.status_code == 302
    message.refresh_from_db()
    assert message.body == "Final"
    assert message.send_at == new_time.replace(second=0, microsecond=0)
    assert message.edited_at is not None


def test_a_message_that_started_sending_can_no_longer_be_changed(
    owner_client: Client, card: Card
) -> None:
    soon = timezone.now() + datetime.timedelta(minutes=5)
    message = services.message_create(card=card, body="Soon", send_at=soon, actor=None)
    with clock.frozen_at(soon + datetime.timedelta(seconds=1)):
        services.messages_dispatch_due()

    cancel = owner_client.post(_url(card, "pushes:cancel", message.pk), follow=True)
    edit = owner_client.post(
        _url(card, "pushes:edit", message.pk), {"body": "Changed"}, follow=True
    )

    message.refresh_from_db()
    assert (message.status, message.body) == (MessageStatus.SENDING, "Soon")
    assert "it can no longer be cancelled" in cancel.content.decode()
    assert "it can no longer be changed" in edit.content.decode()


def test_a_failed_message_shows_why(
    owner_client: Client, push_service: Any, subscribe: Any, stamp_program: Any
) -> None:
    from tests.pushes.push_service import Reply

    card = issue_card(stamp_program)
    subscribe(card, Reply(413))
    message = services.message_create(card=card, body="Too big, says the service", actor=None)
    services.messages_dispatch_due()
    services.delivery_send(delivery_id=Delivery.objects.get(message=message).pk)

    page = owner_client.get(_url(card)).content.decode()

    assert f'data-message="{message.pk}" data-status="failed"' in page
    assert "No device received it. The message is too large." in page
    assert "(413)" in page
