"""A storage adapter of a host's own: every record as JSON in one file, for small portals.

Written as a host would, from docs/ports.md alone, and proved by the library's contract
suite (test_json_storage.py). Each write builds the new state beside the old one, checks
every version first, writes the whole file to a temporary name and renames it over the old
one: all or nothing, even if the process dies half-way. One lock serialises the writes of
one process; the file is not meant to be shared by several processes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from cegema_onboarding.codec import from_data, to_data
from cegema_onboarding.errors import ConcurrentUpdate, DuplicateAccount, UnknownMessage
from cegema_onboarding.model import Account, AuditRecord, Stage, Throttle
from cegema_onboarding.normalize import email_key
from cegema_onboarding.ports import Changes, OutboxMessage, OutboxStatus

_EMPTY: dict[str, Any] = {"accounts": {}, "throttles": {}, "outbox": {}, "audit": [],
                          "decoys": {}}


class JsonFileStorage:
    """Accounts, throttles, outbox and audit trail as JSON-ready dicts, saved in one file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if self.path.exists():
            self._data = json.loads(self.path.read_text(encoding="utf-8"))
        else:
            self._data = {key: type(value)() for key, value in _EMPTY.items()}

    # ------------------------------------------------------------------ saving

    def _fresh_copy(self) -> dict[str, Any]:
        # Records are replaced, never changed in place: copying the containers is enough.
        return {key: value.copy() for key, value in self._data.items()}

    def _save(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, self.path)
        self._data = data

    # ------------------------------------------------------------------ accounts

    def _accounts(self) -> list[Account]:
        return [from_data(Account, a) for a in self._data["accounts"].values()]

    def get(self, account_id: str) -> Account | None:
        with self._lock:
            found = self._data["accounts"].get(account_id)
        return None if found is None else from_data(Account, found)

    def find_by_member_number(self, member_number: str) -> Account | None:
        with self._lock:
            for data in self._data["accounts"].values():
                if data["member_number"] == member_number:
                    return from_data(Account, data)
        return None

    def find_by_email(self, email_key_: str) -> Sequence[Account]:
        with self._lock:
            accounts = self._accounts()
        return [a for a in accounts if a.email is not None and email_key(a.email) == email_key_]

    def list_by_stage(self, stage: Stage, *, limit: int = 100,
                      offset: int = 0) -> Sequence[Account]:
        with self._lock:
            found = [a for a in self._accounts() if a.stage is stage]
        found.sort(key=lambda a: (a.activation_requested_at or a.created_at, a.account_id))
        return found[offset:offset + limit]

    def get_throttle(self, key: str) -> Throttle:
        with self._lock:
            found = self._data["throttles"].get(key)
        return Throttle(key=key) if found is None else from_data(Throttle, found)

    # ------------------------------------------------------------------ the one write

    def commit(self, changes: Changes) -> None:
        with self._lock:
            data = self._fresh_copy()
            accounts, throttles = data["accounts"], data["throttles"]
            numbers = {a["member_number"] for a in accounts.values()}
            # Every check first: nothing is saved unless all of them pass.
            for account, expected in changes.accounts:
                current = accounts.get(account.account_id)
                if expected is None:
                    if current is not None or account.member_number in numbers:
                        raise DuplicateAccount("an account with this id or number exists")
                    numbers.add(account.member_number)
                elif current is None or current["version"] != expected:
                    raise ConcurrentUpdate("the account changed since it was loaded")
            for throttle, expected in changes.throttles:
                stored = throttles.get(throttle.key)
                if (0 if stored is None else stored["version"]) != expected:
                    raise ConcurrentUpdate("the throttle changed since it was loaded")
            for account, expected in changes.accounts:
                version = 1 if expected is None else expected + 1
                accounts[account.account_id] = to_data(attrs.evolve(account, version=version))
            for throttle, expected in changes.throttles:
                throttles[throttle.key] = to_data(attrs.evolve(throttle, version=expected + 1))
            for message in changes.outbox:
                data["outbox"][message.message_id] = to_data(message)
            data["audit"].extend(to_data(r) for r in changes.audit)
            for decoy in changes.decoys:
                data["decoys"][decoy.account_id] = to_data(decoy)
            self._save(data)

    def insert_accounts(self, accounts: Sequence[Account],
                        audit: Sequence[AuditRecord]) -> Sequence[str]:
        with self._lock:
            data = self._fresh_copy()
            numbers = {a["member_number"] for a in data["accounts"].values()}
            skipped: list[str] = []
            skipped_ids: set[str] = set()
            for account in accounts:
                if account.account_id in data["accounts"] or account.member_number in numbers:
                    skipped.append(account.member_number)
                    skipped_ids.add(account.account_id)
                    continue
                numbers.add(account.member_number)
                data["accounts"][account.account_id] = to_data(
                    attrs.evolve(account, version=1))
            data["audit"].extend(to_data(r) for r in audit if r.account_id not in skipped_ids)
            self._save(data)
            return skipped

    # ------------------------------------------------------------------ outbox

    def _messages(self) -> list[OutboxMessage]:
        return [from_data(OutboxMessage, m) for m in self._data["outbox"].values()]

    def _put(self, data: dict[str, Any], message: OutboxMessage) -> None:
        data["outbox"][message.message_id] = to_data(message)

    @staticmethod
    def _is_due(m: OutboxMessage, now: datetime) -> bool:
        if m.status is OutboxStatus.PENDING:
            return m.next_attempt_at is None or m.next_attempt_at <= now
        # SENDING with a lease run out: its relay died.
        return (m.status is OutboxStatus.SENDING and m.next_attempt_at is not None
                and m.next_attempt_at <= now)

    def claim_due(self, now: datetime, *, limit: int = 50,
                  lease_until: datetime | None = None) -> Sequence[OutboxMessage]:
        lease = lease_until or now + timedelta(minutes=5)
        with self._lock:
            due = sorted((m for m in self._messages() if self._is_due(m, now)),
                         key=lambda m: (m.created_at, m.message_id))[:limit]
            claimed = [attrs.evolve(m, status=OutboxStatus.SENDING, next_attempt_at=lease)
                       for m in due]
            data = self._fresh_copy()
            for message in claimed:
                self._put(data, message)
            self._save(data)
            return claimed

    def claim(self, message_id: str, now: datetime) -> OutboxMessage | None:
        with self._lock:
            m = self.get_message(message_id)
            if m is None or m.status is not OutboxStatus.PENDING:
                return None
            claimed = attrs.evolve(m, status=OutboxStatus.SENDING,
                                   next_attempt_at=now + timedelta(minutes=5))
            data = self._fresh_copy()
            self._put(data, claimed)
            self._save(data)
            return claimed

    def _finish(self, message_id: str, **values: Any) -> None:
        with self._lock:
            m = self.get_message(message_id)
            if m is None:
                raise UnknownMessage(message_id)
            data = self._fresh_copy()
            self._put(data, attrs.evolve(m, attempts=m.attempts + 1, **values))
            self._save(data)

    def mark_sent(self, message_id: str, now: datetime) -> None:
        # The payload held a live link: dropped once delivered.
        self._finish(message_id, status=OutboxStatus.SENT, sent_at=now, payload=b"",
                     next_attempt_at=None, last_error=None)

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        status = OutboxStatus.PENDING if retry_at is not None else OutboxStatus.PARKED
        self._finish(message_id, status=status, next_attempt_at=retry_at,
                     last_error=error[:500])

    def get_message(self, message_id: str) -> OutboxMessage | None:
        with self._lock:
            found = self._data["outbox"].get(message_id)
        return None if found is None else from_data(OutboxMessage, found)

    def list_messages(self, status: OutboxStatus | None = None, *,
                      limit: int = 100) -> Sequence[OutboxMessage]:
        with self._lock:
            messages = self._messages()
        if status is None:
            found = [m for m in messages if m.status is not OutboxStatus.DISCARDED]
        else:
            found = [m for m in messages if m.status is status]
        found.sort(key=lambda m: (m.created_at, m.message_id), reverse=True)
        return found[:limit]

    def purge_discarded(self, before: datetime) -> int:
        with self._lock:
            gone = [m.message_id for m in self._messages()
                    if m.status is OutboxStatus.DISCARDED and m.created_at < before]
            if gone:
                data = self._fresh_copy()
                for message_id in gone:
                    del data["outbox"][message_id]
                self._save(data)
            return len(gone)

    # ------------------------------------------------------------------ audit

    def audit_records(self, *, account_id: str | None = None,
                      limit: int = 100) -> Sequence[AuditRecord]:
        with self._lock:
            records = [from_data(AuditRecord, r) for r in reversed(self._data["audit"])]
        return [r for r in records if account_id is None or r.account_id == account_id][:limit]
