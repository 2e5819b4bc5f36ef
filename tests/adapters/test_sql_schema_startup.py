"""Schema creation and migrations when several processes start at once on one database.

The Flask quick start creates the schema at start-up; under ``gunicorn -w 2`` both workers
did so on an empty database, one failed with an IntegrityError and the server exited in 3
starts of 8. Every racer must now succeed and leave the schema exactly as one run would.
"""

from __future__ import annotations

import multiprocessing
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest

from ..pg import sql_adapter

sql = sql_adapter()

RACERS = 6
ROUNDS = 3


def _engine(url: str, plain: bool) -> Any:
    import sqlalchemy as sa

    # "plain": a host's own engine, without what sqlite_engine sets up.
    return sa.create_engine(url) if plain else sql.create_engine_from_url(url)


def _race_one(url: str, action: str, start: Any, errors: Any) -> None:
    """One starting process: its own engine, then create_schema or upgrade with the others."""
    kind, _, engine_kind = action.partition("/")
    engine = _engine(url, engine_kind == "plain")
    try:
        start.wait()
        if kind == "create":
            sql.create_schema(engine)
        else:
            sql.upgrade(engine)
    except Exception:
        errors.put(traceback.format_exc(limit=3))
        raise
    finally:
        engine.dispose()


def _race(url: str, actions: list[str]) -> list[str]:
    """Run every action in its own process at the same moment; the errors they raised."""
    # fork when there is one: the racers start in milliseconds rather than seconds, and
    # so really start together.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    start, errors = context.Event(), context.Queue()
    racers = [context.Process(target=_race_one, args=(url, action, start, errors))
              for action in actions]
    for racer in racers:
        racer.start()
    start.set()
    for racer in racers:
        racer.join(timeout=120)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found or [r.exitcode for r in racers] == [0] * len(racers)
    return found


def _shape(url: str) -> tuple[dict[str, object], list[str]]:
    """Every table's columns, keys and indexes, and the stamped revisions."""
    import sqlalchemy as sa

    from cegema_onboarding.adapters.sql.schema import VERSION_TABLE

    engine = sql.create_engine_from_url(url)
    try:
        inspector = sa.inspect(engine)
        tables: dict[str, object] = {}
        for table in sorted(inspector.get_table_names()):
            tables[table] = (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                inspector.get_pk_constraint(table)["constrained_columns"],
                sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                       for i in inspector.get_indexes(table)),
                sorted((u["name"], tuple(u["column_names"]))
                       for u in inspector.get_unique_constraints(table)),
            )
        with engine.connect() as conn:
            revisions = list(conn.execute(
                sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
        return tables, revisions
    finally:
        engine.dispose()


def _reference(url: str) -> tuple[dict[str, object], list[str]]:
    engine = sql.create_engine_from_url(url)
    try:
        sql.upgrade(engine)
    finally:
        engine.dispose()
    return _shape(url)


# ---------------------------------------------------------------------- SQLite


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.mark.parametrize("actions", [
    ["upgrade"] * RACERS, ["create"] * RACERS, ["create", "upgrade"] * (RACERS // 2),
    ["upgrade/plain"] * RACERS, ["create/plain", "upgrade/plain"] * (RACERS // 2)],
    ids=["upgrade", "create_schema", "mixed", "upgrade-plain-engine", "mixed-plain-engine"])
def test_sqlite_processes_racing_on_one_empty_file_all_succeed(
        tmp_path: Path, actions: list[str]) -> None:
    expected = _reference(_sqlite_url(tmp_path / "reference.db"))
    for round_ in range(ROUNDS):
        url = _sqlite_url(tmp_path / f"race-{round_}.db")
        assert _race(url, actions) == []
        assert _shape(url) == expected


# ---------------------------------------------------------------------- PostgreSQL


def _fresh_schema(pg_url: str) -> str:
    """A URL on one more empty schema of the test's database."""
    import sqlalchemy as sa

    name = f"race_{uuid.uuid4().hex[:10]}"
    engine = sql.postgres_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    finally:
        engine.dispose()
    url = sa.make_url(pg_url).update_query_dict({"options": f"-csearch_path={name}"})
    return url.render_as_string(hide_password=False)


@pytest.mark.postgres
@pytest.mark.parametrize("actions", [["upgrade"] * RACERS, ["create"] * RACERS,
                                     ["create", "upgrade"] * (RACERS // 2)],
                         ids=["upgrade", "create_schema", "mixed"])
def test_postgres_processes_racing_on_one_empty_database_all_succeed(
        pg_url: str, actions: list[str]) -> None:
    expected = _reference(pg_url)
    for _ in range(ROUNDS):
        url = _fresh_schema(pg_url)
        assert _race(url, actions) == []
        assert _shape(url) == expected


# ---------------------------------------------------------------------- an older database


def _create_schema_after_an_older_version(url: str) -> None:
    older = "0002"
    engine = sql.create_engine_from_url(url)
    try:
        sql.upgrade(engine, older)
        # What a start-up create_schema does once the library is upgraded: it must apply
        # the newer migrations, not create the missing tables and stamp the newest version.
        sql.create_schema(engine)
    finally:
        engine.dispose()


def test_create_schema_on_a_database_of_an_older_version_migrates_it(tmp_path: Path) -> None:
    expected = _reference(_sqlite_url(tmp_path / "reference.db"))
    url = _sqlite_url(tmp_path / "older.db")
    _create_schema_after_an_older_version(url)
    assert _shape(url) == expected


@pytest.mark.postgres
def test_create_schema_on_a_postgres_database_of_an_older_version_migrates_it(
        pg_url: str) -> None:
    expected = _reference(pg_url)
    url = _fresh_schema(pg_url)
    _create_schema_after_an_older_version(url)
    assert _shape(url) == expected


@pytest.mark.parametrize("action", ["create_schema", "upgrade"])
def test_a_schema_change_on_a_missing_folder_is_storage_unreachable(tmp_path: Path,
                                                                    action: str) -> None:
    # storage.md's promise for "a SQLite file whose folder is missing": the storage's error,
    # saying what to check, not SQLAlchemy's OperationalError (create_schema and upgrade
    # opened their connection outside the translation every other path has).
    from cegema_onboarding.errors import StorageUnreachable

    engine = sql.sqlite_engine(tmp_path / "missing" / "portal.sqlite3")
    try:
        with pytest.raises(StorageUnreachable, match="folder exists"):
            getattr(sql, action)(engine)
    finally:
        engine.dispose()
    assert not (tmp_path / "missing").exists()
