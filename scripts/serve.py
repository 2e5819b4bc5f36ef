"""`make serve`: the portal as it runs in production, on this machine, in one command.

- a throw-away PostgreSQL (``initdb`` and ``pg_ctl`` in a temporary directory, as the
  tests start it), migrated with ``cegema-onboarding migrate``;
- demo members provisioned with ``cegema-onboarding provision`` (their initial passwords
  are printed, as a print shop would get them);
- the portal (``scripts/serve_app.py``) under gunicorn, sync workers, one per core;
- two outbox relays (``cegema-onboarding relay``) sending to a local SMTP sink that keeps
  every mail in a Maildir;

every process reading one configuration file. Ctrl+C (or SIGTERM) stops them all and
deletes the database. ``make demo`` stays the single-process default.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._pg import PostgresUnavailable, ThrowAwayServer  # noqa: E402

BIN = Path(sys.executable).parent
MEMBERS = ("member_number;name;postal_address\n"
           "100234567;Marie Dupont;12 rue de la Paix 75002 Paris\n"
           "100234568;Jean Martin;3 place Bellecour 69002 Lyon\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300,  # noqa: S603
                          check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _wait_for(url: str, processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            sys.exit("a process of the deployment stopped while starting")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310  (a loopback URL)
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"the portal did not answer on {url}")


def main(argv: list[str] | None = None) -> int:
    """Start everything, print where it is, and wait for Ctrl+C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="make serve", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the portal's port")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="gunicorn sync workers (default: one per core)")
    parser.add_argument("--relays", type=int, default=2, help="outbox relays (default 2)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cegema-serve-"))
    try:
        pg = ThrowAwayServer()
        pg.start()
    except PostgresUnavailable as exc:
        sys.exit(f"PostgreSQL cannot be started here: {exc}")
    processes: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        smtp_port, maildir = _free_port(), work / "maildir"
        config = work / "portal.toml"
        config.touch(mode=0o600)
        base_url = f"http://127.0.0.1:{args.port}"
        values = {
            "CEGEMA_SECRET_KEYS": secrets.token_urlsafe(48),
            "CEGEMA_PEPPER_KEYS": "p1:" + secrets.token_urlsafe(48),
            "CEGEMA_SESSION_KEY": secrets.token_urlsafe(48),
            "CEGEMA_BASE_URL": base_url,
            "CEGEMA_DATABASE_URL": pg.url,
            "CEGEMA_SMTP_HOST": "127.0.0.1",
            "CEGEMA_SMTP_PORT": str(smtp_port),
            "CEGEMA_SMTP_SECURITY": "none",
            "CEGEMA_RELAY_INTERVAL": "1",
        }
        config.write_text("".join(f'{k} = "{v}"\n' for k, v in values.items()), "utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CEGEMA_")}
        env.update({"CEGEMA_CONFIG": str(config),
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                                env.get("PYTHONPATH")]))})
        cli = str(BIN / "cegema-onboarding")
        _run(cli, "migrate", env=env)
        (work / "members.csv").write_text(MEMBERS, "utf-8")
        _run(cli, "provision", "--csv", str(work / "members.csv"), "--credentials-out",
             str(work / "print-shop.csv"), "--no-progress", env=env)

        processes.append(subprocess.Popen(  # noqa: S603
            [str(BIN / "aiosmtpd"), "-n", "-l", f"127.0.0.1:{smtp_port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(maildir)], env=env))
        for _ in range(args.relays):
            processes.append(subprocess.Popen([cli, "relay"], env=env))  # noqa: S603
        processes.append(subprocess.Popen(  # noqa: S603
            [str(BIN / "gunicorn"), "--chdir", str(ROOT / "scripts"), "--worker-class", "sync",
             "--workers", str(args.workers), "--bind", f"127.0.0.1:{args.port}",
             "--no-control-socket",
             "serve_app:app"], env=env))
        _wait_for(f"{base_url}/connexion", processes)

        with (work / "print-shop.csv").open(encoding="utf-8") as handle:
            members = list(csv.DictReader(handle, delimiter=";"))
        print(f"\nThe portal: {base_url}/connexion ({args.workers} gunicorn worker(s), "
              f"{args.relays} relay(s), PostgreSQL on port {pg.port})")
        for member in members:
            print(f"  member {member['member_number']}, initial password "
                  f"{member['initial_password']}")
        print(f"Mail sent by the relays: {maildir}/new\nCtrl+C stops everything.",
              flush=True)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        return 0 if stopping else 1
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
