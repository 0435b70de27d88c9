"""A real Celery worker subprocess for the push tests, a polling helper, and a resolver that
answers for chosen names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = ROOT / ".venv" / "bin" / "celery"


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or ""
    netloc = f"{user}{password}@" if user else ""
    if host.startswith("/"):
        return f"postgresql://{netloc}/{db['NAME']}?host={quote(host)}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{netloc}{host}{port}/{db['NAME']}"


class Worker:
    """A ``celery worker`` subprocess in its own process group (so a kill takes its pool)."""

    def __init__(self, log_dir: Path, *, pool: str = "prefork", concurrency: int = 2) -> None:
        self.name = f"pushtest-{uuid.uuid4().hex[:8]}@%h"
        self.log = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": django_settings.REDIS_URL,
            "DJANGO_SETTINGS_MODULE": "tests.pushes.worker_settings",
            "DATA_DIR": str(django_settings.DATA_DIR),
            "PYTHONPATH": str(ROOT),
            "TESTING": "1",
            # As worker_settings says too: whatever settings module a worker is given, it may
            # reach the local push service.
            "PUSH_ALLOW_PRIVATE_ENDPOINTS": "1",
            # The suite runs Django's checks on its own; a worker need not repeat them.
            "CELERY_SKIP_CHECKS": "1",
        }
        args = [
            str(CELERY) if CELERY.exists() else sys.executable.replace("python", "celery"),
            "-A", "loyalty", "worker",
            f"--pool={pool}", f"--concurrency={concurrency}",
            "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", self.name,
        ]  # fmt: skip
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._wait_ready()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the Celery worker did not start:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Cold shutdown (SIGQUIT): the test is over, there is nothing left to finish."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    """Poll ``condition`` until it is truthy; fail with a clear message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {condition.__doc__}")
        time.sleep(every)


def wait_for_empty_queue(queue: str = "celery", timeout: float = 20.0) -> None:
    """Wait until the broker holds no task waiting in ``queue``."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        wait_until(lambda: client.llen(queue) == 0, timeout=timeout)
    finally:
        client.close()


class FakeDNS:
    """Answers ``socket.getaddrinfo`` for the names given to ``set`` (whatever address they
    should have), and passes every other lookup, numeric ones included, to the real resolver.
    ``lookups`` counts the questions about each faked name."""

    def __init__(self, monkeypatch: Any) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: Counter[str] = Counter()
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self._getaddrinfo)

    def set(self, name: str, *addresses: str) -> None:
        """``name`` resolves to ``addresses`` (none: it does not resolve)."""
        self.answers[name.lower()] = [list(addresses)]

    def answer_in_turn(self, name: str, *answers: list[str]) -> None:
        """Each lookup of ``name`` gets the next answer; the last one stays (a DNS server
        that changes its answer between two questions)."""
        self.answers[name.lower()] = [list(answer) for answer in answers]

    def _getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.lower().rstrip(".") if isinstance(host, str) else host
        if name not in self.answers:
            return self._real(host, port, *args, **kwargs)
        self.lookups[name] += 1
        turns = self.answers[name]
        addresses = turns.pop(0) if len(turns) > 1 else turns[0]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))
            for address in addresses
        ]
