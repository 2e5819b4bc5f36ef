"""Forgotten password and identifier write the same records, known account or not.

Same answer, same mail-port use and same hash count are not enough: a request that saves
an account and queues a mail commits more than one that writes an audit record only, and
the commit's time tells a stranger which it was (issue 12, defect 8). Whatever the case
(a member who gets the mail; a member with no address, or sent a link moments ago; no
such member), each request must commit one account record (a real one or a stand-in),
one outbox row (a real mail or a stand-in never delivered) and one audit record.

Checked on the commits themselves (a storage spy), on memory and on SQLite; on SQLite
also on the statements that reach the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.ports import Changes, OutboxStatus
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import START, make_settings
from ..pg import sql_adapter
from .test_recovery import onboard

sql = sql_adapter()

Shape = tuple[int, int, int, int]


def shape(changes: Changes) -> Shape:
    """Account records written (real or stand-in), outbox rows, audit records, counters."""
    decoys = getattr(changes, "decoys", ())
    return (len(changes.accounts) + len(decoys), len(changes.outbox), len(changes.audit),
            len(changes.throttles))


class _Spy:
    """What a storage was asked to commit, per commit."""

    def __init__(self) -> None:
        self.shapes: list[Shape] = []


class SpyMemory(MemoryStorage, _Spy):
    def __init__(self) -> None:
        MemoryStorage.__init__(self)
        _Spy.__init__(self)

    def commit(self, changes: Changes) -> None:
        self.shapes.append(shape(changes))
        super().commit(changes)


def _spy_sql(engine: Any) -> Any:
    class SpySql(sql.SqlStorage, _Spy):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            sql.SqlStorage.__init__(self, engine)
            _Spy.__init__(self)

        def commit(self, changes: Changes) -> None:
            self.shapes.append(shape(changes))
            super().commit(changes)

    return SpySql()


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield SpyMemory()
        return
    engine = sql.sqlite_engine(tmp_path / "shape.db")
    sql.create_schema(engine)
    yield _spy_sql(engine)
    engine.dispose()


@pytest.fixture
def world(storage: Any) -> tuple[OnboardingService, Any, ManualClock]:
    """A member with an address and one without, on the spied storage."""
    return _world_on(storage)


def _world_on(storage: Any) -> tuple[OnboardingService, Any, ManualClock]:
    clock = ManualClock(START)
    mailer = MemoryMailer()
    service = OnboardingService(storage, mailer, settings=make_settings(), clock=clock)
    onboard(service, mailer, "100000001", "known@example.com")
    no_email = service.staff.provision("100000002", "Sans Email")
    out = service.login("100000002", no_email.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(service.declare_no_email(out.session), Ok)
    return service, storage, clock


def _observe(service: OnboardingService, storage: Any, clock: ManualClock,
             request: Callable[[OnboardingService], object]) -> list[Shape]:
    # Out of the cool-down and the rate-limit windows of the previous request.
    clock.advance(timedelta(minutes=10))
    storage.shapes.clear()
    assert isinstance(request(service), Ok)
    return list(storage.shapes)


FORGOT_PASSWORD = {
    "known, mailed": lambda s: s.forgot_password("100000001", ip="192.0.2.1"),
    "known, no address": lambda s: s.forgot_password("100000002", ip="192.0.2.1"),
    "unknown": lambda s: s.forgot_password("999999999", ip="192.0.2.1"),
}
FORGOT_IDENTIFIER = {
    "known": lambda s: s.forgot_identifier("known@example.com", ip="192.0.2.1"),
    "unknown": lambda s: s.forgot_identifier("nobody@example.com", ip="192.0.2.1"),
}


@pytest.mark.parametrize("requests", [FORGOT_PASSWORD, FORGOT_IDENTIFIER],
                         ids=["forgot_password", "forgot_identifier"])
def test_each_case_commits_one_account_record_one_outbox_row_one_audit_record(
        world: tuple[OnboardingService, Any, ManualClock],
        requests: dict[str, Callable[[OnboardingService], object]]) -> None:
    service, storage, clock = world
    shapes = {case: _observe(service, storage, clock, request)
              for case, request in requests.items()}
    assert shapes == {case: [(1, 1, 1, 0)] for case in requests}


def test_a_reset_link_sent_moments_ago_commits_the_same_shape(
        world: tuple[OnboardingService, Any, ManualClock]) -> None:
    service, storage, clock = world
    first = _observe(service, storage, clock, FORGOT_PASSWORD["known, mailed"])
    storage.shapes.clear()
    # At once again: the link is cooling down, nothing is sent.
    assert isinstance(service.forgot_password("100000001", ip="192.0.2.2"), Ok)
    assert first == storage.shapes == [(1, 1, 1, 0)]


def test_stand_ins_are_never_delivered_listed_or_read(
        world: tuple[OnboardingService, Any, ManualClock]) -> None:
    service, storage, clock = world
    before = {m.message_id for m in storage.list_messages(limit=1000)}
    _observe(service, storage, clock, FORGOT_PASSWORD["unknown"])
    _observe(service, storage, clock, FORGOT_IDENTIFIER["unknown"])
    # The stand-ins are stored, but as no mail: not listed, never claimed, never sent.
    assert {m.message_id for m in storage.list_messages(limit=1000)} == before
    discarded = storage.list_messages(OutboxStatus.DISCARDED, limit=1000)
    assert len(discarded) == 2
    assert all(m.recipient is not None and m.recipient.endswith(".invalid")
               for m in discarded)
    mailer = service.mailer
    assert isinstance(mailer, MemoryMailer)
    sent = len(mailer.sent)
    assert service.deliver_due().sent == 0 and len(mailer.sent) == sent
    assert storage.claim_due(START + timedelta(days=365)) == []
    assert all(storage.claim(m.message_id, START) is None for m in discarded)
    # Their account records are no account.
    assert storage.find_by_member_number("decoy-00") is None
    assert all(storage.get(f"decoy-{n:02d}") is None for n in range(64))
    # And they go when purged.
    assert storage.purge_discarded(START + timedelta(days=365)) == 2
    assert storage.list_messages(OutboxStatus.DISCARDED, limit=1000) == []


# ---------------------------------------------------------------------- SQL statements


_STATEMENT = re.compile(r"^\s*(INSERT INTO|UPDATE|SELECT .*? FROM|DELETE FROM)\s+(\w+)",
                        re.IGNORECASE | re.DOTALL)


def _kind(statement: str) -> str:
    match = _STATEMENT.match(statement)
    if match is None:
        return statement.split()[0].upper()
    verb = match.group(1).split()[0].upper()
    # A stand-in row is written to a table laid out like the accounts': the same work.
    table = match.group(2).replace("cegema_decoys", "cegema_accounts")
    return f"{verb} {table}"


@pytest.mark.parametrize("requests", [FORGOT_PASSWORD, FORGOT_IDENTIFIER],
                         ids=["forgot_password", "forgot_identifier"])
def test_sqlite_runs_the_same_statements_known_or_not(
        tmp_path: Path, requests: dict[str, Callable[[OnboardingService], object]]) -> None:
    engine = sql.sqlite_engine(tmp_path / "statements.db")
    sql.create_schema(engine)
    storage = _spy_sql(engine)
    try:
        service, _, clock = _world_on(storage)
        # Once each first: a stand-in slot's first use inserts its row, once per database.
        for request in requests.values():
            _observe(service, storage, clock, request)
        # The sqlite3 connection under the SQLAlchemy Connection this thread keeps.
        driver = storage._db._acquire().connection.connection.dbapi_connection
        statements: dict[str, list[str]] = {}
        for case, request in requests.items():
            seen: list[str] = []
            driver.set_trace_callback(seen.append)
            try:
                _observe(service, storage, clock, request)
            finally:
                driver.set_trace_callback(None)
            statements[case] = [_kind(s) for s in seen]
        first = next(iter(statements.values()))
        assert "UPDATE cegema_accounts" in first and "INSERT cegema_outbox" in first
        assert statements == {case: first for case in requests}
    finally:
        engine.dispose()


def test_a_stand_in_the_flow_would_not_mail_still_writes_the_same_shape(
        world: tuple[OnboardingService, Any, ManualClock],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Should a change of the flow ever refuse the stand-in, the request must neither fail
    # nor write less: the stand-in's notice is then rendered directly.
    from cegema_onboarding import flow

    service, storage, clock = world
    real_step = flow.step

    def step(account: Any, event: Any, *args: Any, **kwargs: Any) -> Any:
        if account.account_id.startswith("decoy-"):
            return flow.Refused(flow.Reason.INVALID_STEP)
        return real_step(account, event, *args, **kwargs)

    monkeypatch.setattr(flow, "step", step)
    for request in (FORGOT_PASSWORD["unknown"], FORGOT_IDENTIFIER["unknown"]):
        assert _observe(service, storage, clock, request) == [(1, 1, 1, 0)]
    assert len(storage.list_messages(OutboxStatus.DISCARDED, limit=10)) == 2
