"""Initial schema: accounts, throttles, outbox and audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 06:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The column types are spelled out here rather than imported from schema.py: a migration
# must keep creating what it created on the day it was written.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four tables and their indexes."""
    op.create_table(
        "cegema_accounts",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("member_number", sa.String(64), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("queue_at", _TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_cegema_accounts"),
        sa.UniqueConstraint("member_number", name="uq_cegema_accounts_member_number"),
    )
    op.create_index("ix_cegema_accounts_email_key", "cegema_accounts", ["email_key"])
    op.create_index("ix_cegema_accounts_stage_queue_at_account_id", "cegema_accounts",
                    ["stage", "queue_at", "account_id"])

    op.create_table(
        "cegema_throttles",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", _TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_cegema_throttles"),
    )

    op.create_table(
        "cegema_outbox",
        sa.Column("message_id", sa.String(512), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("sent_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("message_id", name="pk_cegema_outbox"),
    )
    op.create_index("ix_cegema_outbox_account_id", "cegema_outbox", ["account_id"])
    op.create_index("ix_cegema_outbox_status_next_attempt_at", "cegema_outbox",
                    ["status", "next_attempt_at"])
    op.create_index("ix_cegema_outbox_status_created_at_message_id", "cegema_outbox",
                    ["status", "created_at", "message_id"])
    op.create_index("ix_cegema_outbox_created_at_message_id", "cegema_outbox",
                    ["created_at", "message_id"])

    op.create_table(
        "cegema_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cegema_audit"),
    )
    op.create_index("ix_cegema_audit_account_id_id", "cegema_audit", ["account_id", "id"])


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.drop_table("cegema_audit")
    op.drop_table("cegema_outbox")
    op.drop_table("cegema_throttles")
    op.drop_table("cegema_accounts")
