"""Benchmark: forgotten password and identifier take as long for known and unknown members.

Issue 12, defect 8: the answer, the mail-port use and the hash count were the same, but
a known member's request committed an account update and an outbox row while an unknown
one committed an audit record only, and the time told them apart (median 1.83 against
1.26 ms on SQLite, 3.28 against 2.07 ms on PostgreSQL). Every case now commits one
account record (real or stand-in), one outbox row (real or stand-in) and one audit record.
The target: each case's median within 1.10 times the unknown member's, on both backends.

The cases, through ``OnboardingService`` on one database per backend, with the library's
engines (SQLite: a file in WAL mode, FULL flushes; PostgreSQL: a throw-away server started
like the tests' (``benchmarks/_pg.py``), or the server of ``CEGEMA_TEST_POSTGRES_URL``):

- forgotten password: a member who is sent a link; a member with no address; a member
  whose link was sent moments ago (cooling down); a member number nobody has;
- forgotten identifier: an address of one member; an address nobody has.

Each round runs every case once, in an order rotated from round to round, so that a
change in the machine's load hits all cases alike; the figures are medians over the
rounds, and the ratios are taken between medians of the same run. The clock is a manual
one moved past the cool-down between rounds, and the rate limits are raised out of the
way: this measures the storage work, not the refusals.

With ``--login-rounds`` it also times a wrong password against a hash made with older,
cheaper Argon2id parameters and a login of an unknown member, with the production
parameters raised (defect 9): the first is topped up to the cost of the second.

    python -m benchmarks.forgot_bench                    # 200 rounds, both backends
    python -m benchmarks.forgot_bench --backend sqlite --rounds 50     # a quick run

This is not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
from sqlalchemy.engine import Engine

if __package__ in (None, ""):
    # Run as a script: make the repository root importable (benchmarks, tests).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.flow_bench import machine
from benchmarks.scale import (
    ANSWER,
    PASSWORD,
    START,
    last_token,
    load_average,
    make_settings,
    ok,
    session_of,
)
from benchmarks.steady import until_steady
from cegema_onboarding import lockout
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.adapters.sql import (
    SqlStorage,
    create_schema,
    postgres_engine,
    sqlite_engine,
)
from cegema_onboarding.hashing import FAST_TEST_PARAMS, PRODUCTION_PARAMS, Argon2Params
from cegema_onboarding.ports import Changes, Storage
from cegema_onboarding.ratelimit import Limit, RateLimits
from cegema_onboarding.service import OnboardingService

TARGET_RATIO = 1.10
REFERENCE = "unknown"
# Out of the way of every case: the refusals of the rate limiter are not measured here.
_NO_LIMIT = Limit(1_000_000, timedelta(seconds=1))
_LIMITS = RateLimits(**{f.name: _NO_LIMIT for f in attrs.fields(RateLimits)})
_ROUND = timedelta(minutes=2)


@attrs.frozen
class Table:
    """Median milliseconds per case, and each case's ratio to the reference case."""

    title: str
    medians: dict[str, float]

    def ratio(self, case: str) -> float:
        """The case's median over the reference case's."""
        return self.medians[case] / self.medians[REFERENCE]


class World:
    """A service on one storage with the members every case needs."""

    def __init__(self, storage: Storage, params: Argon2Params = FAST_TEST_PARAMS) -> None:
        self.clock = ManualClock(START)
        self.mailer = MemoryMailer()
        settings = attrs.evolve(make_settings(params), rate_limits=_LIMITS)
        self.service = OnboardingService(storage, self.mailer, settings=settings,
                                         clock=self.clock, deliver_inline=True)
        self.mailed = self._member("300000001", "mailed@example.org")
        self.cooling = self._member("300000002", "cooling@example.org")
        self.family = self._member("300000003", "family@example.org")
        member = self.service.staff.provision("300000004", "Sans Email")
        session = session_of(self.service.login("300000004", member.initial_password))
        ok(self.service.declare_no_email(session))
        self.no_email = "300000004"

    def _member(self, number: str, address: str) -> str:
        service = self.service
        member = service.staff.provision(number, "Marie Dupont")
        session = session_of(service.login(number, member.initial_password))
        ok(service.submit_email(session, address, address))
        session = session_of(service.confirm_link(last_token(self.mailer), session=session))
        session = session_of(service.set_password(session, PASSWORD, PASSWORD))
        question = next(iter(service.settings.questions)).id
        ok(service.set_secret_answer(session, question, ANSWER, ANSWER))
        return number

    def password_cases(self) -> dict[str, Callable[[], object]]:
        """The forgotten-password requests, by case."""
        s = self.service
        return {
            "known, mailed": lambda: s.forgot_password(self.mailed),
            "known, no address": lambda: s.forgot_password(self.no_email),
            "known, cooling down": lambda: s.forgot_password(self.cooling),
            REFERENCE: lambda: s.forgot_password("999999999"),
        }

    def identifier_cases(self) -> dict[str, Callable[[], object]]:
        """The forgotten-identifier requests, by case."""
        s = self.service
        return {
            "known": lambda: s.forgot_identifier("family@example.org"),
            REFERENCE: lambda: s.forgot_identifier("nobody@example.org"),
        }

    def next_round(self) -> None:
        """Past every cool-down; then a link for the member who must be cooling down."""
        self.clock.advance(_ROUND)
        ok(self.service.forgot_password(self.cooling))


