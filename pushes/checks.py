"""System checks of the pushes app (registered in ``PushesConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error


def check_private_endpoints(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``manage.py check --deploy``: production never sends to http or private addresses."""
    if not getattr(settings, "PUSH_ALLOW_PRIVATE_ENDPOINTS", False):
        return []
    return [
        Error(
            "PUSH_ALLOW_PRIVATE_ENDPOINTS is on: a browser could make the server send requests "
            "to http URLs and to addresses inside its network.",
            hint="It is for development with a local push service only; unset it.",
            id="pushes.E001",
        )
    ]
