"""A database not reachable, not migrated or of an older revision: each its own typed error.

Before, all three were the same opaque ``StorageError: database read failed``. Now
``SqlStorage.check()`` finds them at start-up, and the first use names them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cegema_onboarding.bootstrap import storage_from_url
from cegema_onboarding.errors import (
    ConfigurationError,
    SchemaMissing,
    SchemaOutdated,
    StorageError,
    StorageUnreachable,
)
from cegema_onboarding.testing.records import T0, account, insert

from ..pg import sql_adapter

sql = sql_adapter()
MINUTE = timedelta(minutes=1)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Any]:
    engine = sql.sqlite_engine(tmp_path / "onboarding.db")
    yield engine
    engine.dispose()


def test_a_current_database_passes_the_check(sqlite: Any) -> None:
    sql.create_schema(sqlite)
    storage = sql.SqlStorage(sqlite)
    assert storage.check() == sql.current_revision(sqlite)
    insert(storage, account(1))
    assert storage.get("acc-0001") is not None


def test_an_empty_database_is_schema_missing_at_start_and_at_first_use(sqlite: Any) -> None:
    storage = sql.SqlStorage(sqlite)
    with pytest.raises(SchemaMissing, match="none of the library's tables") as caught:
        storage.check()
    assert "cegema-onboarding migrate" in caught.value.fix
    with pytest.raises(SchemaMissing, match="lacks the table cegema_accounts") as used:
        storage.get("acc-0001")
    assert "cegema-onboarding migrate" in str(used.value)
    with pytest.raises(SchemaMissing):
        insert(storage, account(1))
    with pytest.raises(SchemaMissing, match="cegema_rate_limits"):
        sql.SqlRateLimiter(sqlite).hit("k", 3, MINUTE, T0)


def test_an_older_revision_is_schema_outdated(sqlite: Any) -> None:
    sql.upgrade(sqlite, "0002")
    storage = sql.SqlStorage(sqlite)
    with pytest.raises(SchemaOutdated) as caught:
        storage.check()
    assert caught.value.revision == "0002"
    from cegema_onboarding.adapters.sql.diagnose import head_revision

    assert caught.value.expected == head_revision() != "0002"
    assert "revision 0002" in str(caught.value) and "migrate" in str(caught.value)
    # At first use: a column of the newer revision is missing.
    with pytest.raises(SchemaOutdated, match="older revision"):
        storage.get_throttle("login:100000001")
    sql.upgrade(sqlite)
    assert storage.check() == caught.value.expected


def test_tables_without_the_migrations_stamp_are_outdated(sqlite: Any) -> None:
    sql.metadata.create_all(sqlite)
    with pytest.raises(SchemaOutdated, match="revision none"):
        sql.SqlStorage(sqlite).check()


def test_a_dropped_table_is_named(sqlite: Any) -> None:
    sql.create_schema(sqlite)
    with sqlite.begin() as conn:
        conn.execute(sa.text("DROP TABLE cegema_rate_limits"))
    with pytest.raises(SchemaMissing, match="cegema_rate_limits"):
        sql.SqlStorage(sqlite).check()


def test_a_sqlite_file_that_cannot_be_opened_is_unreachable(tmp_path: Path) -> None:
    engine = sql.sqlite_engine(tmp_path / "no-such-folder" / "x.db")
    try:
        storage = sql.SqlStorage(engine)
        with pytest.raises(StorageUnreachable, match="folder exists"):
            storage.check()
        with pytest.raises(StorageUnreachable):
            storage.get("acc-0001")
    finally:
        engine.dispose()


def test_the_three_are_distinct_storage_errors_that_survive_pickling() -> None:
    import pickle

    kinds = (StorageUnreachable, SchemaMissing, SchemaOutdated)
    assert all(issubclass(k, StorageError) for k in kinds)
    assert not any(issubclass(a, b) for a in kinds for b in kinds if a is not b)
    error = SchemaOutdated("at revision 0002", fix="migrate", revision="0002",
                           expected="0003")
    # A worker process hands its errors back pickled: the context comes along.
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is SchemaOutdated and str(copy) == str(error) == "at revision 0002: migrate"
    assert (copy.fix, copy.revision, copy.expected) == ("migrate", "0002", "0003")


def test_storage_from_url_checks_at_start_up_unless_it_creates_the_schema(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'start.db'}"
    with pytest.raises(SchemaMissing):
        storage_from_url(url)
    storage_from_url(url, check=False)  # what `migrate` does: nothing reached yet
    storage = storage_from_url(url, create_schema=True)
    assert storage_from_url(url).get("acc-0001") is None
    storage.engine.dispose()  # type: ignore[attr-defined]


def test_the_outbox_command_names_the_fix_for_an_unmigrated_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cegema_onboarding.cli import main

    code = main(["outbox", "--database", f"sqlite:///{tmp_path / 'new.db'}", "list"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cegema-onboarding migrate" in err and "Traceback" not in err


@pytest.mark.parametrize("url", ["postgres://portal:hunter2@db.example/portal",
                                 "postgres+psycopg://portal:hunter2@db.example/portal",
                                 "POSTGRES://portal:hunter2@db.example/portal"])
def test_heroku_style_urls_get_the_scheme_to_write(url: str) -> None:
    for build in (sql.create_engine_from_url, sql.postgres_engine):
        with pytest.raises(ConfigurationError, match=r"postgresql\+psycopg://") as caught:
            build(url)
        assert caught.value.setting == "database URL"
        assert "hunter2" not in str(caught.value)


# ---------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_a_postgres_server_that_does_not_answer_is_unreachable() -> None:
    # Port 1 on this machine: nothing listens there.
    engine = sql.postgres_engine("postgresql+psycopg://portal:hunter2@127.0.0.1:1/portal",
                                 connect_args={"connect_timeout": 5})
    try:
        storage = sql.SqlStorage(engine)
        with pytest.raises(StorageUnreachable, match="PostgreSQL server") as caught:
            storage.check()
        assert "host, port, user, password" in caught.value.fix
        assert "hunter2" not in str(caught.value) and "127.0.0.1" not in str(caught.value)
        with pytest.raises(StorageUnreachable):
            storage.get("acc-0001")
        with pytest.raises(StorageUnreachable):
            sql.SqlRateLimiter(engine).hit("k", 3, MINUTE, T0)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_database_that_does_not_exist_is_unreachable(pg_server_url: str) -> None:
    url = sa.make_url(pg_server_url).set(database="no_such_database")
    engine = sql.postgres_engine(url)
    try:
        with pytest.raises(StorageUnreachable, match="PostgreSQL server"):
            sql.SqlStorage(engine).check()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_missing_and_outdated_schemas(pg_url: str) -> None:
    engine = sql.postgres_engine(pg_url)
    try:
        storage = sql.SqlStorage(engine)
        with pytest.raises(SchemaMissing):
            storage.check()
        with pytest.raises(SchemaMissing, match="cegema_accounts"):
            storage.get("acc-0001")
        sql.upgrade(engine, "0002")
        with pytest.raises(SchemaOutdated) as caught:
            storage.check()
        assert caught.value.revision == "0002"
        with pytest.raises(SchemaOutdated):
            storage.get_throttle("login:100000001")
        sql.upgrade(engine)
        storage.check()
    finally:
        engine.dispose()

