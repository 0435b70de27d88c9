"""The Celery application. Beat's schedule lives here, in code."""

from __future__ import annotations

import logging
import os
from typing import Any, ParamSpec

from celery import Celery, Task
from celery.schedules import crontab
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

logger = logging.getLogger(__name__)

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Due scheduled pushes are claimed from PostgreSQL every few seconds, so a message goes
    # out within a minute of its time whatever the worker was doing.
    "dispatch-due-pushes": {"task": "pushes.tasks.dispatch_due_messages", "schedule": 10.0},
    # Due campaigns start (their audience frozen into messages), finished ones are closed.
    "start-due-campaigns": {"task": "pushes.tasks.start_due_campaigns", "schedule": 10.0},
    # Automatic messages of the kinds that wait for a date: each kind's due cards are looked
    # for every 15 minutes (from 10:00 local time on; see pushes.services.automatic).
    "queue-expiring-messages": {"task": "pushes.tasks.queue_expiring_messages", "schedule": 900.0},
    "queue-birthday-messages": {"task": "pushes.tasks.queue_birthday_messages", "schedule": 900.0},
    "queue-lapsed-messages": {"task": "pushes.tasks.queue_lapsed_messages", "schedule": 900.0},
    # A wallet pass whose update task was lost (worker killed, broker restarted) is pushed
    # and PATCHed again; the version claims make a repeated task harmless.
    "requeue-wallet-passes-behind": {
        "task": "wallet.tasks.requeue_passes_behind",
        "schedule": 60.0,
    },
    # A Google Wallet retry whose task was lost is queued again (its version is claimed
    # already, so the sweep above does not see it).
    "requeue-google-wallet-retries": {
        "task": "wallet.tasks.google_updates_requeue",
        "schedule": 300.0,
    },
    # Customer imports left unapplied for a week are dropped with the rows they staged.
    "purge-stale-imports": {
        "task": "customers.tasks.purge_stale_imports",
        "schedule": crontab(hour=3, minute=45),
    },
    "recompute-segments-daily": {
        "task": "customers.tasks.recompute_all_segments",
        "schedule": crontab(hour=3, minute=15),
    },
}

P = ParamSpec("P")


def delay_or_run(task: Task[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
    """Queue ``task`` for the worker; when the broker cannot be reached, run it here and now.

    For work that must not be lost to a broker outage and is safe to run in a web process
    (slower for the one request, but done). The broker's connect timeout and publish retry
    policy in the settings keep the failed attempt short.
    """
    try:
        task.delay(*args, **kwargs)
    except (OperationalError, OSError) as error:
        logger.warning("Broker unreachable (%s); running %s in this process.", error, task.name)
        task(*args, **kwargs)
