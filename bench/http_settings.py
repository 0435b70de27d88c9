"""The production settings, as the HTTP load benchmark serves them.

``loyalty.settings`` unchanged (everything else comes from the environment bench/http_load.py
sets), except that the static files are collected into a scratch folder: the project's own
``staticfiles/`` is left to deployments, and development servers never see a stale copy.
"""

import os
from pathlib import Path

from loyalty.settings import *  # noqa: F403

STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
