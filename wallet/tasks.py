"""Celery tasks: thin wrappers; the work and its guarantees live in ``wallet.services``."""

from __future__ import annotations

from celery import shared_task

from wallet import services
from wallet.services import apple, google


@shared_task(ignore_result=True)
def pass_changed(wallet_pass_id: int) -> None:
    """A pass has a newer version: tell its Apple devices and PATCH its Google object. Each
    side sends only a version newer than the one it last sent, so the tasks of a burst of
    changes make one push and one PATCH."""
    apple.apple_pass_notify(wallet_pass_id=wallet_pass_id)
    google.google_object_sync(wallet_pass_id=wallet_pass_id)


@shared_task(ignore_result=True)
def apple_push_retry(push_id: int) -> None:
    """Another attempt at one APNs push that APNs asked to retry later (429, 5xx) or that
    could not reach it, queued with its backoff as countdown."""
    apple.apple_push_retry(push_id=push_id)


@shared_task(ignore_result=True)
def requeue_passes_behind() -> int:
    """The beat sweep (every minute, see loyalty/celery.py): passes whose update task was lost
    are queued again."""
    return len(services.wallet_passes_requeue_behind())


@shared_task(ignore_result=True)
def google_update_retry(update_id: int) -> None:
    """The next attempt of a Google Wallet PATCH that was told to wait (429, 5xx, no answer),
    or of an object withdrawn when its card's link was replaced."""
    google.google_update_retry(update_id=update_id)


@shared_task(ignore_result=True)
def google_updates_requeue() -> None:
    """Queue again the retries whose task was lost (for beat, every few minutes)."""
    google.google_updates_requeue_due()
