"""``cegema-onboarding relay --metrics-port``: the relay serves its Prometheus metrics."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine
from cegema_onboarding.cli import main
from cegema_onboarding.service import OnboardingService

from ..conftest import SECRET, make_settings
from ..service.test_outbox_relay import queue_validation_mail

pytest.importorskip("prometheus_client")
ROOT = Path(__file__).resolve().parent.parent.parent
SENT = 'cegema_onboarding_deliveries_total{channel="email",outcome="sent"}'


def _queued(tmp_path: Path) -> str:
    engine = sqlite_engine(tmp_path / "portal.db")
    create_schema(engine)
    service = OnboardingService(SqlStorage(engine), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(datetime.now(UTC)), deliver_inline=False)
    queue_validation_mail(service, "100000001")
    engine.dispose()
    return f"sqlite:///{tmp_path / 'portal.db'}"


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return str(response.read().decode())


def _value(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_the_relay_serves_its_metrics_and_they_move(tmp_path: Path) -> None:
    url = _queued(tmp_path)
    env = {**os.environ, "CEGEMA_SECRET_KEYS": SECRET, "CEGEMA_DATABASE_URL": url,
           "CEGEMA_RELAY_METRICS_PORT": "0", "PYTHONPATH": os.pathsep.join(
               [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    relay = subprocess.Popen(
        [sys.executable, "-m", "cegema_onboarding", "relay", "--interval", "0.2",
         "--mailer", "tests.cli.test_retention_and_mailer:make_mailer"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert relay.stdout is not None
        line = relay.stdout.readline()
        # The port from the setting (0: a free one), on loopback by default.
        found = re.match(r"relay metrics on (http://127\.0\.0\.1:\d+/metrics)$", line.strip())
        assert found, (line, relay.stderr.read() if relay.poll() is not None else "")
        deadline = time.monotonic() + 20
        text = _scrape(found.group(1))
        while _value(text, SENT) != 1.0 and time.monotonic() < deadline:
            time.sleep(0.2)
            text = _scrape(found.group(1))
        assert _value(text, SENT) == 1.0, text
        # The outbox gauges, read from the database at each scrape: drained.
        assert _value(text, "cegema_onboarding_outbox_waiting") == 0.0
        assert _value(text, "cegema_onboarding_outbox_oldest_age_seconds") == 0.0
        assert 'cegema_onboarding_members{stage="email_pending"} 1.0' in text
    finally:
        relay.send_signal(signal.SIGTERM)
        out, _ = relay.communicate(timeout=20)
    assert relay.returncode == 0
    assert "1 sent" in out


def test_a_bad_metrics_port_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    url = _queued(tmp_path)
    monkeypatch.setenv("CEGEMA_SECRET_KEYS", SECRET)
    monkeypatch.setenv("CEGEMA_RELAY_METRICS_PORT", "ninety")
    assert main(["relay", "--once", "--database", url, "--mailer", "console"]) == 2
    assert "CEGEMA_RELAY_METRICS_PORT must be a port number" in capsys.readouterr().err
    assert main(["relay", "--once", "--database", url, "--mailer", "console",
                 "--metrics-port", "70000"]) == 2
    assert "0 to 65535" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_relay_that_cannot_be_built_leaves_no_metrics_endpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = _queued(tmp_path)
    monkeypatch.setenv("CEGEMA_SECRET_KEYS", SECRET)
    port = _free_port()
    before = set(threading.enumerate())
    # A negative --purge-every is refused while the relay is built: no endpoint may be left
    # serving (a thread, the port held) for a relay that never runs.
    assert main(["relay", "--once", "--database", url, "--mailer", "console",
                 "--metrics-port", str(port), "--purge-every", "-1"]) == 2
    assert "--purge-every cannot be negative" in capsys.readouterr().err
    left = [thread for thread in threading.enumerate()
            if thread not in before and thread.is_alive()]
    assert left == []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as again:
        again.bind(("127.0.0.1", port))   # OSError if the endpoint still holds it
