"""Automatic messages: each trigger records one message per card once, and not again on the
next beat; the texts' placeholders; the program's settings page (owners and admins)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse

from cards.models import Card
from cards.services import card_apply, entry_reverse
from cards.services.lifecycle import card_delete, card_set_expiration
from loyalty import clock
from loyalty.models import AuditAction, AuditEvent
from pushes.automatic import Values, check_placeholders, fill
from pushes.models import AutoMessage, MessageSettings, MessageStatus, PushMessage, Trigger
from pushes.services import automatic
from pushes.services.automatic import AutoMessageInput, auto_messages_queue, auto_messages_save
from tests.factories import CustomerFactory, issue_card, subscribe_device

pytestmark = pytest.mark.django_db

# 12:00 in Paris (the merchant's zone below): past the scheduled kinds' 10:00.
NOON = datetime.datetime(2027, 6, 10, 10, 0, tzinfo=datetime.UTC)
TODAY = datetime.date(2027, 6, 10)


@pytest.fixture(autouse=True)
def _paris(merchant: Any) -> None:
    merchant.time_zone = "Europe/Paris"
    merchant.save(update_fields=["time_zone"])


def _turn_on(program: Any, trigger: Trigger, body: str, days: int | None = None) -> None:
    auto_messages_save(
        program=program,
        changes=[AutoMessageInput(trigger=trigger, enabled=True, body=body, days=days)],
        actor=None,
    )


def _card(program: Any, *, device: bool = True, **customer: Any) -> Card:
    card = issue_card(program, CustomerFactory(merchant=program.merchant, **customer))
    if device:
        subscribe_device(card, card.serial)
    return card


def _sent(trigger: Trigger) -> list[PushMessage]:
    return list(PushMessage.objects.filter(trigger=trigger).order_by("id"))


def _stamps(card: Card, count: int, **kwargs: Any) -> None:
    card_apply(card=card, action="stamps_add", value=count, actor=None, **kwargs)


def _visit(card: Card) -> None:
    """A purchase: a visit (adding stamps by hand is not one)."""
    card_apply(card=card, action="transaction_amount_add", value="10", actor=None)


# ---------------------------------------------------------------------------------------------
# Reward ready


def test_a_stamp_that_completes_a_reward_records_the_reward_ready_message_once(
    stamp_program: Any,
) -> None:
    _turn_on(stamp_program, Trigger.REWARD_READY, "{first_name}, {rewards} reward ready!")
    card = _card(stamp_program, first_name="Ana")

    _stamps(card, 9)
    assert _sent(Trigger.REWARD_READY) == []
    _stamps(card, 1)  # the tenth: a reward
    _stamps(card, 1)  # the reward is still there: nothing new to announce

    (message,) = _sent(Trigger.REWARD_READY)
    assert message.body == "Ana, 1 reward ready!"
    assert message.card_id == card.pk
    assert message.status == MessageStatus.SCHEDULED
    assert message.campaign_id is None
    assert not message.is_editable
    entry = card.entries.get(rewards_available_delta__gt=0)
    assert message.trigger_key == str(entry.pk)


def test_each_new_reward_is_announced_and_a_replayed_request_is_not(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.REWARD_READY, "Reward!")
    card = _card(stamp_program)

    _stamps(card, 10, idempotency_key="k1")
    _stamps(card, 10, idempotency_key="k1")  # a double click: replayed, not written again
    assert len(_sent(Trigger.REWARD_READY)) == 1
    _stamps(card, 10, idempotency_key="k2")

    assert len(_sent(Trigger.REWARD_READY)) == 2


def test_a_reversed_redemption_gives_the_reward_back_without_announcing_it(
    stamp_program: Any,
) -> None:
    _turn_on(stamp_program, Trigger.REWARD_READY, "Reward!")
    card = _card(stamp_program)
    _stamps(card, 10)
    redeemed = card_apply(
        card=card, action="rewards_subtract", value=1, purchase_amount="0", actor=None
    )

    entry_reverse(
        card=card, entry=redeemed.entries[0], reason="By mistake", actor=None, role="owner"
    )

    assert card.rewards_available == 1
    assert len(_sent(Trigger.REWARD_READY)) == 1


def test_no_reward_ready_message_when_off_or_without_a_device(stamp_program: Any) -> None:
    without_device = _card(stamp_program, device=False)
    _stamps(_card(stamp_program), 10)  # the message is off
    _turn_on(stamp_program, Trigger.REWARD_READY, "Reward!")
    _stamps(without_device, 10)

    assert _sent(Trigger.REWARD_READY) == []


def test_a_rolled_back_stamp_leaves_no_reward_ready_message(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.REWARD_READY, "Reward!")
    card = _card(stamp_program)

    written_inside = []

    def stamp_then_fail() -> None:
        with transaction.atomic():
            _stamps(card, 10)
            written_inside.extend(_sent(Trigger.REWARD_READY))  # written with the entry...
            raise RuntimeError

    with pytest.raises(RuntimeError):
        stamp_then_fail()

    assert len(written_inside) == 1
    assert _sent(Trigger.REWARD_READY) == []  # ...and gone with it


def test_a_reward_ready_message_waits_for_the_end_of_quiet_hours(stamp_program: Any) -> None:
    MessageSettings.objects.create(
        merchant=stamp_program.merchant,
        quiet_start=datetime.time(21, 0),
        quiet_end=datetime.time(9, 0),
    )
    _turn_on(stamp_program, Trigger.REWARD_READY, "Reward!")
    card = _card(stamp_program)
    late = datetime.datetime(2027, 6, 10, 20, 30, tzinfo=datetime.UTC)  # 22:30 in Paris

    with clock.frozen_at(late):
        _stamps(card, 10)

    (message,) = _sent(Trigger.REWARD_READY)
    assert message.send_at == datetime.datetime(2027, 6, 11, 7, 0, tzinfo=datetime.UTC)


# ---------------------------------------------------------------------------------------------
# The scheduled kinds


def _queue(trigger: Trigger, at: datetime.datetime = NOON) -> int:
    with clock.frozen_at(at):
        return auto_messages_queue(trigger=trigger)


def test_card_expiring_fires_once_per_expiration_date_within_its_days(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.EXPIRING, "Expires {expiry}", days=7)
    due = _card(stamp_program)
    later = _card(stamp_program)
    with clock.frozen_at(NOON):
        card_set_expiration(card=due, expires_on=TODAY + datetime.timedelta(days=7), actor=None)
        card_set_expiration(card=later, expires_on=TODAY + datetime.timedelta(days=8), actor=None)

    assert _queue(Trigger.EXPIRING) == 1
    assert _queue(Trigger.EXPIRING) == 0  # the next beat: nothing twice
    (message,) = _sent(Trigger.EXPIRING)
    assert (message.card_id, message.trigger_key) == (due.pk, "2027-06-17")
    assert message.body == "Expires June 17, 2027"

    # A moved date is a new expiration: announced again when it comes near.
    with clock.frozen_at(NOON):
        card_set_expiration(card=due, expires_on=TODAY + datetime.timedelta(days=5), actor=None)
    assert _queue(Trigger.EXPIRING) == 1
    assert _queue(Trigger.EXPIRING) == 0
    assert [m.trigger_key for m in _sent(Trigger.EXPIRING)] == ["2027-06-17", "2027-06-15"]


def test_expired_deleted_and_archived_cards_get_no_scheduled_message(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")
    expired = _card(stamp_program, birthday=datetime.date(1990, 6, 10))
    deleted = _card(stamp_program, birthday=datetime.date(1990, 6, 10))
    with clock.frozen_at(NOON - datetime.timedelta(days=3)):
        card_set_expiration(card=expired, expires_on=TODAY - datetime.timedelta(days=1), actor=None)
    card_delete(card=deleted, actor=None)

    assert _queue(Trigger.BIRTHDAY) == 0


def test_birthday_fires_on_the_local_day_from_ten_oclock_once_a_year(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday {first_name}, you have {balance}")
    card = _card(stamp_program, first_name="Lea", birthday=datetime.date(1990, 6, 10))
    _card(stamp_program, birthday=datetime.date(1990, 6, 11))
    _card(stamp_program, birthday=None)
    _stamps(card, 3)

    nine_local = NOON - datetime.timedelta(hours=3)
    assert _queue(Trigger.BIRTHDAY, nine_local) == 0  # not before 10:00 in Paris
    assert _queue(Trigger.BIRTHDAY) == 1
    assert _queue(Trigger.BIRTHDAY, NOON + datetime.timedelta(hours=5)) == 0  # same day
    (message,) = _sent(Trigger.BIRTHDAY)
    assert (message.trigger_key, message.body) == ("2027", "Happy birthday Lea, you have 3 stamps")

    next_year = NOON.replace(year=2028)
    assert _queue(Trigger.BIRTHDAY, next_year) == 1


def test_birthday_uses_the_merchants_day_not_utcs(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")
    _card(stamp_program, birthday=datetime.date(1990, 6, 11))
    # 22:30 UTC on the 10th is 00:30 on the 11th in Paris, but before 10:00 there.
    assert (
        _queue(Trigger.BIRTHDAY, datetime.datetime(2027, 6, 10, 22, 30, tzinfo=datetime.UTC)) == 0
    )
    assert _queue(Trigger.BIRTHDAY, datetime.datetime(2027, 6, 11, 8, 30, tzinfo=datetime.UTC)) == 1


def test_a_29_february_birthday_is_wished_on_the_28th_in_other_years(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")
    _card(stamp_program, birthday=datetime.date(2000, 2, 29))
    feb_28 = datetime.datetime(2027, 2, 28, 11, 0, tzinfo=datetime.UTC)
    leap_feb_28 = datetime.datetime(2028, 2, 28, 11, 0, tzinfo=datetime.UTC)

    assert _queue(Trigger.BIRTHDAY, leap_feb_28) == 0
    assert _queue(Trigger.BIRTHDAY, leap_feb_28 + datetime.timedelta(days=1)) == 1
    assert _queue(Trigger.BIRTHDAY, feb_28) == 1


def test_we_miss_you_fires_once_per_lapse(stamp_program: Any) -> None:
    _turn_on(stamp_program, Trigger.LAPSED, "We miss you", days=30)
    card = _card(stamp_program)
    recent = _card(stamp_program)
    long_gone = _card(stamp_program)
    for visitor, days_ago in ((card, 30), (recent, 29), (long_gone, 30 + 8)):
        with clock.frozen_at(NOON - datetime.timedelta(days=days_ago)):
            _visit(visitor)

    assert _queue(Trigger.LAPSED) == 1
    assert _queue(Trigger.LAPSED) == 0
    assert _queue(Trigger.LAPSED, NOON + datetime.timedelta(days=2)) == 1  # recent's turn
    assert {m.card_id for m in _sent(Trigger.LAPSED)} == {card.pk, recent.pk}

    # Back for a coffee, then away again: a new lapse.
    with clock.frozen_at(NOON + datetime.timedelta(days=3)):
        _visit(card)
    assert _queue(Trigger.LAPSED, NOON + datetime.timedelta(days=33)) == 1
    assert len(_sent(Trigger.LAPSED)) == 3


def test_a_scheduled_kind_that_is_off_or_has_no_device_records_nothing(
    stamp_program: Any,
) -> None:
    _card(stamp_program, birthday=datetime.date(1990, 6, 10))
    assert _queue(Trigger.BIRTHDAY) == 0  # never turned on
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")
    auto_messages_save(
        program=stamp_program,
        changes=[AutoMessageInput(trigger=Trigger.BIRTHDAY, enabled=False, body="Happy")],
        actor=None,
    )
    assert _queue(Trigger.BIRTHDAY) == 0
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")
    _card(stamp_program, device=False, birthday=datetime.date(1990, 6, 10))
    assert _queue(Trigger.BIRTHDAY) == 1


def test_the_due_cards_are_found_in_one_query_whatever_their_number(
    stamp_program: Any, django_assert_num_queries: Any
) -> None:
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")
    for _ in range(5):
        _card(stamp_program, birthday=datetime.date(1990, 6, 10))

    with django_assert_num_queries(1):
        due = automatic.auto_messages_due(trigger=Trigger.BIRTHDAY, now=NOON)
    assert len(due) == 5


def test_one_merchants_settings_never_reach_another_merchants_cards(
    stamp_program: Any, other_merchant: Any
) -> None:
    from tests.factories import StampProgramFactory

    other_program = StampProgramFactory(merchant=other_merchant)
    _card(other_program, birthday=datetime.date(1990, 6, 10))
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")

    assert _queue(Trigger.BIRTHDAY) == 0


# ---------------------------------------------------------------------------------------------
# Texts and settings


def test_placeholders_are_filled_in_one_pass() -> None:
    values = Values(first_name="{balance}", balance="3 stamps", rewards="1", expiry="")

    assert fill("Hi {first_name}: {balance}, {other}", values) == "Hi {balance}: 3 stamps, {other}"


def test_an_unknown_placeholder_is_refused_with_the_known_ones_named() -> None:
    with pytest.raises(ValidationError, match=r"\{frist_name\}.*\{first_name\}"):
        check_placeholders("Hello {frist_name}")


def test_a_cashback_balance_is_written_in_the_merchants_currency(cashback_program: Any) -> None:
    _turn_on(cashback_program, Trigger.BIRTHDAY, "You have {balance}")
    card = _card(cashback_program, birthday=datetime.date(1990, 6, 10))
    card_apply(card=card, action="transaction_amount_add", value="100", actor=None)

    assert _queue(Trigger.BIRTHDAY) == 1
    (message,) = _sent(Trigger.BIRTHDAY)
    card.refresh_from_db()
    assert message.body == f"You have ${card.points_balance}"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (AutoMessageInput(trigger="birthday", enabled=True, body=" "), "birthday-body"),
        (AutoMessageInput(trigger="birthday", enabled=True, body="Hi {name}"), "birthday-body"),
        (AutoMessageInput(trigger="lapsed", enabled=True, body="Hi", days=3), "lapsed-days"),
        (AutoMessageInput(trigger="expiring", enabled=True, body="Hi", days=400), "expiring-days"),
    ],
)
def test_an_invalid_automatic_message_is_refused_and_nothing_saved(
    stamp_program: Any, change: AutoMessageInput, field: str
) -> None:
    fine = AutoMessageInput(trigger="reward_ready", enabled=True, body="Reward!")
    with pytest.raises(ValidationError) as refused:
        auto_messages_save(program=stamp_program, changes=[fine, change], actor=None)

    assert field in refused.value.message_dict
    assert not AutoMessage.objects.exists()


def test_a_cashback_program_has_no_reward_ready_message(cashback_program: Any) -> None:
    with pytest.raises(ValidationError):
        _turn_on(cashback_program, Trigger.REWARD_READY, "Reward!")


def test_saving_writes_one_audit_entry_naming_what_changed(stamp_program: Any, owner: Any) -> None:
    change = AutoMessageInput(trigger="birthday", enabled=True, body="Happy birthday")
    auto_messages_save(program=stamp_program, changes=[change], actor=owner)
    auto_messages_save(program=stamp_program, changes=[change], actor=owner)  # no change

    (event,) = AuditEvent.objects.filter(action=AuditAction.AUTO_MESSAGES_CHANGED)
    assert event.summary == f"Automatic messages of {stamp_program.name}: Birthday on"
    assert event.actor == owner


def _form(program: Any, **overrides: str) -> dict[str, str]:
    data = {f"{t}-body": "" for t in Trigger.values}
    data |= {"expiring-days": "7", "lapsed-days": "30"}
    return data | overrides


def test_the_settings_page_saves_the_programs_messages(
    owner_client: Client, stamp_program: Any
) -> None:
    url = reverse("campaigns:automatic_edit", args=[stamp_program.pk])
    page = owner_client.get(url)
    assert page.status_code == 200
    assert "{first_name}" in page.content.decode()

    response = owner_client.post(
        url,
        _form(stamp_program, **{"lapsed-enabled": "on", "lapsed-body": "Miss you {first_name}"}),
    )

    assert response.status_code == 302
    saved = AutoMessage.objects.get(program=stamp_program, trigger=Trigger.LAPSED)
    assert (saved.enabled, saved.body, saved.days) == (True, "Miss you {first_name}", 30)
    overview = owner_client.get(reverse("campaigns:automatic")).content.decode()
    assert 'data-trigger="lapsed" data-enabled="true"' in overview


def test_an_invalid_post_shows_the_error_beside_its_kind(
    owner_client: Client, stamp_program: Any
) -> None:
    url = reverse("campaigns:automatic_edit", args=[stamp_program.pk])
    response = owner_client.post(url, _form(stamp_program, **{"birthday-enabled": "on"}))

    assert response.status_code == 422
    assert "Type the message to send." in response.content.decode()
    assert not AutoMessage.objects.exists()


def test_the_preview_fills_the_text_with_sample_values_and_escapes_it(
    owner_client: Client, stamp_program: Any
) -> None:
    url = reverse("campaigns:automatic_preview", args=[stamp_program.pk])
    response = owner_client.get(
        url, {"trigger": "birthday", "birthday-body": "<b>Hi</b> {first_name}, {balance}"}
    )

    body = response.content.decode()
    assert "&lt;b&gt;Hi&lt;/b&gt; Alex, 8 stamps" in body
    bad = owner_client.get(url, {"trigger": "birthday", "birthday-body": "{nope}"})
    assert "Unknown placeholder {nope}" in bad.content.decode()


def test_another_merchants_program_is_a_404(owner_client: Client, other_merchant: Any) -> None:
    from tests.factories import StampProgramFactory

    other = StampProgramFactory(merchant=other_merchant)
    for name in ("campaigns:automatic_edit", "campaigns:automatic_preview"):
        assert owner_client.get(reverse(name, args=[other.pk])).status_code == 404


def test_the_profile_lists_an_automatic_message_with_its_origin(
    owner_client: Client, stamp_program: Any
) -> None:
    _turn_on(stamp_program, Trigger.BIRTHDAY, "Happy birthday")
    card = _card(stamp_program, birthday=datetime.date(1990, 6, 10))
    _queue(Trigger.BIRTHDAY)

    page = owner_client.get(reverse("pushes:tab", args=[card.serial])).content.decode()

    assert 'data-origin="birthday"' in page
    assert "Automatic: Birthday" in page


def test_message_rules_changes_are_audited(owner_client: Client, merchant: Any) -> None:
    owner_client.post(
        reverse("settings:messages"),
        {"quiet_start": "21:00", "quiet_end": "09:00", "weekly_cap": "2"},
    )

    (event,) = AuditEvent.objects.filter(action=AuditAction.MESSAGE_RULES_CHANGED)
    assert event.summary == "Message rules: quiet hours 21:00-09:00, at most 2 per card a week"
