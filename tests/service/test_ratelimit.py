"""Rate limits: the port, the in-memory limiter under threads, and the service's use."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.config import LockoutPolicy
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.ports import RateLimiter
from cegema_onboarding.ratelimit import Action, Limit, MemoryRateLimiter, RateLimits, rate_keys
from cegema_onboarding.service import Ok, OnboardingService, describe, retry_after

from ..conftest import GOOD_PASSWORD, START, make_settings
from .test_recovery import make_service, onboard


def race(n: int, action: object) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = action(i)  # type: ignore[operator]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_memory_limiter_is_a_rate_limiter() -> None:
    assert isinstance(MemoryRateLimiter(), RateLimiter)


def test_concurrent_hits_never_pass_the_limit() -> None:
    limiter = MemoryRateLimiter()
    results = race(64, lambda i: limiter.hit("k", 10, timedelta(minutes=1), START))
    assert results.count(True) == 10 and results.count(False) == 54
    assert limiter.count("k") == 10


def test_the_window_resets_and_keys_are_independent() -> None:
    limiter = MemoryRateLimiter()
    window = timedelta(minutes=1)
    assert [limiter.hit("a", 2, window, START) for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", 2, window, START)
    assert not limiter.hit("a", 2, window, START + window - timedelta(seconds=1))
    assert limiter.hit("a", 2, window, START + window)


def test_memory_stays_bounded() -> None:
    limiter = MemoryRateLimiter(max_keys=10)
    for i in range(50):
        assert limiter.hit(f"k{i}", 1, timedelta(minutes=1), START)
    assert sum(limiter.count(f"k{i}") for i in range(50)) <= 10


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigurationError):
        Limit(0, timedelta(minutes=1))
    with pytest.raises(ConfigurationError):
        Limit(1, timedelta(0))


def test_rate_keys_are_per_ip_and_per_normalised_identifier() -> None:
    settings = make_settings()
    keys = rate_keys(Action.FORGOT_PASSWORD, settings, ip="192.0.2.1",
                          identifier="100234567")
    assert [(k, lim.count) for k, lim in keys] == [
        ("rl:forgot_password:ip:192.0.2.1", 20), ("rl:forgot_password:id:100234567", 5)]
    # Login failures per identifier are the lockout's job.
    assert len(rate_keys(Action.LOGIN, settings, ip="192.0.2.1", identifier="1")) == 1
    assert rate_keys(Action.LOGIN, settings) == ()
    assert RateLimits().login_ip.count == 30


def test_login_is_limited_per_ip() -> None:
    service, _storage, mailer, clock = make_service(
        rate_limits=RateLimits(login_ip=Limit(3, timedelta(minutes=1))))
    member, _ = onboard(service, mailer)
    clock.advance(minutes=1)
    results = [service.login(member.member_number, GOOD_PASSWORD, ip="192.0.2.1")
               for _ in range(4)]
    assert all(isinstance(r, Ok) for r in results[:3])
    assert isinstance(results[3], Refused) and results[3].reason is Reason.RATE_LIMITED
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD, ip="192.0.2.2"), Ok)


def test_a_limit_refusal_says_the_actual_wait() -> None:
    """Not "quelques minutes": what is left of the window, rounded up (issue #15)."""
    service, _storage, mailer, clock = make_service(
        rate_limits=RateLimits(login_ip=Limit(1, timedelta(minutes=1))))
    member, _ = onboard(service, mailer)
    clock.advance(minutes=1)
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD, ip="192.0.2.1"), Ok)
    clock.advance(seconds=30)
    refused = service.login(member.member_number, GOOD_PASSWORD, ip="192.0.2.1")
    assert isinstance(refused, Refused) and retry_after(refused) == 30
    assert describe(refused) == (
        "Trop de demandes. Merci de patienter 30 secondes avant de réessayer.")
    assert describe(refused, "en") == (
        "Too many requests. Please wait 30 seconds before trying again.")
    clock.advance(seconds=29)
    refused = service.login(member.member_number, GOOD_PASSWORD, ip="192.0.2.1")
    assert isinstance(refused, Refused)
    assert describe(refused) == (
        "Trop de demandes. Merci de patienter une seconde avant de réessayer.")
    # An unknown member number gets the same words: the wait is the address's.
    refused = service.login("100239999", "whatever", ip="192.0.2.1")
    assert isinstance(refused, Refused) and retry_after(refused) == 1


def test_a_limiter_that_cannot_tell_names_its_whole_window() -> None:
    class Counting:
        def hit(self, key: str, limit: int, window: timedelta, now: object) -> bool:
            return False

    service = OnboardingService(
        MemoryStorage(), MemoryMailer(), clock=ManualClock(), notifier=MemoryNotifier(),
        rate_limiter=Counting(),
        settings=make_settings(rate_limits=RateLimits(login_ip=Limit(5, timedelta(minutes=2)))))
    refused = service.login("100234567", "whatever", ip="192.0.2.1")
    assert isinstance(refused, Refused) and retry_after(refused) == 120
    assert "2 minutes" in describe(refused)


def test_concurrent_wrong_logins_are_counted_exactly() -> None:
    service, storage, mailer, _clock = make_service(
        lockout=LockoutPolicy(free_attempts=40, hard_limit=40))
    member, _ = onboard(service, mailer)
    results = race(60, lambda i: service.login(member.member_number, "wrong password",
                                               ip=f"192.0.2.{i}"))
    reasons = [r.reason for r in results if isinstance(r, Refused)]
    assert len(reasons) == 60
    assert reasons.count(Reason.BAD_CREDENTIALS) == 40
    assert reasons.count(Reason.LOCKED) == 20
    assert storage.get_throttle(f"login:{member.member_number}").failures == 40


def test_concurrent_wrong_answers_are_counted_exactly() -> None:
    service, storage, mailer, _clock = make_service(
        lockout=LockoutPolicy(free_attempts=12, hard_limit=12),
        rate_limits=RateLimits(recovery_ip=Limit(1000, timedelta(minutes=1))))
    member, _ = onboard(service, mailer)
    assert isinstance(service.forgot_password(member.member_number), Ok)
    service.deliver_due()
    from .test_recovery import NEW_PASSWORD, links
    token = links(mailer, "/mot-de-passe/reinitialiser")[-1]
    results = race(30, lambda i: service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD,
                                                        answer=f"Martin{i}"))
    reasons = [r.reason for r in results if isinstance(r, Refused)]
    assert reasons.count(Reason.ANSWER_WRONG) == 12
    assert reasons.count(Reason.LOCKED) == 18
    assert storage.get_throttle(f"reset:{member.account_id}").failures == 12
