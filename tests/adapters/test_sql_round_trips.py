"""The statements and pool checkouts of a login POST are pinned (issue 16).

Counted with SQLAlchemy's events on the load run's app (the Flask extension, SqlStorage
and SqlRateLimiter on one engine), through ``benchmarks.sql_counts``. On PostgreSQL every
statement counted is a round trip to the server, BEGIN and COMMIT included, and no
pre-ping hides beside them. A change that adds one fails here: lower the pin when a
change removes one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pg import sql_adapter

sql = sql_adapter()
pytest.importorskip("flask")

from benchmarks.sql_counts import Counts, measure  # noqa: E402

# name of the POST: (statements, checkouts)
PINNED_POSTGRES = {
    # Rate-limit hit, the attempt counter read and reserved (BEGIN with SET LOCAL,
    # UPDATE, COMMIT), the account read, then one transaction: account, counter, audit.
    "first login": Counts(11, 1),
    "login": Counts(10, 1),
}
PINNED_SQLITE = {
    # The storage keeps one connection per thread; the rate limiter checks one out.
    "first login": Counts(11, 1),
    "login": Counts(9, 1),
}


@pytest.mark.postgres
def test_a_login_on_postgres_makes_one_checkout_and_pinned_round_trips(pg_url: str) -> None:
    engine = sql.postgres_engine(pg_url)
    try:
        found = measure(engine)
    finally:
        engine.dispose()
    assert {name: found[name] for name in PINNED_POSTGRES} == PINNED_POSTGRES
    # Every request of the journey: one checkout at most, held for the whole request.
    assert all(counts.checkouts <= 1 for counts in found.values()), found


def test_a_login_on_sqlite_makes_pinned_statements(tmp_path: Path) -> None:
    engine = sql.sqlite_engine(tmp_path / "counts.sqlite3")
    try:
        found = measure(engine)
    finally:
        engine.dispose()
    assert {name: found[name] for name in PINNED_SQLITE} == PINNED_SQLITE


@pytest.mark.postgres
def test_postgres_engines_ping_only_connections_left_idle(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import types

    import sqlalchemy as sa

    from cegema_onboarding.adapters.sql import engine as engine_module

    engine = sql.postgres_engine(pg_url)
    pings: list[object] = []
    original = engine.dialect.do_ping

    def ping(dbapi: object) -> bool:
        pings.append(dbapi)
        return bool(original(dbapi))

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        assert pings == []
        # Later than the idle threshold: the connection waiting in the pool is pinged.
        later = time.monotonic() + engine_module.IDLE_PING_SECONDS + 1
        monkeypatch.setattr(engine_module, "time", types.SimpleNamespace(monotonic=lambda: later))
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert len(pings) == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced_at_checkout(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import types

    import sqlalchemy as sa

    from cegema_onboarding.adapters.sql import engine as engine_module

    engine = sql.postgres_engine(pg_url, pool_size=1)
    admin = sql.postgres_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        sql.create_schema(engine)
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        # The server (or a firewall) ends the pooled connection while it sits idle.
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        later = time.monotonic() + engine_module.IDLE_PING_SECONDS + 1
        monkeypatch.setattr(engine_module, "time", types.SimpleNamespace(monotonic=lambda: later))
        storage = sql.SqlStorage(engine)
        with storage.held():
            # Pinged at checkout, found dead, replaced: the member's request goes through.
            assert storage.get("nobody") is None
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
        admin.dispose()
