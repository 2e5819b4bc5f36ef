"""SqlStorage.insert_accounts: provisioning's bulk load, the one driver-level path.

Both functions run inside the caller's write transaction and return the member numbers
they skipped, with the same rules: an account whose id or member number is stored, or
came earlier in the batch, is skipped, and so are the audit records about an id that was
not inserted at all.

PostgreSQL goes through SQLAlchemy (``insert_generic``). On SQLite, bulk provisioning
writes a million accounts, and SQLAlchemy's per-row parameter processing cost more than
SQLite's insert itself, so ``insert_sqlite`` hands pre-built tuples to the sqlite3
driver's own ``executemany``. It is the only place where SqlStorage talks to a driver:
every other operation, on both databases, goes through SQLAlchemy Core.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ...errors import StorageError
from ...model import Account
from ...normalize import email_key
from ...ports import AuditRecord
from .diagnose import translate
from .rows import account_data, account_values, audit_values
from .schema import accounts, audit

__all__ = ["insert_generic", "insert_sqlite"]

# Rows per statement: few round trips, bounded memory per batch.
_CHUNK = 2000
# Values per "IN (?, ...)" lookup: well under SQLite's oldest variable limit (999).
_LOOKUP = 500
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode
_INSERT_AUDIT = sa.insert(audit)

# Only the schema's own table names go into the text.
_SQLITE_INSERT_ACCOUNT = (
    f"INSERT INTO {accounts.name} (account_id, member_number, email_key, stage, "  # noqa: S608
    "queue_at, version, data) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
_SQLITE_INSERT_AUDIT = (
    f"INSERT INTO {audit.name} (at, action, outcome, actor, account_id, ip, "  # noqa: S608
    "detail) VALUES (?, ?, ?, ?, ?, ?, ?)")


def insert_generic(conn: Connection, accounts_: Sequence[Account],
                   audit_: Sequence[AuditRecord]) -> list[str]:
    """insert_accounts through SQLAlchemy, on any dialect: the PostgreSQL path.

    Multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``, in chunks.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(accounts).on_conflict_do_nothing().returning(accounts.c.account_id)
    # RETURNING names ids, so an id twice in the batch would hide its second account:
    # only the first is sent, the others are skipped like any conflict.
    first: dict[str, int] = {}
    for index, a in enumerate(accounts_):
        first.setdefault(a.account_id, index)
    unique = [accounts_[index] for index in first.values()]
    inserted: set[str] = set()
    for start in range(0, len(unique), _CHUNK):
        rows = [account_values(a, version=1) for a in unique[start:start + _CHUNK]]
        inserted.update(conn.execute(statement, rows).scalars())
    skipped_ids = set(first) - inserted
    kept = [audit_values(r) for r in audit_ if r.account_id not in skipped_ids]
    for start in range(0, len(kept), _CHUNK):
        conn.execute(_INSERT_AUDIT, kept[start:start + _CHUNK])
    return [a.member_number for index, a in enumerate(accounts_)
            if a.account_id not in inserted or first[a.account_id] != index]


