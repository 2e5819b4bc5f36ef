"""Rows and models: what SqlStorage writes for an account, a message or a record, and back.

An account is stored whole as JSON (``codec``) beside copies of the fields that are
looked up (its id, member number, verified address key, stage and queue time); the
``version`` column is the truth for compare-and-set, so the JSON carries none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from ... import codec
from ...model import Account, Channel
from ...normalize import email_key
from ...ports import AuditRecord, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    # A row of any select, whatever its columns (SQLAlchemy 2.1 types a row by each of
    # its columns; 2.0 cannot be subscripted so at run time).
    AnyRow: TypeAlias = Row[*tuple[Any, ...]]

__all__ = ["account_changes", "account_data", "account_from_row", "account_values",
           "audit_from_row", "audit_values", "index_copies", "message_from_row",
           "message_values"]


def account_data(account: Account) -> dict[str, Any]:
    """The account's JSON document, without its version."""
    data: dict[str, Any] = codec.to_data(account)
    # The column is the truth: a version inside the JSON could only disagree with it.
    data.pop("version", None)
    return data


def index_copies(account: Account) -> dict[str, Any]:
    """The copies of the account's fields that are looked up, by column."""
    return {
        "member_number": account.member_number,
        "email_key": email_key(account.email) if account.email else None,
        "stage": account.stage.value,
        # The activation queue's order.
        "queue_at": account.activation_requested_at or account.created_at,
    }


def account_changes(account: Account) -> dict[str, Any]:
    """The columns an update of the account's row sets (not its id, not its version)."""
    return {**index_copies(account), "data": account_data(account)}


def account_values(account: Account, *, version: int) -> dict[str, Any]:
    """The columns of a new account row."""
    return {"account_id": account.account_id, **account_changes(account), "version": version}


def account_from_row(row: AnyRow) -> Account:
    """The account of a ``(version, data)`` row."""
    # A new dict per row (the JSON type's result processing): completed in place.
    data: dict[str, Any] = row.data
    data["version"] = row.version
    return codec.from_data(Account, data)


def message_values(m: OutboxMessage) -> dict[str, Any]:
    """The columns of an outbox row."""
    return {
        "message_id": m.message_id, "account_id": m.account_id, "channel": m.channel.value,
        "kind": m.kind, "created_at": m.created_at, "payload": m.payload,
        "recipient": m.recipient, "status": m.status.value, "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at, "last_error": m.last_error,
        "sent_at": m.sent_at,
    }


def message_from_row(row: AnyRow) -> OutboxMessage:
    """The message of a whole outbox row."""
    return OutboxMessage(
        message_id=row.message_id, account_id=row.account_id, channel=Channel(row.channel),
        kind=row.kind, created_at=row.created_at, payload=bytes(row.payload),
        recipient=row.recipient, status=OutboxStatus(row.status), attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, last_error=row.last_error, sent_at=row.sent_at,
    )


def audit_values(r: AuditRecord) -> dict[str, Any]:
    """The columns of an audit row (its id is the database's)."""
    return {"at": r.at, "action": r.action, "outcome": r.outcome, "actor": r.actor,
            "account_id": r.account_id, "ip": r.ip, "detail": r.detail}


def audit_from_row(row: AnyRow) -> AuditRecord:
    """The record of a whole audit row."""
    return AuditRecord(at=row.at, action=row.action, outcome=row.outcome, actor=row.actor,
                       account_id=row.account_id, ip=row.ip, detail=row.detail)
