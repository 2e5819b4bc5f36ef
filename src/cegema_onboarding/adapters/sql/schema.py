"""The SQL tables, as SQLAlchemy Core metadata shared by create_schema and the migrations.

Indexed columns are copies of account fields taken at every write; the whole account is
kept as JSON in ``data`` so that a field added to the model needs no migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["VERSION_TABLE", "UtcDateTime", "accounts", "audit", "decoys", "metadata", "outbox",
           "rate_limits", "throttles"]

# Alembic's default "alembic_version" would clash with a host that migrates its own
# tables with Alembic in the same database.
VERSION_TABLE = "cegema_alembic_version"


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC, read back aware on every backend.

    SQLite has no timezone type: values are stored as naive UTC text (which also sorts
    correctly) and get their UTC tzinfo back when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values and convert aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass timezone-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Give every value read back its UTC timezone."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Named constraints and indexes, so that migrations can refer to them on every backend.
metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})

def _account_table(name: str) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("member_number", sa.String(64), nullable=False, unique=True),
        # normalize.email_key of the verified address; several family members may share it.
        sa.Column("email_key", sa.String(320), nullable=True, index=True),
        sa.Column("stage", sa.String(32), nullable=False),
        # The activation queue's order: when activation was requested, else creation time.
        sa.Column("queue_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Index(None, "stage", "queue_at", "account_id"),
    )


accounts = _account_table("cegema_accounts")

# Stand-in account rows of enumeration-safe requests (Changes.decoys), written when a
# forgotten password or identifier request has no account change of its own. Laid out
# like the accounts, with the same indexes, so that such a write costs what an account
# update costs; a few rows only, overwritten again and again, and never read.
decoys = _account_table("cegema_decoys")

throttles = sa.Table(
    "cegema_throttles", metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("last_failure_at", UtcDateTime(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    # Attempts counted but still being checked (see cegema_onboarding.lockout).
    sa.Column("in_flight", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("in_flight_at", UtcDateTime(), nullable=True),
)

outbox = sa.Table(
    "cegema_outbox", metadata,
    sa.Column("message_id", sa.String(512), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    # claim_due: pending or leased messages that are due.
    sa.Index(None, "status", "next_attempt_at"),
    # list_messages, newest first, with or without a status.
    sa.Index(None, "status", "created_at", "message_id"),
    sa.Index(None, "created_at", "message_id"),
    # purge_sent(): sent messages, oldest sending first.
    sa.Index(None, "status", "sent_at"),
)

audit = sa.Table(
    "cegema_audit", metadata,
    # BIGINT on servers; SQLite only autoincrements a plain INTEGER primary key.
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("actor", sa.Text(), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=True),
    sa.Column("ip", sa.Text(), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    # An account's trail, newest first, without a sort.
    sa.Index(None, "account_id", "id"),
    # purge_audit(): the oldest rows first.
    sa.Index(None, "at"),
    # The funnel (cegema-onboarding stats): each account's first record of a few actions,
    # read from the index alone.
    sa.Index(None, "action", "outcome", "account_id", "at"),
)

# Fixed-window rate-limit counters (SqlRateLimiter), shared by every process.
rate_limits = sa.Table(
    "cegema_rate_limits", metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("window_start", UtcDateTime(), nullable=False),
    sa.Column("count", sa.Integer(), nullable=False),
    # purge(): ended windows, oldest first.
    sa.Index(None, "window_start"),
)
