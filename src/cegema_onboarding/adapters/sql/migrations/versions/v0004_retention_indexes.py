"""Indexes for the retention purge: audit rows by time, sent messages by sending time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 21:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index what the purge deletes by: without them each batch would scan the table."""
    op.create_index("ix_cegema_audit_at", "cegema_audit", ["at"])
    op.create_index("ix_cegema_outbox_status_sent_at", "cegema_outbox", ["status", "sent_at"])


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index("ix_cegema_outbox_status_sent_at", table_name="cegema_outbox")
    op.drop_index("ix_cegema_audit_at", table_name="cegema_audit")