def _time(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    ok(call())
    return time.perf_counter() - started


def measure_cases(world: World, cases: dict[str, Callable[[], object]], rounds: int,
                  title: str) -> Table:
    """Median time per case over ``rounds`` rounds, the order rotated every round."""
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    for n in range(rounds):
        world.next_round()
        shift = n % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_time(cases[name]))
    return Table(title, {name: statistics.median(t) * 1000 for name, t in times.items()})


def measure(storage: Storage, label: str, rounds: int, database: Path | None) -> list[Table]:
    """Both requests' tables on one storage, after a warm-up."""
    world = World(storage)
    password, identifier = world.password_cases(), world.identifier_cases()

    def warm_round() -> None:
        world.next_round()
        for call in (*password.values(), *identifier.values()):
            ok(call())

    # Caches, first statements, every stand-in slot the cases use, and (SQLite) the
    # write-ahead log's steady size.
    for _ in range(10):
        warm_round()
    until_steady(warm_round, database)
    return [measure_cases(world, password, rounds, f"{label}: forgotten password"),
            measure_cases(world, identifier, rounds, f"{label}: forgotten identifier")]


def measure_login(rounds: int) -> Table:
    """A wrong password against an older, cheaper hash, and an unknown member's login.

    On memory storage: only the Argon2id work differs between the two. The member's hash
    is made with the production parameters; the service then runs with twice the memory.
    """
    storage = MemoryStorage()
    old = World(storage, PRODUCTION_PARAMS)
    raised = attrs.evolve(PRODUCTION_PARAMS, memory_kib=PRODUCTION_PARAMS.memory_kib * 2)
    settings = attrs.evolve(make_settings(raised), rate_limits=_LIMITS)
    service = OnboardingService(storage, MemoryMailer(), settings=settings,
                                clock=ManualClock(START))

    numbers = {"known, older parameters": old.mailed, REFERENCE: "999999999"}
    names = list(numbers)
    times: dict[str, list[float]] = {name: [] for name in names}
    for n in range(rounds + 3):
        shift = n % len(names)
        for name in names[shift:] + names[:shift]:
            # Each login from a fresh counter (untimed): the lockout is not measured here.
            counter = storage.get_throttle(lockout.attempt_key(numbers[name]))
            fresh = attrs.evolve(counter, failures=0, last_failure_at=None)
            storage.commit(Changes(throttles=((fresh, counter.version),)))
            started = time.perf_counter()
            service.login(numbers[name], "pas le bon mot de passe")
            if n >= 3:
                times[name].append(time.perf_counter() - started)
    return Table(f"memory storage: wrong password, Argon2id m={raised.memory_kib} "
                 f"(the member's hash: m={PRODUCTION_PARAMS.memory_kib})",
                 {name: statistics.median(t) * 1000 for name, t in times.items()})


@contextmanager
def sqlite_storage() -> Iterator[tuple[SqlStorage, Path]]:
    """A SqlStorage on a fresh SQLite file (the library's engine) in a temporary folder."""
    workdir = Path(tempfile.mkdtemp(prefix="cegema-forgot-"))
    engine = sqlite_engine(workdir / "forgot.db")
    try:
        create_schema(engine)
        yield SqlStorage(engine), workdir / "forgot.db"
    finally:
        engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def postgres_storage() -> Iterator[SqlStorage]:
    """A SqlStorage on a throw-away server (or CEGEMA_TEST_POSTGRES_URL's), own schema."""
    # One throw-away server for the tests, the benchmarks and make serve: benchmarks/_pg.py.
    from benchmarks._pg import URL_VARIABLE, ThrowAwayServer

    server = None
    base_url = os.environ.get(URL_VARIABLE)
    if not base_url:
        server = ThrowAwayServer()
        server.start()
        base_url = server.url
    schema = f"cegema_forgot_{os.getpid()}"
    admin: Engine = postgres_engine(base_url)
    engine: Engine | None = None
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engine = postgres_engine(admin.url.update_query_dict(
            {"options": f"-csearch_path={schema}"}))
        create_schema(engine)
        yield SqlStorage(engine)
    finally:
        if engine is not None:
            engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
        if server is not None:
            server.stop()


def report(tables: Sequence[Table], load: str, rounds: int) -> str:
    """The figures as Markdown."""
    lines = [
        f"- Machine: {machine()}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Load while measuring: {load}",
        f"- {rounds} rounds, every case once per round in a rotated order; medians; "
        f"target: every ratio to the unknown member's median ≤ {TARGET_RATIO:.2f}",
    ]
    for table in tables:
        lines += ["", f"**{table.title}**", "", "| Case | Median | Ratio to unknown |",
                  "|---|---:|---:|"]
        for case, median in table.medians.items():
            ratio = table.ratio(case)
            mark = "" if ratio <= TARGET_RATIO else " (over the target)"
            lines.append(f"| {case} | {median:.3f} ms | {ratio:.3f}{mark} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.forgot_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--login-rounds", type=int, default=0,
                        help="also time wrong passwords against older Argon2id parameters "
                             "(production parameters: about 0.1 s per round); default 0")
    args = parser.parse_args(argv)
    tables: list[Table] = []
    loads: list[str] = []
    if args.backend in ("sqlite", "both"):
        with sqlite_storage() as (storage, database):
            tables += measure(storage, "SQLite (file, WAL)", args.rounds, database)
            loads.append(load_average())
    if args.backend in ("postgres", "both"):
        with postgres_storage() as storage:
            tables += measure(storage, "PostgreSQL", args.rounds, None)
            loads.append(load_average())
    if args.login_rounds > 0:
        tables.append(measure_login(args.login_rounds))
        loads.append(load_average())
    print(report(tables, "; ".join(loads), args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
