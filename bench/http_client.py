"""The load generator of bench/http_load.py, in a process of its own.

    .venv/bin/python bench/http_client.py < plan.json > results.json

Reads the plan (server, routes, sample data, which scenarios) as JSON on stdin, logs its
sessions in through the login form (staff ones, and an admin's for the home page, which staff
never see), runs each scenario closed-loop (every session sends its next request as soon as
the previous answer is in) for a warm-up and then a measured window, and writes the results
as JSON on stdout (progress goes to stderr).

HTTP/1.1 straight over asyncio streams, one request per connection (gunicorn's sync workers
close every connection anyway): the standard library only, one thread, so what the
generator itself costs in CPU is small and measured (it shares the machine's cores with the
server). The ledger floor runs here too, over psycopg's async connections, one per session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import http_requests as rq
from bench import ledger_floor
from bench.http_requests import Request, Routes

QUERY_COUNT_HEADER = "x-query-count"  # bench/counted_wsgi.py's header, lowercased
SNIPPET = 400


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lowercased names
    cookies: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    ok: bool
    queries: int | None = None
    kind: str = ""
    error: str = ""


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 over a socket


def _encode(server: Server, request: Request, cookies: dict[str, str]) -> bytes:
    body = request.body()
    lines = [
        f"{request.method} {request.path} HTTP/1.1",
        f"Host: {server.host}:{server.port}",
        "Connection: close",
        "User-Agent: loyalty-http-load",
        "Accept: text/html,*/*",
        "Accept-Language: en",
    ]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    lines += [f"{name}: {value}" for name, value in request.headers]
    if request.method == "POST":
        # What a browser adds to every form POST; Django's CSRF check compares it to the host.
        lines += [
            f"Origin: {server.origin}",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _dechunk(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def _parse(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, cookie = pair.partition("=")
            cookies[key.strip()] = cookie.strip().strip('"')
        else:
            headers[name] = value
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return Response(status=status, headers=headers, cookies=cookies, body=body)


async def fetch(server: Server, request: Request, cookies: dict[str, str]) -> Response:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(_encode(server, request, cookies))
        await writer.drain()
        raw = await reader.read()  # the server closes the connection after its answer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return _parse(raw)


# ---------------------------------------------------------------------------------------------
# A logged-in member (staff, or an admin for the home page)


@dataclass
class Session:
    server: Server
    routes: Routes
    cookies: dict[str, str] = field(default_factory=dict)

    async def send(self, request: Request) -> Response:
        response = await fetch(self.server, request, self.cookies)
        # Deleted cookies come back empty: drop them as a browser would.
        for name, value in response.cookies.items():
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response

    @property
    def csrf_token(self) -> str:
        return self.cookies.get(self.routes.csrf_cookie, "")

    async def log_in(self, username: str, password: str) -> None:
        """Through the real form: GET it for the CSRF cookie, POST it (which rotates it)."""
        await self.send(rq.login_page(self.routes))
        post = rq.login_post(
            self.routes, username=username, password=password, csrf_token=self.csrf_token
        )
        response = await self.send(post)
        if not rq.login_succeeded(response.status, response.headers):
            raise SystemExit(
                f"login as {username!r} failed: {response.status} "
                f"{response.body[:SNIPPET].decode(errors='replace')}"
            )

    async def outcome(
        self,
        request: Request,
        succeeded: Callable[[int, dict[str, str], bytes], bool],
        kind: str = "",
    ) -> Outcome:
        response = await self.send(request)
        raw_count = response.headers.get(QUERY_COUNT_HEADER)
        queries = int(raw_count) if raw_count else None
        if succeeded(response.status, response.headers, response.body):
            return Outcome(ok=True, queries=queries, kind=kind)
        snippet = response.body[:SNIPPET].decode(errors="replace")
        return Outcome(ok=False, queries=queries, kind=kind, error=f"{response.status} {snippet}")


# ---------------------------------------------------------------------------------------------
# The scenarios: each makes one operation per session, to be called in a loop

Operation = Callable[[], Awaitable[Outcome]]


def dialog_post(session: Session, samples: dict[str, Any], rng: random.Random) -> Operation:
    async def run() -> Outcome:
        request = rq.purchase_post(
            session.routes,
            serial=rng.choice(samples["dialog"]),
            csrf_token=session.csrf_token,
            key=uuid.uuid4().hex,
        )
        return await session.outcome(request, rq.purchase_succeeded)

    return run


def profile(session: Session, samples: dict[str, Any], rng: random.Random) -> Operation:
    async def run() -> Outcome:
        request = rq.profile_get(session.routes, serial=rng.choice(samples["profile"]))
        return await session.outcome(request, rq.page_succeeded)

    return run


def search(session: Session, samples: dict[str, Any], rng: random.Random) -> Operation:
    kinds = [kind for kind in rq.SEARCH_KINDS if samples["search"].get(kind)]
    turn = rng.randrange(len(kinds))

    async def run() -> Outcome:
        nonlocal turn
        kind = kinds[turn % len(kinds)]
        turn += 1
        request = rq.customers_get(session.routes, q=rng.choice(samples["search"][kind]))
        return await session.outcome(request, rq.page_succeeded, kind=kind)

    return run


def customers(session: Session, samples: dict[str, Any], rng: random.Random) -> Operation:
    async def run() -> Outcome:
        return await session.outcome(rq.customers_get(session.routes), rq.page_succeeded)

    return run


def history(session: Session, samples: dict[str, Any], rng: random.Random) -> Operation:
    async def run() -> Outcome:
        request = rq.history_get(session.routes, serial=samples["history"])
        return await session.outcome(request, rq.page_succeeded)

    return run


def home_page(period: str) -> Callable[[Session, dict[str, Any], random.Random], Operation]:
    """The home page's statistics over all programs for one period preset (admin sessions)."""

    def make(session: Session, samples: dict[str, Any], rng: random.Random) -> Operation:
        async def run() -> Outcome:
            request = rq.home_get(session.routes, period=period)
            return await session.outcome(request, rq.home_succeeded)

        return run

    return make


