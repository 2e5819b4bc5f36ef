"""``make load``: locust against gunicorn on a throw-away PostgreSQL, on loopback only.

One run, bounded in time and in count (about two and a half minutes with the defaults):

1. a throw-away PostgreSQL (``initdb`` in a temporary folder, as the tests start one),
   the schema, and members provisioned with production Argon2id;
2. Argon2id timed alone, before the load and after it;
3. gunicorn, sync workers equal to the cores, serving ``benchmarks.load.app``;
4. **logins at saturation**: locust users each logging one member in with the right
   password, again and again; the workers' CPU time over the run (from ``/proc``);
5. **whole journeys**: locust users walking fresh members through the first connection
   until none is left.

The figures go to ``load.json`` in ``--out`` and, unless ``--no-write``, into the
"Under load" section of docs/performance.md with a plot in docs/img/.

    python -m benchmarks.load.run                 # the real run (make load)
    python -m benchmarks.load.run --smoke --out D --no-write   # a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks._pg import ThrowAwayServer
from benchmarks.load import page as load_page
from cegema_onboarding.adapters.memory import MemoryMailer
from cegema_onboarding.adapters.sql import SqlStorage, create_schema, postgres_engine
from cegema_onboarding.hashing import PasswordHasher
from cegema_onboarding.service import OnboardingService

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
_TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of these processes (not of their children)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def time_hash(count: int, params: Any) -> float:
    """The median CPU seconds of one Argon2id hash, each timed alone.

    CPU time, not wall time: on a shared machine the wall time also counts the waits for
    other processes, and the workers' CPU time is what it is compared with.
    """
    hasher = PasswordHasher(params)
    salt = secrets.token_bytes(16)
    samples = []
    for _ in range(count):
        started = time.thread_time()
        hasher.hash("Le chat de ma voisine 1987", salt)
        samples.append(time.thread_time() - started)
    return statistics.median(samples)


def provision(url: str, count: int, environment: dict[str, str]) -> list[tuple[str, str]]:
    """``count`` new members (production Argon2id): member numbers and initial passwords."""
    os.environ.update(environment)
    from benchmarks.load.app import settings_from_environment

    engine = postgres_engine(url)
    service = OnboardingService(SqlStorage(engine), MemoryMailer(),
                                settings=settings_from_environment())
    base = secrets.randbelow(10**6) * 1000

    def one(i: int) -> tuple[str, str]:
        done = service.staff.provision(f"{base + i:09d}", "Marie Dupont")
        assert done.initial_password is not None
        return done.member_number, done.initial_password

    try:
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            return list(pool.map(one, range(count)))
    finally:
        engine.dispose()


@contextmanager
def gunicorn(environment: dict[str, str], workers: int, port: int) -> Iterator[int]:
    """gunicorn serving the load app on 127.0.0.1:port; yields the master's pid."""
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
               "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "--timeout", "60", "benchmarks.load.app:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=environment)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion",
                                            timeout=5) as answer:
                    if answer.status == 200 and len(_children(process.pid)) >= workers:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(times: dict[str, int], share: float) -> float:
    """The response time (ms) under which ``share`` of the requests fall, from locust's
    histogram of rounded times."""
    ordered = sorted((float(ms), n) for ms, n in times.items())
    total = sum(n for _, n in ordered)
    seen = 0
    for ms, n in ordered:
        seen += n
        if seen >= share * total:
            return ms
    return 0.0


def figures_of(entry: dict[str, Any]) -> dict[str, float]:
    """Count, failures, rate per second, median and p99 of one locust stats entry."""
    count = entry["num_requests"]
    span = entry["last_request_timestamp"] - entry["start_time"]
    times = entry["response_times"]
    return {"count": count, "failures": entry["num_failures"],
            "rate": count / span if span > 0 else 0.0,
            "p50": percentile(times, 0.5) if times else 0.0,
            "p99": percentile(times, 0.99) if times else 0.0}


def locust(environment: dict[str, str], port: int, *, mode: str, users: int,
           seconds: int, folder: Path) -> tuple[dict[str, dict[str, float]], float, float]:
    """One headless locust run: its stats rows by name, wall seconds and its CPU seconds."""
    prefix = folder / mode
    command = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"),
               "--headless", "--users", str(users), "--spawn-rate", str(users),
               "--run-time", f"{seconds}s", "--host", f"http://127.0.0.1:{port}",
               "--json-file", str(prefix), "--skip-log", "--loglevel", "WARNING",
               "--exit-code-on-error", "0", "--stop-timeout", "10"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, check=False,  # noqa: S603
                          env={**environment, "LOAD_MODE": mode}, timeout=seconds + 60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"locust exited with {done.returncode}")
    entries = json.loads(Path(f"{prefix}.json").read_text(encoding="utf-8"))
    rows = {entry["name"]: figures_of(entry) for entry in entries}
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return rows, wall, cpu


