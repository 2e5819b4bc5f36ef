"""What went wrong with the database, as a typed error naming the fix.

A driver's error becomes one of:

- :class:`~cegema_onboarding.errors.StorageUnreachable`: no connection (server down, wrong
  host, port, user, password or database name; a SQLite file that cannot be opened);
- :class:`~cegema_onboarding.errors.SchemaMissing`: connected, but a table of the library
  is not there (the database was never migrated);
- :class:`~cegema_onboarding.errors.SchemaOutdated`: the tables are of another revision
  (a column is missing, or the stamped revision is not this release's);
- else a plain :class:`~cegema_onboarding.errors.StorageError`.

Only class names, SQLSTATE codes and the library's own table names reach a message: a
driver's text may quote a row, and a URL may hold a password.
"""

from __future__ import annotations

import functools
import re
import sqlite3

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ...errors import SchemaMissing, SchemaOutdated, StorageError, StorageUnreachable
from .engine import _current_revision, alembic_config
from .schema import metadata

__all__ = ["MIGRATE", "check", "error_kind", "head_revision", "translate"]

#: The fix for a database without the library's tables, or with older ones.
MIGRATE = ("run `cegema-onboarding migrate --database URL` (or "
           "cegema_onboarding.adapters.sql.upgrade(engine)) on this database")
_CHECK_SERVER = ("check the database URL (host, port, user, password, database name) and "
                 "that the server is running and accepts connections from this machine")
_CHECK_FILE = "check the SQLite file's path, and that its folder exists and is writable"

# PostgreSQL SQLSTATE: connection exceptions (08), bad credentials (28), an unknown
# database (3D000), a server shutting down or starting (57P01-57P03).
_PG_UNREACHABLE = ("08", "28", "3D000", "57P01", "57P02", "57P03")
_PG_UNDEFINED_TABLE = "42P01"
_PG_UNDEFINED_COLUMN = "42703"
_OWN_TABLE = re.compile(r"\bcegema_[a-z_]+\b")


def error_kind(exc: BaseException) -> str:
    """The class names of an error and of the driver's error under it, never the message."""
    # SQLAlchemy's message may quote parameters (hashes, payloads).
    orig = getattr(exc, "orig", None)
    return type(exc).__name__ + (f"/{type(orig).__name__}" if orig is not None else "")


def translate(exc: BaseException, what: str) -> StorageError:
    """The error to raise for ``exc``, a SQLAlchemy or sqlite3 error met during ``what``."""
    orig = getattr(exc, "orig", None) or exc
    kind = error_kind(exc)
    if isinstance(orig, sqlite3.Error):
        text = str(orig)
        if "unable to open database file" in text:
            return StorageUnreachable(f"cannot open the SQLite database ({kind})",
                                      fix=_CHECK_FILE)
        if text.startswith("no such table"):
            return SchemaMissing(f"the database lacks the table {_table(text)}", fix=MIGRATE)
        if text.startswith(("no such column", "table ")) and "column" in text:
            return SchemaOutdated(f"the database's tables are of an older revision ({kind})",
                                  fix=MIGRATE)
    sqlstate = getattr(orig, "sqlstate", None)
    if type(orig).__module__.startswith("psycopg"):
        if (sqlstate is None and isinstance(exc, sa.exc.OperationalError)) or (
                sqlstate and sqlstate.startswith(_PG_UNREACHABLE)):
            return StorageUnreachable(
                f"cannot reach the PostgreSQL server ({kind}, SQLSTATE {sqlstate or 'none'})",
                fix=_CHECK_SERVER)
        if sqlstate == _PG_UNDEFINED_TABLE:
            return SchemaMissing(f"the database lacks the table {_table(str(orig))}",
                                 fix=MIGRATE)
        if sqlstate == _PG_UNDEFINED_COLUMN:
            return SchemaOutdated(f"the database's tables are of an older revision ({kind})",
                                  fix=MIGRATE)
    return StorageError(f"database {what} failed ({kind})")


def _table(text: str) -> str:
    """The library's table named in a driver's message; nothing else of it."""
    found = _OWN_TABLE.search(text)
    return found.group(0) if found else "of the library"


@functools.cache
def head_revision() -> str:
    """The newest migration this release ships (read once from its Alembic scripts)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise StorageError("the package's migrations are missing")
    return head


def check(engine: Engine) -> str:
    """Connect once and check the schema is this release's; returns its revision.

    Raises :class:`StorageUnreachable`, :class:`SchemaMissing` or :class:`SchemaOutdated`
    naming the fix. One connection and two catalogue reads: cheap enough for every start.
    """
    try:
        with engine.connect() as conn:
            revision = _current_revision(conn)
            tables = set(sa.inspect(conn).get_table_names())
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        raise translate(exc, "check") from exc
    expected = head_revision()
    missing = sorted(set(metadata.tables) - tables)
    if revision is None and len(missing) == len(metadata.tables):
        raise SchemaMissing("the database has none of the library's tables", fix=MIGRATE)
    if revision != expected:
        raise SchemaOutdated(
            f"the database is at revision {revision or 'none'}, this release needs "
            f"{expected}", fix=MIGRATE, revision=revision, expected=expected)
    if missing:
        raise SchemaMissing(f"the database lacks the table(s) {', '.join(missing)}",
                            fix=MIGRATE)
    return revision