HTTP_SCENARIOS = {
    "dialog_post": dialog_post,
    "profile": profile,
    "search": search,
    "customers": customers,
    "history": history,
}
# Staff never see the home page's statistics: these run on an admin's sessions.
ADMIN_SCENARIOS = {
    "home_30d": home_page("30d"),
    "home_12m": home_page("12m"),
}


async def floor_operations(
    plan: dict[str, Any], rng: random.Random
) -> tuple[list[Operation], list[Any]]:
    """One operation per session, each over a connection of its own (returned to close)."""
    # psycopg loads only for the floor, the one scenario that talks to PostgreSQL directly.
    import psycopg

    spec = plan["floor"]
    cards = [ledger_floor.FloorCard(card_id=c, merchant_id=m) for c, m in spec["cards"]]
    connections = [
        await psycopg.AsyncConnection.connect(spec["dsn"], autocommit=True)
        for _ in range(plan["clients"])
    ]

    def operation(conn: Any) -> Operation:
        async def run() -> Outcome:
            card = rng.choice(cards)
            async with conn.transaction():
                await conn.execute(ledger_floor.LOCK, (card.card_id,))
                at = ledger_floor.now()
                values = ledger_floor.entry_values(
                    card, actor_id=spec["actor_id"], request_hash=spec["request_hash"], at=at
                )
                await conn.execute(ledger_floor.INSERT, values)
                await conn.execute(ledger_floor.UPDATE, ledger_floor.update_values(card, at=at))
            return Outcome(ok=True, queries=3)  # the lock, the insert, the update

        return run

    return [operation(conn) for conn in connections], connections


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Record:
    ms: float
    outcome: Outcome


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(sorted_ms: list[float], p: float) -> float | None:
    if not sorted_ms:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return round(sorted_ms[rank - 1], 2)


