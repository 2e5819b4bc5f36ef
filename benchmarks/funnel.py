"""Benchmark: the onboarding funnel (``cegema-onboarding stats``) on many members.

Fills a database with ``--members`` accounts spread over the stages as after a launch
(per 100: 50 provisioned, 5 email required, 3 awaiting their link, 2 awaiting activation,
2 password required, 2 question required, 36 active), with their audit records
(provisioned; the first login an hour later; the last step a day later), then times
``build_funnel`` and prints the query plans of every statement it ran.

Filling is quick and skips the slow hash: 100 template members go in through
``SqlStorage.insert_accounts``; on PostgreSQL the others are copied from them by
``INSERT ... SELECT generate_series`` and their audit rows by ``INSERT ... SELECT`` (each
copy keeps its template's record in ``data``, which only the link-expiry count reads), on
SQLite they go through ``insert_accounts`` in batches, its fast driver path.

    python -m benchmarks.funnel                            # 1,000,000 members, both
    python -m benchmarks.funnel --members 50000 --backend postgresql

PostgreSQL is a throw-away server (``benchmarks/_pg.py``) or ``CEGEMA_TEST_POSTGRES_URL``'s,
in a schema of its own. ``tests/cli/test_stats_postgres.py`` asserts the plans at 50,000.
This is not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._pg import server_url
from cegema_onboarding.adapters.sql import (
    SqlStorage,
    create_schema,
    postgres_engine,
    sqlite_engine,
)
from cegema_onboarding.funnel import Funnel, build_funnel
from cegema_onboarding.model import Account, Stage
from cegema_onboarding.ports import AuditRecord

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NOW = START + timedelta(days=30)
#: The stage of member n is STAGES[n % 100].
STAGES = ([Stage.PROVISIONED] * 50 + [Stage.EMAIL_REQUIRED] * 5 + [Stage.EMAIL_PENDING] * 3
          + [Stage.AWAITING_ACTIVATION] * 2 + [Stage.PASSWORD_REQUIRED] * 2
          + [Stage.QUESTION_REQUIRED] * 2 + [Stage.ACTIVE] * 36)
_BATCH = 50_000


def _member(n: int) -> tuple[Account, list[AuditRecord]]:
    stage = STAGES[n % 100]
    created = START + timedelta(seconds=n % 86400)
    account_id = f"a{n:07d}"
    account = Account(account_id=account_id, member_number=f"9{n:08d}", name="M",
                      created_at=created, stage=stage)
    records = [AuditRecord(created, "provisioned", "ok", "staff:s", account_id)]
    if stage is not Stage.PROVISIONED:
        records.append(AuditRecord(created + timedelta(hours=1), "login", "ok", "member",
                                   account_id))
    if stage is Stage.ACTIVE:
        records.append(AuditRecord(created + timedelta(days=1), "secret_answer_set", "ok",
                                   "member", account_id))
    return account, records


def _insert(storage: SqlStorage, first: int, last: int) -> None:
    for start in range(first, last, _BATCH):
        accounts: list[Account] = []
        audit: list[AuditRecord] = []
        for n in range(start, min(start + _BATCH, last)):
            account, records = _member(n)
            accounts.append(account)
            audit.extend(records)
        storage.insert_accounts(accounts, audit)


# Copies of the 100 templates, then their audit trail, all inside the server.
_COPY_ACCOUNTS = """
INSERT INTO cegema_accounts (account_id, member_number, email_key, stage, queue_at,
                             version, data)
SELECT 'a' || lpad(n::text, 7, '0'), '9' || lpad(n::text, 8, '0'), NULL, t.stage,
       %(start)s::timestamptz + make_interval(secs => n %% 86400), t.version, t.data
FROM generate_series(100, %(last)s - 1) AS n
JOIN cegema_accounts AS t ON t.account_id = 'a' || lpad((n %% 100)::text, 7, '0')
"""
_COPY_AUDIT = """
INSERT INTO cegema_audit (at, action, outcome, actor, account_id)
SELECT queue_at, 'provisioned', 'ok', 'staff:s', account_id
  FROM cegema_accounts WHERE account_id >= 'a0000100'
UNION ALL
SELECT queue_at + interval '1 hour', 'login', 'ok', 'member', account_id
  FROM cegema_accounts WHERE account_id >= 'a0000100' AND stage <> 'provisioned'
UNION ALL
SELECT queue_at + interval '1 day', 'secret_answer_set', 'ok', 'member', account_id
  FROM cegema_accounts WHERE account_id >= 'a0000100' AND stage = 'active'
