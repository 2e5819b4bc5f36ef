"""The outbox relay: nothing lost, nothing sent twice, across server outages and crashes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.adapters.smtp import SmtpMailer, SmtpSettings
from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine
from cegema_onboarding.bootstrap import settings_from_env
from cegema_onboarding.cli import main
from cegema_onboarding.errors import ConfigurationError, StorageError
from cegema_onboarding.ports import OutboxStatus
from cegema_onboarding.relay import DEFAULT_BATCH, Relay
from cegema_onboarding.service import DeliveryReport, Ok, OnboardingService

from ..conftest import PEPPER, SECRET, START, make_settings
from ..smtp_server import SmtpServer

REPO = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll until ``condition`` holds; the limit only stops a hung test, it measures nothing."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine(tmp_path / "onboarding.db")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def queue_validation_mail(service: OnboardingService, number: str) -> None:
    """Provision a member and make them ask for a validation link (queued, not sent)."""
    member = service.staff.provision(number, f"Membre {number}")
    login = service.login(number, member.initial_password)
    assert isinstance(login, Ok) and login.session is not None
    result = service.submit_email(login.session, f"m{number}@example.com",
                                  f"m{number}@example.com")
    assert isinstance(result, Ok)


def link_token(text: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_.\-]+)", text)
    assert match is not None
    return match.group(1)


# ---------------------------------------------------------------------- the relay object


def test_once_delivers_everything_due_in_batches() -> None:
    storage, mailer, clock = MemoryStorage(), MemoryMailer(), ManualClock(START)
    service = OnboardingService(storage, mailer, settings=make_settings(), clock=clock,
                                deliver_inline=False)
    for i in range(7):
        queue_validation_mail(service, f"10000000{i}")
    assert mailer.sent == []
    totals = Relay(service, batch_size=3).run(once=True)
    assert totals.passes == 1 and totals.sent == 7
    assert len({m["Message-ID"] for m in mailer.sent}) == 7
    assert Relay(service).run(once=True).sent == 0


def test_failures_are_retried_later_then_parked() -> None:
    storage, mailer, clock = MemoryStorage(), MemoryMailer(), ManualClock(START)
    service = OnboardingService(storage, mailer, settings=make_settings(), clock=clock,
                                deliver_inline=False)
    queue_validation_mail(service, "100000001")
    mailer.fail = True
    relay = Relay(service)
    assert relay.run_pass() == DeliveryReport(retried=1)
    assert relay.run_pass() == DeliveryReport()  # not due before its backoff
    for _ in range(7):
        clock.advance(hours=2)
        relay.run_pass()
    [message] = storage.list_messages()
    assert message.status is OutboxStatus.PARKED and message.attempts == 8
    assert relay.totals.parked == 1 and relay.totals.retried == 7


def test_stop_from_another_thread_ends_the_loop() -> None:
    service = OnboardingService(MemoryStorage(), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=False)
    relay = Relay(service, poll_interval=30)
    thread = threading.Thread(target=relay.run)
    thread.start()
    wait_until(lambda: relay.totals.passes >= 1, "a first pass")
    relay.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_sigterm_stops_the_loop_cleanly() -> None:
    service = OnboardingService(MemoryStorage(), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=False)
    relay = Relay(service, poll_interval=30)

    def send_sigterm() -> None:
        wait_until(lambda: relay.totals.passes >= 1, "a first pass")
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    killer = threading.Thread(target=send_sigterm)
    with relay.stop_on_signals():
        killer.start()
        totals = relay.run()  # returns long before the 30 s interval
    killer.join()
    assert totals.passes == 1 and relay.stopping
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_failing_pass_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    service = OnboardingService(MemoryStorage(), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=False)
    relay = Relay(service, poll_interval=0.01)
    calls = []
    real = service.deliver_due

    def flaky(*, limit: int = 50) -> DeliveryReport:
        calls.append(limit)
        if len(calls) == 1:
            raise StorageError("database is down: postgresql://user:hunter2@db/x")
        relay.stop()
        return real(limit=limit)

    service.deliver_due = flaky  # type: ignore[method-assign]
    totals = relay.run()
    assert totals.errors == 1 and len(calls) == 2
    assert "StorageError" in caplog.text and "hunter2" not in caplog.text
    calls.clear()
    with pytest.raises(StorageError):
        Relay(service).run(once=True)


def test_two_relays_never_send_the_same_message(engine: Engine, server: SmtpServer) -> None:
    clock = ManualClock(START)

    def make_service() -> OnboardingService:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none"))
        return OnboardingService(SqlStorage(engine), mailer, settings=make_settings(),
                                 clock=clock, deliver_inline=False)

    producer = make_service()
    for i in range(12):
        queue_validation_mail(producer, f"2000000{i:02d}")
    relays = [Relay(make_service(), batch_size=2) for _ in range(2)]
    threads = [threading.Thread(target=r.run, kwargs={"once": True}) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = server.handler.message_ids()
    assert len(ids) == 12 and len(set(ids)) == 12
    assert sum(r.totals.sent for r in relays) == 12


# ---------------------------------------------------------------------- outages and crashes


def test_server_outage_mid_run_loses_and_duplicates_nothing(engine: Engine,
                                                           server: SmtpServer) -> None:
    storage = SqlStorage(engine)
    clock = ManualClock(START)
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none", timeout=5))
    service = OnboardingService(storage, mailer, settings=make_settings(), clock=clock,
                                deliver_inline=False)
    relay = Relay(service, poll_interval=0.05, batch_size=3)
    thread = threading.Thread(target=relay.run, name="relay")
    thread.start()
    try:
        for i in range(5):
            queue_validation_mail(service, f"30000000{i}")
        wait_until(lambda: len(server.handler.received) == 5, "the first five mails")

        server.stop()  # the relay keeps running while the server is away
        for i in range(5, 10):
            queue_validation_mail(service, f"30000000{i}")
        wait_until(lambda: relay.totals.retried >= 5, "the relay to fail and reschedule")
        pending = storage.list_messages(OutboxStatus.PENDING)
        assert len(pending) == 5 and all(m.attempts == 1 for m in pending)
        assert len(server.handler.received) == 5

        server.start()  # same port
        clock.advance(minutes=1)  # past the first backoff (30 s)
        wait_until(lambda: len(server.handler.received) == 10, "the delayed mails")
    finally:
        relay.stop()
        thread.join(timeout=60)
    assert not thread.is_alive()

    ids = server.handler.message_ids()
    queued = {m.message_id for m in storage.list_messages(limit=100)}
    assert len(ids) == 10 and set(ids) == queued  # every message, each exactly once
    assert all(m.status is OutboxStatus.SENT for m in storage.list_messages(limit=100))
    clock.advance(hours=2)
    assert service.deliver_due() == DeliveryReport()
    assert len(server.handler.received) == 10


CRASHING_CHILD = textwrap.dedent("""
    import os, sys
    from cegema_onboarding.adapters.memory import ManualClock
    from cegema_onboarding.adapters.sql import SqlStorage, sqlite_engine
    from cegema_onboarding.service import OnboardingService
    from tests.conftest import START, make_settings

    class DieWhileSending:
        def send(self, mail: "Mail"):
            os._exit(1)  # killed after the claim, before the server saw anything

    inline = sys.argv[2] == "inline"
    storage = SqlStorage(sqlite_engine(sys.argv[1]))
    service = OnboardingService(storage, DieWhileSending(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=inline)
    member = service.staff.provision("100234567", "Marie Dupont")
    session = service.login("100234567", member.initial_password).session
    service.submit_email(session, "marie@example.com", "marie@example.com")
    os._exit(1)  # state and outbox are committed; the mail was never sent
""")


@pytest.mark.parametrize("mode", ["queued", "inline"])
def test_crash_between_commit_and_send_loses_nothing(tmp_path: Path, engine: Engine,
                                                     server: SmtpServer, mode: str) -> None:
    db = tmp_path / "onboarding.db"
    child = subprocess.run([sys.executable, "-c", CRASHING_CHILD, str(db), mode],  # noqa: S603
                           cwd=REPO,
                           capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == 1, child.stderr
    storage = SqlStorage(engine)
    [queued] = storage.list_messages()
    clock = ManualClock(START)
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none"))
    service = OnboardingService(storage, mailer, settings=make_settings(), clock=clock,
                                deliver_inline=False)
    relay = Relay(service)
    if mode == "inline":
        # The dead process had claimed it: its lease keeps other relays off for a while.
        assert queued.status is OutboxStatus.SENDING
        assert relay.run_pass() == DeliveryReport()
        clock.advance(minutes=6)
    else:
        assert queued.status is OutboxStatus.PENDING
    assert relay.run_pass() == DeliveryReport(sent=1)
    assert relay.run_pass() == DeliveryReport()
    clock.advance(hours=3)
    assert relay.run_pass() == DeliveryReport()
    assert server.handler.message_ids() == [queued.message_id]

    [received] = server.handler.messages()
    assert received["To"].addresses[0].addr_spec == "marie@example.com"
    body = received.get_body(preferencelist=("plain",))
    assert body is not None
    result = service.confirm_link(link_token(body.get_content()))
    assert isinstance(result, Ok)


def test_housekeeping_runs_between_passes_at_most_every_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    service = OnboardingService(MemoryStorage(), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=False)
    chores: list[int] = []

    def housekeeping() -> str:
        chores.append(1)
        if len(chores) == 2:
            raise StorageError("database is down: postgresql://user:hunter2@db/x")
        return "swept"

    relay = Relay(service, housekeeping=housekeeping, housekeeping_interval=3600)
    relay.run(once=True)
    relay.run(once=True)
    assert chores == [1]  # the second pass came before the interval was over
    eager = Relay(service, housekeeping=housekeeping, housekeeping_interval=0)
    eager.run(once=True)  # raises inside: logged, deliveries go on
    eager.run(once=True)
    assert len(chores) == 3 and eager.totals.passes == 2
    assert "housekeeping failed (StorageError)" in caplog.text
    assert "hunter2" not in caplog.text


# ---------------------------------------------------------------------- the commands


def relay_env(db: Path) -> dict[str, str]:
    return {"CEGEMA_SECRET_KEYS": SECRET, "CEGEMA_DATABASE_URL": f"sqlite:///{db}"}


def test_relay_command_once(tmp_path: Path, engine: Engine, server: SmtpServer,
                            monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    service = OnboardingService(SqlStorage(engine), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=False)
    queue_validation_mail(service, "100000001")
    queue_validation_mail(service, "100000002")
    for key, value in relay_env(tmp_path / "onboarding.db").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CEGEMA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CEGEMA_SMTP_SECURITY", "none")
    code = main(["relay", "--once", "--smtp-port", str(server.port)])
    assert code == 0
    assert "2 sent" in capsys.readouterr().out
    assert len(server.handler.received) == 2
    assert main(["relay", "--once", "--smtp-port", str(server.port)]) == 0
    assert len(server.handler.received) == 2


def test_relay_command_configuration_errors(tmp_path: Path, engine: Engine,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("CEGEMA_SECRET_KEYS", "CEGEMA_SMTP_HOST", "CEGEMA_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    # A migrated database: the command checks it at start, before the mail settings.
    db = f"sqlite:///{tmp_path / 'onboarding.db'}"
    assert main(["relay", "--once", "--database", db, "--smtp-host", "x"]) == 2
    assert "CEGEMA_SECRET_KEYS" in capsys.readouterr().err
    monkeypatch.setenv("CEGEMA_SECRET_KEYS", SECRET)
    assert main(["relay", "--once", "--database", db]) == 2
    assert "SMTP host" in capsys.readouterr().err
    # A user without the password from the environment; never a password argument.
    assert main(["relay", "--once", "--database", db, "--smtp-host", "x",
                 "--smtp-user", "u"]) == 2
    assert "CEGEMA_SMTP_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("CEGEMA_SMTP_PASSWORD", "pw-value-123")
    assert main(["relay", "--once", "--database", db, "--smtp-host", "x", "--smtp-user", "u",
                 "--smtp-security", "none"]) == 2
    err = capsys.readouterr().err
    assert "allow_insecure_auth" in err and "pw-value-123" not in err
    # A database never migrated: named at start, with the command that fixes it.
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["relay", "--once", "--database", empty, "--smtp-host", "x"]) == 2
    assert "cegema-onboarding migrate" in capsys.readouterr().err


def test_relay_command_purges_ended_rate_limit_windows(
        tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from cegema_onboarding.adapters.sql import SqlRateLimiter

    limiter = SqlRateLimiter(engine)
    now = datetime.now(UTC)  # the command purges against the real clock
    assert limiter.hit("login:old", 5, timedelta(minutes=5), now - timedelta(days=2))
    assert limiter.hit("login:recent", 5, timedelta(minutes=5), now - timedelta(hours=2))
    for key, value in relay_env(tmp_path / "onboarding.db").items():
        monkeypatch.setenv(key, value)
    args = ["relay", "--once", "--smtp-host", "127.0.0.1", "--smtp-security", "none"]
    assert main([*args, "--rate-limit-retention", "0"]) == 0  # off: nothing deleted
    assert _windows(engine) == {"login:old", "login:recent"}
    assert main(args) == 0  # the default keeps a day
    assert _windows(engine) == {"login:recent"}
    monkeypatch.setenv("CEGEMA_RATE_LIMIT_RETENTION", "3600")
    assert main(args) == 0
    assert _windows(engine) == set()
    monkeypatch.setenv("CEGEMA_RATE_LIMIT_RETENTION", "soon")
    assert main(args) == 2
    assert main([*args, "--rate-limit-retention", "-1"]) == 2


def _windows(engine: Engine) -> set[str]:
    import sqlalchemy as sa

    from cegema_onboarding.adapters.sql.schema import rate_limits

    with engine.connect() as conn:
        return set(conn.execute(sa.select(rate_limits.c.key)).scalars())


def test_settings_from_env() -> None:
    with pytest.raises(ConfigurationError):
        settings_from_env({})
    settings = settings_from_env({"CEGEMA_SECRET_KEYS": f"{SECRET}, {SECRET[::-1]}",
                                  "CEGEMA_PEPPER_KEYS": f"p2:{PEPPER}"})
    assert settings.secret_keys == (SECRET, SECRET[::-1])
    assert settings.pepper_keys == (("p2", PEPPER),)
    assert SECRET not in repr(settings) and PEPPER not in repr(settings)


def test_outbox_list_and_retry(tmp_path: Path, engine: Engine, server: SmtpServer,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    storage = SqlStorage(engine)
    service = OnboardingService(storage, MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=False)
    queue_validation_mail(service, "100000001")
    [message] = storage.list_messages()
    storage.claim(message.message_id, START)
    storage.mark_failed(message.message_id, "SmtpError", None)  # parked
    for key, value in relay_env(tmp_path / "onboarding.db").items():
        monkeypatch.setenv(key, value)

    assert main(["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert message.message_id in out and "parked" in out
    assert "m***@example.com" in out and "m100000001@" not in out

    assert main(["outbox", "retry", "<nope@x>"]) == 1
    assert main(["outbox", "retry", message.message_id]) == 0
    retried = storage.get_message(message.message_id)
    assert retried is not None and retried.status is OutboxStatus.PENDING
    assert main(["outbox", "retry", message.message_id]) == 1  # not parked any more
    capsys.readouterr()
    monkeypatch.setenv("CEGEMA_SMTP_HOST", "127.0.0.1")
    assert main(["relay", "--once", "--smtp-security", "none", "--smtp-port",
                 str(server.port)]) == 0
    assert server.handler.message_ids() == [message.message_id]


@pytest.mark.slow
def test_relay_process_stops_cleanly_on_sigterm(tmp_path: Path, engine: Engine,
                                                server: SmtpServer) -> None:
    service = OnboardingService(SqlStorage(engine), MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START), deliver_inline=False)
    queue_validation_mail(service, "100000001")
    env = {**os.environ, **relay_env(tmp_path / "onboarding.db"),
           "CEGEMA_SMTP_HOST": "127.0.0.1", "CEGEMA_SMTP_PORT": str(server.port),
           "CEGEMA_SMTP_SECURITY": "none", "CEGEMA_RELAY_INTERVAL": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "cegema_onboarding", "relay"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(server.handler.received) == 1, "the relay process to send")
        queue_validation_mail(service, "100000002")
        wait_until(lambda: len(server.handler.received) == 2, "the next poll")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "2 sent" in out
    assert len(set(server.handler.message_ids())) == 2


def test_lease_covers_a_whole_batch() -> None:
    # The timeout bounds each of a message's ~10 SMTP round trips; a whole claimed batch
    # must fit in the 5-minute claim lease, or a second relay could take it over.
    worst = DEFAULT_BATCH * SmtpSettings("x").timeout * 10
    assert worst < timedelta(minutes=5).total_seconds()
