"""The values the contract suites write: plain accounts, outbox messages, audit records.

Importable without pytest, for a host's own adapter tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ..model import Account, AuditRecord, Channel
from ..ports import Changes, OutboxMessage, Storage

__all__ = ["T0", "account", "insert", "message", "record"]

#: The contract's fixed starting time (timezone-aware, UTC).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def account(n: int, **changes: Any) -> Account:
    """A plain new account number ``n`` (id ``acc-000n``, member number ``1000000n``)."""
    base = Account(account_id=f"acc-{n:04d}", member_number=f"1000{n:05d}",
                   name=f"Membre {n}", created_at=T0 + timedelta(minutes=n))
    return attrs.evolve(base, **changes)


def message(n: int, *, account_id: str = "acc-0001", created_at: datetime | None = None,
            **changes: Any) -> OutboxMessage:
    """A pending email message number ``n``."""
    base = OutboxMessage(message_id=f"<m{n:04d}@portail.example>", account_id=account_id,
                         channel=Channel.EMAIL, kind="validation",
                         created_at=created_at or T0 + timedelta(seconds=n),
                         payload=b"sealed\x00payload-" + bytes([n % 256]),
                         recipient="marie@example.org")
    return attrs.evolve(base, **changes)


def record(n: int, account_id: str | None = "acc-0001") -> AuditRecord:
    """An audit record number ``n``."""
    return AuditRecord(at=T0 + timedelta(seconds=n), action=f"action{n}", outcome="ok",
                       actor="member", account_id=account_id, ip="192.0.2.1",
                       detail=f"détail {n}")


def insert(storage: Storage, *accounts: Account) -> None:
    """Insert new accounts in one commit."""
    storage.commit(Changes(accounts=tuple((a, None) for a in accounts)))
