"""A real PostgreSQL server for the tests, started lazily and thrown away at the end.

Set ``CEGEMA_TEST_POSTGRES_URL`` (``postgresql+psycopg://user@host:port/db``) to use a
server of your own; otherwise the first test that needs PostgreSQL starts one with
``initdb`` and ``pg_ctl`` in a temporary directory, on 127.0.0.1 and a free port. Each test
gets its own empty schema (dropped afterwards), so nothing outside it is touched.

When PostgreSQL cannot be started the tests are skipped, except under ``CI``, where they
fail: no PostgreSQL test may be silently skipped there.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

URL_VARIABLE = "CEGEMA_TEST_POSTGRES_URL"


class PostgresUnavailable(Exception):
    """The throw-away server could not be started."""


class ThrowAwayServer:
    """One ``initdb`` cluster in a temporary directory, run by ``pg_ctl``."""

    def __init__(self) -> None:
        self._bin = _find_bin()
        self._as_postgres = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="cegema-pg-"))
        self.port = _free_port()
        self._running = False

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database as user ``test``."""
        return f"postgresql+psycopg://test@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._as_postgres:
            # PostgreSQL refuses to run as root.
            command = ["runuser", "-u", "postgres", "--", *command]
        # The command is built from fixed arguments and the binaries found above.
        done = subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                              timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {done.stderr.strip()[-2000:]}")

    def start(self) -> None:
        """initdb, then pg_ctl start, waiting until the server accepts connections."""
        if self._as_postgres:
            shutil.chown(self.dir, user="postgres")
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "test", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        # Durability is pointless for a throw-away server; speed is not.
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300")
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")
        self._running = True

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory; safe to call twice."""
        if self._running:
            self._running = False
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def _find_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    # Debian and Ubuntu keep the server binaries off PATH, one directory per version.
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    if not candidates:
        raise PostgresUnavailable("initdb and pg_ctl are not installed")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
