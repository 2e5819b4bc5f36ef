"""The storage contract on every adapter: memory, SQLite and a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cegema_onboarding.adapters.memory import MemoryStorage
from cegema_onboarding.model import Stage
from cegema_onboarding.ports import Changes, OutboxStatus
from cegema_onboarding.testing import StorageContract
from cegema_onboarding.testing.records import T0, account, insert, message, record

from ..pg import sql_adapter

sql = sql_adapter()


class TestMemoryStorage(StorageContract):
    """The reference adapter."""

    # The package's own adapters offer every optional port (retention, stats).
    require_optional_ports = True


    @pytest.fixture
    def storage(self) -> MemoryStorage:
        return MemoryStorage()


class TestSqliteStorage(StorageContract):
    """SqlStorage on a SQLite file."""

    # The package's own adapters offer every optional port (retention, stats).
    require_optional_ports = True


    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[object]:
        engine = sql.sqlite_engine(tmp_path / "onboarding.db")
        sql.create_schema(engine)
        yield sql.SqlStorage(engine)
        engine.dispose()


@pytest.mark.postgres
class TestPostgresStorage(StorageContract):
    """SqlStorage on PostgreSQL."""

    # The package's own adapters offer every optional port (retention, stats).
    require_optional_ports = True


    @pytest.fixture
    def storage(self, pg_url: str) -> Iterator[object]:
        engine = sql.postgres_engine(pg_url)
        sql.create_schema(engine)
        yield sql.SqlStorage(engine)
        engine.dispose()


# ---------------------------------------------------------------------- SQL specifics


def _schema_diff(engine: object) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cegema_onboarding.adapters.sql.schema import VERSION_TABLE

    with engine.connect() as conn:  # type: ignore[attr-defined]
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        return list(compare_metadata(context, sql.metadata))


def _reflect(engine: object) -> dict[str, object]:
    """Every table's columns (name, type, nullability), indexes and unique constraints."""
    import sqlalchemy as sa

    inspector = sa.inspect(engine)
    found: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        found[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            inspector.get_pk_constraint(table)["constrained_columns"],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                   for i in inspector.get_indexes(table)),
            sorted((u["name"], tuple(u["column_names"]))
                   for u in inspector.get_unique_constraints(table)),
        )
    return found


