"""SqlStorage: every storage port on SQLAlchemy Core, for SQLite and PostgreSQL.

Every write is one transaction. Account and throttle saves are conditional updates on the
stored version (compare-and-set): a save whose version moved matches no row, and the whole
commit is rolled back with :class:`~cegema_onboarding.errors.ConcurrentUpdate`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row

from ... import codec
from ...errors import ConcurrentUpdate, ConfigurationError, DuplicateAccount, StorageError
from ...model import Account, Channel, Stage, Throttle
from ...normalize import email_key
from ...ports import AuditRecord, Changes, OutboxMessage, OutboxStatus
from ._lite import LiteOps
from .engine import BEGIN_OPTION
from .schema import accounts, audit, decoys, outbox, throttles

__all__ = ["SqlStorage"]

# Rows per statement in bulk inserts: few round trips, bounded memory per batch.
_CHUNK = 2000
# Values per "IN (?, ...)" lookup: well under SQLite's oldest variable limit (999).
_LOOKUP = 500
_CLAIM_LEASE = timedelta(minutes=5)
_PENDING = OutboxStatus.PENDING.value
_SENDING = OutboxStatus.SENDING.value
_DISCARDED = OutboxStatus.DISCARDED.value


class SqlStorage:
    """Every storage port in four SQL tables; create them with ``create_schema``/``upgrade``."""

    def __init__(self, engine: Engine) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ConfigurationError(f"SqlStorage supports SQLite and PostgreSQL, not {name}")
        self.engine = engine
        self._postgres = name == "postgresql"
        # Every read here is one statement, which SQLite runs in its own snapshot: no
        # explicit transaction, hence no write lock and no BEGIN/ROLLBACK round.
        self._reader = engine.execution_options(**{BEGIN_OPTION: "NONE"})
        # SQLite's per-request operations go straight through the driver (see _lite).
        self._lite = None if self._postgres else LiteOps(engine)

    def __repr__(self) -> str:
        return f"SqlStorage({self.engine.dialect.name})"

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._reader.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"database read failed ({_kind(exc)})") from exc

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                if not durable and self._postgres:
                    # Acknowledged before the WAL flush; a later synchronous commit
                    # flushes it too, since PostgreSQL's WAL is written in order.
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"database write failed ({_kind(exc)})") from exc

    # ------------------------------------------------------------------ accounts

    def get(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        if self._lite is not None:
            return self._lite.get(account_id)
        with self._read() as conn:
            row = conn.execute(_BY_ID, {"value": account_id}).first()
        return None if row is None else _account(row)

    def find_by_member_number(self, member_number: str) -> Account | None:
        """The account with this normalised member number, or None."""
        if self._lite is not None:
            return self._lite.find_by_member_number(member_number)
        with self._read() as conn:
            row = conn.execute(_BY_NUMBER, {"value": member_number}).first()
        return None if row is None else _account(row)

    def find_by_email(self, email_key_: str) -> Sequence[Account]:
        """Accounts whose verified address has this casefolded key (families share some)."""
        with self._read() as conn:
            rows = conn.execute(_select_accounts().where(
                accounts.c.email_key == email_key_).order_by(accounts.c.account_id)).all()
        return [_account(r) for r in rows]

    def list_by_stage(
        self, stage: Stage, *, limit: int = 100, offset: int = 0
    ) -> Sequence[Account]:
        """Accounts in one stage, oldest request first (the staff activation queue)."""
        query = (_select_accounts().where(accounts.c.stage == stage.value)
                 .order_by(accounts.c.queue_at, accounts.c.account_id)
                 .limit(limit).offset(offset))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [_account(r) for r in rows]

    def insert_accounts(self, accounts_: Sequence[Account],
                        audit_: Sequence[AuditRecord]) -> Sequence[str]:
        """Insert new accounts in one transaction, skipping member numbers that exist.

        Returns the skipped member numbers; audit records about skipped accounts are
        dropped. On SQLite the rows go straight to the driver (see ``_insert_sqlite``);
        on PostgreSQL in multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``.
        """
        with self._write() as conn:
            if self._postgres:
                return _insert_generic(conn, accounts_, audit_)
            return _insert_sqlite(conn, accounts_, audit_)

    # ------------------------------------------------------------------ throttles

    def get_throttle(self, key: str) -> Throttle:
        """The counter for this key; a fresh one at version 0 when none is stored."""
        if self._lite is not None:
            return self._lite.get_throttle(key)
        with self._read() as conn:
            row = conn.execute(_THROTTLE, {"key": key}).first()
        if row is None:
            return Throttle(key=key)
        return Throttle(key=row.key, failures=row.failures,
                        last_failure_at=row.last_failure_at, version=row.version,
                        in_flight=row.in_flight, in_flight_at=row.in_flight_at)

    # ------------------------------------------------------------------ the one write

    def commit(self, changes: Changes) -> None:
        """Apply all of ``changes`` in one transaction, or none; ConcurrentUpdate on a race.

        ``changes.durable=False`` skips the flush to disk (SQLite: ``synchronous=NORMAL``
        for this transaction; PostgreSQL: ``synchronous_commit=off``).
        """
        if not (changes.accounts or changes.throttles or changes.outbox or changes.audit
                or changes.decoys):
            return
        if self._lite is not None:
            self._lite.commit(changes)
            return
        with self._write(changes.durable) as conn:
            for account, expected in changes.accounts:
                self._save_account(conn, account, expected)
            # Where the account writes are: a stand-in takes an account write's place.
            for decoy in changes.decoys:
                self._save_decoy(conn, decoy)
            for throttle, expected_t in changes.throttles:
                self._save_throttle(conn, throttle, expected_t)
            if changes.outbox:
                conn.execute(_INSERT_OUTBOX, [_message_values(m) for m in changes.outbox])
            if changes.audit:
                conn.execute(_INSERT_AUDIT, [_audit_values(r) for r in changes.audit])

    def _save_decoy(self, conn: Connection, decoy: Account) -> None:
        # The account update's statement without its version condition; an insert the
        # first time a slot is used (racing first inserts: one wins, none fails).
        values = _account_values(decoy, version=None)
        result = conn.execute(_UPDATE_DECOY, {**values, "b_account_id": decoy.account_id})
        if result.rowcount == 0:
            insert = postgresql.insert if self._postgres else sqlite.insert
            conn.execute(insert(decoys).on_conflict_do_nothing(),
                         {**values, "version": 1})

    @staticmethod
    def _save_account(conn: Connection, account: Account, expected: int | None) -> None:
        if expected is None:
            try:
                conn.execute(_INSERT_ACCOUNT, _account_values(account, version=1))
            except sa.exc.IntegrityError:
                # from None: the driver's message would quote the row.
                raise DuplicateAccount(
                    "an account with this id or member number exists") from None
            return
        values = _account_values(account, version=None)
        try:
            result = conn.execute(_UPDATE_ACCOUNT, {
                **values, "b_account_id": account.account_id, "b_expected": expected})
        except sa.exc.IntegrityError:
            raise DuplicateAccount("another account has this member number") from None
        if result.rowcount != 1:
            raise ConcurrentUpdate("account changed since it was loaded")

    @staticmethod
    def _save_throttle(conn: Connection, throttle: Throttle, expected: int) -> None:
        values = {"failures": throttle.failures, "last_failure_at": throttle.last_failure_at,
                  "in_flight": throttle.in_flight, "in_flight_at": throttle.in_flight_at,
                  "version": expected + 1}
        if expected == 0:
            try:
                conn.execute(_INSERT_THROTTLE, {"key": throttle.key, **values})
            except sa.exc.IntegrityError:
                # Another request stored the first failure for this key first.
                raise ConcurrentUpdate("throttle changed since it was loaded") from None
            return
        result = conn.execute(_UPDATE_THROTTLE,
                              {**values, "b_key": throttle.key, "b_expected": expected})
        if result.rowcount != 1:
            raise ConcurrentUpdate("throttle changed since it was loaded")

    # ------------------------------------------------------------------ outbox

    def claim_due(self, now: datetime, *, limit: int = 50,
                  lease_until: datetime | None = None) -> Sequence[OutboxMessage]:
        """Mark due messages SENDING and return them, atomically: no two relays share one.

        PostgreSQL locks the chosen rows with ``FOR UPDATE SKIP LOCKED``, so concurrent
        relays take disjoint batches without waiting; SQLite runs the whole claim in one
        ``BEGIN IMMEDIATE`` transaction, so relays take turns.
        """
        lease = lease_until or now + _CLAIM_LEASE
        c = outbox.c
        due = sa.or_(
            sa.and_(c.status == _PENDING, c.next_attempt_at.is_(None)),
            # A SENDING message whose lease ran out belongs to a relay that died.
            sa.and_(c.status.in_((_PENDING, _SENDING)), c.next_attempt_at <= now),
        )
        query = sa.select(outbox).where(due).order_by(c.created_at, c.message_id).limit(limit)
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        with self._write() as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(sa.update(outbox)
                             .where(c.message_id.in_([r.message_id for r in rows]))
                             .values(status=_SENDING, next_attempt_at=lease))
        return [attrs.evolve(_message(r), status=OutboxStatus.SENDING, next_attempt_at=lease)
                for r in rows]

    def claim(self, message_id: str, now: datetime) -> OutboxMessage | None:
        """Claim one pending message by id, or None if it is not pending any more."""
        if self._lite is not None:
            return self._lite.claim(message_id, now)
        lease = now + _CLAIM_LEASE
        with self._write() as conn:
            row = conn.execute(_CLAIM, {"b_message_id": message_id, "status": _SENDING,
                                        "next_attempt_at": lease}).first()
        return None if row is None else _message(row)

    def mark_sent(self, message_id: str, now: datetime) -> None:
        """Record a delivery and drop the payload, which holds a live token.

        Not flushed on its own (the next durable commit flushes it): if a machine crash
        loses the mark, the message is delivered once more after its lease, as the
        outbox's at-least-once delivery allows.
        """
        self._finish(message_id, status=OutboxStatus.SENT.value, sent_at=now, payload=b"",
                     next_attempt_at=None, last_error=None)

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Put a message back for a retry at ``retry_at``, or park it when that is None."""
        status = OutboxStatus.PENDING if retry_at is not None else OutboxStatus.PARKED
        self._finish(message_id, status=status.value, next_attempt_at=retry_at,
                     last_error=error[:500])

    def _finish(self, message_id: str, **values: Any) -> None:
        if self._lite is not None:
            self._lite.finish(message_id, **values)
            return
        with self._write(durable=False) as conn:
            result = conn.execute(
                sa.update(outbox).where(outbox.c.message_id == message_id)
                .values(attempts=outbox.c.attempts + 1, **values))
        if result.rowcount != 1:
            # The memory adapter raises KeyError for an unknown id too.
            raise KeyError(message_id)

    def get_message(self, message_id: str) -> OutboxMessage | None:
        """One message by id, whatever its status."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(outbox).where(outbox.c.message_id == message_id)).first()
        return None if row is None else _message(row)

    def list_messages(self, status: OutboxStatus | None = None,
                      *, limit: int = 100) -> Sequence[OutboxMessage]:
        """Messages, newest first, optionally of one status."""
        query = sa.select(outbox)
        if status is not None:
            query = query.where(outbox.c.status == status.value)
        else:
            # Stand-ins are no mail: only listed when asked for by their status.
            query = query.where(outbox.c.status != _DISCARDED)
        query = query.order_by(outbox.c.created_at.desc(), outbox.c.message_id.desc())
        with self._read() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_message(r) for r in rows]

    def purge_discarded(self, before: datetime) -> int:
        """Delete the DISCARDED stand-ins created before ``before``; returns how many.

        They are written by forgotten password and identifier requests that send nothing
        (see :attr:`OutboxStatus.DISCARDED`) and are of no use once committed; call this
        now and then, from the same schedule as other housekeeping.
        """
        with self._write() as conn:
            result = conn.execute(sa.delete(outbox).where(outbox.c.status == _DISCARDED,
                                                          outbox.c.created_at < before))
        return int(result.rowcount)

    # ------------------------------------------------------------------ audit

    def audit_records(self, *, account_id: str | None = None,
                      limit: int = 100) -> Sequence[AuditRecord]:
        """Audit records, newest first, optionally for one account."""
        query = sa.select(audit)
        if account_id is not None:
            query = query.where(audit.c.account_id == account_id)
        with self._read() as conn:
            rows = conn.execute(query.order_by(audit.c.id.desc()).limit(limit)).all()
        return [AuditRecord(at=r.at, action=r.action, outcome=r.outcome, actor=r.actor,
                            account_id=r.account_id, ip=r.ip, detail=r.detail) for r in rows]


# ---------------------------------------------------------------------- bulk inserts


def _insert_generic(conn: Connection, accounts_: Sequence[Account],
                    audit_: Sequence[AuditRecord]) -> list[str]:
    """insert_accounts through SQLAlchemy, on any dialect: the PostgreSQL path."""
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
        rows = [_account_values(a, version=1) for a in unique[start:start + _CHUNK]]
        inserted.update(conn.execute(statement, rows).scalars())
    skipped_ids = set(first) - inserted
    kept = [_audit_values(r) for r in audit_ if r.account_id not in skipped_ids]
    for start in range(0, len(kept), _CHUNK):
        conn.execute(_INSERT_AUDIT, kept[start:start + _CHUNK])
    return [a.member_number for index, a in enumerate(accounts_)
            if a.account_id not in inserted or first[a.account_id] != index]


# Only the schema's own table names go into the text.
_SQLITE_INSERT_ACCOUNT = (
    f"INSERT INTO {accounts.name} (account_id, member_number, email_key, stage, "  # noqa: S608
    "queue_at, version, data) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
_SQLITE_INSERT_AUDIT = (
    f"INSERT INTO {audit.name} (at, action, outcome, actor, account_id, ip, "  # noqa: S608
    "detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode


def _insert_sqlite(conn: Connection, accounts_: Sequence[Account],
                   audit_: Sequence[AuditRecord]) -> list[str]:
    """insert_accounts on SQLite, through the sqlite3 driver's own ``executemany``.

    Bulk provisioning writes a million accounts, and SQLAlchemy's per-row parameter
    processing cost more than SQLite's insert itself. The rows stored are the generic
    path's: the same columns, the datetimes through the column type's own bind processor,
    the same JSON (without its optional spaces). The common case, nothing to skip, is
    one ``executemany`` whose row count says so; otherwise it is undone to a savepoint
    and one lookup of the batch's ids and member numbers, made under the write lock of
    this BEGIN IMMEDIATE transaction, decides what is skipped, with the same rules.
    """
    dialect = conn.dialect
    stamp = _stamper(dialect)
    # A host that gave the engine its own json_serializer gets it here too.
    encode: Callable[[Any], str] = getattr(dialect, "_json_serializer", None) or _COMPACT_JSON
    to_data = codec.to_data
    rows = []
    for account in accounts_:
        data = to_data(account)
        data.pop("version", None)
        email = account.email
        rows.append((account.account_id, account.member_number,
                     email_key(email) if email else None, account.stage.value,
                     stamp(account.activation_requested_at or account.created_at), 1,
                     encode(data)))
    driver: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
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
            taken_ids, taken_numbers = _sqlite_taken(cursor, accounts_)
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
        # The class name only, as _write does; the caller's context rolls back.
        raise StorageError(f"database write failed ({type(exc).__name__})") from exc
    finally:
        cursor.close()
    return skipped


def _sqlite_taken(cursor: sqlite3.Cursor,
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


# ---------------------------------------------------------------------- row mapping


def _kind(exc: sa.exc.SQLAlchemyError) -> str:
    # The class names only: SQLAlchemy's message may quote parameters (hashes, payloads).
    orig = getattr(exc, "orig", None)
    return type(exc).__name__ + (f"/{type(orig).__name__}" if orig is not None else "")


def _select_accounts() -> sa.Select[tuple[int, Any]]:
    return sa.select(accounts.c.version, accounts.c.data)


# The lookups every request makes, built once: on SQLite, building a statement costs
# about as much as running it.
_BY_ID = _select_accounts().where(accounts.c.account_id == sa.bindparam("value"))
_BY_NUMBER = _select_accounts().where(accounts.c.member_number == sa.bindparam("value"))
_THROTTLE = sa.select(throttles).where(throttles.c.key == sa.bindparam("key"))
# Compare-and-set saves; the SET values come from the parameters, named like the columns
# (hence the "b_" names of the WHERE's parameters).
_INSERT_ACCOUNT = sa.insert(accounts)
_UPDATE_ACCOUNT = (sa.update(accounts)
                   .where(accounts.c.account_id == sa.bindparam("b_account_id"),
                          accounts.c.version == sa.bindparam("b_expected"))
                   .values(version=accounts.c.version + 1))
_INSERT_THROTTLE = sa.insert(throttles)
_UPDATE_DECOY = (sa.update(decoys)
                 .where(decoys.c.account_id == sa.bindparam("b_account_id"))
                 .values(version=decoys.c.version + 1))
_INSERT_OUTBOX = sa.insert(outbox)
_INSERT_AUDIT = sa.insert(audit)
# One statement (RETURNING: SQLite 3.35+, PostgreSQL): the inline delivery of each mail.
_CLAIM = (sa.update(outbox)
          .where(outbox.c.message_id == sa.bindparam("b_message_id"),
                 outbox.c.status == _PENDING)
          .returning(*outbox.c))
_UPDATE_THROTTLE = (sa.update(throttles)
                    .where(throttles.c.key == sa.bindparam("b_key"),
                           throttles.c.version == sa.bindparam("b_expected")))


def _account(row: Row[Any]) -> Account:
    data = dict(row.data)
    data["version"] = row.version
    return codec.from_data(Account, data)


def _account_values(account: Account, *, version: int | None) -> dict[str, Any]:
    data = codec.to_data(account)
    # The column is the truth: a version inside the JSON could only disagree with it.
    data.pop("version", None)
    values: dict[str, Any] = {
        "account_id": account.account_id,
        "member_number": account.member_number,
        "email_key": email_key(account.email) if account.email else None,
        "stage": account.stage.value,
        "queue_at": account.activation_requested_at or account.created_at,
        "data": data,
    }
    if version is not None:
        values["version"] = version
    return values


def _message_values(m: OutboxMessage) -> dict[str, Any]:
    return {
        "message_id": m.message_id, "account_id": m.account_id, "channel": m.channel.value,
        "kind": m.kind, "created_at": m.created_at, "payload": m.payload,
        "recipient": m.recipient, "status": m.status.value, "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at, "last_error": m.last_error,
        "sent_at": m.sent_at,
    }


def _message(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        message_id=row.message_id, account_id=row.account_id, channel=Channel(row.channel),
        kind=row.kind, created_at=row.created_at, payload=bytes(row.payload),
        recipient=row.recipient, status=OutboxStatus(row.status), attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, last_error=row.last_error, sent_at=row.sent_at,
    )


def _audit_values(r: AuditRecord) -> dict[str, Any]:
    return {"at": r.at, "action": r.action, "outcome": r.outcome, "actor": r.actor,
            "account_id": r.account_id, "ip": r.ip, "detail": r.detail}