def login_phase(environment: dict[str, str], port: int, master: int,
                members: Sequence[tuple[str, str]], seconds: int, folder: Path, *,
                warm_up: int = 0) -> dict[str, Any]:
    """Each locust user logs one of ``members`` in, again and again; the workers' CPU.

    ``warm_up`` seconds of the same logins first, not counted: a worker's first requests
    compile templates and import modules, which no later request pays.
    """
    (folder / "members.csv").write_text("\n".join(f"{n},{p}" for n, p in members),
                                        encoding="utf-8")
    if warm_up:
        locust(environment, port, mode="login", users=len(members), seconds=warm_up,
               folder=folder)
    workers = _children(master)
    cpu_before = _cpu_seconds(workers)
    rows, wall, locust_cpu = locust(environment, port, mode="login", users=len(members),
                                    seconds=seconds, folder=folder)
    return {"rows": rows, "wall": wall, "locust_cpu": locust_cpu,
            "worker_cpu": _cpu_seconds(workers) - cpu_before, "users": len(members)}


def run(out: Path, *, smoke: bool = False, cheap: bool = False,
        login_seconds: int | None = None) -> dict[str, Any]:
    """The whole run; returns the figures (also written to ``out/load.json``)."""
    from cegema_onboarding.hashing import FAST_TEST_PARAMS, PRODUCTION_PARAMS

    # cheap: near-free Argon2id, to see the work beside the hash on its own (development).
    params = FAST_TEST_PARAMS if cheap else PRODUCTION_PARAMS

    cores = os.cpu_count() or 1
    login_users, journey_users = (2, 2) if smoke else (4 * cores, 8 * cores)
    default_login, journey_seconds = (3, 10) if smoke else (40, 50)
    login_seconds = login_seconds or default_login
    warm_up = 0 if smoke else 4
    journeys = 4 if smoke else 400
    load_start = os.getloadavg()
    server = ThrowAwayServer()
    server.start()
    with tempfile.TemporaryDirectory(prefix="cegema-load-") as scratch:
        folder = Path(scratch)
        inbox = folder / "inbox"
        inbox.mkdir()
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "LOAD_DATABASE_URL": server.url, "LOAD_INBOX": str(inbox),
            "LOAD_SECRET_KEY": secrets.token_urlsafe(48),
            "LOAD_PEPPER": secrets.token_urlsafe(48),
            "LOAD_MEMBERS": str(folder / "members.csv"),
        }
        environment.pop("LOAD_CHEAP_HASH", None)
        if cheap:
            environment["LOAD_CHEAP_HASH"] = "1"
        try:
            engine = postgres_engine(server.url)
            create_schema(engine)
            engine.dispose()
            hash_before = time_hash(7 if smoke else 40, params)
            members = provision(server.url, login_users + journeys, environment)
            figures: dict[str, Any] = {"cores": cores, "smoke": smoke, "cheap": cheap}
            with gunicorn(environment, cores, port := _free_port()) as master:
                # Login phase: each user logs one member in, again and again.
                figures["login"] = login_phase(environment, port, master, members[:login_users],
                                               login_seconds, folder, warm_up=warm_up)
                # Journey phase: fresh members, each walked through once.
                (folder / "members.csv").write_text(
                    "\n".join(f"{n},{p}" for n, p in members[login_users:]),
                    encoding="utf-8")
                rows, wall, locust_cpu = locust(environment, port, mode="journey",
                                                users=journey_users,
                                                seconds=journey_seconds, folder=folder)
                figures["journey"] = {"rows": rows, "wall": wall, "locust_cpu": locust_cpu,
                                      "users": journey_users, "members": journeys}
            hash_after = time_hash(7 if smoke else 40, params)
            if not cheap:
                # The same logins with near-free Argon2id: the work beside the hash on its
                # own, without the hashes' effect on the caches and the scheduler.
                cheap_environment = {**environment, "LOAD_CHEAP_HASH": "1"}
                cheap_members = provision(server.url, login_users, cheap_environment)
                with gunicorn(cheap_environment, cores, port := _free_port()) as master:
                    figures["cheap_login"] = login_phase(
                        cheap_environment, port, master, cheap_members,
                        3 if smoke else 20, folder, warm_up=warm_up)
                figures["cheap_hash_ms"] = 1000 * time_hash(40, FAST_TEST_PARAMS)
        finally:
            server.stop()
    figures["hash_ms"] = 1000 * statistics.median([hash_before, hash_after])
    figures["hash_ms_before_after"] = [1000 * hash_before, 1000 * hash_after]
    figures["load_start"] = list(load_start)
    figures["load_end"] = list(os.getloadavg())
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run, then write the figures (and the page's section unless told not to)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run of a few seconds")
    parser.add_argument("--cheap-hash", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--login-seconds", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for load.json (default: a temporary one)")
    parser.add_argument("--no-write", action="store_true",
                        help="leave docs/performance.md and docs/img/ alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as default:
        out = args.out or Path(default)
        figures = run(out, smoke=args.smoke, cheap=args.cheap_hash,
                      login_seconds=args.login_seconds)
        summary = load_page.summary(figures)
        print("\n".join(summary))
        if not args.no_write and not args.cheap_hash:
            load_page.write(figures, ROOT / "docs" / "performance.md", ROOT / "docs" / "img")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