def _head_revision(engine: object) -> list[str]:
    import sqlalchemy as sa

    from cegema_onboarding.adapters.sql.schema import VERSION_TABLE

    with engine.connect() as conn:  # type: ignore[attr-defined]
        return list(conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def _check_migration_matches_create_schema(created: object, migrated: object) -> None:
    sql.create_schema(created)
    sql.upgrade(migrated)
    assert _schema_diff(created) == []
    assert _schema_diff(migrated) == []
    reflected = _reflect(migrated)
    assert reflected == _reflect(created)
    assert {"cegema_accounts", "cegema_throttles", "cegema_outbox", "cegema_audit"} <= set(
        reflected)
    assert _head_revision(created) == _head_revision(migrated) == [_script_head()]
    # Upgrading a database that create_schema stamped does nothing and breaks nothing.
    sql.upgrade(created)
    assert _reflect(created) == reflected


def test_sqlite_migration_creates_the_same_schema(tmp_path: Path) -> None:
    created = sql.sqlite_engine(tmp_path / "created.db")
    migrated = sql.sqlite_engine(tmp_path / "migrated.db")
    try:
        _check_migration_matches_create_schema(created, migrated)
    finally:
        created.dispose()
        migrated.dispose()


@pytest.mark.postgres
def test_postgres_migration_creates_the_same_schema(pg_url: str) -> None:
    import sqlalchemy as sa

    # Two schemas of one database: the second is reached through its own search_path.
    base = sql.postgres_engine(pg_url)
    with base.begin() as conn:
        conn.exec_driver_sql('CREATE SCHEMA "migrated_here"')
    migrated_url = sa.make_url(pg_url).update_query_dict(
        {"options": "-csearch_path=migrated_here"})
    migrated = sql.postgres_engine(migrated_url)
    try:
        _check_migration_matches_create_schema(base, migrated)
    finally:
        migrated.dispose()
        base.dispose()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = sql.sqlite_engine(tmp_path / "settings.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # The transaction really is open and holds the write lock (BEGIN IMMEDIATE):
        # a second writer gives up after its own short timeout.
        import sqlite3

        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            other = sqlite3.connect(tmp_path / "settings.db", timeout=0.05,
                                    isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
    finally:
        engine.dispose()


@pytest.mark.parametrize("path", ["", ":memory:", "file::memory:?cache=shared"])
def test_sqlite_engine_needs_a_file(path: str) -> None:
    from cegema_onboarding.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        sql.sqlite_engine(path)


def test_create_engine_from_url(tmp_path: Path) -> None:
    from cegema_onboarding.errors import ConfigurationError

    engine = sql.create_engine_from_url(f"sqlite:///{tmp_path / 'url.db'}")
    try:
        assert engine.dialect.name == "sqlite"
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
    pg = sql.create_engine_from_url("postgresql://u@127.0.0.1:1/db")
    assert pg.dialect.name == "postgresql" and pg.dialect.driver == "psycopg"
    assert pg.hide_parameters
    pg.dispose()
    with pytest.raises(ConfigurationError):
        sql.create_engine_from_url("mysql://u@127.0.0.1/db")
    with pytest.raises(ConfigurationError):
        sql.create_engine_from_url("postgresql+asyncpg://u@127.0.0.1/db")


def test_storage_errors_do_not_quote_the_rows(tmp_path: Path) -> None:
    from cegema_onboarding.errors import StorageError

    engine = sql.sqlite_engine(tmp_path / "no-schema.db")
    try:
        storage = sql.SqlStorage(engine)
        secret_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2VjcmV0$aGFzaA"
        with pytest.raises(StorageError) as caught:
            storage.commit(Changes(accounts=((account(1, password_hash=secret_hash), None),)))
        assert "argon2" not in str(caught.value)
        assert "argon2" not in str(caught.value.__cause__)
    finally:
        engine.dispose()


_INDEXED_QUERIES = {
    "get": lambda s: s.get("acc-0001"),
    "member number": lambda s: s.find_by_member_number("100000001"),
    "email": lambda s: s.find_by_email("a@example.org"),
    "stage": lambda s: s.list_by_stage(Stage.AWAITING_ACTIVATION),
    "throttle": lambda s: s.get_throttle("login:100000001"),
    "due": lambda s: s.claim_due(T0),
    "claim": lambda s: s.claim("<m@x>", T0),
    "message": lambda s: s.get_message("<m@x>"),
    "messages by status": lambda s: s.list_messages(OutboxStatus.PARKED),
    "audit by account": lambda s: s.audit_records(account_id="acc-0001"),
}


@pytest.mark.parametrize("name", sorted(_INDEXED_QUERIES))
def test_sqlite_lookups_use_indexes(tmp_path: Path, name: str) -> None:
    import sqlite3

    import sqlalchemy as sa

    engine = sql.sqlite_engine(tmp_path / "plans.db")
    sql.create_schema(engine)
    storage = sql.SqlStorage(engine)
    statements: list[str] = []

    def trace(statement: str) -> None:
        # Both paths: SQLAlchemy's statements and those SqlStorage sends to the driver.
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            statements.append(statement)

    def checkout(dbapi_connection: sqlite3.Connection, record: object, proxy: object) -> None:
        dbapi_connection.set_trace_callback(trace)

    engine.dispose()
    sa.event.listen(engine, "checkout", checkout)
    try:
        _INDEXED_QUERIES[name](storage)
    finally:
        sa.event.remove(engine, "checkout", checkout)
        engine.dispose()
    assert statements, "no query was run"
    plans = []
    with sqlite3.connect(tmp_path / "plans.db") as other:
        for statement in statements:
            rows = other.execute("EXPLAIN QUERY PLAN " + statement).fetchall()
            plans.append(" | ".join(str(r[-1]) for r in rows))
    for plan in plans:
        # A full scan reads "SCAN cegema_x" without "USING ... INDEX".
        for step in plan.split(" | "):
            assert not (step.startswith("SCAN") and "INDEX" not in step), plan


def test_alembic_config_with_a_url_migrates_on_its_own(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic import command

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    command.upgrade(sql.alembic_config(url=url), "head")
    engine = sql.create_engine_from_url(url)
    try:
        assert _head_revision(engine) == [_script_head()]
        assert "cegema_accounts" in sa.inspect(engine).get_table_names()
        storage = sql.SqlStorage(engine)
        insert_one = Changes(accounts=((account(1), None),))
        storage.commit(insert_one)
        assert storage.get("acc-0001") is not None
        command.downgrade(sql.alembic_config(url=url), "base")
        assert "cegema_accounts" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _script_head() -> str:
    """The newest migration shipped with the package, read from Alembic's scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(sql.alembic_config()).get_current_head()
    assert head is not None
    return head


def test_sqlite_flushes_every_commit_unless_told_otherwise(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from cegema_onboarding.errors import ConfigurationError

    levels = {}
    for name, kwargs in (("default", {}), ("normal", {"synchronous": "NORMAL"})):
        engine = sql.sqlite_engine(tmp_path / f"{name}.db", **kwargs)
        with engine.connect() as conn:
            levels[name] = conn.execute(sa.text("PRAGMA synchronous")).scalar_one()
        engine.dispose()
    # SQLite reports FULL as 2 and NORMAL as 1.
    assert levels == {"default": 2, "normal": 1}
    with pytest.raises(ConfigurationError):
        sql.sqlite_engine(tmp_path / "off.db", synchronous="OFF")


def _traced_sqlite(tmp_path: Path, **kwargs: object) -> tuple[object, object, list[str]]:
    """SqlStorage on a fresh SQLite file, with every statement its connections run."""
    import sqlite3

    import sqlalchemy as sa

    engine = sql.sqlite_engine(tmp_path / "trace.db", **kwargs)
    sql.create_schema(engine)
    engine.dispose()
    seen: list[str] = []

    def checkout(dbapi_connection: sqlite3.Connection, record: object, proxy: object) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    sa.event.listen(engine, "checkout", checkout)
    return engine, sql.SqlStorage(engine), seen


def _level(engine: object) -> int:
    raw = engine.raw_connection()  # type: ignore[attr-defined]
    try:
        return int(raw.driver_connection.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        raw.close()


def test_sqlite_commit_flushes_unless_the_write_is_not_durable(tmp_path: Path) -> None:
    from cegema_onboarding.model import Throttle

    engine, storage, seen = _traced_sqlite(tmp_path)
    try:
        storage.commit(Changes(accounts=((account(1), None),)))  # type: ignore[attr-defined]
        assert not any("synchronous" in s for s in seen)
        seen.clear()
        relaxed = Changes(throttles=((Throttle(key="k", failures=1, last_failure_at=T0), 0),),
                          durable=False)
        storage.commit(relaxed)  # type: ignore[attr-defined]
        # Relaxed around the transaction only (SQLite refuses it inside one), then restored.
        begin = seen.index("BEGIN IMMEDIATE")
        assert seen[:begin][-1] == "PRAGMA synchronous=NORMAL"
        assert seen[-1] == "PRAGMA synchronous=2"
        assert _level(engine) == 2
        assert storage.get_throttle("k").failures == 1  # type: ignore[attr-defined]
        # The outbox's delivery marks are not flushed on their own either.
        seen.clear()
        storage.commit(Changes(outbox=(message(1),)))  # type: ignore[attr-defined]
        storage.mark_sent(message(1).message_id, T0)  # type: ignore[attr-defined]
        assert "PRAGMA synchronous=NORMAL" in seen and _level(engine) == 2
    finally:
        engine.dispose()


def test_sqlite_not_durable_on_a_normal_engine_changes_nothing(tmp_path: Path) -> None:
    from cegema_onboarding.model import Throttle

    engine, storage, seen = _traced_sqlite(tmp_path, synchronous="NORMAL")
    try:
        storage.commit(Changes(  # type: ignore[attr-defined]
            throttles=((Throttle(key="k", failures=1, last_failure_at=T0), 0),),
            durable=False))
        assert not any("synchronous=" in s for s in seen), seen
        assert _level(engine) == 1
    finally:
        engine.dispose()


def test_sqlite_a_failed_relaxed_commit_restores_the_flush(tmp_path: Path) -> None:
    from cegema_onboarding.errors import ConcurrentUpdate
    from cegema_onboarding.model import Throttle

    engine, storage, _ = _traced_sqlite(tmp_path)
    try:
        stale = Changes(throttles=((Throttle(key="k", failures=1), 3),), durable=False)
        with pytest.raises(ConcurrentUpdate):
            storage.commit(stale)  # type: ignore[attr-defined]
        assert _level(engine) == 2
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_not_durable_commits_skip_the_wal_flush_wait(pg_url: str) -> None:
    import sqlalchemy as sa

    from cegema_onboarding.model import Throttle

    # The test server runs with synchronous_commit=off; these sessions start "on".
    engine = sql.postgres_engine(pg_url,
                                 connect_args={"options": "-c synchronous_commit=on"})
    sql.create_schema(engine)
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: seen.append(statement))
    try:
        storage = sql.SqlStorage(engine)
        storage.commit(Changes(accounts=((account(1), None),)))
        assert not any("synchronous_commit" in s for s in seen)
        storage.commit(Changes(
            throttles=((Throttle(key="k", failures=1, last_failure_at=T0), 0),),
            durable=False))
        assert any("SET LOCAL synchronous_commit TO OFF" in s for s in seen)
        assert storage.get_throttle("k").failures == 1
        with engine.connect() as conn:
            # LOCAL: the setting ended with its transaction.
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    finally:
        engine.dispose()


def _held(storage: object) -> object:
    """The sqlite3 connection this thread keeps for SqlStorage (None before first use)."""
    kept = getattr(storage._db._local, "kept", None)  # type: ignore[attr-defined]
    return None if kept is None else kept.connection.connection.dbapi_connection


def test_sqlite_keeps_one_connection_per_thread_and_dispose_retires_it(
        tmp_path: Path) -> None:
    import sqlite3
    import threading

    engine = sql.sqlite_engine(tmp_path / "threads.db")
    sql.create_schema(engine)
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    mine = _held(storage)
    assert isinstance(mine, sqlite3.Connection)
    assert storage.get("acc-0001") is not None and _held(storage) is mine
    seen: list[object] = []

    def other() -> None:
        storage.commit(Changes(audit=(record(1),)))
        seen.append(_held(storage))

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen and seen[0] is not mine and isinstance(seen[0], sqlite3.Connection)
    # dispose() closes this thread's connection at once; the next call opens another.
    engine.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        mine.execute("SELECT 1")  # type: ignore[attr-defined]
    assert storage.get("acc-0001") is not None
    assert _held(storage) is not mine
    engine.dispose()


def test_sqlite_a_closed_connection_is_replaced_after_one_error(tmp_path: Path) -> None:
    from cegema_onboarding.errors import StorageError

    engine = sql.sqlite_engine(tmp_path / "closed.db")
    sql.create_schema(engine)
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    _held(storage).close()  # type: ignore[attr-defined]
    with pytest.raises(StorageError):
        storage.get("acc-0001")
    assert storage.get("acc-0001") is not None
    engine.dispose()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_sqlite_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    import multiprocessing

    engine = sql.sqlite_engine(tmp_path / "fork.db")
    sql.create_schema(engine)
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    parent = _held(storage)
    before = len(list(storage.audit_records()))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()

    def child() -> None:
        found = storage.get("acc-0001")
        storage.commit(Changes(audit=(record(2),)))
        queue.put((found is not None, _held(storage) is not parent))

    process = context.Process(target=child)
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert queue.get(timeout=5) == (True, True)
    # The parent's connection was left alone by the child and still works.
    assert _held(storage) is parent and storage.get("acc-0001") is not None
    assert len(list(storage.audit_records())) == before + 1  # the child's write
    engine.dispose()
