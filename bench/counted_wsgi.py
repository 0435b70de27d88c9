"""The production WSGI application, answering with the number of SQL queries each request ran.

Benchmark only (bench/http_load.py serves it with gunicorn): the queries per request are then
measured on the very requests that are timed. ``loyalty.wsgi`` itself stays untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection

from loyalty.wsgi import application as django_application

QUERY_COUNT_HEADER = "X-Query-Count"

StartResponse = Callable[..., Any]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    # Counted as Django's test tools count (CaptureQueriesContext): every statement, the
    # transactions' BEGIN and COMMIT included, so the figure matches the query-budget tests.
    # The debug cursor that does it costs a few microseconds per statement.
    connection.force_debug_cursor = True
    connection.queries_log.clear()

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        # Django starts the response once the view, the middleware and the session save are
        # done: every query of the request is counted by then.
        count = len(connection.queries_log)
        return start_response(status, [*headers, (QUERY_COUNT_HEADER, str(count))], exc_info)

    # A sync worker serves one request at a time in one thread: one connection to count.
    return django_application(environ, start)
