"""An index for the onboarding funnel: each member's first record of each step.

``cegema-onboarding stats`` reads, for a few actions, the first successful audit record of
each account. Without this index that is a scan of the whole trail; with it, a walk of
the index alone (it holds every column the query reads).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 21:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the funnel's covering index on the audit trail."""
    op.create_index("ix_cegema_audit_action_outcome_account_id_at", "cegema_audit",
                    ["action", "outcome", "account_id", "at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_cegema_audit_action_outcome_account_id_at", table_name="cegema_audit")
