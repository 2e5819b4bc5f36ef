"""Attempts in flight on the counters; stand-in rows of enumeration-safe requests.

The attempt counters keep the attempts still being checked apart from the confirmed
failures (``in_flight``, ``in_flight_at``): existing rows start with none in flight. The
``cegema_decoys`` table takes the stand-in account rows that a forgotten password or
identifier request writes when it has no account change of its own; it is laid out like
``cegema_accounts``, with the same indexes, so that both writes cost the same.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 09:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from schema.py: a migration must keep creating what it
# created on the day it was written.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the in-flight columns and create the stand-in table and its indexes."""
    op.add_column("cegema_throttles",
                  sa.Column("in_flight", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("cegema_throttles", sa.Column("in_flight_at", _TS, nullable=True))
    op.create_table(
        "cegema_decoys",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("member_number", sa.String(64), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("queue_at", _TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_cegema_decoys"),
        sa.UniqueConstraint("member_number", name="uq_cegema_decoys_member_number"),
    )
    op.create_index("ix_cegema_decoys_email_key", "cegema_decoys", ["email_key"])
    op.create_index("ix_cegema_decoys_stage_queue_at_account_id", "cegema_decoys",
                    ["stage", "queue_at", "account_id"])


def downgrade() -> None:
    """Drop the stand-in table and the in-flight columns."""
    op.drop_table("cegema_decoys")
    with op.batch_alter_table("cegema_throttles") as batch:
        batch.drop_column("in_flight_at")
        batch.drop_column("in_flight")
