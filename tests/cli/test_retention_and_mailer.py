"""Retention (``purge``, the relay's housekeeping) and the relay with a host's own mailer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.adapters.sql import SqlRateLimiter, SqlStorage, create_schema, sqlite_engine
from cegema_onboarding.cli import main
from cegema_onboarding.ports import AuditRecord, Changes
from cegema_onboarding.service import OnboardingService

from ..conftest import SECRET, make_settings
from ..service.test_outbox_relay import queue_validation_mail

#: What the host's factory below made, for the test to read.
MADE: list[MemoryMailer] = []


def make_mailer() -> MemoryMailer:
    """A host's mailer factory, as ``--mailer tests.cli.test_retention_and_mailer:make_mailer``
    names it."""
    MADE.append(MemoryMailer())
    return MADE[-1]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine(tmp_path / "portal.db")
    create_schema(engine)
    yield engine
    engine.dispose()


def _audit(engine: Engine, *ages: timedelta) -> None:
    now = datetime.now(UTC)  # the commands purge against the real clock
    SqlStorage(engine).commit(Changes(audit=tuple(
        AuditRecord(at=now - age, action="login", outcome="ok", actor="member")
        for age in ages)))


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_purge_deletes_what_the_retention_no_longer_keeps(
        tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _audit(engine, timedelta(days=400), timedelta(days=40), timedelta(days=1))
    limiter = SqlRateLimiter(engine)
    assert limiter.hit("login:old", 5, timedelta(minutes=5),
                       datetime.now(UTC) - timedelta(days=2))
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    # The defaults: a year of audit, a day of windows.
    assert main(["purge", "--database", url]) == 0
    assert capsys.readouterr().out.strip() == (
        "purged 1 audit row(s), 0 sent message(s), 1 ended rate-limit window(s)")
    assert _count(engine, "cegema_audit") == 2
    # From a configuration file, read as the environment is.
    config = tmp_path / "portal.toml"
    config.write_text(f'CEGEMA_DATABASE_URL = "{url}"\nCEGEMA_AUDIT_RETENTION = "30d"\n')
    assert main(["--config", str(config), "purge", "--batch", "1"]) == 0
    assert "purged 1 audit row(s)" in capsys.readouterr().out
    assert _count(engine, "cegema_audit") == 1
    # 0 keeps for ever; a bad duration is refused, naming the variable.
    monkeypatch.setenv("CEGEMA_AUDIT_RETENTION", "0")
    assert main(["purge", "--database", url]) == 0
    assert _count(engine, "cegema_audit") == 1
    monkeypatch.setenv("CEGEMA_AUDIT_RETENTION", "a while")
    assert main(["purge", "--database", url]) == 2
    assert "CEGEMA_AUDIT_RETENTION must be a duration" in capsys.readouterr().err


def test_the_relay_purges_as_housekeeping_and_sends_with_the_hosts_mailer(
        tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    service = OnboardingService(SqlStorage(engine), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(datetime.now(UTC)), deliver_inline=False)
    queue_validation_mail(service, "100000001")
    _audit(engine, timedelta(days=3))
    before = _count(engine, "cegema_audit")
    monkeypatch.setenv("CEGEMA_SECRET_KEYS", SECRET)
    monkeypatch.setenv("CEGEMA_DATABASE_URL", f"sqlite:///{tmp_path / 'portal.db'}")
    monkeypatch.setenv("CEGEMA_AUDIT_RETENTION", "2d")
    MADE.clear()
    assert main(["relay", "--once", "--mailer",
                 "tests.cli.test_retention_and_mailer:make_mailer"]) == 0
    assert len(MADE) == 1 and len(MADE[0].sent) == 1
    assert "<m100000001@example.com>" in MADE[0].sent[0]["To"]
    assert _count(engine, "cegema_audit") == before - 1
    # --purge-every 0 turns housekeeping off.
    _audit(engine, timedelta(days=3))
    assert main(["relay", "--once", "--purge-every", "0", "--mailer",
                 "tests.cli.test_retention_and_mailer:make_mailer"]) == 0
    assert _count(engine, "cegema_audit") == before


@pytest.mark.parametrize("spec", ["tests.cli.nowhere:make",
                                  "tests.cli.test_retention_and_mailer:MADE",
                                  "tests.cli.test_retention_and_mailer:missing"])
def test_a_bad_mailer_factory_is_refused(spec: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CEGEMA_SECRET_KEYS", SECRET)
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    # A migrated database: only the mailer is wrong.
    assert main(["migrate", "--database", url]) == 0
    capsys.readouterr()
    assert main(["relay", "--once", "--database", url, "--mailer", spec]) == 2
    assert "mailer factory" in capsys.readouterr().err


def test_the_purge_finds_its_rows_through_an_index(engine: Engine) -> None:
    """SQLite's plan of every statement a purge runs: no full scan of a table."""
    statements: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, parameters: object,
                context: object, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        storage = SqlStorage(engine)
        storage.purge_audit(datetime.now(UTC), batch=10)
        storage.purge_sent(datetime.now(UTC), batch=10)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) == 3  # audit, the stand-ins, sent mail
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = [str(row[-1]) for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters)]  # type: ignore[arg-type]
            # SEARCH goes through an index to the rows it needs; SCAN would read them all.
            assert not [step for step in plan if step.startswith("SCAN")], (statement, plan)
            assert any("INDEX ix_cegema" in step for step in plan), (statement, plan)
