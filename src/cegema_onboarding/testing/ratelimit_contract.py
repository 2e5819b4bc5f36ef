"""The rate-limiter contract: one set of tests every RateLimiter must pass unchanged.

Subclass :class:`RateLimiterContract` and give the class a ``limiter`` fixture that returns
a fresh, empty limiter::

    import pytest
    from cegema_onboarding.testing import RateLimiterContract

    class TestMyLimiter(RateLimiterContract):
        @pytest.fixture
        def limiter(self) -> Iterator[MyLimiter]:
            yield MyLimiter(...)

The port's one method, ``hit``, is what every test but one uses, so any adapter can run
them; the optional ``retry_after`` (:class:`~cegema_onboarding.ports.ReportsWait`) is
checked only on the limiters that have it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from ..ports import RateLimiter, ReportsWait
from .records import T0

MINUTE = timedelta(minutes=1)

__all__ = ["MINUTE", "T0", "RateLimiterContract", "race"]


def race(n: int, action: Callable[[int], bool]) -> list[bool]:
    """Run ``action(i)`` in ``n`` threads released together; their results in order."""
    barrier = threading.Barrier(n)
    results: list[bool | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return [bool(r) for r in results]


class RateLimiterContract:
    """Tests every RateLimiter adapter must pass; needs a ``limiter`` fixture."""

    def test_is_a_rate_limiter(self, limiter: RateLimiter) -> None:
        assert isinstance(limiter, RateLimiter)

    def test_allows_up_to_the_limit_then_refuses(self, limiter: RateLimiter) -> None:
        results = [limiter.hit("rl:login:ip:192.0.2.1", 3, MINUTE, T0 + timedelta(seconds=i))
                   for i in range(6)]
        assert results == [True, True, True, False, False, False]

    def test_a_limit_of_one(self, limiter: RateLimiter) -> None:
        assert limiter.hit("k", 1, MINUTE, T0)
        assert not limiter.hit("k", 1, MINUTE, T0)

    def test_keys_are_independent(self, limiter: RateLimiter) -> None:
        assert [limiter.hit("a", 2, MINUTE, T0) for _ in range(3)] == [True, True, False]
        assert limiter.hit("b", 2, MINUTE, T0)
        assert limiter.hit("rl:forgot_password:id:marie.dupont@example.com", 2, MINUTE, T0)
        assert not limiter.hit("a", 2, MINUTE, T0)

    def test_the_window_ends_one_window_after_its_first_hit(
            self, limiter: RateLimiter) -> None:
        start = T0 + timedelta(seconds=17)
        assert limiter.hit("k", 2, MINUTE, start)
        assert limiter.hit("k", 2, MINUTE, start + timedelta(seconds=50))
        assert not limiter.hit("k", 2, MINUTE, start + MINUTE - timedelta(microseconds=1))
        # A new window starts at the first hit after the old one ended, not on a grid.
        later = start + MINUTE + timedelta(seconds=5)
        assert [limiter.hit("k", 2, MINUTE, later) for _ in range(3)] == [True, True, False]
        assert not limiter.hit("k", 2, MINUTE, later + MINUTE - timedelta(seconds=1))
        assert limiter.hit("k", 2, MINUTE, later + MINUTE)

    def test_refused_hits_are_not_counted(self, limiter: RateLimiter) -> None:
        assert limiter.hit("k", 2, MINUTE, T0)
        assert limiter.hit("k", 2, MINUTE, T0)
        for i in range(20):
            assert not limiter.hit("k", 2, MINUTE, T0 + timedelta(seconds=i))
        # The new window starts from one hit, whatever was refused in the old one.
        assert [limiter.hit("k", 2, MINUTE, T0 + MINUTE) for _ in range(3)] == [
            True, True, False]

    def test_windows_of_different_lengths(self, limiter: RateLimiter) -> None:
        five = timedelta(minutes=5)
        assert [limiter.hit("id", 2, five, T0) for _ in range(3)] == [True, True, False]
        assert not limiter.hit("id", 2, five, T0 + timedelta(minutes=4, seconds=59))
        assert limiter.hit("id", 2, five, T0 + five)

    def test_a_clock_set_back_starts_a_new_window(self, limiter: RateLimiter) -> None:
        assert limiter.hit("k", 1, MINUTE, T0)
        assert not limiter.hit("k", 1, MINUTE, T0)
        assert limiter.hit("k", 1, MINUTE, T0 - timedelta(hours=1))

    def test_concurrent_hits_never_pass_the_limit(self, limiter: RateLimiter) -> None:
        for round_ in range(3):
            key = f"rl:link:ip:198.51.100.{round_}"
            results = race(24, lambda i, key=key: limiter.hit(key, 7, MINUTE, T0))  # type: ignore[misc]
            assert results.count(True) == 7
            assert not limiter.hit(key, 7, MINUTE, T0 + timedelta(seconds=30))

    def test_concurrent_first_hits_on_many_keys(self, limiter: RateLimiter) -> None:
        # Racing first inserts of one new key, and of distinct keys, all count.
        results = race(16, lambda i: limiter.hit(f"new-{i % 4}", 3, MINUTE, T0))
        assert results.count(True) == 12
        assert [limiter.hit(f"new-{i}", 3, MINUTE, T0) for i in range(4)] == [False] * 4

    def test_retry_after_is_what_is_left_of_the_window(self, limiter: RateLimiter) -> None:
        if not isinstance(limiter, ReportsWait):
            pytest.skip("this limiter does not report its wait (optional)")
        assert limiter.retry_after("k", MINUTE, T0) is None
        start = T0 + timedelta(seconds=17)
        assert limiter.hit("k", 1, MINUTE, start)
        assert not limiter.hit("k", 1, MINUTE, start + timedelta(seconds=20))
        assert limiter.retry_after("k", MINUTE, start + timedelta(seconds=20)) == timedelta(
            seconds=40)
        assert limiter.retry_after("k", MINUTE, start + MINUTE) is None
