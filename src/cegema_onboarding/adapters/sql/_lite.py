"""SqlStorage's per-request operations on SQLite, straight through the sqlite3 driver.

Every page of the journey reads an account, and every step commits one. On SQLite,
SQLAlchemy's per-statement work (pool events, autobegin, cache keys, result processing)
costs several times what SQLite itself spends on a primary-key lookup, so these few
operations talk to a sqlite3 connection directly. The rows are the generic path's: the
same columns, datetimes in SQLAlchemy's text (checked against its processors), the same
JSON (without its optional spaces, as the bulk insert writes it). The storage contract
suite runs against both paths (SQLite here, PostgreSQL through SQLAlchemy).

Each thread keeps one connection, opened through the engine (so its connect hooks run)
and then detached from the pool: checking a connection out and back for every statement
cost about a millisecond per journey. ``engine.dispose()`` retires them (the calling
thread's at once, the others' at their next use); a forked child opens its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ... import codec
from ...errors import ConcurrentUpdate, DuplicateAccount, StorageError
from ...model import Account, Channel, Throttle
from ...normalize import email_key
from ...ports import Changes, OutboxMessage, OutboxStatus
from .schema import accounts, audit, decoys, outbox, throttles

_CLAIM_LEASE = timedelta(minutes=5)
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode
# PRAGMA synchronous levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
_NORMAL = 1

# Only the schema's own table and column names go into the text.
_A, _T, _O, _U, _D = accounts.name, throttles.name, outbox.name, audit.name, decoys.name
_OUTBOX_COLUMNS = ("message_id", "account_id", "channel", "kind", "created_at", "payload",
                   "recipient", "status", "attempts", "next_attempt_at", "last_error",
                   "sent_at")
_GET = f"SELECT version, data FROM {_A} WHERE account_id = ?"  # noqa: S608
_BY_NUMBER = f"SELECT version, data FROM {_A} WHERE member_number = ?"  # noqa: S608
_THROTTLE = (f"SELECT failures, last_failure_at, version, in_flight, in_flight_at "  # noqa: S608
             f"FROM {_T} WHERE key = ?")
_INSERT_ACCOUNT = (f"INSERT INTO {_A} (account_id, member_number, email_key, stage, "  # noqa: S608
                   "queue_at, version, data) VALUES (?, ?, ?, ?, ?, ?, ?)")
_UPDATE_ACCOUNT = (f"UPDATE {_A} SET member_number = ?, email_key = ?, stage = ?, "  # noqa: S608
                   "queue_at = ?, data = ?, version = version + 1 "
                   "WHERE account_id = ? AND version = ?")
_INSERT_THROTTLE = (f"INSERT INTO {_T} (key, failures, last_failure_at, in_flight, "  # noqa: S608
                    "in_flight_at, version) VALUES (?, ?, ?, ?, ?, ?)")
_UPDATE_THROTTLE = (f"UPDATE {_T} SET failures = ?, last_failure_at = ?, in_flight = ?, "  # noqa: S608
                    "in_flight_at = ?, version = ? WHERE key = ? AND version = ?")
# A stand-in row (Changes.decoys): the account update's statement, without the version
# condition, and an insert the first time a slot is used.
_UPDATE_DECOY = (f"UPDATE {_D} SET member_number = ?, email_key = ?, stage = ?, "  # noqa: S608
                 "queue_at = ?, data = ?, version = version + 1 WHERE account_id = ?")
_INSERT_DECOY = (f"INSERT INTO {_D} (account_id, member_number, email_key, stage, "  # noqa: S608
                 "queue_at, version, data) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
_INSERT_OUTBOX = (f"INSERT INTO {_O} ({', '.join(_OUTBOX_COLUMNS)}) "  # noqa: S608
                  f"VALUES ({', '.join('?' * len(_OUTBOX_COLUMNS))})")
_INSERT_AUDIT = (f"INSERT INTO {_U} (at, action, outcome, actor, account_id, ip, "  # noqa: S608
                 "detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
_CLAIM = (f"UPDATE {_O} SET status = ?, next_attempt_at = ? "  # noqa: S608
          f"WHERE message_id = ? AND status = ? RETURNING {', '.join(_OUTBOX_COLUMNS)}")
_FINISH = (f"UPDATE {_O} SET attempts = attempts + 1, status = ?, "  # noqa: S608
           "next_attempt_at = ?, last_error = ?, sent_at = coalesce(?, sent_at), "
           "payload = coalesce(?, payload) WHERE message_id = ?")


def stamp(value: datetime | None) -> str | None:
    """A datetime as UtcDateTime stores it on SQLite: naive UTC text with microseconds.

    The same text as SQLAlchemy's own processors write (``tests`` compare the two), in
    one ``isoformat`` call instead of their several steps.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored: pass timezone-aware values")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def read_time(value: str | None) -> datetime | None:
    """The aware UTC datetime of a stored text (as SQLAlchemy reads it back)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return parsed.replace(tzinfo=UTC)


class LiteOps:
    """The hot reads and writes of SqlStorage on one SQLite engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # One connection per thread, kept: checking one out of SQLAlchemy's pool and back
        # for every read and write cost about a millisecond per journey (measured).
        self._local = threading.local()
        self._generation = 0
        event.listen(engine, "engine_disposed", self._disposed)
        dialect = engine.dialect
        # A host that gave the engine its own JSON functions gets them here too.
        self._dumps: Callable[[Any], str] = (getattr(dialect, "_json_serializer", None)
                                             or _COMPACT_JSON)
        self._loads: Callable[[str], Any] = (getattr(dialect, "_json_deserializer", None)
                                             or json.loads)

    def _acquire(self) -> sqlite3.Connection:
        """This thread's connection, opened through the engine on first use."""
        held: tuple[int, int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is not None:
            generation, pid, driver = held
            if generation == self._generation and pid == os.getpid():
                return driver
            self._local.held = None
            if pid == os.getpid():
                # The engine was disposed since: let this one go as the pool's would.
                driver.close()
            # After a fork the parent's connection is left alone: SQLite forbids using,
            # or even closing, it in the child.
        fairy = self.engine.raw_connection()
        fresh = fairy.driver_connection
        assert isinstance(fresh, sqlite3.Connection)
        # Detached: the engine's connect hooks (the pragmas) ran on it, and from now on
        # it is this thread's, not the pool's. sqlite3 closes it when the thread ends.
        fairy.detach()
        self._local.held = (self._generation, os.getpid(), fresh)
        return fresh

    def _drop(self) -> None:
        """Forget (and close) this thread's connection: the next use opens another."""
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held[1] == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                held[2].close()

    def _disposed(self, engine: Engine) -> None:
        # engine.dispose(): every thread drops its connection at its next use; the calling
        # thread's goes now, so that a test or a host that disposes then deletes the file
        # holds nothing open.
        self._generation += 1
        self._drop()

    @contextmanager
    def _connection(self, what: str) -> Iterator[sqlite3.Connection]:
        try:
            yield self._acquire()
        except sqlite3.Error as exc:
            self._forget_if_unusable(exc)
            # The class name only: the driver's message may quote a value.
            raise StorageError(f"database {what} failed ({type(exc).__name__})") from exc

    def _forget_if_unusable(self, exc: sqlite3.Error) -> None:
        # A closed or misused connection stays so: the next call opens another.
        if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
            self._drop()

    @contextmanager
    def _transaction(self, durable: bool) -> Iterator[sqlite3.Cursor]:
        driver = self._acquire()
        relaxed: int | None = None
        try:
            if driver.in_transaction:
                driver.rollback()
            if not durable:
                # A write whose loss in a machine crash is harmless skips the flush.
                # SQLite only changes this outside a transaction, so it is set per
                # connection around the transaction and always put back.
                level = driver.execute("PRAGMA synchronous").fetchone()[0]
                if level > _NORMAL:
                    driver.execute("PRAGMA synchronous=NORMAL")
                    relaxed = level
            cursor = driver.cursor()
            try:
                # IMMEDIATE: take the write lock up front and queue behind other writers.
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    driver.rollback()
                    raise
                driver.commit()
            finally:
                cursor.close()
        except sqlite3.Error as exc:
            self._forget_if_unusable(exc)
            raise StorageError(f"database write failed ({type(exc).__name__})") from exc
        finally:
            try:
                if relaxed is not None:
                    driver.execute(f"PRAGMA synchronous={int(relaxed)}")
            except sqlite3.Error:
                # Never go on with a relaxed connection: open another.
                self._drop()

    # ------------------------------------------------------------------ reads

    def get(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        with self._connection("read") as conn:
            row = conn.execute(_GET, (account_id,)).fetchone()
        return None if row is None else self._account(row)

    def find_by_member_number(self, member_number: str) -> Account | None:
        """The account with this member number, or None."""
        with self._connection("read") as conn:
            row = conn.execute(_BY_NUMBER, (member_number,)).fetchone()
        return None if row is None else self._account(row)

    def get_throttle(self, key: str) -> Throttle:
        """The counter for this key; a fresh one at version 0 when none is stored."""
        with self._connection("read") as conn:
            row = conn.execute(_THROTTLE, (key,)).fetchone()
        if row is None:
            return Throttle(key=key)
        return Throttle(key=key, failures=row[0], last_failure_at=read_time(row[1]),
                        version=row[2], in_flight=row[3], in_flight_at=read_time(row[4]))

    def _account(self, row: tuple[int, str]) -> Account:
        data = self._loads(row[1])
        data["version"] = row[0]
        return codec.from_data(Account, data)

    # ------------------------------------------------------------------ writes

    def commit(self, changes: Changes) -> None:
        """SqlStorage.commit, with the same rules and errors."""
        with self._transaction(changes.durable) as cursor:
            for account, expected in changes.accounts:
                self._save_account(cursor, account, expected)
            # Where the account writes are: a stand-in takes an account write's place.
            for decoy in changes.decoys:
                self._save_decoy(cursor, decoy)
            for throttle, expected_t in changes.throttles:
                values = (throttle.failures, stamp(throttle.last_failure_at),
                          throttle.in_flight, stamp(throttle.in_flight_at))
                try:
                    if expected_t == 0:
                        cursor.execute(_INSERT_THROTTLE, (throttle.key, *values, 1))
                        continue
                    cursor.execute(_UPDATE_THROTTLE,
                                   (*values, expected_t + 1, throttle.key, expected_t))
                except sqlite3.IntegrityError:
                    # Another request stored the first failure for this key first.
                    raise ConcurrentUpdate("throttle changed since it was loaded") from None
                if cursor.rowcount != 1:
                    raise ConcurrentUpdate("throttle changed since it was loaded")
            if changes.outbox:
                cursor.executemany(_INSERT_OUTBOX, [self._message_row(m)
                                                    for m in changes.outbox])
            if changes.audit:
                cursor.executemany(_INSERT_AUDIT, [
                    (stamp(r.at), r.action, r.outcome, r.actor, r.account_id, r.ip, r.detail)
                    for r in changes.audit])

    def _indexed(self, account: Account) -> tuple[tuple[Any, ...], str]:
        """The indexed columns and the JSON of an account row."""
        data = codec.to_data(account)
        # The column is the truth: a version inside the JSON could only disagree with it.
        data.pop("version", None)
        email = account.email
        indexed = (account.member_number, email_key(email) if email else None,
                   account.stage.value,
                   stamp(account.activation_requested_at or account.created_at))
        return indexed, self._dumps(data)

    def _save_decoy(self, cursor: sqlite3.Cursor, decoy: Account) -> None:
        indexed, data = self._indexed(decoy)
        cursor.execute(_UPDATE_DECOY, (*indexed, data, decoy.account_id))
        if cursor.rowcount == 0:
            cursor.execute(_INSERT_DECOY, (decoy.account_id, *indexed, 1, data))

    def _save_account(self, cursor: sqlite3.Cursor, account: Account,
                      expected: int | None) -> None:
        indexed, data = self._indexed(account)
        try:
            if expected is None:
                cursor.execute(_INSERT_ACCOUNT, (account.account_id, *indexed, 1, data))
                return
            cursor.execute(_UPDATE_ACCOUNT, (*indexed, data, account.account_id, expected))
        except sqlite3.IntegrityError:
            if expected is None:
                raise DuplicateAccount(
                    "an account with this id or member number exists") from None
            raise DuplicateAccount("another account has this member number") from None
        if cursor.rowcount != 1:
            raise ConcurrentUpdate("account changed since it was loaded")

    def _message_row(self, m: OutboxMessage) -> tuple[Any, ...]:
        return (m.message_id, m.account_id, m.channel.value, m.kind, stamp(m.created_at),
                m.payload, m.recipient, m.status.value, m.attempts,
                stamp(m.next_attempt_at), m.last_error, stamp(m.sent_at))

    # ------------------------------------------------------------------ outbox

    def claim(self, message_id: str, now: datetime) -> OutboxMessage | None:
        """SqlStorage.claim: one pending message by id, marked SENDING under a lease."""
        lease = stamp(now + _CLAIM_LEASE)
        with self._transaction(True) as cursor:
            row = cursor.execute(_CLAIM, (OutboxStatus.SENDING.value, lease, message_id,
                                          OutboxStatus.PENDING.value)).fetchone()
        return None if row is None else self._message(row)

    def finish(self, message_id: str, *, status: str, next_attempt_at: datetime | None,
               last_error: str | None, sent_at: datetime | None = None,
               payload: bytes | None = None) -> None:
        """Record a delivery outcome without a flush: losing one means a resend at worst."""
        with self._transaction(False) as cursor:
            cursor.execute(_FINISH, (status, stamp(next_attempt_at), last_error,
                                     stamp(sent_at), payload, message_id))
            if cursor.rowcount != 1:
                # The memory adapter raises KeyError for an unknown id too.
                raise KeyError(message_id)

    def _message(self, row: tuple[Any, ...]) -> OutboxMessage:
        read = read_time
        created = read(row[4])
        assert created is not None
        return OutboxMessage(
            message_id=row[0], account_id=row[1], channel=Channel(row[2]), kind=row[3],
            created_at=created, payload=bytes(row[5]), recipient=row[6],
            status=OutboxStatus(row[7]), attempts=row[8], next_attempt_at=read(row[9]),
            last_error=row[10], sent_at=read(row[11]))
