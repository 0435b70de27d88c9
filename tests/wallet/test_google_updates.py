"""Live updates: a change of the card PATCHes its object at Google (the stand-in), once per
burst of changes, with an OAuth token from the service account, and retries what Google asks
to retry."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from cards import services as card_services
from cards.models import Card
from cards.services.programs import ProgramSpec, program_update
from loyalty import clock
from tests.wallet.google_api import HANG_UP, SCOPE, TOKEN_AUDIENCE, GoogleWalletStandIn
from tests.wallet.google_fixtures import save_link_of, saved_to_google
from wallet import tasks
from wallet.models import GoogleObject, GoogleUpdate, UpdateStatus, WalletPass
from wallet.services import PASS_CHANGED_TASK, wallet_pass_ensure, wallet_passes_mark_updated
from wallet.services import google as google_services
from wallet.services.google import UPDATE_RETRY_TASK

pytestmark = pytest.mark.django_db

Queued = list[tuple[str, tuple[Any, ...], float]]


@pytest.fixture
def held(google_api: GoogleWalletStandIn, client: Client, stamp_card: Card) -> GoogleObject:
    """The stamp card, saved to Google Wallet by its holder."""
    return saved_to_google(client, stamp_card, google_api)


def _add_stamps(card: Card, value: int, capture: Any) -> None:
    """Stamps added from the profile's dialog, committed (so the update is queued)."""
    with capture(execute=True):
        card_services.card_add_stamps(card=card, value=str(value), actor=None)


def _run_pass_changed(queued: Queued) -> None:
    """What the worker does with the queued pass updates."""
    for name, args, _countdown in list(queued):
        if name == PASS_CHANGED_TASK:
            queued.remove((name, args, _countdown))
            tasks.pass_changed(*args)


def _retries(queued: Queued) -> list[tuple[tuple[Any, ...], float]]:
    return [(args, countdown) for name, args, countdown in queued if name == UPDATE_RETRY_TASK]


