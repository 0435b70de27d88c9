#!/usr/bin/env python3
"""One entry point for working on the project. Needs only Python 3.11+ (standard library).

    python3 dev.py run                  web + Celery worker + beat on http://127.0.0.1:8000
                                        (and a local push inbox: /dev/push-inbox/)
    python3 dev.py test [pytest args]   the test suite
    python3 dev.py manage ARGS...       any manage.py command
    python3 dev.py bench NAME [args]    a benchmark script of bench/
    python3 dev.py lint                 ruff check, ruff format --check, mypy
    python3 dev.py mutate [module]      mutation testing of the ledger arithmetic (slow)

Every command first makes sure the tool chain is ready: a pinned uv in .tools/uv-env, the
locked dependencies in .venv and the compiled translations (all skipped when up to date). run,
test, manage and mutate then start embedded PostgreSQL and Valkey (data in .data/) unless
DATABASE_URL / REDIS_URL are set, and stop them again on exit. mutate also installs the
`mutate` dependency group (mutmut, not part of the default groups) and leaves its work in
mutants/. test also installs the pinned Nu HTML Checker (vnu-jar, from npm) into .tools/vnu
where Java and npm are present; without them the HTML validity test skips.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

UV_VERSION = "0.13.8"
# The Nu HTML Checker for tests/test_html_valid.py (a jar run with the system's Java).
VNU_VERSION = "26.9.27"

ROOT = Path(__file__).resolve().parent
TOOLS_ENV = ROOT / ".tools" / "uv-env"
UV = TOOLS_ENV / "bin" / "uv"
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
DATA_DIR = ROOT / ".data"
VNU_DIR = ROOT / ".tools" / "vnu"
VNU_JAR = VNU_DIR / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
MANAGE = str(ROOT / "manage.py")

WEB_HOST, WEB_PORT = "127.0.0.1", 8000
DEMO_USERS = ("owner", "admin", "staff", "bakery-owner")
DEMO_PASSWORD = "loyalty-demo"  # noqa: S105 - public demo data created by seed_demo
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL when stopping children

USAGE = __doc__ or ""


def say(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


class Terminated(SystemExit):
    """Raised by the SIGTERM handler so that `finally` blocks still stop the servers."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(128 + signum)


# --------------------------------------------------------------------------- bootstrap


