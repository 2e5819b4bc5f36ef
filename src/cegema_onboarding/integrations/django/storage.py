"""``DjangoStorage``: every storage port of :mod:`cegema_onboarding.ports` on the ORM.

Compare-and-set is a conditional ``UPDATE ... WHERE version = expected`` inside
``transaction.atomic``: on PostgreSQL the second of two racing updates waits for the first
and then matches no row, on SQLite writers are serialised. When any save matches no row
the whole :class:`~cegema_onboarding.ports.Changes` is rolled back, so a failed commit
writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import Count, F, Min

from ...errors import ConcurrentUpdate, DuplicateAccount, UnknownMessage
from ...funnel import lower_median_wait
from ...model import Account, Stage, Throttle
from ...ports import AuditRecord, Changes, OutboxDepth, OutboxMessage, OutboxStatus
from .models import (
    OnboardingAccount,
    OnboardingAudit,
    OnboardingDecoy,
    OnboardingOutbox,
    OnboardingThrottle,
)
from .rows import (
    account_from_row,
    account_row,
    from_db,
    message_from_row,
    outbox_row,
    required,
    to_db,
)

_LEASE = timedelta(minutes=5)



class DjangoStorage:
    """The library's storage on the Django ORM, in the database ``using``."""

    def __init__(self, using: str = "default") -> None:
        self.using = using

    def __repr__(self) -> str:
        return f"DjangoStorage(using={self.using!r})"

    # ------------------------------------------------------------------ accounts

    def get(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        row = self._accounts().filter(account_id=account_id).first()
        return None if row is None else account_from_row(row)

    def find_by_member_number(self, member_number: str) -> Account | None:
        """The account with this normalised member number, or None."""
        row = self._accounts().filter(member_number=member_number).first()
        return None if row is None else account_from_row(row)

    def find_by_email(self, email_key_: str) -> Sequence[Account]:
        """Accounts whose verified address has this casefolded key."""
        rows = self._accounts().filter(email_key=email_key_).order_by("account_id")
        return [account_from_row(r) for r in rows]

    def list_by_stage(
        self, stage: Stage, *, limit: int = 100, offset: int = 0
    ) -> Sequence[Account]:
        """Accounts in one stage, oldest request first."""
        rows = (self._accounts().filter(stage=stage.value)
                .order_by("queue_at", "account_id")[offset:offset + limit])
        return [account_from_row(r) for r in rows]

    def get_user_id(self, account_id: str) -> Any:
        """The primary key of the Django user linked to an account, or None."""
        return (self._accounts().filter(account_id=account_id)
                .values_list("user_id", flat=True).first())

    def link_user(self, account_id: str, user_id: Any) -> None:
        """Link an account to a Django user (the link is not part of the account record)."""
        self._accounts().filter(account_id=account_id).update(user_id=user_id)

    # ------------------------------------------------------------------ throttles

    def get_throttle(self, key: str) -> Throttle:
        """The counter for this key; a fresh one at version 0 when none is stored."""
        row = OnboardingThrottle.objects.using(self.using).filter(key=key).first()
        if row is None:
            return Throttle(key=key)
        return Throttle(key=row.key, failures=row.failures,
                        last_failure_at=from_db(row.last_failure_at), version=row.version,
                        in_flight=row.in_flight, in_flight_at=from_db(row.in_flight_at))

    # ------------------------------------------------------------------ the one write

    def commit(self, changes: Changes) -> None:
        """Apply all of ``changes`` or none; ConcurrentUpdate if a version moved."""
        numbers = [a.member_number for a, e in changes.accounts if e is None]
        if len(numbers) != len(set(numbers)):
            raise DuplicateAccount("the same member number twice in one commit")
        try:
            with transaction.atomic(using=self.using):
                connection = connections[self.using]
                if not changes.durable and connection.vendor == "postgresql":
                    # See Changes.durable; LOCAL ends with this transaction.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                for account, expected in changes.accounts:
                    self._save_account(account, expected)
                # Where the account writes are: a stand-in takes an account write's place.
                for decoy in changes.decoys:
                    self._save_decoy(decoy)
                for throttle, expected_t in changes.throttles:
                    self._save_throttle(throttle, expected_t)
                if changes.outbox:
                    OnboardingOutbox.objects.using(self.using).bulk_create(
                        [outbox_row(m) for m in changes.outbox])
                self._write_audit(changes.audit)
        except IntegrityError:
            # Only inserts can collide; which one is not worth a second query.
            if any(e is None for _, e in changes.accounts):
                raise DuplicateAccount("an account with this id or member number exists") from None
            raise ConcurrentUpdate("a record was inserted concurrently") from None

    def insert_accounts(self, accounts: Sequence[Account],
                        audit: Sequence[AuditRecord]) -> Sequence[str]:
        """Insert new accounts in one transaction, skipping member numbers that exist."""
        with transaction.atomic(using=self.using):
            wanted = [a.member_number for a in accounts]
            ids = [a.account_id for a in accounts]
            existing_numbers: set[str] = set()
            existing_ids: set[str] = set()
            for chunk in range(0, len(accounts), 500):
                rows = self._accounts().filter(member_number__in=wanted[chunk:chunk + 500])
                existing_numbers.update(rows.values_list("member_number", flat=True))
                rows = self._accounts().filter(account_id__in=ids[chunk:chunk + 500])
                existing_ids.update(rows.values_list("account_id", flat=True))
            skipped: list[str] = []
            skipped_ids: set[str] = set()
            fresh: list[OnboardingAccount] = []
            seen: set[str] = set()
            for account in accounts:
                if (account.member_number in existing_numbers or account.member_number in seen
                        or account.account_id in existing_ids):
                    skipped.append(account.member_number)
                    skipped_ids.add(account.account_id)
                    continue
                seen.add(account.member_number)
                fresh.append(account_row(account, version=1))
            self._accounts().bulk_create(fresh, batch_size=500)
            self._write_audit([r for r in audit if r.account_id not in skipped_ids])
            return skipped

    def _save_account(self, account: Account, expected: int | None) -> None:
        if expected is None:
            account_row(account, version=1).save(using=self.using, force_insert=True)
            return
        row = account_row(account, version=expected + 1)
        updated = self._accounts().filter(account_id=account.account_id,
                                          version=expected).update(
            member_number=row.member_number, name=row.name, email_key=row.email_key,
            stage=row.stage, disabled=row.disabled, queue_at=row.queue_at,
            created_at=row.created_at, version=row.version, data=row.data)
        if updated != 1:
            raise ConcurrentUpdate("account changed since it was loaded")

    def _save_decoy(self, decoy: Account) -> None:
        # The account update without its version condition; an insert the first time a
        # slot is used (racing first inserts: one wins, none fails).
        row = account_row(decoy, version=1)
        objects = OnboardingDecoy.objects.using(self.using)
        updated = objects.filter(account_id=decoy.account_id).update(
            member_number=row.member_number, name=row.name, email_key=row.email_key,
            stage=row.stage, disabled=row.disabled, queue_at=row.queue_at,
            created_at=row.created_at, version=F("version") + 1, data=row.data)
        if updated == 0:
            objects.bulk_create([OnboardingDecoy(
                account_id=row.account_id, member_number=row.member_number, name=row.name,
                email_key=row.email_key, stage=row.stage, disabled=row.disabled,
                queue_at=row.queue_at, created_at=row.created_at, version=1, data=row.data,
            )], ignore_conflicts=True)

    def _save_throttle(self, throttle: Throttle, expected: int) -> None:
        objects = OnboardingThrottle.objects.using(self.using)
        fields = {"failures": throttle.failures,
                  "last_failure_at": to_db(throttle.last_failure_at),
                  "in_flight": throttle.in_flight,
                  "in_flight_at": to_db(throttle.in_flight_at),
                  "version": expected + 1}
        if expected == 0:
            # A concurrent first insert raises IntegrityError, turned into ConcurrentUpdate.
            objects.create(key=throttle.key, **fields)
            return
        if objects.filter(key=throttle.key, version=expected).update(**fields) != 1:
            raise ConcurrentUpdate("throttle changed since it was loaded")

    def _write_audit(self, records: Iterable[AuditRecord]) -> None:
        rows = [OnboardingAudit(at=to_db(r.at), action=r.action, outcome=r.outcome,
                                actor=r.actor, account_id=r.account_id, ip=r.ip,
                                detail=r.detail) for r in records]
        if rows:
            OnboardingAudit.objects.using(self.using).bulk_create(rows)

    # ------------------------------------------------------------------ outbox

    def claim_due(self, now: datetime, *, limit: int = 50,
                  lease_until: datetime | None = None) -> Sequence[OutboxMessage]:
        """Mark due messages SENDING and return them; no two relays share one."""
        lease = to_db(lease_until or now + _LEASE)
        db_now = to_db(now)
        objects = self._outbox()
        pending = objects.filter(status=OutboxStatus.PENDING.value).filter(
            next_attempt_at__isnull=True) | objects.filter(
            status=OutboxStatus.PENDING.value, next_attempt_at__lte=db_now)
        # A SENDING message whose lease ran out belongs to a relay that died.
        stale = objects.filter(status=OutboxStatus.SENDING.value, next_attempt_at__lte=db_now)
        candidates = list((pending | stale).order_by("created_at", "message_id")
                          .values_list("message_id", "status", "next_attempt_at")[:limit])
        claimed: list[OutboxMessage] = []
        for message_id, status, next_at in candidates:
            # A conditional update is the claim: of two relays, only one matches the row.
            won = objects.filter(message_id=message_id, status=status,
                                 next_attempt_at=next_at).update(
                status=OutboxStatus.SENDING.value, next_attempt_at=lease)
            if won == 1:
                row = objects.get(message_id=message_id)
                claimed.append(message_from_row(row))
        return claimed

    def claim(self, message_id: str, now: datetime) -> OutboxMessage | None:
        """Claim one pending message by id, or None if it is not pending any more."""
        objects = self._outbox()
        won = objects.filter(message_id=message_id, status=OutboxStatus.PENDING.value).update(
            status=OutboxStatus.SENDING.value, next_attempt_at=to_db(now + _LEASE))
        if won != 1:
            return None
        return message_from_row(objects.get(message_id=message_id))

    def mark_sent(self, message_id: str, now: datetime) -> None:
        """Record a delivery and drop the payload, which holds a live token."""
        marked = self._outbox().filter(message_id=message_id).update(
            status=OutboxStatus.SENT.value, sent_at=to_db(now), payload=b"",
            attempts=F("attempts") + 1, next_attempt_at=None, last_error=None)
        if marked != 1:
            raise UnknownMessage(message_id)

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Put a message back for a retry at ``retry_at``, or park it when that is None."""
        status = OutboxStatus.PENDING if retry_at is not None else OutboxStatus.PARKED
        marked = self._outbox().filter(message_id=message_id).update(
            status=status.value, attempts=F("attempts") + 1,
            next_attempt_at=to_db(retry_at), last_error=error[:500])
        if marked != 1:
            raise UnknownMessage(message_id)

    def get_message(self, message_id: str) -> OutboxMessage | None:
        """One message by id, whatever its status."""
        row = self._outbox().filter(message_id=message_id).first()
        return None if row is None else message_from_row(row)

    def list_messages(self, status: OutboxStatus | None = None,
                      *, limit: int = 100) -> Sequence[OutboxMessage]:
        """Messages, newest first, optionally of one status."""
        rows = self._outbox()
        if status is not None:
            rows = rows.filter(status=status.value)
        else:
            # Stand-ins are no mail: only listed when asked for by their status.
            rows = rows.exclude(status=OutboxStatus.DISCARDED.value)
        return [message_from_row(r) for r in rows.order_by("-created_at", "-message_id")[:limit]]

    def purge_sent(self, before: datetime, *, batch: int = 1000) -> int:
        """Delete messages sent before ``before``, ``batch`` per transaction; returns how
        many went.

        The DISCARDED stand-ins created before ``before`` go too (not counted: they were
        never mail), so that ``cegema_purge_tokens`` keeps both in check.
        """
        self.purge_discarded(before)
        rows = self._outbox().filter(status=OutboxStatus.SENT.value,
                                     sent_at__lt=to_db(before)).order_by("sent_at")
        return _delete_in_batches(rows, "message_id", batch)

    def purge_audit(self, before: datetime, *, batch: int = 1000) -> int:
        """Delete audit rows written before ``before``, ``batch`` per transaction; returns
        how many went."""
        rows = OnboardingAudit.objects.using(self.using).filter(at__lt=to_db(before))
        return _delete_in_batches(rows.order_by("id"), "id", batch)

    def purge_discarded(self, before: datetime) -> int:
        """Delete the DISCARDED stand-ins created before ``before``; returns how many."""
        deleted, _ = self._outbox().filter(status=OutboxStatus.DISCARDED.value,
                                           created_at__lt=to_db(before)).delete()
        return int(deleted)

    # ------------------------------------------------------------------ audit

    def audit_records(self, *, account_id: str | None = None,
                      limit: int = 100) -> Sequence[AuditRecord]:
        """Audit records, newest first, optionally for one account."""
        rows = OnboardingAudit.objects.using(self.using).all()
        if account_id is not None:
            rows = rows.filter(account_id=account_id)
        return [AuditRecord(at=required(r.at), action=r.action, outcome=r.outcome,
                            actor=r.actor, account_id=r.account_id, ip=r.ip, detail=r.detail)
                for r in rows.order_by("-id")[:limit]]

    # ------------------------------------------------------------------ stats

    def count_by_stage(self) -> Mapping[Stage, int]:
        """How many accounts stand in each stage."""
        rows = self._accounts().order_by().values("stage").annotate(n=Count("pk"))
        return {Stage(r["stage"]): int(r["n"]) for r in rows}

    def count_waiting_since(self, stage: Stage, before: datetime) -> int:
        """Accounts in ``stage`` queued (activation asked, else created) before ``before``."""
        return int(self._accounts().filter(stage=stage.value,
                                           queue_at__lt=to_db(before)).count())

    def outbox_depth(self) -> OutboxDepth:
        """The pending and sending messages and the creation time of the oldest."""
        found = self._outbox().filter(
            status__in=(OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
        ).aggregate(n=Count("pk"), oldest=Min("created_at"))
        return OutboxDepth(int(found["n"]), from_db(found["oldest"]))

    def median_wait(self, before: Sequence[str], after: Sequence[str]) -> timedelta | None:
        """The lower median wait from the first ``before`` record to the first ``after``."""
        return lower_median_wait(self._firsts(before), self._firsts(after))

    def _firsts(self, actions: Sequence[str]) -> dict[str, datetime]:
        rows = (OnboardingAudit.objects.using(self.using).order_by()
                .filter(action__in=list(actions), outcome="ok", account_id__isnull=False)
                .values("account_id").annotate(first=Min("at")))
        return {r["account_id"]: required(r["first"]) for r in rows}

    # ------------------------------------------------------------------ helpers

    def _accounts(self) -> Any:
        return OnboardingAccount.objects.using(self.using)

    def _outbox(self) -> Any:
        return OnboardingOutbox.objects.using(self.using)


def _delete_in_batches(rows: Any, key: str, batch: int) -> int:
    """Delete ``rows`` ``batch`` at a time, oldest first, each batch its own statement."""
    total = 0
    while True:
        # A slice of the primary keys first: Django cannot DELETE with a LIMIT.
        keys = list(rows.values_list(key, flat=True)[:batch])
        if not keys:
            return total
        deleted, _ = rows.model.objects.using(rows.db).filter(**{f"{key}__in": keys}).delete()
        total += int(deleted)
        if len(keys) < batch:
            return total
