"""Settings of the Celery worker the push tests start: the test settings with short timeouts
and backoff, so retries and hangs play out in seconds. The test process applies the same
``PUSH_SETTINGS`` (see conftest.py), so both sides agree."""

import os

os.environ.setdefault("TESTING", "1")

from loyalty.settings_test import *  # noqa: F403

PUSH_SETTINGS = {
    # The local push service speaks plain http on 127.0.0.1 (development only: check --deploy
    # refuses this setting).
    "PUSH_ALLOW_PRIVATE_ENDPOINTS": True,
    "PUSH_CONNECT_TIMEOUT": 1.0,
    "PUSH_READ_TIMEOUT": 1.5,
    "PUSH_SEND_DEADLINE": 5.0,
    "PUSH_BACKOFF_BASE": 0.2,
    "PUSH_MAX_ATTEMPTS": 3,
    "PUSH_MAX_RETRY_DELAY": 5.0,
    # Answers written every second request: a kill mid-batch keeps the ones before it.
    "PUSH_RESULT_FLUSH": 2,
}
globals().update(PUSH_SETTINGS)
