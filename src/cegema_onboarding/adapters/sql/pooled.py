"""PostgreSQL connections for SqlStorage and SqlRateLimiter: one per request when held.

Each storage call used to check a connection out of the pool, ping it, open a transaction
for a one-statement read and roll it back: about thirty round trips to the server for one
login, and most of the worker's CPU time beside the password hash went to them.

- :func:`held` checks one connection out for a whole member request (the Flask extension
  holds one around each request; a host can do it around any block). Every call of the
  storage and of the rate limiter on that engine and thread then uses it.
- Reads and single-statement writes (a rate-limit hit) run in autocommit mode: one
  statement is its own transaction, with no ``BEGIN`` nor ``ROLLBACK`` round trip.
- A write transaction sends ``BEGIN`` (with ``SET LOCAL synchronous_commit TO OFF`` in
  the same round trip when it need not be durable) and ``COMMIT`` itself; on any error it
  rolls back, and a connection found broken is invalidated.

Without a held connection each call checks one out, as before, reads in autocommit too.

Dead connections: ``engine.ping_after_idle`` replaces SQLAlchemy's ``pool_pre_ping`` (a
round trip at every checkout) with a ping only for a connection that sat idle in the pool
for a while, when a firewall or a server restart may have cut it: a busy pool never
pings. A connection that dies while in use fails its request with ``StorageUnreachable``,
and SQLAlchemy then discards the pool's other connections, so the next requests reconnect.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .diagnose import translate

__all__ = ["PooledConnections", "held", "held_connection", "transaction"]

_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}

_local = threading.local()


class _Slot:
    """A held connection, checked out at its first use only."""

    __slots__ = ("conn",)

    def __init__(self) -> None:
        self.conn: Connection | None = None


def _slots() -> dict[int, _Slot]:
    found: dict[int, _Slot] | None = getattr(_local, "held", None)
    if found is None:
        found = _local.held = {}
    return found


def held_connection(engine: Engine) -> Connection | None:
    """The connection this thread holds on ``engine`` (see :func:`held`), if any.

    Checked out of the pool, in autocommit mode, by the first call that needs it.
    """
    slot = _slots().get(id(engine.pool))
    if slot is None:
        return None
    if slot.conn is None or slot.conn.invalidated:
        if slot.conn is not None:
            slot.conn.close()
        conn = engine.connect()
        conn.execution_options(**_AUTOCOMMIT)
        slot.conn = conn
    return slot.conn


@contextmanager
def held(engine: Engine) -> Iterator[None]:
    """Hold one pooled connection for every storage call on ``engine`` in this block.

    The connection is checked out by the first call that needs it (a request that reads
    nothing costs nothing), and back in the pool when the block ends. Nested blocks share
    the outer one's. PostgreSQL only: on SQLite, storage keeps one connection per thread
    already, and this does nothing.
    """
    key = id(engine.pool)
    slots = _slots()
    if engine.dialect.name != "postgresql" or key in slots:
        yield
        return
    slot = slots[key] = _Slot()
    try:
        yield
    finally:
        del slots[key]
        if slot.conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                slot.conn.close()


@contextmanager
def transaction(conn: Connection, durable: bool = True) -> Iterator[Connection]:
    """One transaction on an autocommit connection: ``BEGIN`` ... ``COMMIT`` sent here."""
    # No parameters: psycopg sends both statements in one round trip (simple protocol).
    conn.exec_driver_sql("BEGIN" if durable else
                         "BEGIN; SET LOCAL synchronous_commit TO OFF")
    try:
        yield conn
    except BaseException:
        try:
            conn.exec_driver_sql("ROLLBACK")
        except sa.exc.SQLAlchemyError:
            # Broken: never back to the pool in an unknown state.
            conn.invalidate()
        raise
    conn.exec_driver_sql("COMMIT")


class PooledConnections:
    """The held connection, else one from the engine's pool, for each read and write."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = engine.execution_options(**_AUTOCOMMIT)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for one statement, in autocommit mode."""
        try:
            conn = held_connection(self.engine)
            if conn is not None:
                yield conn
                return
            with self._reader.connect() as own:
                yield own
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, "read") from exc

    @contextmanager
    def write(self, durable: bool = True, *, lock_first: bool = False
              ) -> Iterator[Connection]:
        """A connection inside one transaction, committed when the block ends without error.

        ``durable=False``: acknowledged before the WAL flush; a later synchronous commit
        flushes it too, since PostgreSQL's WAL is written in order. ``lock_first`` is for
        SQLite.
        """
        try:
            conn = held_connection(self.engine)
            if conn is not None:
                with transaction(conn, durable):
                    yield conn
                return
            with self._reader.connect() as own, transaction(own, durable):
                yield own
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, "write") from exc

    def dispose(self) -> None:
        """Nothing is kept: the pool is the engine's to dispose."""
