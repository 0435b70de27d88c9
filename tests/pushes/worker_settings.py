"""Settings of the Celery worker the push tests start: the test settings with short timeouts
and backoff, so retries and hangs play out in seconds. The test process applies the same
``PUSH_SETTINGS`` (see conftest.py), so both sides agree."""

import os

os.environ.setdefault("TESTING", "1")

from loyalty.settings_test import *  # noqa: F403

PUSH_SETTINGS = {
    "PUSH_ALLOW_HTTP_ENDPOINTS": True,  # the local push service speaks plain http
    "PUSH_CONNECT_TIMEOUT": 1.0,
    "PUSH_READ_TIMEOUT": 1.5,
    "PUSH_BACKOFF_BASE": 0.2,
    "PUSH_MAX_ATTEMPTS": 3,
    "PUSH_MAX_RETRY_DELAY": 5.0,
}
globals().update(PUSH_SETTINGS)
