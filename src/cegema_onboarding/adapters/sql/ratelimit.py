"""SqlRateLimiter: fixed-window rate-limit counters in one SQL table, shared by processes.

Each hit is ONE statement, ``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE ...
RETURNING``: a new key starts a window with a count of 1; an existing key whose window has
ended starts a new one; otherwise the count goes up only while it is below the limit. When
the ``WHERE`` refuses the update, no row comes back and the hit is refused, uncounted. The
database applies the statement atomically (PostgreSQL locks the conflicting row and
re-checks the condition on its newest version; SQLite runs it inside ``BEGIN IMMEDIATE``),
so concurrent hits from any number of threads or processes never push a count past its
limit. Needs SQLite 3.35 or newer (``RETURNING``) or PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ...errors import ConfigurationError
from .diagnose import translate
from .engine import BEGIN_OPTION
from .pooled import held_connection
from .schema import rate_limits

__all__ = ["SqlRateLimiter"]

_count = rate_limits.c["count"]
_start = rate_limits.c.window_start


class SqlRateLimiter:
    """A :class:`~cegema_onboarding.ports.RateLimiter` on SQLite or PostgreSQL.

    Create its table with ``create_schema``/``upgrade``. Call :meth:`purge` now and then
    (a relay tick, a cron job) to drop the windows that have ended.
    """

    def __init__(self, engine: Engine) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"SqlRateLimiter supports SQLite and PostgreSQL, not {name}")
        self.engine = engine
        self._reader = engine.execution_options(**{BEGIN_OPTION: "DEFERRED"})
        self._postgres = name == "postgresql"
        # One statement is its own transaction: no BEGIN nor COMMIT round trips on it.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        insert = postgresql.insert if name == "postgresql" else sqlite.insert
        statement = insert(rate_limits).values(
            key=sa.bindparam("key"), window_start=sa.bindparam("now"), count=1)
        # A window has ended when it started at least one window ago; a start in the future
        # (a clock set back) also begins a new one, as MemoryRateLimiter does.
        ended = sa.or_(_start <= sa.bindparam("cutoff"), _start > sa.bindparam("now"))
        self._hit = statement.on_conflict_do_update(
            index_elements=[rate_limits.c.key],
            set_={
                "window_start": sa.case((ended, statement.excluded.window_start),
                                        else_=_start),
                "count": sa.case((ended, 1), else_=_count + 1),
            },
            where=sa.or_(ended, _count < sa.bindparam("limit")),
        ).returning(_count)

    def __repr__(self) -> str:
        return f"SqlRateLimiter({self.engine.dialect.name})"

    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> bool:
        """Count one hit on ``key``; False (and not counted) once ``limit`` is reached."""
        if limit < 1:
            return False
        params = {"key": key, "now": now, "cutoff": now - window, "limit": limit}
        try:
            if not self._postgres:
                with self.engine.begin() as conn:
                    row = conn.execute(self._hit, params).first()
            elif (held := held_connection(self.engine)) is not None:
                # The request's connection (SqlStorage.held), in autocommit mode.
                row = held.execute(self._hit, params).first()
            else:
                with self._autocommit.connect() as conn:
                    row = conn.execute(self._hit, params).first()
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, "rate limit update") from exc
        return row is not None

    def retry_after(self, key: str, window: timedelta, now: datetime) -> timedelta | None:
        """The time left in ``key``'s current window; None when it has none."""
        start = self._read(_start, key)
        if start is None:
            return None
        if start.tzinfo is None:
            # SQLite gives back naive UTC times.
            start = start.replace(tzinfo=now.tzinfo)
        left: timedelta = start + window - now
        return left if timedelta(0) < left <= window else None

    def count(self, key: str) -> int:
        """The hits counted in the key's last window (for tests and monitoring)."""
        return int(self._read(_count, key) or 0)

    def _read(self, column: sa.Column[Any], key: str) -> Any:
        """One column of ``key``'s row, None when it has none."""
        try:
            with self._reader.connect() as conn:
                return conn.execute(sa.select(column).where(rate_limits.c.key == key)).scalar()
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, "rate limit read") from exc

    def purge(self, before: datetime) -> int:
        """Delete the windows that started before ``before``; returns how many.

        Pass ``now`` minus the longest window in use (five minutes with the default
        limits): every window removed has then ended, and a key seen again simply starts
        a new one.
        """
        try:
            with self.engine.begin() as conn:
                result = conn.execute(sa.delete(rate_limits).where(_start < before))
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, "rate limit purge") from exc
        return int(result.rowcount)
