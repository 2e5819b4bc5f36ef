"""Three relays drain 10,000 queued mails into an SMTP server that misbehaves, one is killed.

The server answers each attempt at random: a permanent refusal (5xx), a temporary one
(4xx), a dropped connection, or acceptance. One relay is killed with SIGKILL in the middle
of the run. What must hold, counted by Message-ID at the server and in the outbox:

- every mail is either received or parked, never both, never neither;
- a mail is parked exactly when the server refused it permanently;
- no mail is received twice, except at most the one the killed relay had in hand (it may
  have been accepted by the server before the relay could record it: delivery is at least
  once, and the duplicate carries the same Message-ID, see :mod:`cegema_onboarding.relay`).

The relays run with a clock that goes a hundred times faster than the wall clock, so that
backoff (30 s and more) and the claim lease (5 minutes) pass within the test.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from cegema_onboarding import OnboardingService, Settings
from cegema_onboarding.adapters.memory import MemoryMailer
from cegema_onboarding.flow import SendNotice
from cegema_onboarding.hashing import FAST_TEST_PARAMS
from cegema_onboarding.journey.outcomes import Notice
from cegema_onboarding.model import Channel
from cegema_onboarding.ports import Changes

from ..smtp_server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MAILS = 10_000
RELAYS = 3
SPEED = 100.0
KILL_AFTER = 3_000
DEADLINE_SECONDS = 900.0
# Shares of attempts, at random: refused for good, refused for now, connection dropped.
PERMANENT, TEMPORARY, DROPPED = 0.04, 0.08, 0.04

RELAY_SCRIPT = '''
import json, os, time
from datetime import UTC, datetime

from cegema_onboarding import Settings
from cegema_onboarding.adapters.smtp import SmtpMailer, SmtpSettings
from cegema_onboarding.adapters.sql import SqlStorage, postgres_engine
from cegema_onboarding.bootstrap import build_outbox
from cegema_onboarding.relay import Relay

T0, SPEED = float(os.environ["RELAY_T0"]), float(os.environ["RELAY_SPEED"])


class FastClock:
    """The wall clock, running SPEED times faster from T0 (the same in every relay)."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(T0 + (time.time() - T0) * SPEED, UTC)


settings = Settings(secret_keys=(os.environ["RELAY_KEY"],),
                    pepper_keys=(("p1", os.environ["RELAY_PEPPER"]),),
                    base_url="https://portail.example")
mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=int(os.environ["RELAY_SMTP_PORT"]),
                                 security="none", timeout=10))
outbox = build_outbox(settings, SqlStorage(postgres_engine(os.environ["RELAY_DB"])), mailer,
                      clock=FastClock())
relay = Relay(outbox, poll_interval=0.05)
with relay.stop_on_signals():
    totals = relay.run()
