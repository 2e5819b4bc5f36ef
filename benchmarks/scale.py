"""Benchmark: login and link redemption at 1,000 members and at 1,000,000, on SQL storage.

Issue 4 asks that the cost of a login (right password) and of a link redemption (issue
a verification link, confirm it) at 1,000,000 members be at most 1.3 times the cost at
1,000, on SQLite and on PostgreSQL: every lookup must be an index search.

For each backend two databases are built: a small one and a big one. Both are filled
quickly with ``SqlStorage.insert_accounts`` in batches; the bulk members are never logged
into, so they share one precomputed initial digest. The measured members are then put in
by the service itself (provision, first login, and for logins the whole journey), and the
two sizes are measured in alternating rounds so that a change in the machine's load hits
both alike. Each figure is the median over many repetitions, with the service's whole
code path (storage, codec, flow, mail rendering into an in-memory mailer).

Argon2id runs with the fast TEST parameters here: this ratio is about storage lookups, and
a 20 ms production hash in each login would only dilute it. The PostgreSQL server is a
throw-away one started like the tests' (``benchmarks/_pg.py``: initdb in a temporary directory,
loopback, fsync off), or the server of ``CEGEMA_TEST_POSTGRES_URL``.

    python -m benchmarks.scale                       # 1,000,000 members, both backends
    python -m benchmarks.scale --members 50000 --backend sqlite    # a quick run

This is not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Engine

if __package__ in (None, ""):
    # Run as a script: make the repository root importable (benchmarks, tests).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.flow_bench import last_text, machine
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.adapters.sql import (
    SqlStorage,
    create_schema,
    postgres_engine,
    sqlite_engine,
)
from cegema_onboarding.adapters.sql.schema import accounts
from cegema_onboarding.config import Settings
from cegema_onboarding.hashing import FAST_TEST_PARAMS, Argon2Params
from cegema_onboarding.model import Session
from cegema_onboarding.provisioning import build_account
from cegema_onboarding.service import Ok, OnboardingService

SMALL = 1_000
TARGET_RATIO = 1.3
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "Le chat de ma voisine 1987"
ANSWER = "Zénobie Quartz"
# Bulk members are numbered from here; the measured ones from PROBE_BASE.
BULK_BASE = 100_000_000
PROBE_BASE = 900_000_000


def make_settings(argon2: Argon2Params = FAST_TEST_PARAMS) -> Settings:
    """Settings with fresh keys and the given Argon2id parameters."""
    return Settings(secret_keys=(secrets.token_urlsafe(48),),
                    pepper_keys=(("b1", secrets.token_urlsafe(48)),),
                    base_url="https://portail.example", argon2=argon2)


def ok(result: object) -> Ok:
    """The result, which must be an Ok."""
    if not isinstance(result, Ok):
        raise RuntimeError(f"the journey was refused: {result!r}")
    return result


def session_of(result: object) -> Session:
    """The session an Ok result opened."""
    session = ok(result).session
    if session is None:
        raise RuntimeError("no session was opened")
    return session


def last_token(mailer: MemoryMailer) -> str:
    """The token of the link in the last mail sent."""
    return last_text(mailer).split("token=", 1)[1].split()[0]


def journey(service: OnboardingService, mailer: MemoryMailer, number: str) -> None:
    """Provision one member and take them to the end of the first connection."""
    member = service.staff.provision(number, "Marie Dupont")
    session = session_of(service.login(number, member.initial_password))
    address = f"m{number}@example.com"
    ok(service.submit_email(session, address, address))
    session = session_of(service.confirm_link(last_token(mailer), session=session))
    session = session_of(service.set_password(session, PASSWORD, PASSWORD))
    question = next(iter(service.settings.questions)).id
    ok(service.set_secret_answer(session, question, ANSWER, ANSWER))


# --------------------------------------------------------------------------- filling


def bulk_fill(storage: SqlStorage, count: int, digest: str, *, batch: int,
              report: Callable[[str], None]) -> float:
    """Insert ``count`` provisioned members in batches; returns the seconds it took."""
    started = time.perf_counter()
    for first in range(0, count, batch):
        accounts = [
            build_account(account_id=f"{i:032x}", member_number=str(BULK_BASE + i),
                          name="Adhérent Test", now=START + timedelta(seconds=i),
                          initial_digest=digest,
                          email=f"adherent{i}@example.com" if i % 3 == 0 else None)
            for i in range(first, min(first + batch, count))]
        skipped = storage.insert_accounts(accounts, ())
        if skipped:
            raise RuntimeError(f"{len(skipped)} members were already there")
        if (first // batch) % 10 == 9:
            report(f"  {first + len(accounts):,} / {count:,} members "
                   f"({time.perf_counter() - started:.0f} s)")
    return time.perf_counter() - started


@attrs.define
class Database:
    """One database of one size, its service, and the members prepared for measuring."""

    label: str
    members: int
    engine: Engine
    service: OnboardingService
    mailer: MemoryMailer
    active: list[str] = attrs.Factory(list)
    fresh: list[Session] = attrs.Factory(list)
    fill_seconds: float = 0.0
    login_s: list[float] = attrs.Factory(list)
    link_s: list[float] = attrs.Factory(list)

    @classmethod
    def build(cls, label: str, members: int, engine: Engine, settings: Settings,
              *, batch: int, report: Callable[[str], None]) -> Database:
        """Create the schema, fill it, and wrap it in a service."""
        create_schema(engine)
        mailer = MemoryMailer()
        service = OnboardingService(SqlStorage(engine), mailer, settings=settings,
                                    clock=ManualClock(START))
        digest = service.env.crypto.pepper.digest("ABCD-EFGH-JKMN")
        storage = service.storage
        assert isinstance(storage, SqlStorage)
        seconds = bulk_fill(storage, members, digest, batch=batch, report=report)
        return cls(label, members, engine, service, mailer, fill_seconds=seconds)

    def prepare(self, logins: int, links: int) -> None:
        """Active members to log in, and logged-in members who have no email yet."""
        for i in range(logins):
            number = str(PROBE_BASE + i)
            journey(self.service, self.mailer, number)
            self.active.append(number)
        for i in range(links):
            number = str(PROBE_BASE + logins + i)
            member = self.service.staff.provision(number, "Jean Martin")
            self.fresh.append(session_of(self.service.login(number, member.initial_password)))

    def time_logins(self, count: int) -> None:
        """Log active members in with the right password, one timing each."""
        for i in range(count):
            number = self.active[i % len(self.active)]
            started = time.perf_counter()
            ok(self.service.login(number, PASSWORD))
            self.login_s.append(time.perf_counter() - started)

    def time_links(self, count: int) -> None:
        """Give members an address, and confirm the link sent to it, one timing each."""
        for _ in range(count):
            session = self.fresh.pop()
            address = f"link-{uuid.uuid4().hex[:12]}@example.com"
            started = time.perf_counter()
            ok(self.service.submit_email(session, address, address))
            ok(self.service.confirm_link(last_token(self.mailer), session=session))
            self.link_s.append(time.perf_counter() - started)


# --------------------------------------------------------------------------- backends


@contextmanager
def sqlite_databases(sizes: Sequence[int], workdir: Path,
                     synchronous: str | None = None) -> Iterator[list[Engine]]:
    """One SQLite file per size."""
    engines = [sqlite_engine(workdir / f"scale-{n}.db") for n in sizes]
    if synchronous is not None:
        # Diagnostic only (the library leaves SQLite's FULL): without a disk flush at
        # every commit, the lookups weigh more in each figure, and so in the ratio.
        def pragma(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

        for engine in engines:
            sa.event.listen(engine, "connect", pragma)
    try:
        yield engines
    finally:
        for engine in engines:
            engine.dispose()


@contextmanager
def postgres_databases(sizes: Sequence[int]) -> Iterator[list[Engine]]:
    """One database per size on a throw-away server (or CEGEMA_TEST_POSTGRES_URL's)."""
    # One throw-away server for the tests, the benchmarks and make serve: benchmarks/_pg.py.
    from benchmarks._pg import URL_VARIABLE, ThrowAwayServer

    server = None
    base_url = os.environ.get(URL_VARIABLE)
    if not base_url:
        server = ThrowAwayServer()
        server.start()
        base_url = server.url
    admin = postgres_engine(base_url, isolation_level="AUTOCOMMIT")
    names = [f"cegema_scale_{n}_{uuid.uuid4().hex[:8]}" for n in sizes]
    engines: list[Engine] = []
    try:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engines = [postgres_engine(admin.url.set(database=name)) for name in names]
        yield engines
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()
        if server is not None:
            server.stop()


def analyze(engine: Engine) -> None:
    """Fresh planner statistics, so that autovacuum does not wake up mid-measurement."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def plans(engine: Engine, number: str) -> list[str]:
    """The query plans of the service's account lookups, for the report."""
    columns = accounts.c
    lookups = {"member number": columns.member_number == number,
               "email key": columns.email_key == "adherent3@example.com"}
    found = []
    for what, condition in lookups.items():
        query = sa.select(columns.version, columns.data).where(condition)
        # Literal values: PostgreSQL takes no bound parameters in EXPLAIN.
        sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
                plan = "; ".join(str(r[-1]) for r in rows)
            else:
                rows = conn.exec_driver_sql("EXPLAIN " + sql).all()
                plan = str(rows[0][0]).strip()
        found.append(f"{what}: {plan}")
    return found


@attrs.frozen
class Figures:
    """Medians at both sizes for one backend, in seconds."""

    backend: str
    members: int
    fill_seconds: float
    login_small: float
    login_big: float
    link_small: float
    link_big: float
    logins: int
    links: int
    plans: tuple[str, ...]


def measure(backend: str, engines: Sequence[Engine], sizes: Sequence[int], *,
            rounds: int, logins: int, links: int, batch: int) -> Figures:
    """Fill both databases, prepare the members, and time the alternating rounds."""
    settings = make_settings()
    databases = []
    for size, engine in zip(sizes, engines, strict=True):
        print(f"{backend}: filling {size:,} members", flush=True)
        db = Database.build(f"{backend}-{size}", size, engine, settings, batch=batch,
                            report=lambda line: print(line, flush=True))
        print(f"{backend}: {size:,} members in {db.fill_seconds:.1f} s", flush=True)
        db.prepare(logins=10, links=rounds * links + 1)
        analyze(engine)
        databases.append(db)
    for db in databases:  # warm-up, not counted
        db.time_logins(5)
        db.time_links(1)
        db.login_s.clear()
        db.link_s.clear()
    for i in range(rounds):
        for db in databases if i % 2 == 0 else reversed(databases):
            db.time_logins(logins)
            db.time_links(links)
    small, big = databases
    return Figures(backend, big.members, big.fill_seconds,
                   statistics.median(small.login_s), statistics.median(big.login_s),
                   statistics.median(small.link_s), statistics.median(big.link_s),
                   len(big.login_s), len(big.link_s),
                   tuple(plans(big.engine, big.active[0])))


# --------------------------------------------------------------------------- report


def report(results: Sequence[Figures], *, load: str) -> str:
    """The figures as Markdown."""
    lines = [
        f"- Machine: {machine()}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Load while measuring: {load}",
        "- Argon2id: fast test parameters "
        f"(m={FAST_TEST_PARAMS.memory_kib}, t={FAST_TEST_PARAMS.iterations}, "
        f"p={FAST_TEST_PARAMS.lanes}), on purpose: the ratio is about storage lookups.",
        "",
        f"| Backend | Operation | {SMALL:,} members | {results[0].members:,} members "
        f"| Ratio (target ≤ {TARGET_RATIO}) |",
        "|---|---|---:|---:|---:|",
    ]
    for f in results:
        lines.append(f"| {f.backend} | login, right password (median of {f.logins}) "
                     f"| {f.login_small * 1000:.2f} ms | {f.login_big * 1000:.2f} ms "
                     f"| {f.login_big / f.login_small:.2f} |")
        lines.append(f"| {f.backend} | link issued and confirmed (median of {f.links}) "
                     f"| {f.link_small * 1000:.2f} ms | {f.link_big * 1000:.2f} ms "
                     f"| {f.link_big / f.link_small:.2f} |")
    lines.append("")
    for f in results:
        lines.append(f"- {f.backend}: {f.members:,} members bulk-inserted in "
                     f"{f.fill_seconds:.0f} s; plans at that size: " + " / ".join(f.plans))
    return "\n".join(lines)


def run(members: int = 1_000_000, backend: str = "both", *, rounds: int = 10,
        logins: int = 40, links: int = 20, batch: int = 20_000,
        sqlite_synchronous: str | None = None) -> tuple[list[Figures], list[str]]:
    """Measure each backend at SMALL and ``members``; the figures and the load after each."""
    sizes = (SMALL, members)
    options = {"rounds": rounds, "logins": logins, "links": links, "batch": batch}
    results = []
    loads = []
    if backend in ("sqlite", "both"):
        workdir = Path(tempfile.mkdtemp(prefix="cegema-scale-"))
        try:
            with sqlite_databases(sizes, workdir, sqlite_synchronous) as engines:
                label = "SQLite (file, WAL)"
                if sqlite_synchronous:
                    label = f"SQLite (file, WAL, synchronous={sqlite_synchronous})"
                results.append(measure(label, engines, sizes, **options))
                loads.append(load_average())
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if backend in ("postgres", "both"):
        with postgres_databases(sizes) as engines:
            results.append(measure("PostgreSQL 15", engines, sizes, **options))
            loads.append(load_average())
    return results, loads


def load_average() -> str:
    """The 1-minute load average, as a hint of what else was running."""
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)"
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the databases, measure, and print the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000,
                        help="the big size (default 1,000,000)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--logins", type=int, default=40, help="logins per round and size")
    parser.add_argument("--links", type=int, default=20,
                        help="link redemptions per round and size")
    parser.add_argument("--batch", type=int, default=20_000,
                        help="members per insert_accounts call")
    parser.add_argument("--sqlite-synchronous", choices=("FULL", "NORMAL"),
                        help="diagnostic: set SQLite's synchronous pragma (default: the "
                             "library's engine, which leaves SQLite's FULL)")
    args = parser.parse_args(argv)
    if args.members < SMALL:
        parser.error(f"--members must be at least {SMALL}")
    results, loads = run(args.members, args.backend, rounds=args.rounds, logins=args.logins,
                         links=args.links, batch=args.batch,
                         sqlite_synchronous=args.sqlite_synchronous)
    print()
    print(report(results, load="; ".join(loads)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
