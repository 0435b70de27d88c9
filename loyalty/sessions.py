"""Sessions read from Redis, kept in PostgreSQL.

Every dashboard request loads its session; from the cache that is one Redis round trip instead
of a SQL query. The database stays the source of truth, so sessions survive a Redis restart, and
a Redis that is down must not take the dashboard with it: Django's ``cached_db`` store already
tolerates a failed read and a failed write, and this one also tolerates the cache fill after a
database read and the cache delete at logout (a stale cached session of a logged-out user would
be found again only if Redis came back holding it, and Django deletes that key on its next
logout or expiry; the database row, which decides, is gone either way).
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.core.cache import BaseCache

logger = logging.getLogger(__name__)


class SessionStore(CachedDBStore):
    _cache: BaseCache  # set by Django's store

    def load(self) -> dict[str, Any]:
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # Redis unreachable, or a key the cache refuses
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()  # type: ignore[attr-defined]
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:
            logger.warning("Session cache unavailable; serving sessions from the database")
        return data

    def exists(self, session_key: str | None) -> bool:
        # Asked when a new session key is drawn; the database alone can answer it.
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:
            logger.warning("Session cache unavailable; checking the session in the database")
        return session_key is not None and super(CachedDBStore, self).exists(session_key)

    def delete(self, session_key: str | None = None) -> None:
        # The database row first: once it is gone the session is over, whatever the cache says.
        key = session_key or self.session_key
        super(CachedDBStore, self).delete(session_key)
        if key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + key)
        except Exception:
            logger.warning("Session cache unavailable; could not drop a cached session")
