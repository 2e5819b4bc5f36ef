"""Rate-limit counters shared by every process (SqlRateLimiter).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from schema.py: a migration must keep creating what it
# created on the day it was written.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the rate-limit table and its index on the window start."""
    op.create_table(
        "cegema_rate_limits",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_cegema_rate_limits"),
    )
    op.create_index("ix_cegema_rate_limits_window_start", "cegema_rate_limits",
                    ["window_start"])


def downgrade() -> None:
    """Drop the rate-limit table."""
    op.drop_table("cegema_rate_limits")
