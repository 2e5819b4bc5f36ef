"""How SqlStorage reaches its database: the engine's pool, or one kept connection per thread.

Both kinds give the store the same two context managers, ``read()`` and
``write(durable)``, each yielding a SQLAlchemy :class:`~sqlalchemy.engine.Connection`, and
translate database errors into :class:`~cegema_onboarding.errors.StorageError` at this
boundary (``diagnose.translate``: typed when the database is unreachable or not migrated,
class names only, since a driver's message may quote a row).

PostgreSQL uses the engine's pool: one connection held for a whole request, or one per
call (see ``pooled``).

On SQLite a checkout and check-in around every statement is a large share of the work
(about a millisecond per journey, measured), so each thread keeps one Connection. It is
opened through the engine, so that the engine's connect hooks (the pragmas of
``sqlite_engine``, or the host's own) run on it, then detached from the pool, which
therefore never runs short however many threads serve requests. The kept connections
are:

- fork-aware: a child process never uses, nor closes, its parent's connections; it
  replaces the engine's pool as SQLAlchemy advises (``dispose(close=False)``) and opens
  its own;
- dispose-aware: ``engine.dispose()`` or ``SqlStorage.dispose()`` closes every kept
  connection (one busy in another thread as soon as its current call ends), and the next
  call opens a new one, as the engine itself reconnects after a dispose;
- closed with their thread, and replaced after one ``StorageError`` when found unusable.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from ...errors import StorageError
from .diagnose import error_kind, translate
from .engine import BEGIN_OPTION
from .pooled import PooledConnections

__all__ = ["KeptConnections", "PooledConnections", "error_kind"]

# PRAGMA synchronous levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
_NORMAL = 1

# Connections inherited from a parent process: never used nor closed here (SQLite forbids
# both in the child), and kept referenced so that no garbage collection closes them.
_INHERITED: list[Connection] = []

# Errors after which a connection is not used again.
_UNUSABLE = (sa.exc.ProgrammingError, sa.exc.InterfaceError, sa.exc.ResourceClosedError,
             sa.exc.PendingRollbackError)


class _Kept:
    """One thread's connection, and what is known about it."""

    __slots__ = ("__weakref__", "close", "connection", "generation", "in_use", "pid",
                 "synchronous")

    def __init__(self, connection: Connection, generation: int) -> None:
        self.connection = connection
        self.generation = generation
        self.pid = os.getpid()
        # Held by the owning thread during each call, so that a dispose from another
        # thread closes only idle connections.
        self.in_use = threading.Lock()
        # The connection's own flush level, read once when first needed.
        self.synchronous: int | None = None
        # Closes the connection when this object goes, i.e. when its thread ends.
        self.close = weakref.finalize(self, _close, connection, self.pid)
        self.close.atexit = False


def _close(connection: Connection, pid: int) -> None:
    if os.getpid() != pid:
        _INHERITED.append(connection)
        return
    # Already broken or closed: nothing more to release.
    with contextlib.suppress(Exception):
        connection.close()


