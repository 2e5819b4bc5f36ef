"""Benchmark: bulk provisioning of N members into a fresh SQLite file.

Runs the code path of ``cegema-onboarding provision`` (CSV reading and validation,
initial passwords, peppered digests, batched ``insert_accounts``, the 0600 print-shop file)
and, in the same run, a baseline of raw ``sqlite3`` ``executemany`` inserts of the same
rows, and prints members/second for both and their ratio.

    python benchmarks/provision.py --count 1000000

The issue's target is 1,000,000 members in at most 60 s on a 2-core machine. This is not
a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import random
import resource
import sqlite3
import tempfile
import time
import unicodedata
from pathlib import Path

from cegema_onboarding.bootstrap import parse_pepper_keys, pepper_from_keys, storage_from_url
from cegema_onboarding.ports import AccountBulkWriter
from cegema_onboarding.provisioning import DEFAULT_BATCH, provision_csv

FIRST = ["Marie", "Jean", "Camille", "Louis", "Léa", "Hugo", "Chloé", "Lucas", "Inès", "Émile"]
LAST = ["Dupont", "Martin", "Bernard", "Petit", "Durand", "Leroy", "Moreau", "Fournier"]
STREETS = ["rue de la Paix", "avenue Victor-Hugo", "boulevard Haussmann", "place d'Italie"]


def write_members(path: Path, count: int, *, email_share: float, seed: int = 1) -> None:
    """A member CSV like an insurer's export: ';', UTF-8 with BOM, some emails and phones."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(("member_number", "name", "postal_address", "email", "phone", "lang"))
        for i in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            street = f"{rng.randint(1, 200)} {rng.choice(STREETS)}"
            address = f"{street}\n75{rng.randint(1, 20):03d} Paris"
            # ASCII local parts: the library refuses SMTPUTF8 addresses.
            local = unicodedata.normalize("NFKD", f"{first}.{last}{i}").encode("ascii", "ignore")
            email = (f"{local.decode().lower()}@example.com"
                     if rng.random() < email_share else "")
            phone = f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} 00"
            writer.writerow((f"{100000000 + i}", f"{first} {last}", address, email, phone,
                             "fr" if i % 10 else "en"))


def provision(workdir: Path, members: Path, batch_size: int) -> tuple[float, float, float]:
    """Wall seconds for the CLI's code path into a fresh SQLite file, and the CPU seconds
    of this process and of the helper process."""
    url = f"sqlite:///{workdir / 'provision.db'}"
    pepper = pepper_from_keys(parse_pepper_keys("bench1:" + "p" * 48))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time()
    start = time.perf_counter()
    storage = storage_from_url(url, create_schema=True)
    assert isinstance(storage, AccountBulkWriter)
    summary = provision_csv(members, storage, pepper, workdir / "print-shop.csv",
                            batch_size=batch_size)
    elapsed = time.perf_counter() - start
    main_cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    helper_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    assert not summary.bad and summary.imported == summary.rows, summary.lines()
    return elapsed, main_cpu, helper_cpu


def baseline(workdir: Path, members: Path) -> float:
    """Seconds to read the same CSV and executemany its rows into a fresh SQLite table."""
    start = time.perf_counter()
    db = sqlite3.connect(workdir / "baseline.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE members (member_number TEXT PRIMARY KEY, name TEXT, "
               "postal_address TEXT, email TEXT, phone TEXT, lang TEXT)")
    with open(members, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        with db:
            db.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?)", reader)
    db.close()
    return time.perf_counter() - start


def _spin(_: object = None) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return time.perf_counter() - start


def parallelism() -> float:
    """How many CPU-bound processes the machine runs at full speed right now, measured.

    2.0 means two real idle cores; 1.0 means two processes share one core's worth (a
    busy machine, or virtual CPUs that are hyper-threads of one core).
    """
    alone = _spin()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        together = max(pool.map(_spin, range(2)))
    return 2 * alone / together if together > 0 else 0.0


def machine() -> str:
    """``nproc`` and the CPU model, as /proc/cpuinfo names it (Linux)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}"


def main() -> None:
    """Parse arguments, run both measurements, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--email-share", type=float, default=0.5,
                        help="share of members with an email address in the CSV")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cegema-bench-") as tmp:
        workdir = Path(tmp)
        members = workdir / "members.csv"
        write_members(members, args.count, email_share=args.email_share)
        size = os.path.getsize(members) / 1e6
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}")
        print(f"{args.count} members, CSV {size:.0f} MB, {args.email_share:.0%} with email, "
              f"batches of {args.batch_size}")
        load_before = os.getloadavg()[0]
        par_before = parallelism()
        base = baseline(workdir, members)
        full, main_cpu, helper_cpu = provision(workdir, members, args.batch_size)
        load_after = os.getloadavg()[0]
        print(f"baseline (csv + sqlite3 executemany): {base:8.2f} s "
              f"{args.count / base:12,.0f} members/s")
        print(f"provision (CLI code path):            {full:8.2f} s "
              f"{args.count / full:12,.0f} members/s")
        print(f"ratio provision / baseline: {full / base:.1f}x")
        print(f"CPU: main process {main_cpu:.1f} s ({main_cpu / args.count * 1e6:.1f} µs per "
              f"member), helper process {helper_cpu:.1f} s "
              f"({helper_cpu / args.count * 1e6:.1f} µs per member)")
        # The CPU times only bound the wall time when both processes really run at once.
        print(f"parallelism of this machine (2 = two free cores): before {par_before:.1f}, "
              f"after {parallelism():.1f}")
        print(f"load average (1 min) before {load_before:.1f}, after {load_after:.1f}")
        target = 60.0 * args.count / 1_000_000
        verdict = "within" if full <= target else "OVER"
        print(f"target: 1,000,000 in 60 s, i.e. {target:.1f} s for this count: {verdict}")


if __name__ == "__main__":
    main()
