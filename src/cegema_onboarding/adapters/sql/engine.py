"""Engines for SQLite and PostgreSQL, set up for SqlStorage, and schema creation/migration.

SQLite: a file in WAL mode, with a busy timeout, foreign keys on, and real
``BEGIN IMMEDIATE`` write transactions (SQLAlchemy's recipe for pysqlite transaction
control), so that concurrent writers queue on the lock instead of failing when a read
transaction tries to become a write one. PostgreSQL: psycopg 3, READ COMMITTED; the
storage's conditional updates and ``FOR UPDATE SKIP LOCKED`` give the guarantees.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from ...errors import ConfigurationError, StorageError
from .schema import VERSION_TABLE, metadata

__all__ = [
    "BEGIN_OPTION",
    "IDLE_PING_SECONDS",
    "SCHEMA_LOCK_KEY",
    "alembic_config",
    "create_engine_from_url",
    "create_schema",
    "current_revision",
    "migrate",
    "missing_tables",
    "ping_after_idle",
    "postgres_engine",
    "sqlite_engine",
    "upgrade",
]

MIGRATIONS = Path(__file__).with_name("migrations")

#: Execution option read by the SQLite ``begin`` hook: ``"DEFERRED"`` for read-only work,
#: ``"NONE"`` for one statement in SQLite's own implicit transaction, anything else (the
#: default) opens the transaction with ``BEGIN IMMEDIATE``.
BEGIN_OPTION = "cegema_sqlite_begin"

_BUSY_TIMEOUT_S = 10.0

#: A pooled PostgreSQL connection idle for longer than this is pinged before use.
IDLE_PING_SECONDS = 10.0
# Connections are replaced after this many seconds, under common idle timeouts.
_RECYCLE_S = 1800
_CHECKED_IN = "cegema_checked_in"

#: The PostgreSQL advisory lock that create_schema and upgrade hold while they work: a
#: fixed 64-bit number, the same in every process and version ("cegemaSC" in ASCII), and
#: unlikely to be used by a host for anything else.
SCHEMA_LOCK_KEY = 0x636567656D61_5343


def sqlite_engine(path: str | os.PathLike[str], *, synchronous: str = "FULL",
                  **engine_options: Any) -> Engine:
    """An engine on the SQLite file at ``path`` (created if missing), ready for SqlStorage.

    ``synchronous`` is SQLite's flush policy. ``"FULL"`` (the default) flushes every
    commit to disk, so a spent link or a password change survives a power loss.
    ``"NORMAL"`` is several times faster per commit in WAL mode, but a power loss or an
    operating-system crash can undo the last commits, and with them a spent link or a
    password change: choose it knowingly.
    """
    name = os.fspath(path)
    if not name or name == ":memory:" or name.startswith("file:"):
        # Each pooled connection to ":memory:" would see its own empty database.
        raise ConfigurationError("sqlite_engine needs a file path; use MemoryStorage in memory")
    if synchronous not in ("FULL", "NORMAL"):
        raise ConfigurationError('sqlite_engine synchronous must be "FULL" or "NORMAL"')
    options: dict[str, Any] = {"connect_args": {"timeout": _BUSY_TIMEOUT_S},
                               "hide_parameters": True}
    options.update(engine_options)
    engine = sa.create_engine(URL.create("sqlite+pysqlite", database=name), **options)

    def connect(dbapi_connection: Any, record: Any) -> None:
        _sqlite_connect(dbapi_connection, record, synchronous)

    event.listen(engine, "connect", connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any, synchronous: str = "FULL") -> None:
    # pysqlite's own transaction handling begins late and deferred; take it over so that
    # the "begin" hook below decides how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
        _wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
    finally:
        cursor.close()


def _wal(cursor: Any) -> None:
    """Switch the file to WAL, waiting out the other processes that open it at once.

    The mode is stored in the file, so only the first connections to a new file change it.
    The change needs the file to itself, and SQLite answers "database is locked" at once,
    without its busy handler, when another connection is opening it at that moment
    (several workers starting on one new file): retry within the busy timeout.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.04)  # noqa: S311 - jitter, not a secret


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that later writes cannot wait for the lock (SQLite fails it
    # at once with SQLITE_BUSY to avoid a deadlock); an immediate one takes the write lock
    # up front and so queues behind other writers for up to the busy timeout.
    mode = conn.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
    if mode == "NONE":
        return
    conn.exec_driver_sql("BEGIN" if mode == "DEFERRED" else "BEGIN IMMEDIATE")


def _refuse_postgres_scheme(url: str | URL) -> None:
    # Heroku-style URLs: SQLAlchemy has no "postgres" dialect any more, and its own error
    # ("Can't load plugin: sqlalchemy.dialects:postgres") does not say what to write.
    # Refused rather than rewritten, so that the URL in the host's settings is the one used.
    scheme = (url.drivername if isinstance(url, URL) else str(url).split(":", 1)[0])
    if scheme.split("+", 1)[0].lower() == "postgres":
        raise ConfigurationError(
            "the URL scheme postgres:// is not supported: write postgresql+psycopg:// "
            "(or postgresql://) with the rest of the URL unchanged", setting="database URL")


def postgres_engine(url: str | URL, **engine_options: Any) -> Engine:
    """An engine on PostgreSQL through psycopg 3 (``postgresql+psycopg://...``)."""
    _refuse_postgres_scheme(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError("postgres_engine needs a postgresql:// URL")
    if parsed.get_driver_name() in ("", "psycopg2", "psycopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ConfigurationError("postgres_engine supports the psycopg (3) driver only")
    # hide_parameters: rows hold hashes and sealed payloads; keep them out of errors and logs.
    # No pool_pre_ping: its round trip at every checkout was a large share of a login's
    # work; idle connections are pinged instead (ping_after_idle), and pool_recycle
    # replaces connections before a server or firewall idle timeout would cut them.
    options: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": _RECYCLE_S,
                               "hide_parameters": True}
    options.update(engine_options)
    engine = sa.create_engine(parsed, **options)
    if not options["pool_pre_ping"]:
        ping_after_idle(engine)
    return engine


def ping_after_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Ping a connection at checkout only when it sat in the pool for ``idle_seconds``.

    A busy pool never pings; a connection idle long enough for a firewall or a server
    restart to have cut it is checked first. SQLAlchemy's documented way for a checkout
    hook to refuse a dead connection: raising ``DisconnectionError`` makes the pool
    discard it and try another (up to three times).
    """

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi)
        except Exception as exc:
            raise sa.exc.DisconnectionError("idle connection found closed") from exc
        if not alive:
            raise sa.exc.DisconnectionError("idle connection found closed")

    event.listen(engine.pool, "checkin", checkin)
    event.listen(engine.pool, "checkout", checkout)


def create_engine_from_url(url: str | URL, **engine_options: Any) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql[+psycopg]://...`` URLs."""
    _refuse_postgres_scheme(url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() not in ("", "pysqlite"):
            raise ConfigurationError("only the standard sqlite3 driver is supported")
        return sqlite_engine(parsed.database or "", **engine_options)
    if backend == "postgresql":
        return postgres_engine(parsed, **engine_options)
    raise ConfigurationError(f"unsupported database backend: {backend}")


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration for the library's own migrations (no alembic.ini needed).

    Pass an open ``connection`` to migrate through it, or a ``url`` for Alembic's
    command-line style use.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # ConfigParser interpolation would choke on a "%" in a password.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def create_schema(engine: Engine) -> None:
    """Create every table and index, and stamp the newest migration as applied.

    On a database that the migrations already manage (a version is stamped), it applies
    the newer migrations instead, as :func:`upgrade` does: creating the missing tables and
    stamping the newest version would skip the changes to existing ones. Safe when several
    processes call it at once (see :func:`upgrade`).
    """
    with _schema_transaction(engine) as conn:
        _lock_schema(conn)
        if _current_revision(conn) is not None:
            command.upgrade(alembic_config(conn), "head")
            return
        metadata.create_all(conn)
        command.stamp(alembic_config(conn), "head")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` with the library's Alembic migrations.

    Safe when several processes call it at once, as workers that migrate at start-up do:
    each waits for the one before it and then finds nothing left to do. Migrating as a
    deployment step of its own (``cegema-onboarding migrate``) is still the better way.
    """
    with _schema_transaction(engine) as conn:
        _lock_schema(conn)
        command.upgrade(alembic_config(conn), revision)


@contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for a schema change, on a connection that could be opened.

    A database that cannot be reached (a server down, a SQLite file whose folder is
    missing) is a StorageUnreachable saying what to check, as on every other path, never
    the driver's own error.
    """
    # diagnose reads the schema's version through this module: imported here, not on top.
    from .diagnose import translate

    try:
        conn = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        raise translate(exc, "connect") from exc
    with conn, conn.begin():
        yield conn


def _lock_schema(conn: Connection) -> None:
    """Hold the database's schema lock until the transaction ends.

    Without it, two processes that find the same tables missing both create them and one
    fails (an IntegrityError on PostgreSQL's catalog or the version table). With it, the
    second waits, then sees what the first committed.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Transaction-level: released by the commit or rollback, even if the process dies.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    elif dialect == "sqlite":
        # sqlite_engine's transactions begin IMMEDIATE already. Another engine's pysqlite
        # runs DDL outside any transaction: take SQLite's write lock here, so that the
        # check for existing tables and their creation happen under it.
        dbapi = conn.connection.dbapi_connection
        if not getattr(dbapi, "in_transaction", True):
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Apply every migration not applied yet: the revision before (None when the database
    was empty) and after. What ``cegema-onboarding migrate`` runs.

    Raises StorageError, with the database's own first line, when the database cannot be
    reached or migrated.
    """
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        from .diagnose import translate

        typed = translate(exc, "migrate")
        if type(typed) is not StorageError:
            raise typed from exc  # unreachable, mostly: say what to check
        # The first line names the failure; the next ones hold the SQL statement.
        raise StorageError(f"cannot migrate: {str(exc).splitlines()[0]}") from exc
    assert after is not None
    return before, after


def missing_tables(engine: Engine) -> tuple[str, ...]:
    """The library's tables that the database lacks, in creation order; () when none.

    Raises StorageError, with the database's own first line, when it cannot be reached.
    """
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            return tuple(t.name for t in metadata.sorted_tables
                         if not inspector.has_table(t.name))
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"cannot read the schema: {str(exc).splitlines()[0]}") from exc


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None before any (an empty database)."""
    with engine.connect() as conn:
        return _current_revision(conn)


def _current_revision(conn: Connection) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()
