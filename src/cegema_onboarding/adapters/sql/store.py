"""SqlStorage: every storage port on SQLAlchemy Core, for SQLite and PostgreSQL.

Every write is one transaction. Account and throttle saves are conditional updates on the
stored version (compare-and-set): a save whose version moved matches no row, and the whole
commit is rolled back with :class:`~cegema_onboarding.errors.ConcurrentUpdate`.

The statements are the same on both databases; only how a connection is reached differs
(see ``connections``): on SQLite each thread keeps one; on PostgreSQL the engine's pool
lends one for a whole request inside :meth:`SqlStorage.held`, else one per operation.
The one exception is the bulk insert of provisioning (``bulk``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...errors import ConcurrentUpdate, ConfigurationError, DuplicateAccount, UnknownMessage
from ...health import Probe
from ...model import Account, Stage, Throttle
from ...ports import AuditRecord, Changes, OutboxDepth, OutboxMessage, OutboxStatus
from . import bulk, stats
from . import statements as q
from .connections import KeptConnections, PooledConnections
from .copies import ReadCopies
from .diagnose import check
from .pooled import held
from .rows import (
    account_changes,
    account_from_row,
    account_values,
    audit_from_row,
    audit_values,
    message_from_row,
    message_values,
)
from .schema import accounts, audit, outbox

__all__ = ["SqlStorage"]

_CLAIM_LEASE = timedelta(minutes=5)
_PENDING = OutboxStatus.PENDING.value
_SENDING = OutboxStatus.SENDING.value
_DISCARDED = OutboxStatus.DISCARDED.value
_SENT = OutboxStatus.SENT.value
#: Rows a purge deletes per transaction.
PURGE_BATCH = 1000

class SqlStorage:
    """Every storage port in four SQL tables; create them with ``create_schema``/``upgrade``."""

    def __init__(self, engine: Engine) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ConfigurationError(f"SqlStorage supports SQLite and PostgreSQL, not {name}")
        self.engine = engine
        self._postgres = name == "postgresql"
        self._db: PooledConnections | KeptConnections = (
            PooledConnections(engine) if self._postgres else KeptConnections(engine))
        # Both: read() and write(durable), yielding a Connection, raising StorageError.
        self._read = self._db.read
        self._write = self._db.write
        self._copies = ReadCopies()

    def __repr__(self) -> str:
        return f"SqlStorage({self.engine.dialect.name})"

    def held(self) -> AbstractContextManager[None]:
        """One connection for every call in the block (PostgreSQL; SQLite keeps one already).

        A member request's calls, and those of a ``SqlRateLimiter`` on the same engine,
        then share one checkout instead of one each. ``OnboardingService.request`` holds
        it; the Flask extension does so around each request.
        """
        return held(self.engine)

    def dispose(self) -> None:
        """Close the connections this storage keeps (SQLite: one per thread).

        ``engine.dispose()`` does it too. Either way the storage stays usable: the next
        call in each thread opens a new connection, as the engine does after a dispose.
        """
        self._db.dispose()

    def check(self) -> str:
        """Check at start-up that the database answers and has this release's schema.

        Returns the schema's revision; raises ``StorageUnreachable``, ``SchemaMissing`` or
        ``SchemaOutdated`` naming the fix (see :mod:`.diagnose`). The same errors come at
        the first use otherwise, as the failure of a member's request.
        """
        return check(self.engine)

    # ------------------------------------------------------------------ accounts

    def get(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        with self._read() as conn:
            row = conn.execute(q.BY_ID, {"value": account_id}).first()
        return None if row is None else self._copies.remember(account_from_row(row))

    def find_by_member_number(self, member_number: str) -> Account | None:
        """The account with this normalised member number, or None."""
        with self._read() as conn:
            row = conn.execute(q.BY_NUMBER, {"value": member_number}).first()
        return None if row is None else self._copies.remember(account_from_row(row))

    def find_by_email(self, email_key_: str) -> Sequence[Account]:
        """Accounts whose verified address has this casefolded key (families share some)."""
        with self._read() as conn:
            rows = conn.execute(q.ACCOUNT.where(
                accounts.c.email_key == email_key_).order_by(accounts.c.account_id)).all()
        return [account_from_row(r) for r in rows]

    def list_by_stage(
        self, stage: Stage, *, limit: int = 100, offset: int = 0
    ) -> Sequence[Account]:
        """Accounts in one stage, oldest request first (the staff activation queue)."""
        query = (q.ACCOUNT.where(accounts.c.stage == stage.value)
                 .order_by(accounts.c.queue_at, accounts.c.account_id)
                 .limit(limit).offset(offset))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [account_from_row(r) for r in rows]

    def insert_accounts(self, accounts_: Sequence[Account],
                        audit_: Sequence[AuditRecord]) -> Sequence[str]:
        """Insert new accounts in one transaction, skipping member numbers that exist.

        Returns the skipped member numbers; audit records about skipped accounts are
        dropped. On SQLite the rows go straight to the driver (see ``bulk``);
        on PostgreSQL in multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``.
        """
        with self._write() as conn:
            if self._postgres:
                return bulk.insert_generic(conn, accounts_, audit_)
            return bulk.insert_sqlite(conn, accounts_, audit_)

    # ------------------------------------------------------------------ throttles

    def get_throttle(self, key: str) -> Throttle:
        """The counter for this key; a fresh one at version 0 when none is stored."""
        with self._read() as conn:
            row = conn.execute(q.THROTTLE, {"key": key}).first()
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
        with self._write(changes.durable) as conn:
            for account, expected in changes.accounts:
                self._save_account(conn, account, expected)
            # Where the account writes are: a stand-in takes an account write's place.
            for decoy in changes.decoys:
                self._save_decoy(conn, decoy)
            for throttle, expected_t in changes.throttles:
                self._save_throttle(conn, throttle, expected_t)
            if changes.outbox:
                conn.execute(q.INSERT_OUTBOX, [message_values(m) for m in changes.outbox])
            if changes.audit:
                conn.execute(q.INSERT_AUDIT, [audit_values(r) for r in changes.audit])

    def _save_decoy(self, conn: Connection, decoy: Account) -> None:
        # The account update's statement without its version condition; an insert the
        # first time a slot is used (racing first inserts: one wins, none fails).
        values = account_changes(decoy)
        result = conn.execute(q.UPDATE_DECOY, {**values, "b_account_id": decoy.account_id})
        if result.rowcount == 0:
            conn.execute(q.INSERT_DECOY[conn.dialect.name], account_values(decoy, version=1))

    def _save_account(self, conn: Connection, account: Account, expected: int | None
                      ) -> None:
        if expected is None:
            try:
                conn.execute(q.INSERT_ACCOUNT, account_values(account, version=1))
            except sa.exc.IntegrityError:
                # from None: the driver's message would quote the row.
                raise DuplicateAccount(
                    "an account with this id or member number exists") from None
            return
        values = self._copies.changes(account, expected)
        try:
            result = conn.execute(q.UPDATE_ACCOUNT, {
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
                conn.execute(q.INSERT_THROTTLE, {"key": throttle.key, **values})
            except sa.exc.IntegrityError:
                # Another request stored the first failure for this key first.
                raise ConcurrentUpdate("throttle changed since it was loaded") from None
            return
        result = conn.execute(q.UPDATE_THROTTLE,
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
        # SQLite: the write lock before the read, so that relays take turns.
        with self._write(lock_first=True) as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(sa.update(outbox)
                             .where(c.message_id.in_([r.message_id for r in rows]))
                             .values(status=_SENDING, next_attempt_at=lease))
        return [attrs.evolve(message_from_row(r), status=OutboxStatus.SENDING,
                             next_attempt_at=lease) for r in rows]

    def claim(self, message_id: str, now: datetime) -> OutboxMessage | None:
        """Claim one pending message by id, or None if it is not pending any more."""
        lease = now + _CLAIM_LEASE
        with self._write() as conn:
            row = conn.execute(q.CLAIM, {"b_message_id": message_id, "status": _SENDING,
                                        "next_attempt_at": lease}).first()
        return None if row is None else message_from_row(row)

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
        with self._write(durable=False) as conn:
            result = conn.execute(q.FINISH, {"b_message_id": message_id, **values})
        if result.rowcount != 1:
            raise UnknownMessage(message_id)

    def get_message(self, message_id: str) -> OutboxMessage | None:
        """One message by id, whatever its status."""
        with self._read() as conn:
            row = conn.execute(q.MESSAGE, {"value": message_id}).first()
        return None if row is None else message_from_row(row)

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
        return [message_from_row(r) for r in rows]

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

    def purge_sent(self, before: datetime, *, batch: int = PURGE_BATCH) -> int:
        """Delete messages sent before ``before``, ``batch`` rows per transaction; returns
        how many. The DISCARDED stand-ins created before ``before`` go too, uncounted."""
        self.purge_discarded(before)
        oldest = (sa.select(outbox.c.message_id)
                  .where(outbox.c.status == _SENT, outbox.c.sent_at < before)
                  .order_by(outbox.c.sent_at).limit(batch))
        return self._purge_in_batches(
            sa.delete(outbox).where(outbox.c.message_id.in_(oldest.scalar_subquery())), batch)

    def purge_audit(self, before: datetime, *, batch: int = PURGE_BATCH) -> int:
        """Delete audit rows written before ``before``, ``batch`` rows per transaction;
        returns how many."""
        oldest = sa.select(audit.c.id).where(audit.c.at < before).order_by(audit.c.at)
        return self._purge_in_batches(
            sa.delete(audit).where(audit.c.id.in_(oldest.limit(batch).scalar_subquery())),
            batch)

    def _purge_in_batches(self, statement: sa.Delete, batch: int) -> int:
        # Short transactions, each through the index on the purge's time column: a purge
        # of a million rows never holds a lock (SQLite's is the whole database) for long.
        if batch < 1:
            raise ConfigurationError("a purge batch holds at least one row")
        total = 0
        while True:
            with self._write() as conn:
                done = int(conn.execute(statement).rowcount)
            total += done
            if done < batch:
                return total

    # ------------------------------------------------------------------ audit

    def audit_records(self, *, account_id: str | None = None,
                      limit: int = 100) -> Sequence[AuditRecord]:
        """Audit records, newest first, optionally for one account."""
        query = sa.select(audit)
        if account_id is not None:
            query = query.where(audit.c.account_id == account_id)
        with self._read() as conn:
            rows = conn.execute(query.order_by(audit.c.id.desc()).limit(limit)).all()
        return [audit_from_row(r) for r in rows]

    # ------------------------------------------------------------------ stats and health
    # (the statements and their indexes are in ``stats``)

    def count_by_stage(self) -> Mapping[Stage, int]:
        """How many accounts stand in each stage."""
        with self._read() as conn:
            return stats.count_by_stage(conn)

    def count_waiting_since(self, stage: Stage, before: datetime) -> int:
        """Accounts in ``stage`` queued (activation asked, else created) before ``before``."""
        with self._read() as conn:
            return stats.count_waiting_since(conn, stage, before)

    def outbox_depth(self) -> OutboxDepth:
        """The pending and sending messages and the creation time of the oldest."""
        with self._read() as conn:
            return stats.outbox_depth(conn)

    def median_wait(self, before: Sequence[str], after: Sequence[str]) -> timedelta | None:
        """The lower median wait from the first ``before`` record to the first ``after``."""
        with self._read() as conn:
            return stats.median_wait(conn, before, after)

    def readiness(self) -> Sequence[Probe]:
        """The database answers, and its schema is at the newest migration."""
        try:
            with self._read() as conn:
                conn.execute(sa.text("SELECT 1"))
                current, detail = stats.readiness(conn)
        except Exception as exc:
            # By class only: a driver's message can hold the host, user or database name.
            return [Probe("database", False, f"unreachable ({type(exc).__name__})")]
        return [Probe("database", True, "reachable"), Probe("migrations", current, detail)]
