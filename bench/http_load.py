"""HTTP load on the production stack: gunicorn, production settings, staff and admins at work.

    python3 dev.py bench http_load [--customers 1000000] [--entries 10000000] [--demo]
        [--clients 8] [--workers 4] [--duration 20] [--warmup 3] [--port 8101]
        [--keep] [--reuse] [--database URL] [--json PATH] [--verify]

Data: a scratch database next to DATABASE_URL's (``<name>_httpload``), migrated and filled by
``manage.py generate_data`` (``--demo``: by ``seed_demo``, a quick smoke run); dropped at the
end unless ``--keep``; ``--reuse`` keeps it and reuses it next time. ``--database URL`` uses
an existing filled database as it is (the dialog POSTs and the floor write valid entries).
The staff member measured works for the merchant with the most cards; so does the admin the
home page is measured as (staff never see its statistics), created only for those scenarios.

Server: gunicorn with ``--workers`` sync workers on 127.0.0.1, production settings (DEBUG off,
the settings' own database defaults), except that plain http on loopback needs the SSL
redirect and secure cookies off. It serves bench/counted_wsgi.py, the production app
answering with each request's SQL query count.

Load: bench/http_client.py in a process of its own, ``--clients`` staff sessions logged in
through the login form, each scenario closed-loop for a warm-up and a measured window: the
"Add transaction amount" dialog's POST on random stamp cards, random card profiles, the CRM
search (serial, email, phone written another way, a name fragment), the customers list, and
the history page of the card with the most entries. Then the home page's statistics over all
programs, for the last 30 days (the page's default) and the last 12 months (its longest
preset), on ``--clients`` admin sessions; a success must hold the revenue figure, so a
redirect to the customer list is an error. Then the floor: the ledger's own transaction
(lock, insert, update) straight through psycopg at the same concurrency
(bench/ledger_floor.py). Prints requests/s, p50/p95/p99, errors, queries per request and the
generator's own CPU per scenario, and dialog POSTs/s over floor transactions/s.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django
import psycopg
from django.core.management import call_command
from django.db import connection, connections

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import crm_data
from bench import http_requests as rq

ROOT = crm_data.ROOT
MANAGE = str(ROOT / "manage.py")
SCRATCH_SUFFIX = "httpload"
BENCH_USERNAME = "http-load-staff"
BENCH_ADMIN_USERNAME = "http-load-admin"
SAMPLE_CARDS = 500
SAMPLE_CUSTOMERS = 100
FLOOR_CARDS = 500
SCENARIOS = (
    "dialog_post",
    "profile",
    "search",
    "customers",
    "history",
    "home_30d",
    "home_12m",
    "floor",
)
# Measured on an admin's sessions: staff are redirected away from the home page.
HOME_SCENARIOS = ("home_30d", "home_12m")
LABELS = {
    "dialog_post": "dialog POST (add purchase)",
    "profile": "profile page",
    "search": "CRM search (all kinds)",
    "customers": "customers list",
    "history": "history page",
    "home_30d": "home: 30 days, all programs",
    "home_12m": "home: 12 months, all programs",
    "floor": "floor: lock+insert+update",
}
# Plain http on loopback: what production settings would otherwise refuse or redirect.
PLAIN_HTTP = {"SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}
# Left to the settings' production defaults, whatever the calling shell has set.
TUNING = ("CONN_MAX_AGE", "DATABASE_POOL")

SETTINGS_PROBE = """
import json
import django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "DJANGO_SETTINGS_MODULE": s.SETTINGS_MODULE,
    "DEBUG": s.DEBUG,
    "CONN_MAX_AGE": db.get("CONN_MAX_AGE"),
    "CONN_HEALTH_CHECKS": db.get("CONN_HEALTH_CHECKS"),
    "database pool": db.get("OPTIONS", {}).get("pool"),
    "SESSION_ENGINE": s.SESSION_ENGINE,
    "cache": s.CACHES["default"]["BACKEND"],
    "static files": s.STORAGES["staticfiles"]["BACKEND"],
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "password hasher": s.PASSWORD_HASHERS[0].rsplit(".", 1)[-1],
}, default=str))
"""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--demo", action="store_true", help="fill with seed_demo (quick)")
    parser.add_argument("--database", help="use this filled database as it is")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="keep, and reuse a kept one")
    parser.add_argument("--clients", type=int, default=8, help="concurrent staff sessions")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {SCENARIOS}"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--verify", action="store_true", help="run verify_ledger at the end")
    args = parser.parse_args()
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    return args


def say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------
# Data


def _fill_spec(args: argparse.Namespace) -> str:
    if args.demo:
        return "seed_demo"
    return f"generate_data --customers {args.customers} --entries {args.entries}"


def _database_comment(admin: str, name: str) -> str | None:
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    return None if row is None else (row[0] or "")


def _mark_filled(admin: str, name: str, spec: str) -> None:
    """Remember what filled the scratch database, once it is complete, for ``--reuse``."""
    with psycopg.connect(admin, autocommit=True) as conn:
        comment = f"http_load: {spec}".replace("'", "''")
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    os.environ["DJANGO_SETTINGS_MODULE"] = "loyalty.settings"
    django.setup()


def _check_migrated() -> None:
    # Django's migration machinery loads only once django.setup() has run.
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise SystemExit("The database has unapplied migrations: run manage.py migrate first.")


def _manage(*command: str, url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    say("$ manage.py " + " ".join(command))
    subprocess.run([sys.executable, MANAGE, *command], cwd=ROOT, env=env, check=True)


def _fill(args: argparse.Namespace, url: str) -> None:
    # Django lists the project's commands only once django.setup() has run.
    from django.core.management import get_commands

    if args.demo:
        _manage("seed_demo", url=url)
        return
    if "generate_data" not in get_commands():
        raise SystemExit("manage.py generate_data does not exist yet: run with --demo.")
    _manage(*_fill_spec(args).split(), url=url)


def _prepare(args: argparse.Namespace, stack: ExitStack) -> str:
    """The database URL to measure on; a scratch one is dropped at the end (``stack``)
    unless kept, also when filling it fails."""
    if args.database:
        _setup_django(args.database)
        _check_migrated()
        say(f"database: {urlsplit(args.database).path.lstrip('/')} (used as it is)")
        return args.database
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/loyalty")
    admin, scratch = crm_data.scratch_urls(url, SCRATCH_SUFFIX)
    name = urlsplit(scratch).path.lstrip("/")
    spec = _fill_spec(args)
    comment = _database_comment(admin, name) if args.reuse else None
    if comment and comment != f"http_load: {spec}":
        raise SystemExit(f"{name} holds {comment!r}, not {spec!r}: drop --reuse.")
    if not (args.keep or args.reuse):
        stack.callback(crm_data.recreate, admin, scratch, drop_only=True)
    stack.callback(connections.close_all)
    if comment:
        _setup_django(scratch)
        call_command("migrate", verbosity=0)
        say(f"database: {name}, reused ({spec})")
        return scratch
    crm_data.recreate(admin, scratch)
    _setup_django(scratch)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    _fill(args, scratch)
    _mark_filled(admin, name, spec)
    say(f"database: {name}, filled by {spec} in {time.perf_counter() - started:.0f} s")
    return scratch


def _rows(sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _largest_merchant() -> int:
    rows = _rows(
        "SELECT merchant_id FROM cards_card GROUP BY merchant_id "
        "ORDER BY count(*) DESC, merchant_id LIMIT 1"
    )
    if not rows:
        raise SystemExit("The database holds no cards.")
    return int(rows[0][0])


def _bench_member(merchant_id: int, *, username: str, role: str) -> tuple[str, str, int]:
    """(username, password, id) of the member the sessions log in as, with ``role`` on that
    merchant only. The password is new every run, so no known password outlives the run."""
    # Project modules load only after django.setup().
    from django.contrib.auth import get_user_model

    from loyalty.models import Membership

    password = secrets.token_urlsafe(18)
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.com"}
    )
    user.set_password(password)
    user.is_active = True
    user.save()
    Membership.objects.filter(user=user).exclude(merchant_id=merchant_id).delete()
    Membership.objects.update_or_create(user=user, merchant_id=merchant_id, defaults={"role": role})
    return user.username, password, user.pk


def _bench_logins(merchant_id: int, scenarios: list[str]) -> tuple[dict[str, Any], int]:
    """The credentials the load generator logs in with (an admin only for the home page),
    and the staff member's id (the floor's actor)."""
    # Project modules load only after django.setup().
    from loyalty.models import Role

    username, password, staff_id = _bench_member(
        merchant_id, username=BENCH_USERNAME, role=Role.STAFF
    )
    logins: dict[str, Any] = {"staff": {"username": username, "password": password}}
    if set(scenarios) & set(HOME_SCENARIOS):
        username, password, _ = _bench_member(
            merchant_id, username=BENCH_ADMIN_USERNAME, role=Role.ADMIN
        )
        logins["admin"] = {"username": username, "password": password}
    return logins, staff_id


# A card the dialogs may change: not deleted, not expired (a day of margin for time zones).
LIVE = "c.status <> 'deleted' AND (c.expires_on IS NULL OR c.expires_on > current_date + 1)"


def _samples(merchant_id: int) -> dict[str, Any]:
    """Random real rows of the merchant: what the sessions click, open and type."""
    dialog = _rows(
        "SELECT c.serial FROM cards_card c JOIN cards_program p ON p.id = c.program_id "  # noqa: S608
        f"WHERE c.merchant_id = %s AND p.kind = 'stamp' AND {LIVE} ORDER BY random() LIMIT %s",
        [merchant_id, SAMPLE_CARDS],
    )
    profile = _rows(
        "SELECT serial FROM cards_card WHERE merchant_id = %s ORDER BY random() LIMIT %s",
        [merchant_id, SAMPLE_CARDS],
    )
    people = _rows(
        "WITH picked AS (SELECT id, email, phone, first_name, last_name "
        "FROM customers_customer WHERE merchant_id = %s ORDER BY random() LIMIT %s) "
        "SELECT c.serial, p.email, p.phone, p.first_name, p.last_name FROM picked p "
        "JOIN LATERAL (SELECT serial FROM cards_card WHERE customer_id = p.id "
        "AND status <> 'deleted' ORDER BY id LIMIT 1) c ON true",
        [merchant_id, SAMPLE_CUSTOMERS],
    )
    search: dict[str, list[str]] = {kind: [] for kind in rq.SEARCH_KINDS}
    for serial, email, phone, first_name, last_name in people:
        queries = rq.search_queries(
            serial=serial, email=email, phone=phone, first_name=first_name, last_name=last_name
        )
        for kind, q in queries.items():
            search[kind].append(q)
    busiest = _rows(
        "SELECT c.serial, e.n FROM (SELECT card_id, count(*) AS n FROM cards_ledgerentry "
        "WHERE merchant_id = %s GROUP BY card_id ORDER BY n DESC LIMIT 1) e "
        "JOIN cards_card c ON c.id = e.card_id",
        [merchant_id],
    )
    return {
        "dialog": [row[0] for row in dialog],
        "profile": [row[0] for row in profile],
        "search": search,
        "history": busiest[0][0] if busiest else "",
        "history_entries": busiest[0][1] if busiest else 0,
    }


def _floor(merchant_id: int, actor_id: int, url: str) -> dict[str, Any]:
    """Random live cashback cards (the merchant's first, others if it has too few)."""
    # Project modules load only after django.setup().
    from cards.rules import Kind
    from cards.services.ledger import request_fingerprint

    cards = _rows(
        "SELECT c.id, c.merchant_id FROM cards_card c "  # noqa: S608
        "JOIN cards_program p ON p.id = c.program_id "
        f"WHERE p.kind = 'cashback' AND {LIVE} "
        "ORDER BY c.merchant_id = %s DESC, random() LIMIT %s",
        [merchant_id, FLOOR_CARDS],
    )
    return {
        "dsn": url,
        "cards": [list(row) for row in cards],
        "actor_id": actor_id,
        "request_hash": request_fingerprint(Kind.POINTS_ADDED),
    }


def _data_size(merchant_id: int) -> dict[str, int]:
    sizes = {}
    tables = {
        "customers": "customers_customer",
        "cards": "cards_card",
        "ledger entries": "cards_ledgerentry",
    }
    for label, table in tables.items():
        sizes[label] = _rows(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608
    for label, table in tables.items():
        sizes[f"merchant's {label}"] = _rows(
            f"SELECT count(*) FROM {table} WHERE merchant_id = %s",  # noqa: S608
            [merchant_id],
        )[0][0]
    return sizes


# ---------------------------------------------------------------------------------------------
# The server


def _server_env(args: argparse.Namespace, url: str, static_root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in TUNING}
    env.update(
        PLAIN_HTTP,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{args.port}",
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="bench.http_settings",
        BENCH_STATIC_ROOT=str(static_root),
    )
    return env


def _effective_settings(env: dict[str, str]) -> dict[str, Any]:
    probe = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(probe.stdout.strip().splitlines()[-1])


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_gunicorn(args: argparse.Namespace, env: dict[str, str], log: Path) -> Any:
    if _port_taken(args.port):
        raise SystemExit(f"Something already listens on 127.0.0.1:{args.port}: pick --port.")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "bench.counted_wsgi:application",
        f"--bind=127.0.0.1:{args.port}",
        f"--workers={args.workers}",
        "--worker-class=sync",
        f"--error-logfile={log}",
        "--log-level=warning",
    ]
    # A session of its own: Ctrl-C reaches this script, which then stops the server itself.
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def _wait_ready(server: Any, port: int, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/login/"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}):\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{url} answers {error.code}:\n{_tail(log)}") from None
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: Any, name: str) -> None:
    """Stop a process this script started (by its id), gently first."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        say(f"{name} did not stop within 20 s; killing it")
        process.kill()
        process.wait()


# ---------------------------------------------------------------------------------------------
# Load, report


def _run_load(plan: dict[str, Any], stack: ExitStack) -> dict[str, Any]:
    client = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "http_client.py")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stack.callback(_stop, client, "the load generator")
    out, _ = client.communicate(json.dumps(plan))
    if client.returncode != 0:
        raise SystemExit(f"the load generator failed ({client.returncode})")
    return json.loads(out)


def _cell(value: Any, width: int, digits: int = 1) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width},.{digits}f}"
    return f"{value:>{width},}" if isinstance(value, int) else f"{value:>{width}}"


def _row(label: str, result: dict[str, Any]) -> str:
    queries = (
        "-"
        if result.get("queries_mean") is None
        else f"{result['queries_mean']:.1f} / {result['queries_max']}"
    )
    return (
        f"{label:30}{_cell(result['rps'], 9)}{_cell(result['p50'], 9)}{_cell(result['p95'], 9)}"
        f"{_cell(result['p99'], 9)}{_cell(result['errors'], 8)}{queries:>14}"
        f"{_cell(result.get('client_cpu'), 12, 2)}"
    )


def _table(results: dict[str, Any], history_entries: int) -> list[str]:
    header = (
        f"{'scenario':30}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'queries/req':>14}{'client CPU':>12}"
    )
    lines = [header, "-" * len(header)]
    for name, result in results.items():
        label = LABELS[name]
        if name == "history":
            label = f"{label} ({history_entries:,} entries)"
        lines.append(_row(label, result))
        for kind, by_kind in result.get("kinds", {}).items():
            lines.append(_row(f"  search: {kind}", by_kind))
    return lines


def _report(report: dict[str, Any]) -> None:
    say("")
    for line in _table(report["results"], report["data"]["history card's entries"]):
        say(line)
    say("(queries/req: mean / max, counted on the timed requests; the floor's are its own 3;")
    if set(report["results"]) & set(HOME_SCENARIOS):
        say(" home: on an admin's sessions, as staff are shown no statistics;")
    say(" client CPU: the load generator's user+sys seconds per wall second, of one core)")
    for name, result in report["results"].items():
        if result.get("first_error"):
            say(f"first error, {LABELS[name]}: {result['first_error'][:300]!r}")
    if report["ratio"] is not None:
        say(f"\ndialog POST adjustments/s / floor tx/s = {report['ratio']:.3f}")
    say("\nserver settings (effective):")
    for key, value in report["settings"].items():
        say(f"  {key}: {value}")
    say(
        "  plain http on loopback: SECURE_SSL_REDIRECT, SESSION_COOKIE_SECURE and "
        "CSRF_COOKIE_SECURE set off; everything else as in production"
    )
    run = report["run"]
    say(
        f"  gunicorn: {run['workers']} sync workers on 127.0.0.1:{run['port']}; "
        f"{run['clients']} sessions, {run['warmup']:g} s warm-up + {run['duration']:g} s "
        "measured per scenario"
    )
    say("data: " + ", ".join(f"{key} {value:,}" for key, value in report["data"].items()))
    machine = report["machine"]
    say(
        f"machine: nproc {machine['nproc']} (shared by server, database and load); "
        f"1-minute load average {machine['load before']:.1f} as the load began, "
        f"{machine['load after']:.1f} at its end, its own included (above nproc "
        "before: other work shared the cores)"
    )


# ---------------------------------------------------------------------------------------------


def main() -> None:
    args = _arguments()
    scenarios = args.scenarios.split(",")
    with ExitStack() as stack:
        url = _prepare(args, stack)
        merchant_id = _largest_merchant()
        logins, user_id = _bench_logins(merchant_id, scenarios)
        samples = _samples(merchant_id)
        floor = _floor(merchant_id, user_id, url)
        data = _data_size(merchant_id)
        data["history card's entries"] = samples["history_entries"]
        if not samples["dialog"] and "dialog_post" in scenarios:
            raise SystemExit("The merchant has no live stamp card for the dialog.")
        if not floor["cards"] and "floor" in scenarios:
            raise SystemExit("The database has no live cashback card for the floor.")
        routes = rq.Routes.from_django()
        connections.close_all()  # the server and the generator have the machine to themselves

        static_root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="httpload")))
        env = _server_env(args, url, static_root)
        say("collecting static files for the production storage (not measured)")
        subprocess.run(
            [sys.executable, MANAGE, "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        settings = _effective_settings(env)
        log = static_root / "gunicorn.log"
        server = _start_gunicorn(args, env, log)
        stack.callback(_stop, server, "gunicorn")
        _wait_ready(server, args.port, log)
        say(f"gunicorn answers on 127.0.0.1:{args.port}")

        plan = {
            "host": "127.0.0.1",
            "port": args.port,
            "routes": routes.to_json(),
            **logins,
            "clients": args.clients,
            "warmup": args.warmup,
            "duration": args.duration,
            "samples": samples,
            "floor": floor,
            "scenarios": scenarios,
        }
        load_before = os.getloadavg()[0]
        results = _run_load(plan, stack)
        load_after = os.getloadavg()[0]
        _stop(server, "gunicorn")
        dialog, floor_result = results.get("dialog_post"), results.get("floor")
        ratio = (
            dialog["rps"] / floor_result["rps"]
            if dialog and floor_result and floor_result["rps"]
            else None
        )
        report = {
            "results": results,
            "ratio": ratio,
            "settings": settings,
            "run": {
                "workers": args.workers,
                "clients": args.clients,
                "port": args.port,
                "warmup": args.warmup,
                "duration": args.duration,
                "fill": None if args.database else _fill_spec(args),
            },
            "data": data,
            "machine": {
                "nproc": os.cpu_count(),
                "load before": load_before,
                "load after": load_after,
            },
        }
        _report(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
            say(f"written to {args.json}")
        if args.verify:
            merchants = sorted({merchant_id, *(m for _c, m in floor["cards"])})
            for merchant in merchants:
                _manage("verify_ledger", "--merchant", str(merchant), url=url)


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    # A plain kill stops the run like Ctrl-C: the server and the generator are stopped too.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: the server and the load generator were stopped")