def summarize(records: list[Record], seconds: float) -> dict[str, Any]:
    ms = sorted(record.ms for record in records)
    counts = [r.outcome.queries for r in records if r.outcome.queries is not None]
    errors = [r.outcome for r in records if not r.outcome.ok]
    return {
        "requests": len(records),
        "rps": round(len(records) / seconds, 1),
        "p50": _percentile(ms, 50),
        "p95": _percentile(ms, 95),
        "p99": _percentile(ms, 99),
        "errors": len(errors),
        "first_error": errors[0].error if errors else "",
        "queries_mean": round(sum(counts) / len(counts), 1) if counts else None,
        "queries_max": max(counts) if counts else None,
    }


async def measure(operations: list[Operation], warmup: float, duration: float) -> dict[str, Any]:
    """Closed loop: every operation runs back to back until the window ends. Counted: what
    completes inside the measured window, after the warm-up."""
    started = time.perf_counter()
    opens, closes = started + warmup, started + warmup + duration
    records: list[Record] = []

    async def loop(operation: Operation) -> None:
        while time.perf_counter() < closes:
            began = time.perf_counter()
            try:
                outcome = await operation()
            except Exception as error:  # a refused connection, a reset, a database error
                outcome = Outcome(ok=False, error=f"{type(error).__name__}: {error}"[:SNIPPET])
            ended = time.perf_counter()
            if opens <= ended <= closes:
                records.append(Record(ms=(ended - began) * 1000, outcome=outcome))

    tasks = [asyncio.create_task(loop(operation)) for operation in operations]
    await asyncio.sleep(max(0.0, opens - time.perf_counter()))
    cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
    await asyncio.sleep(max(0.0, closes - time.perf_counter()))
    cpu, wall = _cpu_seconds() - cpu_before, time.perf_counter() - wall_before
    await asyncio.gather(*tasks)
    result = summarize(records, duration)
    result["client_cpu"] = round(cpu / wall, 3)
    kinds = sorted({r.outcome.kind for r in records if r.outcome.kind})
    if kinds:
        result["kinds"] = {
            kind: summarize([r for r in records if r.outcome.kind == kind], duration)
            for kind in kinds
        }
    return result


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def logged_in(
    server: Server, routes: Routes, plan: dict[str, Any], member: str, needed: bool
) -> list[Session]:
    """``--clients`` sessions of the plan's ``member`` ("staff" or "admin"), if ``needed``."""
    if not needed:
        return []
    sessions = [Session(server, routes) for _ in range(plan["clients"])]
    credentials = plan[member]
    for session in sessions:  # one after the other: each login hashes a password
        await session.log_in(credentials["username"], credentials["password"])
    say(f"{len(sessions)} {member} sessions logged in")
    return sessions


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    server = Server(plan["host"], plan["port"])
    routes = Routes.from_json(plan["routes"]).at(server.origin)
    rng = random.Random(plan.get("seed", 2026))
    scenarios = set(plan["scenarios"])
    staff = await logged_in(server, routes, plan, "staff", bool(scenarios & set(HTTP_SCENARIOS)))
    admins = await logged_in(server, routes, plan, "admin", bool(scenarios & set(ADMIN_SCENARIOS)))
    results: dict[str, Any] = {}
    for name in plan["scenarios"]:
        say(f"{name}: {plan['warmup']:g} s warm-up, {plan['duration']:g} s measured")
        if name != "floor":
            make = HTTP_SCENARIOS.get(name) or ADMIN_SCENARIOS[name]
            sessions = admins if name in ADMIN_SCENARIOS else staff
            operations = [make(session, plan["samples"], rng) for session in sessions]
            results[name] = await measure(operations, plan["warmup"], plan["duration"])
            continue
        operations, connections = await floor_operations(plan, rng)
        try:
            results[name] = await measure(operations, plan["warmup"], plan["duration"])
        finally:
            for conn in connections:
                await conn.close()
    return results


def main() -> None:
    plan = json.load(sys.stdin)
    json.dump(asyncio.run(run(plan)), sys.stdout)


if __name__ == "__main__":
    main()
