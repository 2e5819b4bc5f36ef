"""``cegema-onboarding migrate``: the schema brought up to date as a deployment step."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest

from cegema_onboarding import cli
from cegema_onboarding.cli.migrate import run_migrate_command

from ..pg import sql_adapter

sql = sql_adapter()


def _migrate(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.migrate.add_subcommand(sub)
    args = parser.parse_args(["migrate", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run_migrate_command(args, env=env or {}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_migrate_creates_the_schema_then_finds_it_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    code, out, err = _migrate("--database", url)
    assert (code, err) == (0, "")
    head = _head()
    assert out == f"migrated from revision none (empty database) to {head}\n"
    engine = sql.create_engine_from_url(url)
    try:
        assert sql.current_revision(engine) == head
    finally:
        engine.dispose()
    # The database URL from the environment, as a deployment script sets it.
    code, out, _ = _migrate(env={"CEGEMA_DATABASE_URL": url})
    assert (code, out) == (0, f"the schema is current (revision {head})\n")


def test_migrate_applies_the_newer_migrations_to_an_older_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'older.db'}"
    engine = sql.create_engine_from_url(url)
    try:
        sql.upgrade(engine, "0002")
        code, out, _ = _migrate("--database", url)
        assert code == 0
        assert out == f"migrated from revision 0002 to {_head()}\n"
        assert sql.current_revision(engine) == _head()
    finally:
        engine.dispose()


def test_migrate_without_a_database_says_how_to_give_one() -> None:
    code, out, err = _migrate()
    assert (code, out) == (2, "")
    assert "--database" in err
    assert "CEGEMA_DATABASE_URL" in err


def test_migrate_is_listed_in_the_command_line() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "migrate" in out.getvalue()


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(sql.alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrate_names_a_database_it_cannot_reach(tmp_path: Path) -> None:
    # A SQLite path in a folder that does not exist: the database cannot be opened.
    code, out, err = _migrate("--database", f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    assert (code, out) == (2, "")
    # StorageUnreachable, naming what to check (before: the driver's first line only).
    assert err.startswith("cegema-onboarding migrate: cannot open the SQLite database ")
    assert "folder exists" in err
    assert "[SQL" not in err
