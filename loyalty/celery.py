"""The Celery application. Beat's schedule lives here, in code."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Due scheduled pushes are claimed from PostgreSQL every few seconds, so a message goes
    # out within a minute of its time whatever the worker was doing.
    "dispatch-due-pushes": {"task": "pushes.tasks.dispatch_due_messages", "schedule": 10.0},
    "recompute-segments-daily": {
        "task": "customers.tasks.recompute_all_segments",
        "schedule": crontab(hour=3, minute=15),
    },
}