print(json.dumps({"sent": totals.sent, "retried": totals.retried, "parked": totals.parked}))
'''


class FaultyServer:
    """aiosmtpd handler: accepts, refuses (4xx, 5xx) or drops, at random, per attempt."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.received: collections.Counter[str] = collections.Counter()
        self.refused_for_good: set[str] = set()
        self.attempts = collections.Counter[str]()

    def _draw(self) -> float:
        with self.lock:
            return self.random.random()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message_id = _message_id(envelope.original_content or b"")
        draw = self._draw()
        with self.lock:
            self.attempts["all"] += 1
        if draw < PERMANENT:
            with self.lock:
                self.refused_for_good.add(message_id)
            return "554 5.7.1 refused for good"
        if draw < PERMANENT + TEMPORARY:
            return "451 4.3.0 try again later"
        if draw < PERMANENT + TEMPORARY + DROPPED:
            # The connection goes away without an answer: the message is not accepted.
            assert server.transport is not None
            server.transport.abort()
            await asyncio.sleep(0)
            return "421 4.3.0 gone"
        with self.lock:
            self.received[message_id] += 1
        return "250 2.0.0 accepted"


def _message_id(data: bytes) -> str:
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
        if not line:
            break
    raise AssertionError("a mail without a Message-ID")


@attrs.frozen
class Queued:
    ids: frozenset[str]
    key: str
    pepper: str


def _queue(pg_url: str) -> Queued:
    from cegema_onboarding.adapters.sql import SqlStorage, create_schema, postgres_engine

    key, pepper = "k" * 48, "p" * 48
    engine = postgres_engine(pg_url)
    create_schema(engine)
    storage = SqlStorage(engine)
    service = OnboardingService(
        storage, MemoryMailer(),
        settings=Settings(secret_keys=(key,), pepper_keys=(("p1", pepper),),
                          base_url="https://portail.example", argon2=FAST_TEST_PARAMS))
    member = service.staff.provision("100234567", "Marie Dupont")
    account = storage.find_by_member_number(member.member_number)
    assert account is not None
    now = datetime.now(UTC)
    ids = set()
    for start in range(0, MAILS, 500):
        rows = []
        for i in range(start, min(start + 500, MAILS)):
            effect = SendNotice(Notice.PASSWORD_CHANGED, account.account_id, Channel.EMAIL,
                                now, to=f"membre{i}@example.com", ip="203.0.113.5")
            rows.append(service.outbox.queue(account, effect, now))
        storage.commit(Changes(outbox=tuple(rows)))
        ids.update(row.message_id for row in rows)
    engine.dispose()
    return Queued(frozenset(ids), key, pepper)


def _rows(pg_url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query, on an engine of its own disposed of at once."""
    from cegema_onboarding.adapters.sql import postgres_engine

    engine = postgres_engine(pg_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql).all()]
    finally:
        engine.dispose()


def _statuses(pg_url: str) -> dict[str, int]:
    rows = _rows(pg_url, "SELECT status, count(*) FROM cegema_outbox GROUP BY status")
    return {str(status): int(count) for status, count in rows}


def _parked(pg_url: str) -> dict[str, str]:
    rows = _rows(pg_url,
                 "SELECT message_id, last_error FROM cegema_outbox WHERE status = 'parked'")
    return {str(message_id): str(error) for message_id, error in rows}


@pytest.fixture
def faulty_smtp() -> Iterator[tuple[FaultyServer, int]]:
    handler = FaultyServer(seed=20261205)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_three_relays_one_killed_deliver_each_mail_once(
        pg_url: str, faulty_smtp: tuple[FaultyServer, int], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    server, port = faulty_smtp
    queued = _queue(pg_url)
    script = tmp_path / "relay_worker.py"
    script.write_text(RELAY_SCRIPT)
    environ = {**os.environ, "RELAY_T0": str(time.time()), "RELAY_SPEED": str(SPEED),
               "RELAY_KEY": queued.key, "RELAY_PEPPER": queued.pepper, "RELAY_DB": pg_url,
               "RELAY_SMTP_PORT": str(port)}
    started = time.monotonic()
    relays = [subprocess.Popen([sys.executable, str(script)], env=environ,  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(RELAYS)]
    killed = False
    try:
        while time.monotonic() - started < DEADLINE_SECONDS:
            for relay in relays[1:] if killed else relays:
                assert relay.poll() is None, relay.communicate()[1].decode()[-2000:]
            if not killed and sum(server.received.values()) >= KILL_AFTER:
                relays[0].send_signal(signal.SIGKILL)
                relays[0].wait(10)
                killed = True
            statuses = _statuses(pg_url)
            if killed and not statuses.get("pending") and not statuses.get("sending"):
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        for relay in relays[1:]:
            relay.send_signal(signal.SIGTERM)
        outputs = [relay.communicate(timeout=60) for relay in relays]
    assert killed, "the run ended before a relay could be killed"
    assert relays[0].returncode == -signal.SIGKILL
    statuses = _statuses(pg_url)
    assert not statuses.get("pending") and not statuses.get("sending"), statuses
    for relay, (_out, err) in zip(relays[1:], outputs[1:], strict=True):
        assert relay.returncode == 0, err.decode()[-2000:]

    received = set(server.received)
    parked = _parked(pg_url)
    # Each mail received or parked: never both, never neither, nothing unknown.
    assert received | set(parked) == queued.ids
    assert not received & set(parked)
    # Parked exactly when refused for good (8 temporary failures in a row: negligible).
    assert set(parked) == server.refused_for_good
    assert all("554" in error for error in parked.values())
    # Received once each, but for what the killed relay may have had in hand.
    twice = [mid for mid, count in server.received.items() if count > 1]
    assert len(twice) <= 1, twice
    assert all(count <= 2 for count in server.received.values())
    assert statuses.get("sent", 0) == len(received)
    with capsys.disabled():
        print(f"\n{RELAYS} relays, one killed after {KILL_AFTER}: {len(received)} mails "
              f"delivered and {len(parked)} parked in {elapsed:.1f} s "
              f"({len(received) / elapsed:.0f} mails/s), {server.attempts['all']} attempts, "
              f"{len(twice)} sent twice; relays' totals: "
              + "; ".join(out.decode().strip() or "killed" for out, _err in outputs))
