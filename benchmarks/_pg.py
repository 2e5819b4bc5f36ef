"""A throw-away PostgreSQL server: ``initdb`` and ``pg_ctl`` in a temporary directory.

One implementation for everything in the repository that needs a server of its own: the
tests (``tests/pg.py`` wraps it in pytest fixtures), the benchmarks (``benchmarks.scale``,
``benchmarks.funnel``, ``benchmarks.load``...) and ``make serve``. It lives here, beside
the benchmarks, rather than in the tests, so that no benchmark or script imports the test
suite; and not in the installed package, because it is tooling of this repository (it runs
``runuser`` as root, turns durability off, needs the server binaries installed), not an
API a host should build on: a host's own tests have their own PostgreSQL.

    server = ThrowAwayServer()
    server.start()          # on 127.0.0.1, a free port, fsync off
    ... server.url ...      # postgresql+psycopg://test@127.0.0.1:PORT/postgres
    server.stop()
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["URL_VARIABLE", "PostgresUnavailable", "ThrowAwayServer", "find_bin", "server_url"]

#: A server of one's own to use instead: ``postgresql+psycopg://user@host:port/db``.
URL_VARIABLE = "CEGEMA_TEST_POSTGRES_URL"


class PostgresUnavailable(Exception):
    """The throw-away server could not be started."""


class ThrowAwayServer:
    """One ``initdb`` cluster in a temporary directory, run by ``pg_ctl``."""

    def __init__(self) -> None:
        self._bin = find_bin()
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


def find_bin() -> Path:
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


@contextlib.contextmanager
def server_url() -> Iterator[str]:
    """The URL of ``CEGEMA_TEST_POSTGRES_URL``'s server, else of a throw-away one started
    here and stopped at the end."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        yield configured
        return
    server = ThrowAwayServer()
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
