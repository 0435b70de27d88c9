"""A card's wallet pass is marked updated by every change its holder should see, and the
update is queued once after commit; cards in no wallet pay nothing for it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cards import services as card_services
from cards.models import Card, Device
from cards.rules import LedgerError
from cards.services import LinkRotation
from loyalty.celery import app as celery_app
from tests.factories import issue_card, stamp_program_form, subscribe_device
from wallet import services, tasks
from wallet.models import AppleDevice, AppleRegistration, WalletPass

pytestmark = pytest.mark.django_db


def _in_wallet(card: Card, device: str = Device.APPLE_WALLET) -> WalletPass:
    wallet_pass = services.wallet_pass_ensure(card=card)
    card_services.card_mark_installed(card=card, device=device)
    return wallet_pass


def _version(wallet_pass: WalletPass) -> int:
    wallet_pass.refresh_from_db()
    return wallet_pass.version


def test_a_ledger_change_bumps_the_pass_and_queues_one_update_after_commit(
    stamp_card, staff, queued, django_capture_on_commit_callbacks
) -> None:
    wallet_pass = _in_wallet(stamp_card)
    with django_capture_on_commit_callbacks(execute=True):
        card_services.card_add_stamps(card=stamp_card, value="2", actor=staff)
    assert _version(wallet_pass) == 2
    assert queued == [(services.PASS_CHANGED_TASK, (wallet_pass.pk,), 1.0)]


def test_a_card_in_no_wallet_costs_no_query_and_queues_nothing(
    stamp_card, staff, queued, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        card_services.card_add_stamps(card=stamp_card, value="1", actor=staff)
    card = Card.objects.get(pk=stamp_card.pk)
    with CaptureQueriesContext(connection) as plain:
        card_services.card_add_stamps(card=card, value="1", actor=staff)
    assert not any("wallet_walletpass" in q["sql"] for q in plain.captured_queries)
    assert queued == []


def test_a_failed_change_leaves_the_pass_as_it_was(stamp_card, staff, queued) -> None:
    wallet_pass = _in_wallet(stamp_card)
    with pytest.raises(LedgerError):
        card_services.card_remove_stamps(card=stamp_card, value="5", actor=staff)
    assert _version(wallet_pass) == 1
    assert queued == []


def test_moving_the_expiration_date_and_deleting_the_card_each_update_the_pass(
    stamp_card, owner, queued
) -> None:
    wallet_pass = _in_wallet(stamp_card, Device.GOOGLE_WALLET)
    card_services.card_set_expiration(
        card=stamp_card, expires_on=datetime.date(2031, 1, 1), actor=owner
    )
    assert _version(wallet_pass) == 2
    card_services.card_delete(card=stamp_card, actor=owner)
    assert _version(wallet_pass) == 3


def test_a_design_change_updates_every_pass_of_the_program(stamp_program, owner_client) -> None:
    passes = [services.wallet_pass_ensure(card=issue_card(stamp_program)) for _ in range(3)]
    untouched = services.wallet_pass_ensure(card=issue_card(_other_program(stamp_program)))
    response = owner_client.post(
        reverse("settings:program_edit", args=[stamp_program.pk]),
        stamp_program_form(name="Renamed"),
    )
    assert response.status_code == 302
    assert [_version(p) for p in passes] == [2, 2, 2]
    assert _version(untouched) == 1


def _other_program(program: Any) -> Any:
    from tests.factories import StampProgramFactory

    return StampProgramFactory(merchant=program.merchant, name="Another card")


def test_replacing_the_link_changes_the_pass_token_and_ends_its_registrations(
    stamp_card, owner
) -> None:
    wallet_pass = _in_wallet(stamp_card)
    old_token = wallet_pass.authentication_token
    device = AppleDevice.objects.create(device_library_identifier="dev-1", push_token="tok")
    subscription = subscribe_device(stamp_card, "iphone")
    AppleRegistration.objects.create(
        merchant=stamp_card.merchant,
        device=device,
        wallet_pass=wallet_pass,
        subscription=subscription,
    )
    card_services.card_rotate_link(card=stamp_card, actor=owner, reason=LinkRotation.DASHBOARD)
    wallet_pass.refresh_from_db()
    assert wallet_pass.authentication_token != old_token
    assert len(wallet_pass.authentication_token) >= 16
    assert not AppleRegistration.objects.exists()
    subscription.refresh_from_db()
    assert subscription.expired_at is not None


def test_the_sweep_queues_again_only_passes_left_behind_a_while(stamp_program, queued) -> None:
    behind = services.wallet_pass_ensure(card=issue_card(stamp_program))
    recent = services.wallet_pass_ensure(card=issue_card(stamp_program))
    told = services.wallet_pass_ensure(card=issue_card(stamp_program))
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    WalletPass.objects.filter(pk=behind.pk).update(version=3, updated_at=long_ago)
    WalletPass.objects.filter(pk=recent.pk).update(version=3)
    WalletPass.objects.filter(pk=told.pk).update(
        version=3, apple_pushed_version=3, google_synced_version=3, updated_at=long_ago
    )
    assert services.wallet_passes_requeue_behind() == [behind.pk]
    assert queued == [(services.PASS_CHANGED_TASK, (behind.pk,), 0)]


def test_the_services_queue_the_tasks_under_their_registered_names() -> None:
    assert tasks.pass_changed.name == services.PASS_CHANGED_TASK
    schedule = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert tasks.requeue_passes_behind.name in schedule


def test_two_first_requests_get_the_same_pass(stamp_card) -> None:
    assert services.wallet_pass_ensure(card=stamp_card) == services.wallet_pass_ensure(
        card=stamp_card
    )


def test_deploy_check_refuses_test_credentials(settings) -> None:
    settings.WALLET_TEST_CREDENTIALS = True
    with pytest.raises(SystemCheckError, match=r"wallet\.E001"):
        call_command("check", "--deploy", "--fail-level", "ERROR", tags=["security"])