def insert_sqlite(conn: Connection, accounts_: Sequence[Account],
                  audit_: Sequence[AuditRecord]) -> list[str]:
    """insert_accounts on SQLite, through the sqlite3 driver's own ``executemany``.

    The rows stored are the generic path's: the same columns, the datetimes through the
    column type's own bind processor, the same JSON (without its optional spaces). The
    common case, nothing to skip, is one ``executemany`` whose row count says so;
    otherwise it is undone to a savepoint and one lookup of the batch's ids and member
    numbers, made under the write lock of the ``BEGIN IMMEDIATE`` transaction, decides
    what is skipped, with the same rules.
    """
    dialect = conn.dialect
    stamp = _stamper(dialect)
    # A host that gave the engine its own json_serializer gets it here too.
    encode: Callable[[Any], str] = getattr(dialect, "_json_serializer", None) or _COMPACT_JSON
    rows = []
    for account in accounts_:
        email = account.email
        rows.append((account.account_id, account.member_number,
                     email_key(email) if email else None, account.stage.value,
                     stamp(account.activation_requested_at or account.created_at), 1,
                     encode(account_data(account))))
    # The DB-API connection, which pysqlite's is: a kept connection is detached from the
    # pool, which is what driver_connection would ask.
    driver = conn.connection.dbapi_connection
    assert isinstance(driver, sqlite3.Connection)
    cursor = driver.cursor()
    try:
        if not driver.in_transaction:
            # An engine not made by sqlite_engine leaves pysqlite to begin late; outside a
            # transaction, RELEASE below would commit the accounts without their audit.
            cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("SAVEPOINT cegema_bulk")
        cursor.executemany(_SQLITE_INSERT_ACCOUNT, rows)
        skipped: list[str] = []
        skipped_ids: set[str] = set()
        if cursor.rowcount != len(rows):
            cursor.execute("ROLLBACK TO cegema_bulk")
            taken_ids, taken_numbers = _taken(cursor, accounts_)
            kept = []
            inserted: set[str] = set()
            for account, row in zip(accounts_, rows, strict=True):
                account_id, number = account.account_id, account.member_number
                if account_id in taken_ids or number in taken_numbers:
                    skipped.append(number)
                    skipped_ids.add(account_id)
                    continue
                taken_ids.add(account_id)
                taken_numbers.add(number)
                inserted.add(account_id)
                kept.append(row)
            cursor.executemany(_SQLITE_INSERT_ACCOUNT, kept)
            if cursor.rowcount != len(kept):
                raise StorageError("bulk insert: the lookup and the insert disagree")
            # As in the generic path: an id inserted once in the batch keeps its records.
            skipped_ids -= inserted
        cursor.execute("RELEASE cegema_bulk")
        cursor.executemany(_SQLITE_INSERT_AUDIT, [
            (stamp(r.at), r.action, r.outcome, r.actor, r.account_id, r.ip, r.detail)
            for r in audit_ if r.account_id not in skipped_ids])
    except sqlite3.Error as exc:
        # The class name only, as for every storage error; the caller rolls back.
        raise translate(exc, "write") from exc
    finally:
        cursor.close()
    return skipped


def _taken(cursor: sqlite3.Cursor,
           accounts_: Sequence[Account]) -> tuple[set[str], set[str]]:
    """The stored ids and member numbers among those of ``accounts_``."""
    taken_ids: set[str] = set()
    taken_numbers: set[str] = set()
    for column, values in (("account_id", list({a.account_id for a in accounts_})),
                           ("member_number", list({a.member_number for a in accounts_}))):
        for start in range(0, len(values), _LOOKUP):
            part = values[start:start + _LOOKUP]
            # Only fixed column names and "?" markers go into the text.
            cursor.execute(f"SELECT account_id, member_number FROM {accounts.name} "  # noqa: S608
                           f"WHERE {column} IN ({', '.join('?' * len(part))})", part)
            for account_id, number in cursor:
                taken_ids.add(account_id)
                taken_numbers.add(number)
    return taken_ids, taken_numbers


def _stamper(dialect: Any) -> Callable[[datetime | None], Any]:
    """The UtcDateTime column's bind processing, remembered per value."""
    # A provisioning batch shares one or two instants among all its rows.
    # dialect_impl: the generic type's processor would leave the datetime to the driver,
    # which writes a different text (no microseconds) than SQLAlchemy's own rows.
    process = accounts.c.queue_at.type.dialect_impl(dialect).bind_processor(dialect)
    seen: dict[datetime, Any] = {}

    def stamp(value: datetime | None) -> Any:
        if value is None:
            return None
        try:
            return seen[value]
        except KeyError:
            out = seen[value] = process(value) if process is not None else value
            return out

    return stamp
