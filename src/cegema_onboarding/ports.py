"""What a host plugs in: storage, mail, other notification channels, clock and randomness.

Each port is a :class:`typing.Protocol`; ready adapters live in
:mod:`cegema_onboarding.adapters`. Storage is the one port with a hard contract: every
write goes through :meth:`Storage.commit`, which applies a whole :class:`Changes` or
nothing, and refuses it with :class:`~cegema_onboarding.errors.ConcurrentUpdate` when any
record's version moved since it was loaded (compare-and-set).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from .model import Account, Channel, Stage, Throttle
from .model import AuditRecord as AuditRecord  # its home before model.py

if TYPE_CHECKING:
    from .mail.draft import Mail


class OutboxStatus(enum.Enum):
    """Where a queued message stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    PARKED = "parked"
    #: A stand-in that an enumeration-safe request stores when it sends nothing, so that
    #: it writes what a request that sends a mail writes. Never claimed nor delivered, left
    #: out of :meth:`OutboxStore.list_messages` unless asked for by this status, and purged
    #: by the adapters' ``purge_discarded``.
    DISCARDED = "discarded"


@attrs.frozen
class OutboxMessage:
    """One message queued in the same transaction as the change that caused it.

    ``payload`` is the mail draft (``Mail.to_json()``) or the post/SMS text, sealed (encrypted),
    because a link's token is in it.
    """

    message_id: str
    account_id: str
    channel: Channel
    kind: str
    created_at: datetime
    payload: bytes = attrs.field(repr=False)
    recipient: str | None = None
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


@attrs.frozen
class Changes:
    """One atomic write: account and throttle saves, queued messages and audit records.

    ``accounts`` pairs each account with the version it was loaded at, or ``None`` to
    insert a new one. ``throttles`` works the same way.

    ``durable=False`` marks a write whose loss in a machine crash is harmless. A store
    may then acknowledge it before it reaches the disk, provided it stays all-or-nothing
    and every later durable commit makes it durable too (SQLite's and PostgreSQL's
    write-ahead logs both flush in order). Storing every write durably is always correct.
    The service uses it for the attempt it counts before a password check: a machine
    crash can give back at most the attempts counted since the last durable commit of
    any request, and a wrong answer's audit record is itself a durable commit.

    ``decoys`` are stand-in account records of enumeration-safe requests (forgotten
    password or identifier) that have no account change of their own to save: each is
    written over the row of its ``account_id`` (inserted the first time) in a table laid
    out like the accounts', without compare-and-set, and nothing ever reads it back. The
    request then writes the same kind of row at the same cost whether or not the member
    exists. An adapter that ignores them stays correct, only less uniform in its timing.
    """

    accounts: tuple[tuple[Account, int | None], ...] = ()
    throttles: tuple[tuple[Throttle, int], ...] = ()
    outbox: tuple[OutboxMessage, ...] = ()
    audit: tuple[AuditRecord, ...] = ()
    durable: bool = True
    decoys: tuple[Account, ...] = ()


@runtime_checkable
class AccountStore(Protocol):
    """Reads of member accounts."""

    def get(self, account_id: str) -> Account | None:
        """The account with this id, or None."""

    def find_by_member_number(self, member_number: str) -> Account | None:
        """The account with this normalised member number, or None."""

    def find_by_email(self, email_key: str) -> Sequence[Account]:
        """Accounts whose verified address has this casefolded key (families share some)."""

    def list_by_stage(
        self, stage: Stage, *, limit: int = 100, offset: int = 0
    ) -> Sequence[Account]:
        """Accounts in one stage, oldest first: the staff activation queue uses it."""


@runtime_checkable
class ThrottleStore(Protocol):
    """Failed-attempt counters keyed by normalised identifier."""

    def get_throttle(self, key: str) -> Throttle:
        """The counter for this key; a fresh one at version 0 when none is stored."""