class KeptConnections:
    """One detached SQLAlchemy Connection per thread (and per process) on a SQLite engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._generation = 0
        self._pid = os.getpid()
        # Every live connection, to close them all on dispose; weak, so that a thread's
        # connection goes with the thread.
        self._all: weakref.WeakSet[_Kept] = weakref.WeakSet()
        self._lock = threading.Lock()
        event.listen(engine, "engine_disposed", self._engine_disposed)

    # ------------------------------------------------------------------ the connection

    def _acquire(self) -> _Kept:
        """This thread's connection, opened on first use, after a dispose or a fork."""
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is not None and kept.generation == self._generation \
                and kept.pid == os.getpid():
            return kept
        try:
            return self._open(kept)
        except sa.exc.SQLAlchemyError as exc:
            # A file that cannot be opened: a StorageError as any other, never the
            # driver's own exception.
            raise translate(exc, "connect") from exc

    def _open(self, stale: _Kept | None) -> _Kept:
        self._local.kept = None
        if os.getpid() != self._pid:
            self._forked()
        elif stale is not None:
            stale.close()
        conn = self.engine.connect()
        try:
            # Now this thread's, not the pool's: the engine's connect hooks ran on it.
            conn.detach()
            # A read is one statement in SQLite's own implicit transaction: no BEGIN from
            # the engine's hook. A write transaction is begun by the driver, as the
            # DB-API has it, before its first write statement, and IMMEDIATE (see write).
            conn.execution_options(**{BEGIN_OPTION: "NONE"})
            driver = conn.connection.dbapi_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.isolation_level = "IMMEDIATE"
        except BaseException:
            conn.close()
            raise
        kept = _Kept(conn, self._generation)
        with self._lock:
            self._all.add(kept)
        self._local.kept = kept
        return kept

    def _forked(self) -> None:
        # In a child process: forget the parent's connections without touching them, and
        # give the engine a pool of its own (SQLAlchemy's advice for a fork): the one
        # inherited holds the parent's connections too. The lock may have been held by
        # another of the parent's threads at the fork: the child starts a new one.
        self._lock = threading.Lock()
        with self._lock:
            inherited = list(self._all)
            self._all = weakref.WeakSet()
            self._pid = os.getpid()
        for kept in inherited:
            kept.close.detach()
            _INHERITED.append(kept.connection)
        self.engine.dispose(close=False)

    def _drop(self, kept: _Kept) -> None:
        """Close and forget a connection: the thread's next call opens another."""
        if getattr(self._local, "kept", None) is kept:
            self._local.kept = None
        kept.close()

    def _engine_disposed(self, _engine: Engine) -> None:
        self.dispose()

    def dispose(self) -> None:
        """Close every kept connection; each thread's next call opens a new one."""
        with self._lock:
            self._generation += 1
            kept_now = list(self._all)
        for kept in kept_now:
            if kept.pid != os.getpid():
                continue
            if kept.in_use.acquire(blocking=False):
                try:
                    kept.close()
                finally:
                    kept.in_use.release()
            # Otherwise its thread is in a call: it closes it when the call ends.

    def _failed(self, kept: _Kept, exc: sa.exc.SQLAlchemyError, what: str) -> StorageError:
        """The error to raise for a failed call; the connection is reset or dropped."""
        conn = kept.connection
        # A closed or misused connection stays so (SQLAlchemy marks a closed database
        # invalidated): the next call opens another.
        if conn.closed or conn.invalidated or isinstance(exc, _UNUSABLE):
            self._drop(kept)
        else:
            self._end(kept)
        return translate(exc, what)

    def _release(self, kept: _Kept) -> None:
        if kept.generation != self._generation:
            # Disposed during the call: closed now that it is over.
            self._drop(kept)

    def _end(self, kept: _Kept) -> None:
        """Leave SQLAlchemy's transaction (and any of SQLite's) after a failure."""
        try:
            kept.connection.rollback()
        except sa.exc.SQLAlchemyError:
            self._drop(kept)

    # ------------------------------------------------------------------ reads and writes

    # Each call holds its connection's in_use lock (see dispose), and turns the database's
    # errors into StorageError. Written out in both: one generator per call, not two.

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """This thread's connection, for one statement in SQLite's own snapshot."""
        kept = self._acquire()
        with kept.in_use:
            try:
                # No BEGIN is sent, so there is nothing to end: the next write's commit
                # also closes SQLAlchemy's bookkeeping of the transaction it autobegan.
                yield kept.connection
            except sa.exc.SQLAlchemyError as exc:
                raise self._failed(kept, exc, "read") from exc
            except BaseException:
                self._end(kept)
                raise
            finally:
                self._release(kept)

    @contextmanager
    def write(self, durable: bool = True, *, lock_first: bool = False
              ) -> Iterator[Connection]:
        """This thread's connection inside ``BEGIN IMMEDIATE`` ... ``COMMIT``.

        IMMEDIATE takes the write lock, so that concurrent writers queue behind it for the
        busy timeout instead of failing when a read becomes a write. The driver begins the
        transaction before its first write statement (no statement of its own to send);
        ``lock_first`` begins it before anything, for a transaction that reads first.
        A write that need not be durable runs with ``synchronous=NORMAL``, which SQLite
        only changes outside a transaction: it is set around this one and always put back.
        """
        kept = self._acquire()
        with kept.in_use:
            conn = kept.connection
            relaxed = False
            try:
                relaxed = not durable and self._level(kept) > _NORMAL
                if relaxed:
                    conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                if not conn.in_transaction():
                    # SQLAlchemy's side only (its begin hook sends nothing here): so that
                    # commit() and rollback() reach the driver even when the block runs
                    # no statement through SQLAlchemy (the bulk insert).
                    conn.begin()
                if lock_first:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                conn.commit()
            except sa.exc.SQLAlchemyError as exc:
                raise self._failed(kept, exc, "write") from exc
            except BaseException:
                self._end(kept)
                raise
            finally:
                if relaxed:
                    self._restore(kept)
                self._release(kept)

    def _level(self, kept: _Kept) -> int:
        if kept.synchronous is None:
            level = kept.connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
            kept.synchronous = int(level)
        return kept.synchronous

    def _restore(self, kept: _Kept) -> None:
        conn = kept.connection
        try:
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql(f"PRAGMA synchronous={kept.synchronous}")
        except sa.exc.SQLAlchemyError:
            # Never go on with a relaxed connection: open another.
            self._drop(kept)
