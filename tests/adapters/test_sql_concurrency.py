"""SqlStorage under real concurrency, on SQLite and on a real PostgreSQL server.

Threads and processes race through the service itself, so these tests check the whole
chain: the flow's rules, the service's retry loops and the storage's compare-and-set.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.config import LockoutPolicy
from cegema_onboarding.errors import ConcurrentUpdate
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import Session, Stage
from cegema_onboarding.ports import Changes, OutboxStatus
from cegema_onboarding.ratelimit import Limit, RateLimits
from cegema_onboarding.service import Ok, OnboardingService, guards

from ..conftest import GOOD_PASSWORD, START, link_token, make_settings
from ..pg import sql_adapter

sql = sql_adapter()

T = TypeVar("T")

LINK_THREADS = 8
LINK_ROUNDS = 100
PASSWORD_ATTEMPTS = 200
RIGHT_LOGINS = 64
PROCESS_STEPS = 25


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'concurrency.db'}"
    return str(request.getfixturevalue("pg_url"))


def _engine(url: str) -> Any:
    # Enough connections for the threads below without exhausting a shared server.
    return sql.create_engine_from_url(url, pool_size=10, max_overflow=20, pool_timeout=120)


@pytest.fixture
def storage(db_url: str) -> Iterator[Any]:
    """A SqlStorage on a fresh schema (this also replaces conftest's memory storage)."""
    engine = _engine(db_url)
    sql.create_schema(engine)
    yield sql.SqlStorage(engine)
    engine.dispose()


def _race(n: int, action: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``action(i)`` in ``n`` threads released together; results or raised exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T | BaseException:
        barrier.wait()
        try:
            return action(i)
        except Exception as exc:  # collected and asserted on by the caller
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


# ---------------------------------------------------------------------- one link, 8 clicks


@pytest.mark.slow
def test_a_link_redeemed_by_eight_threads_succeeds_exactly_once(
        service: OnboardingService, storage: Any, mailer: MemoryMailer) -> None:
    for round_ in range(LINK_ROUNDS):
        number = f"2{round_:08d}"
        member = service.staff.provision(number, f"Membre {round_}")
        login = service.login(number, member.initial_password)
        assert isinstance(login, Ok) and login.session is not None
        sent = service.submit_email(login.session, f"m{round_}@example.org",
                                    f"m{round_}@example.org")
        assert isinstance(sent, Ok)
        token = link_token(mailer)

        results = _race(LINK_THREADS, lambda _, t=token: service.confirm_link(t))

        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == [], f"round {round_}"
        wins = [r for r in results if isinstance(r, Ok)]
        assert len(wins) == 1, f"round {round_}: {results}"
        assert all(isinstance(r, Refused) and r.reason is Reason.LINK_USED
                   for r in results if not isinstance(r, Ok)), f"round {round_}: {results}"
        account = storage.get(member.account_id)
        assert account.stage is Stage.PASSWORD_REQUIRED
        verified = [r for r in storage.audit_records(account_id=member.account_id)
                    if r.action == "email_verified"]
        assert len(verified) == 1, f"round {round_}"


# ---------------------------------------------------------------------- 200 wrong passwords


def _wrong_passwords(service: OnboardingService, number: str) -> Counter[str]:
    # One address each, as from a botnet: the per-IP rate limit is not what stops them.
    results = _race(PASSWORD_ATTEMPTS,
                    lambda i: service.login(number, "NOT-THE-PASSWORD-1234",
                                            ip=f"192.0.2.{i}"))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert not any(isinstance(r, Ok) for r in results)
    return Counter(r.reason.value for r in results if isinstance(r, Refused))


def _audit_outcomes(storage: Any) -> Counter[str]:
    return Counter(r.outcome for r in storage.audit_records(limit=10_000)
                   if r.action == "login")


@pytest.mark.slow
def test_concurrent_wrong_passwords_are_all_counted(storage: Any, mailer: MemoryMailer,
                                                    clock: ManualClock,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Limits high enough to admit as many attempts as the policy allows at all (99).
    policy = LockoutPolicy(free_attempts=99, hard_limit=99)
    # The 101 attempts over the limit wait for the 99 in flight, at most guards.PATIENCE
    # (10 s), then answer "busy, try again". Through one PostgreSQL row on two slow cores
    # the 99 took longer than that, and all 101 answered busy: this test is about the
    # count, so it gives them the time to see the lock.
    monkeypatch.setattr(guards, "PATIENCE", 120.0)
    service = OnboardingService(storage, mailer, settings=make_settings(lockout=policy),
                                clock=clock)
    member = service.staff.provision("300000001", "Cible")

    reasons = _wrong_passwords(service, member.member_number)

    admitted = reasons[Reason.BAD_CREDENTIALS.value]
    stored = storage.get_throttle(f"login:{member.member_number}")
    assert stored.failures == admitted == 99
    assert reasons[Reason.LOCKED.value] == PASSWORD_ATTEMPTS - admitted
    outcomes = _audit_outcomes(storage)
    assert outcomes["bad_credentials"] == admitted
    assert outcomes["locked"] == PASSWORD_ATTEMPTS - admitted


@pytest.mark.slow
def test_a_burst_of_wrong_passwords_cannot_pass_the_default_lockout(
        storage: Any, service: OnboardingService) -> None:
    policy = service.settings.lockout
    member = service.staff.provision("300000002", "Cible")

    reasons = _wrong_passwords(service, member.member_number)

    # The clock does not move: after the free attempts, every other one must wait.
    admitted = reasons[Reason.BAD_CREDENTIALS.value]
    assert admitted == policy.free_attempts
    assert storage.get_throttle(f"login:{member.member_number}").failures == admitted
    assert reasons[Reason.LOCKED.value] == PASSWORD_ATTEMPTS - admitted
    assert _audit_outcomes(storage)["bad_credentials"] == admitted


# ---------------------------------------------------------------------- right passwords


@pytest.fixture(params=["memory", "sqlite",
                        pytest.param("postgres", marks=pytest.mark.postgres)])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty storage of each kind: memory, SQLite, PostgreSQL."""
    if request.param == "memory":
        yield MemoryStorage()
        return
    url = (f"sqlite:///{tmp_path / 'right.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("pg_url")))
    engine = _engine(url)
    sql.create_schema(engine)
    yield sql.SqlStorage(engine)
    engine.dispose()


def _active_member(storage: Any, clock: ManualClock, **overrides: object
                   ) -> tuple[OnboardingService, str]:
    """A service on ``storage`` and the member number of a member through the journey."""
    from ..service.test_recovery import onboard

    mailer = MemoryMailer()
    service = OnboardingService(storage, mailer, settings=make_settings(**overrides),
                                clock=clock)
    member, _session = onboard(service, mailer, "500000001", "marie@example.org")
    return service, member.member_number


def _in_flight(storage: Any, number: str) -> int:
    # Read apart from the dataclass so that this module also runs on a Throttle without it.
    return int(getattr(storage.get_throttle(f"login:{number}"), "in_flight", 0))


def _right_logins(service: OnboardingService, number: str) -> list[Any]:
    # One address each, as from many devices of one household behind different networks.
    return _race(RIGHT_LOGINS, lambda i: service.login(number, GOOD_PASSWORD, remember=True,
                                                       ip=f"198.51.100.{i}"))


@pytest.mark.slow
def test_concurrent_right_logins_of_one_member_all_succeed(any_storage: Any,
                                                           clock: ManualClock) -> None:
    # Room for every device, so that each token's series must be stored.
    service, number = _active_member(any_storage, clock, remember_max_devices=100)

    results = _right_logins(service, number)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    refused = [r for r in results if not isinstance(r, Ok)]
    assert refused == []
    tokens = {r.remember_token for r in results if isinstance(r, Ok)}
    assert None not in tokens and len(tokens) == RIGHT_LOGINS
    account = any_storage.find_by_member_number(number)
    assert len(account.remember) == RIGHT_LOGINS
    # Every returned token is a live one: each logs in once.
    for token in list(tokens)[:4]:
        assert isinstance(service.login_with_token(token), Ok)
    throttle = any_storage.get_throttle(f"login:{number}")
    assert throttle.failures == 0 and _in_flight(any_storage, number) == 0
    logins = Counter(r.outcome for r in any_storage.audit_records(limit=10_000)
                     if r.action == "login")
    assert logins["ok"] == RIGHT_LOGINS + 1  # the journey's own first login, then these


@pytest.mark.slow
def test_right_and_wrong_passwords_racing_within_the_policy_are_all_answered_right(
        any_storage: Any, clock: ManualClock) -> None:
    wrong = 16
    policy = LockoutPolicy(free_attempts=wrong + 1, hard_limit=30)
    service, number = _active_member(any_storage, clock, lockout=policy,
                                     remember_max_devices=100)

    results = _race(RIGHT_LOGINS, lambda i: service.login(
        number, "NOT-THE-PASSWORD-1234" if i % 4 == 0 else GOOD_PASSWORD,
        remember=True, ip=f"198.51.100.{i}"))

    assert [r for r in results if isinstance(r, BaseException)] == []
    for i, r in enumerate(results):
        if i % 4 == 0:
            assert isinstance(r, Refused) and r.reason is Reason.BAD_CREDENTIALS, (i, r)
        else:
            assert isinstance(r, Ok), (i, r)
    outcomes = _audit_outcomes(any_storage)
    assert outcomes["bad_credentials"] == wrong
    assert outcomes["ok"] == RIGHT_LOGINS - wrong + 1
    assert outcomes["locked"] == 0
    assert _in_flight(any_storage, number) == 0
    # Right passwords clear the failures; only those confirmed after the last one remain.
    assert any_storage.get_throttle(f"login:{number}").failures <= wrong


@pytest.mark.slow
def test_a_burst_of_wrong_passwords_still_locks_and_right_ones_then_wait_their_turn(
        any_storage: Any, clock: ManualClock) -> None:
    service, number = _active_member(any_storage, clock, remember_max_devices=100)
    policy = service.settings.lockout

    reasons = _wrong_passwords(service, number)

    # The lock at the threshold holds: the free attempts, then every other one refused.
    assert reasons[Reason.BAD_CREDENTIALS.value] == policy.free_attempts
    assert reasons[Reason.LOCKED.value] == PASSWORD_ATTEMPTS - policy.free_attempts
    throttle = any_storage.get_throttle(f"login:{number}")
    assert throttle.failures == policy.free_attempts
    # While the delay runs, the right password is refused like any other: the policy.
    early = _right_logins(service, number)
    assert all(isinstance(r, Refused) and r.reason is Reason.LOCKED for r in early), early
    # Once it has run, one attempt may be checked at a time (the next delay would start
    # with its failure); the right ones queue for it instead of being told LOCKED.
    clock.advance(policy.base_delay)
    late = _right_logins(service, number)
    assert [r for r in late if isinstance(r, BaseException)] == []
    assert all(isinstance(r, Ok) for r in late), [r for r in late if not isinstance(r, Ok)]
    assert any_storage.get_throttle(f"login:{number}").failures == 0
    assert _in_flight(any_storage, number) == 0


# ---------------------------------------------------------------------- two processes


def _drive(url: str, account_id: str, epoch: int, tag: str, steps: int,
           barrier: Any, results: Any) -> None:
    """One process: submit ``steps`` different addresses for the same account."""
    engine = _engine(url)
    try:
        # The per-account link limit would refuse most of these submissions before they
        # reach storage, and storage is what this test is about.
        settings = make_settings(
            rate_limits=RateLimits(link_identifier=Limit(10_000, timedelta(minutes=5))))
        service = OnboardingService(sql.SqlStorage(engine), MemoryMailer(),
                                    settings=settings, clock=ManualClock(START),
                                    deliver_inline=False)
        session = Session(account_id, epoch)
        ok = gave_up = 0
        barrier.wait()
        for i in range(steps):
            address = f"{tag}.{i}@example.org"
            try:
                result = service.submit_email(session, address, address)
            except ConcurrentUpdate:
                gave_up += 1
                continue
            if isinstance(result, Ok):
                ok += 1
        results.put((tag, ok, gave_up))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_processes_lose_no_update(db_url: str, storage: Any, service: OnboardingService
                                      ) -> None:
    member = service.staff.provision("400000001", "Partagé")
    login = service.login(member.member_number, member.initial_password)
    assert isinstance(login, Ok) and login.session is not None
    start = storage.get(member.account_id)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    workers = [ctx.Process(target=_drive,
                           args=(db_url, member.account_id, login.session.epoch, tag,
                                 PROCESS_STEPS, barrier, results))
               for tag in ("a", "b")]
    for w in workers:
        w.start()
    reports = [results.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0

    successes = sum(ok for _, ok, _ in reports)
    assert successes + sum(gave_up for _, _, gave_up in reports) == 2 * PROCESS_STEPS
    assert successes >= PROCESS_STEPS  # both made progress; giving up stays rare
    final = storage.get(member.account_id)
    assert final.version == start.version + successes
    submitted = [r for r in storage.audit_records(account_id=member.account_id, limit=1000)
                 if r.action == "email_submitted"]
    assert len(submitted) == successes
    assert len(storage.list_messages(limit=1000)) == successes
    # The last committed address is the one pending on the account.
    assert final.pending_email in {f"{t}.{i}@example.org" for t in "ab"
                                   for i in range(PROCESS_STEPS)}


# ---------------------------------------------------------------------- relays


@pytest.mark.slow
def test_concurrent_relays_never_share_a_message(storage: Any) -> None:
    from datetime import timedelta

    from ..storage_contract import message

    total, relays = 300, 6
    storage.commit(Changes(outbox=tuple(message(n) for n in range(total))))
    now = START + timedelta(days=1)

    def relay(_: int) -> list[str]:
        mine: list[str] = []
        while batch := storage.claim_due(now, limit=7):
            mine.extend(m.message_id for m in batch)
            for m in batch:
                storage.mark_sent(m.message_id, now)
        return mine

    results = _race(relays, relay)

    assert not [r for r in results if isinstance(r, BaseException)], results
    claimed = [mid for r in results if isinstance(r, list) for mid in r]
    assert len(claimed) == total
    assert set(claimed) == {message(n).message_id for n in range(total)}
    assert len(storage.list_messages(OutboxStatus.SENT, limit=1000)) == total