@runtime_checkable
class OutboxStore(Protocol):
    """The outbox of messages still to deliver."""

    def claim_due(self, now: datetime, *, limit: int = 50,
                  lease_until: datetime | None = None) -> Sequence[OutboxMessage]:
        """Mark due messages SENDING and return them, atomically: no two relays share one."""

    def claim(self, message_id: str, now: datetime) -> OutboxMessage | None:
        """Claim one pending message by id, or None if it is not pending any more."""

    def mark_sent(self, message_id: str, now: datetime) -> None:
        """Record a delivery and drop the payload; UnknownMessage if no message has this id."""

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Retry at ``retry_at``, or park when that is None; UnknownMessage if no such id."""

    def get_message(self, message_id: str) -> OutboxMessage | None:
        """One message by id, whatever its status."""

    def list_messages(self, status: OutboxStatus | None = None,
                      *, limit: int = 100) -> Sequence[OutboxMessage]:
        """Messages, newest first, optionally of one status; DISCARDED ones only by name."""


@runtime_checkable
class AuditLog(Protocol):
    """Reads of the audit trail. Writes go through :meth:`Storage.commit`."""

    def audit_records(self, *, account_id: str | None = None,
                      limit: int = 100) -> Sequence[AuditRecord]:
        """Audit records, newest first, optionally for one account."""


@runtime_checkable
class Storage(AccountStore, ThrottleStore, OutboxStore, AuditLog, Protocol):
    """Everything the service persists, with one atomic write."""

    def commit(self, changes: Changes) -> None:
        """Apply all of ``changes`` or none; ConcurrentUpdate if a version moved."""


@runtime_checkable
class RetentionStore(Protocol):
    """Deleting ended records, in short batches: the ``purge`` command and the relay's
    housekeeping use it (see :class:`cegema_onboarding.retention.Retention`)."""

    def purge_sent(self, before: datetime, *, batch: int = 1000) -> int:
        """Delete messages sent before ``before``, and DISCARDED stand-ins created before
        it (uncounted); returns how many sent messages went."""

    def purge_audit(self, before: datetime, *, batch: int = 1000) -> int:
        """Delete audit records written before ``before``; returns how many."""


@runtime_checkable
class HeldConnection(Protocol):
    """A storage that can keep one database connection for a whole request (optional)."""

    def held(self) -> AbstractContextManager[None]:
        """Every call inside the block shares one connection, checked out once."""


@runtime_checkable
class AccountBulkWriter(Protocol):
    """Bulk provisioning: many new accounts in one transaction, for whole member bases."""

    def insert_accounts(self, accounts: Sequence[Account],
                        audit: Sequence[AuditRecord]) -> Sequence[str]:
        """Insert new accounts in one transaction, skipping member numbers that already exist.

        Returns the skipped member numbers. Audit records about a skipped account are
        dropped with it; the others are written in the same transaction.
        """


@attrs.frozen
class OutboxDepth:
    """The messages still to deliver (pending or being sent) and when the oldest was queued."""

    waiting: int
    oldest_at: datetime | None


@runtime_checkable
class StatsReader(Protocol):
    """Counts for the metrics and the funnel, each one query an index answers.

    Optional: a storage without it gets no gauges at scrape time and no ``stats``.
    """

    def count_by_stage(self) -> Mapping[Stage, int]:
        """How many accounts stand in each stage (stages without any may be left out)."""

    def count_waiting_since(self, stage: Stage, before: datetime) -> int:
        """Accounts in ``stage`` whose activation was requested (else created) before ``before``."""

    def outbox_depth(self) -> OutboxDepth:
        """The pending and sending messages, and the creation time of the oldest."""

    def median_wait(self, before: Sequence[str], after: Sequence[str]) -> timedelta | None:
        """The lower median, over the accounts with a successful audit record of both, of
        the time from their first record of any ``before`` action to their first of any
        ``after`` action (accounts where that is negative left out); None when none."""


@runtime_checkable
class Observer(Protocol):
    """Told what the service did, after it is committed: metrics hang here.

    The service calls it from one place per kind of event (the unit of work's commits,
    the rate limits, the outbox's deliveries) and never lets it fail a member's request.
    """

    def recorded(self, records: Sequence[AuditRecord]) -> None:
        """Audit records just committed."""

    def rate_limited(self, request: str) -> None:
        """A request refused by a rate limit (which writes nothing)."""

    def delivery(self, channel: Channel, outcome: str) -> None:
        """One delivery attempt ended: ``sent``, ``retried`` or ``parked``."""


@runtime_checkable
class Mailer(Protocol):
    """Sends email: one checked Mail draft, which the adapter assembles its own way."""

    def send(self, mail: Mail) -> None:
        """Deliver one mail or raise MailError; never partially."""


@runtime_checkable
class Notifier(Protocol):
    """Reaches members by post, SMS or phone (the no-email path)."""

    def notify(self, channel: Channel, account: Account, kind: str, text: str) -> None:
        """Hand one notice to the channel or raise MailError."""


@runtime_checkable
class RateLimiter(Protocol):
    """Counts hits per key in a time window (per IP, per identifier)."""

    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> bool:
        """Count one hit atomically; False, without counting it, once ``limit`` is reached."""


@runtime_checkable
class ReportsWait(Protocol):
    """A rate limiter that can say when a refused key will be served again (optional).

    The refusal then says the actual wait ("Merci de patienter 30 secondes") and answers
    ``Retry-After``; a limiter without it is taken to need its whole window.
    """

    def retry_after(self, key: str, window: timedelta, now: datetime) -> timedelta | None:
        """The time left in ``key``'s current window; None when it has none."""


@runtime_checkable
class Clock(Protocol):
    """Tells the time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


@runtime_checkable
class Random(Protocol):
    """Cryptographically secure random bytes."""

    def token_bytes(self, n: int) -> bytes:
        """``n`` bytes from a CSPRNG."""
