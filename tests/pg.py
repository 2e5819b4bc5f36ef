"""A real PostgreSQL server for the tests, started lazily and thrown away at the end.

Set ``CEGEMA_TEST_POSTGRES_URL`` (``postgresql+psycopg://user@host:port/db``) to use a
server of your own; otherwise the first test that needs PostgreSQL starts one with
``initdb`` and ``pg_ctl`` in a temporary directory, on 127.0.0.1 and a free port. Each test
gets its own empty schema (dropped afterwards), so nothing outside it is touched.

When PostgreSQL cannot be started the tests are skipped, except under ``CI``, where they
fail: no PostgreSQL test may be silently skipped there. The server itself is
``benchmarks/_pg.py``'s, shared with the benchmarks and ``make serve``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import signal
import subprocess
import threading
import types
import uuid
from collections.abc import Iterator

import pytest
from benchmarks._pg import URL_VARIABLE, PostgresUnavailable, ThrowAwayServer, find_bin

__all__ = ["URL_VARIABLE", "PostgresUnavailable", "ThrowAwayServer", "find_bin",
           "fresh_schema", "pg_module_url", "pg_server_url", "pg_url", "sql_adapter"]


def _stop_on_sigterm() -> None:
    # A run killed by `timeout` gets SIGTERM, which skips atexit and fixture teardown and
    # would leave the server running; turn it into an interrupt that pytest unwinds.
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, interrupt)


def sql_adapter() -> types.ModuleType:
    """The SQL adapter package; skips without the ``sql`` extra, except under CI."""
    if os.environ.get("CI"):
        return importlib.import_module("cegema_onboarding.adapters.sql")
    return pytest.importorskip("cegema_onboarding.adapters.sql")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI and could not be started: {reason}",
                    pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The base URL of a PostgreSQL server: the configured one or a throw-away one."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        yield configured
        return
    try:
        server = ThrowAwayServer()
    except (PostgresUnavailable, OSError) as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable always raises
    atexit.register(server.stop)
    _stop_on_sigterm()
    try:
        server.start()
    except (PostgresUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        server.stop()
        _unavailable(str(exc))
    yield server.url
    server.stop()


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh, empty schema, dropped at the end."""
    sql = sql_adapter()
    schema = f"cegema_test_{uuid.uuid4().hex[:12]}"
    admin = sql.postgres_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh, empty schema of their own."""
    with fresh_schema(pg_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def pg_module_url(pg_server_url: str) -> Iterator[str]:
    """Like ``pg_url``, one schema for a whole test module (servers started once)."""
    with fresh_schema(pg_server_url) as url:
        yield url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI, a skipped PostgreSQL test is a failed one."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (report.skipped and os.environ.get("CI") and item.get_closest_marker("postgres")
            and not hasattr(report, "wasxfail")):
        report.outcome = "failed"
        report.longrepr = f"PostgreSQL test skipped in CI: {report.longrepr}"
