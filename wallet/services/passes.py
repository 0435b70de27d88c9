"""A card's wallet pass: created when the holder first asks for it, marked updated on every
change the holder should see, and the update handed to the worker after commit.

Only cards held in a wallet pay for this: a change to a card without a pass writes nothing.
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet

from cards.models import Card
from loyalty import clock
from loyalty.celery import app as celery_app
from wallet import conf
from wallet.models import WalletPass, new_authentication_token

# Queued by name: wallet.tasks imports these services.
PASS_CHANGED_TASK = "wallet.tasks.pass_changed"  # noqa: S105 (a task name)


def wallet_pass_ensure(*, card: Card) -> WalletPass:
    """The card's pass, created on the first request (a download or a save link)."""
    existing = WalletPass.objects.filter(card_id=card.pk).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return WalletPass.objects.create(
                card=card, merchant_id=card.merchant_id, updated_at=clock.now()
            )
    except IntegrityError:  # two first requests at once: the other one created it
        return WalletPass.objects.get(card_id=card.pk)


def wallet_passes_mark_updated(*, passes: QuerySet[WalletPass]) -> list[int]:
    """Bump the version of these passes and queue one update per pass after commit.
    Returns the ids of the passes marked."""
    now = clock.now()
    with transaction.atomic():
        pass_ids = list(passes.values_list("pk", flat=True).order_by("pk"))
        if not pass_ids:
            return []
        WalletPass.objects.filter(pk__in=pass_ids).update(version=F("version") + 1, updated_at=now)
        transaction.on_commit(lambda: _queue(pass_ids))
    return pass_ids


def _queue(pass_ids: list[int], countdown: float | None = None) -> None:
    # The countdown lets a burst of changes land first: the task sends the newest version once.
    if countdown is None:
        countdown = conf.get("WALLET_COALESCE_SECONDS")
    for pass_id in pass_ids:
        celery_app.send_task(PASS_CHANGED_TASK, args=(pass_id,), countdown=countdown)


def wallet_pass_rotate_token(*, card: Card) -> None:
    """The card's link was replaced: so is the token its Apple Wallet pass authenticates with.
    Devices holding the pass under the old token lose it (their registrations go too), since
    whoever held the old link must no longer receive the card."""
    WalletPass.objects.filter(card_id=card.pk).update(
        authentication_token=new_authentication_token()
    )


def wallet_passes_requeue_behind(*, older_than: float = 60.0, limit: int = 500) -> list[int]:
    """Queue the update again of passes a wallet has still not been told about a while after
    they changed: their task was lost (a worker killed before it ran, a broker restart). The
    sides' version claims make a duplicate task harmless."""
    cutoff = clock.now() - datetime.timedelta(seconds=older_than)
    pass_ids = list(
        WalletPass.objects.filter(
            Q(apple_pushed_version__lt=F("version")) | Q(google_synced_version__lt=F("version")),
            updated_at__lt=cutoff,
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    _queue(pass_ids, countdown=0)
    return pass_ids
