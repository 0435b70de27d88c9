"""The services queue the Celery tasks by name (the tasks module imports the services)."""

from __future__ import annotations

from loyalty.celery import app
from pushes import services, tasks


def test_the_services_queue_the_tasks_under_their_registered_names() -> None:
    assert tasks.dispatch_due_messages.name == services.DISPATCH_TASK
    assert tasks.send_delivery.name == services.SEND_DELIVERY_TASK
    assert tasks.send_deliveries.name == services.SEND_DELIVERIES_TASK
    names = {services.DISPATCH_TASK, services.SEND_DELIVERY_TASK, services.SEND_DELIVERIES_TASK}
    assert names <= set(app.tasks)