def ensure_uv() -> None:
    """A private uv at the pinned version, installed with pip into .tools/uv-env."""
    if UV.exists():
        result = subprocess.run([UV, "--version"], capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.split()[1:2] == [UV_VERSION]:
            return
    say(f"installing uv {UV_VERSION} into {TOOLS_ENV.relative_to(ROOT)}")
    if not (TOOLS_ENV / "bin" / "python").exists():  # also catches a dangling interpreter link
        subprocess.run([sys.executable, "-m", "venv", "--clear", TOOLS_ENV], check=True)
    subprocess.run(
        [TOOLS_ENV / "bin" / "python", "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", f"uv=={UV_VERSION}"],
        check=True,
    )  # fmt: skip


def ensure_synced() -> None:
    """`uv sync --locked` into .venv, skipped when the stamp matches the lock and interpreter."""
    digest = hashlib.sha256()
    for name in ("uv.lock", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    digest.update(f"{UV_VERSION}|{sys.executable}|{sys.version}".encode())
    stamp = VENV / ".synced"
    with contextlib.suppress(OSError):
        if PYTHON.exists() and stamp.read_text().strip() == digest.hexdigest():
            return
    subprocess.run([UV, "sync", "--locked"], cwd=ROOT, env=uv_env(), check=True)
    stamp.write_text(digest.hexdigest() + "\n")


def uv_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # an activated venv elsewhere would only make uv warn
    env.update(
        UV_PYTHON_DOWNLOADS="never",
        UV_PYTHON=sys.executable,
        UV_PROJECT_ENVIRONMENT=str(VENV),
    )
    return env


def ensure_vnu() -> None:
    """The pinned vnu-jar from npm into .tools/vnu, where Java and npm are both installed;
    elsewhere nothing (the HTML validity test then skips and says why)."""
    stamp = VNU_DIR / ".version"
    with contextlib.suppress(OSError):
        if VNU_JAR.exists() and stamp.read_text().strip() == VNU_VERSION:
            return
    npm = shutil.which("npm")
    if not npm or not shutil.which("java"):
        return
    say(f"installing vnu-jar {VNU_VERSION} into {VNU_DIR.relative_to(ROOT)}")
    # --ignore-scripts: its postinstall would download a Java runtime; the system's is used.
    result = subprocess.run(
        [npm, "install", "--prefix", VNU_DIR, "--no-save", "--no-audit", "--no-fund",
         "--ignore-scripts", "--loglevel=error", f"vnu-jar@{VNU_VERSION}"],
        check=False,
    )  # fmt: skip
    if result.returncode == 0 and VNU_JAR.exists():
        stamp.write_text(VNU_VERSION + "\n")
    else:
        say("could not install vnu-jar; the HTML validity test will be skipped")


def bootstrap() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - a clear message for old interpreters
        sys.exit("dev.py needs Python 3.11 or newer")
    ensure_uv()
    ensure_synced()
    compile_messages()
    DATA_DIR.mkdir(exist_ok=True)


def compile_messages() -> None:
    """locale/*.po into the .mo files Django reads, for each catalogue changed since (msgfmt
    from the venv's gettext, so no system package is needed)."""
    msgfmt = VENV / "bin" / "msgfmt"
    for po in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        subprocess.run([msgfmt, "--check", "-o", mo, po], check=True)


def child_env(urls: dict[str, str], **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="loyalty.settings",
        PYTHONUNBUFFERED="1",
        DATA_DIR=str(DATA_DIR),
        VIRTUAL_ENV=str(VENV),
        PATH=os.pathsep.join([str(VENV / "bin"), env.get("PATH", "")]),
    )
    env.update(urls)
    env.update(extra)
    return env


# --------------------------------------------------------------------------- servers


@contextlib.contextmanager
def servers() -> Iterator[dict[str, str]]:
    """DATABASE_URL and REDIS_URL: from the environment, else from embedded servers."""
    wanted = {
        "postgres": not os.environ.get("DATABASE_URL"),
        "valkey": not os.environ.get("REDIS_URL"),
    }
    urls = {k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL") if os.environ.get(k)}
    if not any(wanted.values()):
        yield urls
        return
    flags = [f"--{'' if on else 'no-'}{name}" for name, on in wanted.items()]
    flags += ["--owner", str(os.getpid())]
    helper = [str(PYTHON), "-m", "loyalty.devservers"]
    env = child_env({})
    try:
        say("starting embedded " + " and ".join(n for n, on in wanted.items() if on))
        result = subprocess.run(
            [*helper, "up", *flags], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise SystemExit(f"dev.py: could not start the embedded servers ({result.returncode})")
        urls.update(json.loads(lines[-1]))
        yield urls
    finally:
        # Also after a failed or interrupted `up`: whatever did start is stopped again.
        # Ctrl-C while stopping would leave a half-stopped server: hold it off until done
        # (own session: a Ctrl-C in the terminal does not reach the helper either).
        with deferred_signals():
            say("stopping embedded servers")
            subprocess.run(
                [*helper, "down", *flags], cwd=ROOT, env=env, check=False, start_new_session=True
            )


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    received: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    old = {sig: signal.signal(sig, remember) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if signal.SIGTERM in received:
        raise Terminated(128 + signal.SIGTERM)


@contextlib.contextmanager
def push_inbox() -> Iterator[str]:
    """The development push inbox (pushes/devinbox.py): a local Web Push service the demo
    cards are subscribed to, whose page shows what the app sent. Its URL, while it runs.

    It keeps the subscriptions' keys in .data/push-inbox/ and, when still free, the port of the
    last run, so the demo cards' stored endpoints keep reaching it."""
    folder = DATA_DIR / "push-inbox"
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "port"
    port = 0
    with contextlib.suppress(OSError, ValueError), socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the inbox's server
        probe.bind((WEB_HOST, int(port_file.read_text())))
        port = probe.getsockname()[1]
    if not port:
        with socket.socket() as probe:
            probe.bind((WEB_HOST, 0))
            port = probe.getsockname()[1]
    port_file.write_text(f"{port}\n")
    cmd = [str(PYTHON), "-m", "pushes.devinbox", "--port", str(port),
           "--state", str(folder / "subscriptions.json")]  # fmt: skip
    inbox = subprocess.Popen(
        cmd, cwd=ROOT, env=child_env({}), stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection((WEB_HOST, port), 0.2):
                break
            if inbox.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("dev.py: the development push inbox did not start")
            time.sleep(0.1)
        yield f"http://{WEB_HOST}:{port}"
    finally:
        with deferred_signals():
            stop_children({"push inbox": inbox})


# --------------------------------------------------------------------------- children


def exit_code(returncode: int) -> int:
    """Shell convention: a child killed by signal N exits with 128 + N."""
    return returncode if returncode >= 0 else 128 - returncode


def _tty_forwards_sigint() -> bool:
    """True when Ctrl-C in our terminal already reaches a child in our process group."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def run_foreground(cmd: list[str], env: dict[str, str]) -> int:
    """Run an interactive child (pytest, manage.py ...) in our process group; pass signals on."""
    children: list[subprocess.Popen[bytes]] = []
    early: list[int] = []  # signals that arrived before the child existed

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _tty_forwards_sigint():
            return  # the terminal sent it to the child as well; let the child handle it
        if not children:
            early.append(signum)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    # Installed before the child starts, so it inherits default dispositions (never SIG_IGN),
    # and kept until it has finished, so the servers are only stopped afterwards.
    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        children.append(subprocess.Popen(cmd, cwd=ROOT, env=env))
        for signum in early:
            children[0].send_signal(signum)
        return exit_code(children[0].wait())
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_children(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child's process group, then SIGKILL whatever is left after the timeout."""
    for proc in procs.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        for proc in procs.values():
            proc.poll()  # reap, so an exited group leader no longer counts as alive
        if not any(_group_alive(proc.pid) for proc in procs.values()):
            return
        time.sleep(0.1)
    for name, proc in procs.items():
        if _group_alive(proc.pid):
            say(f"{name} did not stop within {STOP_TIMEOUT:.0f}s, killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _web_ready() -> bool:
    try:
        with socket.create_connection((WEB_HOST, WEB_PORT), timeout=0.2):
            return True
    except OSError:
        return False


def print_banner() -> None:
    users = ", ".join(DEMO_USERS)
    print(
        f"\n  Loyalty is running at http://{WEB_HOST}:{WEB_PORT}\n"
        f"  Demo logins: {users} (password: {DEMO_PASSWORD})\n"
        "  Press Ctrl-C to stop.\n",
        flush=True,
    )


def supervise(commands: dict[str, list[str]], env: dict[str, str]) -> int:
    """Run long-lived children until Ctrl-C / SIGTERM (exit 0) or until one of them dies (1)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, cmd in commands.items():
            # Own session and process group: Ctrl-C reaches only dev.py, which then stops
            # each whole tree (runserver's reloader, Celery's pool processes) itself.
            procs[name] = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True
            )
        banner_due = time.monotonic() + 60
        while not stop.wait(0.25):
            for name, proc in procs.items():
                if proc.poll() is not None:
                    say(f"{name} exited unexpectedly (code {proc.returncode}); stopping")
                    return 1
            if banner_due and (_web_ready() or time.monotonic() > banner_due):
                print_banner()
                banner_due = 0
        say("stopping")
        return 0
    finally:
        with deferred_signals():
            stop_children(procs)


# --------------------------------------------------------------------------- commands


def cmd_run(args: list[str]) -> int:
    if args:
        raise SystemExit(f"dev.py run takes no arguments\n\n{USAGE}")
    bootstrap()
    with servers() as urls, push_inbox() as inbox_url:
        # Local push services (http, private addresses) and wallet passes signed with test
        # credentials generated into .data/wallet/ are allowed here only; check --deploy
        # refuses both settings. seed_demo subscribes demo cards to the push inbox, and
        # /dev/push-inbox/ shows what it received.
        env = child_env(
            urls, DEBUG="1", PUSH_ALLOW_PRIVATE_ENDPOINTS="1", WALLET_TEST_CREDENTIALS="1",
            PUSH_DEV_INBOX_URL=inbox_url,
        )  # fmt: skip
        for step in (["migrate", "--noinput"], ["seed_demo"], ["wallet_test_credentials"]):
            code = run_foreground([str(PYTHON), MANAGE, *step], env)
            if code:
                say(f"manage.py {step[0]} failed (exit code {code})")
                return code
        python = str(PYTHON)
        return supervise(
            {
                "web": [python, MANAGE, "runserver", f"{WEB_HOST}:{WEB_PORT}"],
                "worker": [python, "-m", "celery", "-A", "loyalty", "worker",
                           "--loglevel=INFO", "--concurrency=2"],
                "beat": [python, "-m", "celery", "-A", "loyalty", "beat", "--loglevel=INFO",
                         "--schedule", str(DATA_DIR / "celerybeat-schedule")],
            },
            env,
        )  # fmt: skip


def cmd_test(args: list[str]) -> int:
    bootstrap()
    ensure_vnu()
    with servers() as urls:
        if not os.environ.get("REDIS_URL"):
            # Own Valkey database, so a `dev.py run` worker sharing the server never
            # picks up tasks queued by the tests.
            urls["REDIS_URL"] = urls["REDIS_URL"].rsplit("/", 1)[0] + "/1"
        env = child_env(urls)
        # pytest-django lets DJANGO_SETTINGS_MODULE override the test settings named in
        # pyproject.toml, and those decide DEBUG themselves.
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.pop("DEBUG", None)
        return run_foreground([str(PYTHON), "-m", "pytest", *args], env)


def cmd_manage(args: list[str]) -> int:
    bootstrap()
    with servers() as urls:
        env = child_env(urls)
        env.setdefault("DEBUG", "1")
        return run_foreground([str(PYTHON), MANAGE, *args], env)


def cmd_bench(args: list[str]) -> int:
    """Run bench/<name>.py against the same servers (the scripts make their own scratch data)."""
    if not args or not (ROOT / "bench" / f"{args[0]}.py").exists():
        names = ", ".join(sorted(p.stem for p in (ROOT / "bench").glob("[a-z]*.py")))
        raise SystemExit(f"dev.py bench NAME [args]; NAME is one of: {names}")
    bootstrap()
    with servers() as urls:
        env = child_env(urls)
        env.setdefault("DEBUG", "1")
        script = str(ROOT / "bench" / f"{args[0]}.py")
        return run_foreground([str(PYTHON), script, *args[1:]], env)


def cmd_lint(args: list[str]) -> int:
    if args:
        raise SystemExit(f"dev.py lint takes no arguments\n\n{USAGE}")
    bootstrap()
    env = child_env({})
    env.setdefault("DEBUG", "1")  # mypy's Django plugin imports the settings
    failed = []
    for cmd in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy", "."]):
        say(" ".join(cmd))
        if run_foreground([str(VENV / "bin" / cmd[0]), *cmd[1:]], env):
            failed.append(" ".join(cmd))
    if failed:
        say("failed: " + "; ".join(failed))
        return 1
    return 0


def cmd_mutate(args: list[str]) -> int:
    """mutmut on the modules of [tool.mutmut] only_mutate, or on the one module named."""
    import tomllib  # here, so that Python 3.10 still gets bootstrap()'s clear message

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    modules = config["only_mutate"]
    if len(args) > 1 or (args and args[0] not in modules):
        raise SystemExit(f"dev.py mutate [MODULE]; MODULE is one of: {', '.join(modules)}")
    bootstrap()
    # Synced by hand: never part of `dev`, so CI and `uv sync --locked` leave mutmut out.
    subprocess.run(
        [UV, "sync", "--locked", "--group", "mutate"], cwd=ROOT, env=uv_env(), check=True
    )
    # mutmut names a mutant after its module: cards.rules.x_parse_amount__mutmut_1.
    prefixes = [m.removesuffix(".py").replace("/", ".") + "." for m in args or modules]
    mutmut = str(VENV / "bin" / "mutmut")
    with servers() as urls:
        if not os.environ.get("REDIS_URL"):
            urls["REDIS_URL"] = urls["REDIS_URL"].rsplit("/", 1)[0] + "/1"  # as in `test`
        env = child_env(urls)
        env.pop("DJANGO_SETTINGS_MODULE", None)  # the test settings of pyproject.toml
        env.pop("DEBUG", None)
        code = run_foreground([mutmut, "run", *(p + "*" for p in prefixes if args)], env)
        if code:
            return code
        listing = subprocess.run(
            [mutmut, "results", "--all", "true"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    statuses: dict[str, dict[str, str]] = {prefix: {} for prefix in prefixes}
    for line in listing.splitlines():
        name, _, status = line.strip().rpartition(": ")
        for prefix in prefixes:
            if name.startswith(prefix):
                statuses[prefix][name] = status
    for found in statuses.values():
        for name, status in found.items():
            if status != "killed":
                print(f"    {name}: {status}")
    for prefix, found in statuses.items():
        killed = sum(status == "killed" for status in found.values())
        score = f"{100 * killed / len(found):.1f} %" if found else "-"
        print(f"{prefix.rstrip('.')}: {killed} of {len(found)} mutants killed ({score})")
    print("Inspect one with: .venv/bin/mutmut show NAME (or .venv/bin/mutmut browse)")
    return 0


COMMANDS = {
    "run": cmd_run,
    "test": cmd_test,
    "manage": cmd_manage,
    "bench": cmd_bench,
    "lint": cmd_lint,
    "mutate": cmd_mutate,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr if argv[:1] not in (["-h"], ["--help"]) else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return COMMANDS[argv[0]](argv[1:])
    except subprocess.CalledProcessError as error:
        say(f"command failed (exit code {error.returncode}): {error.cmd}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