def test_a_stamp_patches_the_object_with_the_new_balance_and_a_valid_token(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    google_credentials: Any,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _add_stamps(stamp_card, 3, django_capture_on_commit_callbacks)
    assert queued == [(PASS_CHANGED_TASK, (held.wallet_pass_id,), 1.0)]

    _run_pass_changed(queued)

    (patch,) = google_api.object_patches(held.object_id)
    assert patch.status == 200
    assert patch.bearer in google_api.tokens
    assert patch.body["loyaltyPoints"]["balance"] == {"string": "3/10"}
    assert google_api.objects[held.object_id]["loyaltyPoints"]["balance"] == {"string": "3/10"}
    grant = google_api.token_grants[-1]
    assert (grant["iss"], grant["aud"], grant["scope"]) == (
        google_credentials.email,
        TOKEN_AUDIENCE,
        SCOPE,
    )
    update = GoogleUpdate.objects.get()
    assert (update.version, update.status, update.attempts, update.status_code) == (
        2,
        UpdateStatus.SENT,
        1,
        200,
    )
    held.refresh_from_db()
    assert held.has_users is True


def test_an_object_google_does_not_have_yet_is_inserted(
    google_api: GoogleWalletStandIn,
    client: Client,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    save_link_of(client, stamp_card)  # tapped, but never saved at Google
    _add_stamps(stamp_card, 2, django_capture_on_commit_callbacks)

    _run_pass_changed(queued)

    google_object = GoogleObject.objects.get()
    assert [(r.method, r.status) for r in google_api.api_requests(path_contains="Object")] == [
        ("PATCH", 404),
        ("POST", 200),
    ]
    assert google_api.objects[google_object.object_id]["loyaltyPoints"]["balance"] == {
        "string": "2/10"
    }
    google_object.refresh_from_db()
    assert google_object.has_users is False
    assert GoogleUpdate.objects.get().status == UpdateStatus.SENT


def test_ten_changes_in_a_burst_make_one_patch_with_the_last_balance(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    for _ in range(10):
        _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)
    assert len(queued) == 10

    _run_pass_changed(queued)

    (patch,) = google_api.object_patches(held.object_id)
    assert patch.body["loyaltyPoints"]["balance"] == {"string": "0/10"}
    assert patch.body["secondaryLoyaltyPoints"]["balance"] == {"int": 1}
    assert list(GoogleUpdate.objects.values_list("version", "status")) == [(11, UpdateStatus.SENT)]


def test_a_rejected_token_is_refreshed_at_the_token_endpoint_and_the_patch_sent_again(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    grants_before = len(google_api.token_grants)
    google_api.revoke_tokens()
    _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)

    _run_pass_changed(queued)

    refused, accepted = google_api.object_patches(held.object_id)
    assert (refused.status, accepted.status) == (401, 200)
    assert refused.bearer != accepted.bearer
    assert len(google_api.token_grants) == grants_before + 1
    update = GoogleUpdate.objects.get()
    assert (update.status, update.attempts) == (UpdateStatus.SENT, 1)


def test_401_even_with_a_fresh_token_is_retried_later(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # The request and both retries with a refreshed token.
    google_api.answer_next(401, times=3, path_contains="loyaltyObject")
    _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        _run_pass_changed(queued)

    update = GoogleUpdate.objects.get()
    assert (update.status, update.status_code) == (UpdateStatus.RETRY, 401)
    assert _retries(queued) == [((update.pk,), pytest.approx(30.0, rel=0.21))]


def test_429_waits_at_least_as_long_as_google_asks_then_sends(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    google_api.answer_next(429, retry_after="120", path_contains="loyaltyObject")
    _add_stamps(stamp_card, 4, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        _run_pass_changed(queued)

    update = GoogleUpdate.objects.get()
    assert (update.status, update.attempts, update.status_code) == (UpdateStatus.RETRY, 1, 429)
    assert "429" in update.reason
    assert update.next_attempt_at is not None
    assert update.next_attempt_at >= clock.now() + datetime.timedelta(seconds=110)
    ((args, countdown),) = _retries(queued)
    assert countdown == 120

    tasks.google_update_retry(*args)

    update.refresh_from_db()
    assert (update.status, update.attempts, update.status_code) == (UpdateStatus.SENT, 2, 200)
    assert update.next_attempt_at is None
    assert google_api.objects[held.object_id]["loyaltyPoints"]["balance"] == {"string": "4/10"}


def test_500_is_retried_with_growing_backoff_then_fails_with_the_reason(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.WALLET_MAX_ATTEMPTS = 3
    google_api.answer_next(500, times=3, path_contains="loyaltyObject")
    _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        _run_pass_changed(queued)
    update = GoogleUpdate.objects.get()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.google_update_retry(update.pk)

    update.refresh_from_db()
    assert (update.status, update.attempts, update.status_code) == (UpdateStatus.FAILED, 3, 500)
    assert update.reason == "Google Wallet kept refusing (500); gave up after 3 attempts."
    assert update.finished_at is not None
    first, second = (countdown for _args, countdown in _retries(queued))
    assert second > first
    assert [p.status for p in google_api.object_patches(held.object_id)] == [500, 500, 500]
    # A late duplicate of the last retry sends nothing.
    tasks.google_update_retry(update.pk)
    assert len(google_api.object_patches(held.object_id)) == 3


def test_changes_made_while_a_retry_waits_ride_along_with_it(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    google_api.answer_next(503, path_contains="loyaltyObject")
    _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        _run_pass_changed(queued)
    _add_stamps(stamp_card, 5, django_capture_on_commit_callbacks)

    _run_pass_changed(queued)  # Google asked to wait: nothing is sent now
    assert len(google_api.object_patches(held.object_id)) == 1
    ((args, _countdown),) = _retries(queued)
    tasks.google_update_retry(*args)

    patches = google_api.object_patches(held.object_id)
    assert [p.status for p in patches] == [503, 200]
    assert patches[-1].body["loyaltyPoints"]["balance"] == {"string": "6/10"}
    assert list(GoogleUpdate.objects.values_list("version", "status")) == [(3, UpdateStatus.SENT)]


def test_a_patch_without_an_answer_is_sent_again_later(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    google_api.answer_next(HANG_UP, path_contains="loyaltyObject")
    _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        _run_pass_changed(queued)

    update = GoogleUpdate.objects.get()
    assert (update.status, update.status_code) == (UpdateStatus.RETRY, None)
    assert update.reason == "Google Wallet did not answer."
    tasks.google_update_retry(update.pk)
    update.refresh_from_db()
    assert update.status == UpdateStatus.SENT


def test_a_patch_google_refuses_fails_at_once_with_googles_reason(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    google_api.answer_next(400, path_contains="loyaltyObject")
    _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        _run_pass_changed(queued)

    update = GoogleUpdate.objects.get()
    assert (update.status, update.status_code, update.attempts) == (UpdateStatus.FAILED, 400, 1)
    assert update.reason == "Google Wallet refused the card (400): Scripted answer."
    assert _retries(queued) == []


def test_a_new_design_patches_the_class_before_the_objects(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    program = stamp_card.program
    spec = ProgramSpec(
        name="Coffee Stamp Card",
        kind="stamp",
        mechanism="spend",
        spend_per_stamp=Decimal("10.00"),
        stamps_per_reward=8,
        referral_bonus=Decimal("2"),
        welcome_bonus=Decimal("0"),
        background_color="#1c6b3a",
        foreground_color="#ffffff",
    )
    with django_capture_on_commit_callbacks(execute=True):
        program_update(program=program, spec=spec, actor=None)

    _run_pass_changed(queued)

    requests = google_api.api_requests(method="PATCH")
    assert [r.path.split("/")[3] for r in requests] == ["loyaltyClass", "loyaltyObject"]
    assert requests[0].body["hexBackgroundColor"] == "#1c6b3a"
    assert requests[1].body["loyaltyPoints"]["balance"] == {"string": "0/8"}


def test_an_expiration_date_is_sent_and_cleared_again(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        card_services.card_set_expiration(
            card=stamp_card, expires_on=datetime.date(2099, 1, 31), actor=None
        )
    _run_pass_changed(queued)
    assert google_api.objects[held.object_id]["validTimeInterval"] == {
        "end": {"date": "2099-02-01T00:00:00+00:00"}
    }

    with django_capture_on_commit_callbacks(execute=True):
        card_services.card_set_expiration(card=stamp_card, expires_on=None, actor=None)
    _run_pass_changed(queued)

    assert "validTimeInterval" not in google_api.objects[held.object_id]
    assert all(m["id"] != "expires" for m in google_api.objects[held.object_id]["textModulesData"])


def test_a_deleted_card_becomes_inactive_in_google_wallet(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        card_services.card_delete(card=stamp_card, actor=None)

    _run_pass_changed(queued)

    assert google_api.objects[held.object_id]["state"] == "INACTIVE"


def test_a_pass_without_a_google_object_claims_its_version_and_sends_nothing(
    google_api: GoogleWalletStandIn, stamp_card: Card
) -> None:
    wallet_pass = wallet_pass_ensure(card=stamp_card)
    wallet_passes_mark_updated(passes=WalletPass.objects.filter(pk=wallet_pass.pk))

    tasks.pass_changed(wallet_pass.pk)

    wallet_pass.refresh_from_db()
    assert wallet_pass.google_synced_version == wallet_pass.version == 2
    assert google_api.api_requests() == []
    assert not GoogleUpdate.objects.exists()


def test_a_retry_whose_task_was_lost_is_queued_again(
    held: GoogleObject,
    google_api: GoogleWalletStandIn,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    google_api.answer_next(429, path_contains="loyaltyObject")
    _add_stamps(stamp_card, 1, django_capture_on_commit_callbacks)
    _run_pass_changed(queued)  # its retry task is lost: never captured nor run
    update = GoogleUpdate.objects.get()
    assert google_services.google_updates_requeue_due() == []  # not due yet

    GoogleUpdate.objects.filter(pk=update.pk).update(
        next_attempt_at=clock.now() - datetime.timedelta(minutes=5)
    )
    tasks.google_updates_requeue()

    assert _retries(queued) == [((update.pk,), 0)]
    tasks.google_update_retry(update.pk)
    update.refresh_from_db()
    assert update.status == UpdateStatus.SENT