"""


def fill(engine: Engine, members: int) -> float:
    """Create the schema and put ``members`` members in; the seconds it took."""
    began = time.perf_counter()
    create_schema(engine)
    storage = SqlStorage(engine)
    if engine.dialect.name != "postgresql":
        _insert(storage, 0, members)
        return time.perf_counter() - began
    _insert(storage, 0, min(100, members))
    if members > 100:
        with engine.begin() as conn:
            conn.exec_driver_sql(_COPY_ACCOUNTS, {"start": START, "last": members})
            conn.exec_driver_sql(_COPY_AUDIT)
    # Fresh statistics and visibility map, as autovacuum would leave them on a server that
    # has flushed its WAL: with synchronous_commit off (the throw-away server's), VACUUM
    # cannot mark the just-written pages all-visible until a flush, and the planner then
    # prices index-only scans as heap reads and picks sequential scans instead.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        with contextlib.suppress(sa.exc.DBAPIError):  # CHECKPOINT needs a superuser
            conn.exec_driver_sql("CHECKPOINT")
        conn.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - began


def timed_funnel(engine: Engine) -> tuple[Funnel, float, list[tuple[str, Any]]]:
    """The funnel, its time in seconds, and the SELECT statements it ran."""
    ran: list[tuple[str, Any]] = []

    def keep(conn: object, cursor: object, statement: str, parameters: Any,
             context: object, executemany: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            ran.append((statement, parameters))

    storage = SqlStorage(engine)
    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        began = time.perf_counter()
        funnel = build_funnel(storage, NOW)
        took = time.perf_counter() - began
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    return funnel, took, ran


def plans(engine: Engine, statements: Sequence[tuple[str, Any]], *,
          index_if_any: bool = False) -> list[list[str]]:
    """The plan of each distinct statement, one line per plan node.

    ``index_if_any`` plans with sequential scans priced out on PostgreSQL, so a plan still
    reading a table row by row means no index can serve the query. The tests use it: at
    their 50,000 members the two plans cost about the same, and the planner's pick then
    turns on whether VACUUM could mark the pages all-visible, which another session's open
    transaction on the same server prevents."""
    seen: dict[str, Any] = {}
    for statement, parameters in statements:
        seen.setdefault(statement, parameters)
    found = []
    for statement, parameters in seen.items():
        if engine.dialect.name == "postgresql":
            import psycopg

            # EXPLAIN takes no server-side parameters: the client binds them in the text.
            raw = engine.raw_connection()
            try:
                with psycopg.ClientCursor(raw.driver_connection) as cursor:
                    if index_if_any:
                        cursor.execute("SET LOCAL enable_seqscan = off")
                    cursor.execute("EXPLAIN " + statement, parameters)
                    found.append([str(row[0]) for row in cursor.fetchall()])
            finally:
                raw.close()
        else:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                            parameters).all()
            found.append([str(row[-1]) for row in rows])
    return found


def seq_scans(plan: Sequence[str]) -> list[str]:
    """The lines of a plan that read one of the project's tables row by row (a SQLite
    ``SCAN ... USING COVERING INDEX`` reads the index alone, which is what is wanted)."""
    return [line.strip() for line in plan
            if "Seq Scan on cegema_" in line
            or (line.startswith("SCAN cegema_") and "INDEX" not in line)]


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[Engine]:
    """An empty database: a SQLite file, or a fresh schema on PostgreSQL."""
    if backend == "sqlite":
        engine = sqlite_engine(workdir / "funnel.db", synchronous="NORMAL")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with server_url() as base:
        schema = f"cegema_funnel_{uuid.uuid4().hex[:8]}"
        admin = postgres_engine(base, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
            engine = postgres_engine(url)
            try:
                yield engine
            finally:
                engine.dispose()
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            admin.dispose()


def run(backend: str, members: int) -> None:
    """Fill, time the funnel, print the figures and the plans."""
    with tempfile.TemporaryDirectory(prefix="cegema-funnel-") as workdir, \
            database(backend, Path(workdir)) as engine:
        filled = fill(engine, members)
        funnel, took, ran = timed_funnel(engine)
        # A second run: the same queries with the pages in the cache.
        _, again, _ = timed_funnel(engine)
        print(f"{backend}: {members:,} members filled in {filled:.1f} s; funnel "
              f"{took:.2f} s, again {again:.2f} s, {len(ran)} statements")
        print("  " + ", ".join(f"{s.name} {s.count:,}" for s in funnel.steps)
              + f"; link expired {funnel.link_expired:,}")
        for plan in plans(engine, ran):
            print("  plan: " + " | ".join(line.strip() for line in plan[:8]))
            for line in seq_scans(plan):
                print(f"  SEQUENTIAL READ: {line}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"),
                        default="both")
    args = parser.parse_args(argv)
    for backend in ("postgresql", "sqlite") if args.backend == "both" else (args.backend,):
        run(backend, args.members)


if __name__ == "__main__":
    main()
