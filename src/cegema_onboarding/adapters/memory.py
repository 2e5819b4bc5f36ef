"""In-memory adapters: thread-safe, for tests and for embedding in a single process.

:class:`MemoryStorage` lives here; the mailer, notifier, clock and random doubles live in
:mod:`cegema_onboarding.adapters.doubles` and are re-exported here, so every name of this
module keeps its place.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from ..errors import ConcurrentUpdate, DuplicateAccount, UnknownMessage
from ..funnel import lower_median_wait
from ..model import Account, Stage, Throttle
from ..normalize import email_key
from ..ports import AuditRecord, Changes, OutboxDepth, OutboxMessage, OutboxStatus

# The doubles are importable from here, where hosts and tests have always found them.
from .doubles import CallbackRandom as CallbackRandom
from .doubles import ManualClock as ManualClock
from .doubles import MemoryMailer as MemoryMailer
from .doubles import MemoryNotifier as MemoryNotifier
from .doubles import SentMail as SentMail

# Kept importable from here, where they lived first.
from .system import SystemClock as SystemClock
from .system import SystemRandom as SystemRandom


class MemoryStorage:
    """Every storage port in a few dicts behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._by_number: dict[str, str] = {}
        self._throttles: dict[str, Throttle] = {}
        self._outbox: dict[str, OutboxMessage] = {}
        self._audit: list[AuditRecord] = []
        # Changes.decoys: written, never read back (kept so that tests can look).
        self._decoys: dict[str, Account] = {}

    # accounts
    def get(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        with self._lock:
            return self._accounts.get(account_id)

    def find_by_member_number(self, member_number: str) -> Account | None:
        """The account with this normalised member number, or None."""
        with self._lock:
            account_id = self._by_number.get(member_number)
            return None if account_id is None else self._accounts[account_id]

    def find_by_email(self, email_key_: str) -> Sequence[Account]:
        """Accounts whose verified address has this casefolded key."""
        with self._lock:
            return [a for a in self._accounts.values()
                    if a.email is not None and email_key(a.email) == email_key_]

    def list_by_stage(
        self, stage: Stage, *, limit: int = 100, offset: int = 0
    ) -> Sequence[Account]:
        """Accounts in one stage, oldest request first."""
        with self._lock:
            found = [a for a in self._accounts.values() if a.stage is stage]
        found.sort(key=lambda a: (a.activation_requested_at or a.created_at, a.account_id))
        return found[offset:offset + limit]

    # throttles
    def get_throttle(self, key: str) -> Throttle:
        """The counter for this key; a fresh one when none is stored."""
        with self._lock:
            return self._throttles.get(key) or Throttle(key=key)

    # the one write
    def commit(self, changes: Changes) -> None:
        """Apply all of ``changes`` or none."""
        with self._lock:
            for account, expected in changes.accounts:
                current = self._accounts.get(account.account_id)
                if expected is None:
                    if current is not None or account.member_number in self._by_number:
                        raise DuplicateAccount("an account with this id or member number exists")
                elif current is None or current.version != expected:
                    raise ConcurrentUpdate("account changed since it was loaded")
            for throttle, expected_t in changes.throttles:
                stored = self._throttles.get(throttle.key)
                if (stored.version if stored else 0) != expected_t:
                    raise ConcurrentUpdate("throttle changed since it was loaded")
            numbers = [a.member_number for a, e in changes.accounts if e is None]
            if len(numbers) != len(set(numbers)):
                raise DuplicateAccount("the same member number twice in one commit")
            for account, expected in changes.accounts:
                version = 1 if expected is None else expected + 1
                old = self._accounts.get(account.account_id)
                if old is not None and old.member_number != account.member_number:
                    self._by_number.pop(old.member_number, None)
                self._accounts[account.account_id] = attrs.evolve(account, version=version)
                self._by_number[account.member_number] = account.account_id
            for throttle, expected_t in changes.throttles:
                self._throttles[throttle.key] = attrs.evolve(throttle, version=expected_t + 1)
            for message in changes.outbox:
                self._outbox[message.message_id] = message
            self._audit.extend(changes.audit)
            for decoy in changes.decoys:
                self._decoys[decoy.account_id] = decoy

    def insert_accounts(self, accounts: Sequence[Account],
                        audit: Sequence[AuditRecord]) -> Sequence[str]:
        """Insert new accounts at once, skipping member numbers that exist; returns those."""
        with self._lock:
            skipped: list[str] = []
            skipped_ids: set[str] = set()
            for account in accounts:
                if (account.account_id in self._accounts
                        or account.member_number in self._by_number):
                    skipped.append(account.member_number)
                    skipped_ids.add(account.account_id)
                    continue
                self._accounts[account.account_id] = attrs.evolve(account, version=1)
                self._by_number[account.member_number] = account.account_id
            self._audit.extend(r for r in audit if r.account_id not in skipped_ids)
            return skipped

    # outbox
    def claim_due(self, now: datetime, *, limit: int = 50,
                  lease_until: datetime | None = None) -> Sequence[OutboxMessage]:
        """Mark due pending messages SENDING and return them."""
        lease = lease_until or now + timedelta(minutes=5)
        with self._lock:
            due = [m for m in self._outbox.values() if self._is_due(m, now)]
            due.sort(key=lambda m: (m.created_at, m.message_id))
            claimed = []
            for m in due[:limit]:
                c = attrs.evolve(m, status=OutboxStatus.SENDING, next_attempt_at=lease)
                self._outbox[m.message_id] = c
                claimed.append(c)
            return claimed

    @staticmethod
    def _is_due(m: OutboxMessage, now: datetime) -> bool:
        if m.status is OutboxStatus.PENDING:
            return m.next_attempt_at is None or m.next_attempt_at <= now
        # A SENDING message whose lease ran out belongs to a relay that died.
        return (m.status is OutboxStatus.SENDING and m.next_attempt_at is not None
                and m.next_attempt_at <= now)

    def claim(self, message_id: str, now: datetime) -> OutboxMessage | None:
        """Claim one pending message by id."""
        with self._lock:
            m = self._outbox.get(message_id)
            if m is None or m.status is not OutboxStatus.PENDING:
                return None
            c = attrs.evolve(m, status=OutboxStatus.SENDING,
                             next_attempt_at=now + timedelta(minutes=5))
            self._outbox[message_id] = c
            return c

    def mark_sent(self, message_id: str, now: datetime) -> None:
        """Record a delivery and drop the payload."""
        with self._lock:
            m = self._message(message_id)
            self._outbox[message_id] = attrs.evolve(
                m, status=OutboxStatus.SENT, sent_at=now, payload=b"", attempts=m.attempts + 1,
                next_attempt_at=None, last_error=None)

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Put a message back for a retry, or park it."""
        with self._lock:
            m = self._message(message_id)
            status = OutboxStatus.PENDING if retry_at is not None else OutboxStatus.PARKED
            self._outbox[message_id] = attrs.evolve(
                m, status=status, attempts=m.attempts + 1, next_attempt_at=retry_at,
                last_error=error[:500])

    def _message(self, message_id: str) -> OutboxMessage:
        m = self._outbox.get(message_id)
        if m is None:
            raise UnknownMessage(message_id)
        return m

    def get_message(self, message_id: str) -> OutboxMessage | None:
        """One message by id."""
        with self._lock:
            return self._outbox.get(message_id)

    def list_messages(self, status: OutboxStatus | None = None,
                      *, limit: int = 100) -> Sequence[OutboxMessage]:
        """Messages, newest first."""
        with self._lock:
            found = [m for m in self._outbox.values()
                     if m.status is status or (status is None
                                               and m.status is not OutboxStatus.DISCARDED)]
        found.sort(key=lambda m: (m.created_at, m.message_id), reverse=True)
        return found[:limit]

    def purge_discarded(self, before: datetime) -> int:
        """Delete the DISCARDED stand-ins created before ``before``; returns how many."""
        with self._lock:
            gone = [k for k, m in self._outbox.items()
                    if m.status is OutboxStatus.DISCARDED and m.created_at < before]
            for k in gone:
                del self._outbox[k]
            return len(gone)

    def purge_sent(self, before: datetime, *, batch: int = 1000) -> int:
        """Delete messages sent before ``before`` (and DISCARDED stand-ins created before it,
        uncounted); returns how many sent messages went. ``batch`` is accepted for the
        port's sake: memory deletes at once."""
        self.purge_discarded(before)
        with self._lock:
            gone = [k for k, m in self._outbox.items() if m.status is OutboxStatus.SENT
                    and m.sent_at is not None and m.sent_at < before]
            for k in gone:
                del self._outbox[k]
            return len(gone)

    def purge_audit(self, before: datetime, *, batch: int = 1000) -> int:
        """Delete audit records written before ``before``; returns how many."""
        with self._lock:
            kept = [r for r in self._audit if r.at >= before]
            gone = len(self._audit) - len(kept)
            self._audit = kept
            return gone

    # audit
    def audit_records(self, *, account_id: str | None = None,
                      limit: int = 100) -> Sequence[AuditRecord]:
        """Audit records, newest first."""
        with self._lock:
            found = [r for r in self._audit if account_id is None or r.account_id == account_id]
        return list(reversed(found))[:limit]


    # stats (the metrics' gauges and the funnel)
    def count_by_stage(self) -> Mapping[Stage, int]:
        """How many accounts stand in each stage."""
        with self._lock:
            counts: dict[Stage, int] = {}
            for account in self._accounts.values():
                counts[account.stage] = counts.get(account.stage, 0) + 1
            return counts

    def count_waiting_since(self, stage: Stage, before: datetime) -> int:
        """Accounts in ``stage`` queued (activation asked, else created) before ``before``."""
        with self._lock:
            return sum(1 for a in self._accounts.values() if a.stage is stage
                       and (a.activation_requested_at or a.created_at) < before)

    def outbox_depth(self) -> OutboxDepth:
        """The pending and sending messages and the creation time of the oldest."""
        with self._lock:
            waiting = [m.created_at for m in self._outbox.values()
                       if m.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)]
        return OutboxDepth(len(waiting), min(waiting, default=None))

    def median_wait(self, before: Sequence[str], after: Sequence[str]) -> timedelta | None:
        """The lower median wait from the first ``before`` record to the first ``after``."""
        return lower_median_wait(self._firsts(before), self._firsts(after))

    def _firsts(self, actions: Sequence[str]) -> dict[str, datetime]:
        wanted = set(actions)
        first: dict[str, datetime] = {}
        with self._lock:
            for r in self._audit:
                if r.action in wanted and r.outcome == "ok" and r.account_id is not None:
                    known = first.get(r.account_id)
                    if known is None or r.at < known:
                        first[r.account_id] = r.at
        return first
