"""The counts behind the metrics, the funnel and the readiness probe, for SqlStorage.

Each count is one statement that an index answers without reading the accounts' JSON:
the stage counts walk ``(stage, queue_at, account_id)``, the outbox depth
``(status, created_at, message_id)`` and the funnel's medians
``(action, outcome, account_id, at)``. ``tests/cli/test_stats.py`` shows the plans.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ...model import Stage
from ...ports import OutboxDepth, OutboxStatus
from .engine import _current_revision, alembic_config
from .schema import accounts, audit, outbox

__all__ = ["BY_STAGE", "OUTBOX_DEPTH", "WAITING_SINCE", "count_by_stage",
           "count_waiting_since", "head_revision", "median_wait", "median_wait_statement",
           "outbox_depth", "readiness"]

BY_STAGE = sa.select(accounts.c.stage, sa.func.count()).group_by(accounts.c.stage)
WAITING_SINCE = (sa.select(sa.func.count()).select_from(accounts)
                 .where(accounts.c.stage == sa.bindparam("stage"),
                        accounts.c.queue_at < sa.bindparam("before")))
_WAITING = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
OUTBOX_DEPTH = (sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                .where(outbox.c.status.in_(_WAITING)))


def _first(actions: Sequence[str], account_id: Any) -> Any:
    """The account's first successful record of any of ``actions``: one index seek."""
    return (sa.select(sa.func.min(audit.c.at))
            .where(audit.c.action.in_(actions), audit.c.outcome == "ok",
                   audit.c.account_id == account_id)
            .scalar_subquery())


def median_wait_statement(dialect: str, before: Sequence[str],
                          after: Sequence[str]) -> sa.Select[tuple[Any]]:
    """The lower median wait, in seconds, between two steps (see ``median_wait``)."""
    # Driven by the later step, which fewer members reached: its first records come from
    # the covering index grouped by account, and the earlier step's time of each of those
    # members is one seek into the same index.
    reached = (sa.select(audit.c.account_id, sa.func.min(audit.c.at).label("t"))
               .where(audit.c.action.in_(after), audit.c.outcome == "ok",
                      audit.c.account_id.is_not(None))
               .group_by(audit.c.account_id).subquery("reached"))
    started = _first(before, reached.c.account_id)
    seconds: Any
    if dialect == "sqlite":
        seconds = (sa.func.julianday(reached.c.t) - sa.func.julianday(started)) * 86400.0
    else:
        seconds = sa.extract("epoch", reached.c.t - started)
    waits = sa.select(seconds.label("s")).cte("waits")
    kept = waits.c.s >= 0
    middle = (sa.select((sa.func.count() - 1) // 2).select_from(waits).where(kept)
              .scalar_subquery())
    return sa.select(waits.c.s).where(kept).order_by(waits.c.s).limit(1).offset(middle)



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


def median_wait(conn: Connection, before: Sequence[str],
                after: Sequence[str]) -> timedelta | None:
    """The lower median wait from each member's first ``before`` record to their first
    ``after`` record, over the members with both; None when there are none."""
    if not before or not after:
        return None
    found = conn.execute(median_wait_statement(conn.dialect.name, before, after)).scalar()
    # Whole milliseconds: SQLite's julianday arithmetic is a double, a few µs off.
    return None if found is None else timedelta(milliseconds=round(float(found) * 1000))


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
