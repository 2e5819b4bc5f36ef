"""The counts behind the metrics, the funnel and the readiness probe, for SqlStorage.

Each count is one statement that an index answers without reading the accounts' JSON:
the stage counts walk ``(stage, queue_at, account_id)``, the outbox depth
``(status, created_at, message_id)`` and the funnel's first times
``(action, outcome, account_id, at)``. ``tests/adapters/test_sql_stats.py`` shows the
plans.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ...model import Stage
from ...ports import OutboxDepth, OutboxStatus
from .engine import _current_revision, alembic_config
from .schema import accounts, audit, outbox

__all__ = ["BY_STAGE", "FIRST_TIMES", "OUTBOX_DEPTH", "WAITING_SINCE", "count_by_stage",
           "count_waiting_since", "first_times", "head_revision", "outbox_depth",
           "readiness"]

BY_STAGE = sa.select(accounts.c.stage, sa.func.count()).group_by(accounts.c.stage)
WAITING_SINCE = (sa.select(sa.func.count()).select_from(accounts)
                 .where(accounts.c.stage == sa.bindparam("stage"),
                        accounts.c.queue_at < sa.bindparam("before")))
_WAITING = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
OUTBOX_DEPTH = (sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                .where(outbox.c.status.in_(_WAITING)))
FIRST_TIMES = (sa.select(audit.c.account_id, audit.c.action, sa.func.min(audit.c.at))
               .where(audit.c.action.in_(sa.bindparam("actions", expanding=True)),
                      audit.c.outcome == "ok", audit.c.account_id.is_not(None))
               .group_by(audit.c.action, audit.c.account_id))


def count_by_stage(conn: Connection) -> Mapping[Stage, int]:
    """How many accounts stand in each stage."""
    return {Stage(stage): int(n) for stage, n in conn.execute(BY_STAGE)}


def count_waiting_since(conn: Connection, stage: Stage, before: datetime) -> int:
    """Accounts in ``stage`` queued (activation asked, else created) before ``before``."""
    # Bound through the column's type, so that SQLite compares its naive UTC text.
    found = conn.execute(WAITING_SINCE, {"stage": stage.value, "before": before}).scalar()
    return int(found or 0)


def outbox_depth(conn: Connection) -> OutboxDepth:
    """The pending and sending messages and the creation time of the oldest."""
    # MIN keeps the column's type: the value comes back aware, in UTC, on both databases.
    waiting, oldest = conn.execute(OUTBOX_DEPTH).one()
    return OutboxDepth(int(waiting), oldest)


def first_times(conn: Connection,
                actions: Sequence[str]) -> Sequence[tuple[str, str, datetime]]:
    """Each account's first successful record of each action named."""
    if not actions:
        return []
    rows = conn.execute(FIRST_TIMES, {"actions": list(actions)})
    return [(account_id, action, at) for account_id, action, at in rows]


@functools.cache
def head_revision() -> str | None:
    """The newest migration this release ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def readiness(conn: Connection) -> tuple[bool, str]:
    """Whether the schema is at the newest migration, and what it is at."""
    current = _current_revision(conn)
    head = head_revision()
    if current is None:
        return False, "not migrated"
    if current != head:
        return False, f"at revision {current}, expected {head}"
    return True, f"at revision {current}"
