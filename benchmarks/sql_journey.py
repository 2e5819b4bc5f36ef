"""Benchmark: the whole journey on SQLite against its unavoidable slow hashes.

Issue 4's target: with SQLite storage, everything the journey does beyond its Argon2id
computations costs at most 15 % of those computations. The journey (provision, login with
the initial password, email, open and confirm the link, set the password, set the secret
answer, login with the new password) runs N times through ``OnboardingService`` on one
SQLite file (WAL, the library's engine settings), with the PRODUCTION Argon2id parameters.
In the same run, the same number of Argon2id computations with the same parameters is
timed alone, interleaved with the journeys (alternating which goes first).

Two figures, as in ``benchmarks/flow_bench.py``: the paired difference (journey minus the
hashes alone), and, because the noise of six 20 ms hashes on a busy machine can exceed the
whole overhead, everything else timed on its own (the same journey with near-free test
hash parameters, minus those cheap hashes timed alone).

    python -m benchmarks.sql_journey               # 15 journeys
    python -m benchmarks.sql_journey --journeys 5  # a quick run

This is not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa

if __package__ in (None, ""):
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
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine
from cegema_onboarding.hashing import (
    FAST_TEST_PARAMS,
    PRODUCTION_PARAMS,
    Argon2Params,
    PasswordHasher,
)
from cegema_onboarding.service import OnboardingService

TARGET_PCT = 15.0


class JourneyRunner:
    """One service on one SQLite file; each journey takes a new member through."""

    def __init__(self, path: Path, params: Argon2Params, synchronous: str | None = None) -> None:
        self.engine = sqlite_engine(path)
        if synchronous is not None:
            # Diagnostic only: the library's engine keeps SQLite's default (FULL).
            mode = synchronous

            def pragma(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute(f"PRAGMA synchronous={mode}")

            sa.event.listen(self.engine, "connect", pragma)
        create_schema(self.engine)
        self.mailer = MemoryMailer()
        self.service = OnboardingService(SqlStorage(self.engine), self.mailer,
                                         settings=make_settings(params),
                                         clock=ManualClock(START))
        self.question = next(iter(self.service.settings.questions)).id
        self._next = 200_000_000

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def run(self) -> tuple[float, int]:
        """Seconds for one whole journey, and the Argon2id computations it made."""
        service, mailer = self.service, self.mailer
        number = str(self._next)
        self._next += 1
        address = f"m{number}@example.com"
        hasher = service.env.crypto.hasher
        calls = hasher.calls
        started = time.perf_counter()
        member = service.staff.provision(number, "Marie Dupont")
        session = session_of(service.login(number, member.initial_password))
        ok(service.submit_email(session, address, address))
        token = last_token(mailer)
        if not service.open_link(token).valid:
            raise RuntimeError("the link does not open")
        session = session_of(service.confirm_link(token, session=session))
        session = session_of(service.set_password(session, PASSWORD, PASSWORD))
        ok(service.set_secret_answer(session, self.question, ANSWER, ANSWER))
        ok(service.login(number, PASSWORD))
        elapsed = time.perf_counter() - started
        return elapsed, hasher.calls - calls


def time_hashes(count: int, params: Argon2Params) -> float:
    """Seconds for ``count`` Argon2id computations alone, with these parameters."""
    hasher = PasswordHasher(params)
    salts = [secrets.token_bytes(params.salt_bytes) for _ in range(count)]
    started = time.perf_counter()
    for salt in salts:
        hasher.hash(PASSWORD, salt)
    return time.perf_counter() - started


@attrs.frozen
class Figures:
    """Medians, in seconds."""

    journeys: int
    hashes_per_journey: int
    journey: float
    hashes_alone: float
    paired_overhead: float
    other_work: float


def measure(workdir: Path, journeys: int, synchronous: str | None = None) -> Figures:
    """The journeys against their hashes, measured both ways in the same run."""
    production = JourneyRunner(workdir / "journey.db", PRODUCTION_PARAMS, synchronous)
    cheap = JourneyRunner(workdir / "journey-cheap.db", FAST_TEST_PARAMS, synchronous)
    try:
        # Warm-up: engine, caches, first statements, and the file's steady state.
        until_steady(production.run, workdir / "journey.db")
        until_steady(cheap.run, workdir / "journey-cheap.db")
        elapsed_all, alone_all, diffs, counts = [], [], [], set()
        for i in range(journeys):
            if i % 2:
                alone = time_hashes(6, PRODUCTION_PARAMS)
                elapsed, count = production.run()
                alone = alone * count / 6
            else:
                elapsed, count = production.run()
                alone = time_hashes(count, PRODUCTION_PARAMS)
            elapsed_all.append(elapsed)
            alone_all.append(alone)
            diffs.append(elapsed - alone)
            counts.add(count)
        if len(counts) != 1:
            raise RuntimeError(f"the journey's hash count varies: {counts}")
        count = counts.pop()
        other = []
        for _ in range(journeys * 3):
            elapsed, _count = cheap.run()
            other.append(elapsed - time_hashes(count, FAST_TEST_PARAMS))
    finally:
        production.close()
        cheap.close()
    return Figures(journeys, count, statistics.median(elapsed_all),
                   statistics.median(alone_all), statistics.median(diffs),
                   statistics.median(other))


def run(journeys: int = 15, synchronous: str | None = None) -> Figures:
    """Measure in a temporary folder that is removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="cegema-journey-"))
    try:
        return measure(workdir, journeys, synchronous)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(f: Figures, load: str, synchronous: str | None = None) -> str:
    """The figures as Markdown."""
    paired = f.paired_overhead / f.hashes_alone * 100
    other = f.other_work / f.hashes_alone * 100
    return "\n".join([
        f"- Machine: {machine()}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Load while measuring: {load}",
        f"- Argon2id: production parameters (m={PRODUCTION_PARAMS.memory_kib}, "
        f"t={PRODUCTION_PARAMS.iterations}, p={PRODUCTION_PARAMS.lanes}); "
        f"{f.journeys} journeys on one SQLite file (WAL, "
        f"synchronous={synchronous or 'FULL, the default'}), measured in its steady state",
        "",
        "| Measure | Median |",
        "|---|---:|",
        f"| Argon2id computations in one journey | {f.hashes_per_journey} |",
        f"| Whole journey on SQLite | {f.journey * 1000:.1f} ms |",
        f"| The same Argon2id computations alone | {f.hashes_alone * 1000:.1f} ms |",
        f"| Journey minus hashes, paired runs | {f.paired_overhead * 1000:.1f} ms "
        f"({paired:+.1f} %) |",
        f"| Everything but the hashes, timed on its own | {f.other_work * 1000:.1f} ms |",
        f"| **Overhead** (everything but the hashes / the hashes) | **{other:.1f} %** "
        f"(target ≤ {TARGET_PCT:.0f} %) |",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the journeys and print the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sql_journey",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=15)
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"),
                        help="diagnostic: set SQLite's synchronous pragma (default: the "
                             "library's engine, which leaves SQLite's FULL)")
    args = parser.parse_args(argv)
    figures = run(args.journeys, args.synchronous)
    print(report(figures, load_average(), args.synchronous))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
