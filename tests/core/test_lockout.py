"""The lockout's pure rules: attempts in flight apart from confirmed failures.

The service counts an attempt before checking it and resolves it afterwards; these tests
drive the pure functions through every interleaving hypothesis finds, with a clock that
does not move (the worst case: no delay ever runs out), and check the two promises:
no more attempts are checked than the policy allows, and a right password is only ever
refused because of confirmed failures, never because other attempts raced it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from cegema_onboarding import lockout
from cegema_onboarding.config import LockoutPolicy
from cegema_onboarding.lockout import Admission
from cegema_onboarding.model import Throttle

NOW = datetime(2026, 3, 2, 9, 39, tzinfo=UTC)
POLICY = LockoutPolicy(free_attempts=3, base_delay=timedelta(seconds=30), hard_limit=8)


def test_attempts_in_flight_hold_their_place_without_counting_as_failures() -> None:
    t = Throttle("login:1")
    for n in range(1, POLICY.free_attempts + 1):
        admitted = lockout.admit(t, NOW, POLICY)
        assert isinstance(admitted, Throttle)
        t = admitted
        assert (t.failures, t.in_flight, t.in_flight_at) == (0, n, NOW)
    # The policy's free attempts are all being checked: the next one waits for them.
    assert lockout.admit(t, NOW, POLICY) is Admission.BUSY
    # Two turn out wrong, one right: the right one clears the confirmed failures.
    t = lockout.resolve(t, failed=True, reserved_at=NOW)
    t = lockout.resolve(t, failed=True, reserved_at=NOW)
    assert (t.failures, t.in_flight, t.last_failure_at) == (2, 1, NOW)
    t = lockout.resolve(t, failed=False, reserved_at=NOW)
    assert (t.failures, t.in_flight, t.in_flight_at, t.last_failure_at) == (0, 0, None, None)
    assert isinstance(lockout.admit(t, NOW, POLICY), Throttle)


def test_confirmed_failures_alone_lock() -> None:
    t = Throttle("login:1", failures=POLICY.free_attempts, last_failure_at=NOW)
    assert lockout.admit(t, NOW, POLICY) is Admission.LOCKED
    assert lockout.wait(t, NOW, POLICY, in_flight=False) == POLICY.base_delay
    # Once the delay has run, one attempt at a time: the next would start a longer delay.
    later = NOW + POLICY.base_delay
    one = lockout.admit(t, later, POLICY)
    assert isinstance(one, Throttle)
    assert lockout.admit(one, later, POLICY) is Admission.BUSY
    hard = Throttle("login:1", failures=POLICY.hard_limit, last_failure_at=NOW)
    assert lockout.admit(hard, NOW + timedelta(days=365), POLICY) is Admission.LOCKED


def test_an_attempt_abandoned_in_flight_becomes_a_failure_after_the_lease() -> None:
    t = Throttle("login:1", failures=1, last_failure_at=NOW, in_flight=2, in_flight_at=NOW)
    assert lockout.settled(t, NOW + lockout.IN_FLIGHT_LEASE - timedelta(seconds=1)) == t
    settled = lockout.settled(t, NOW + lockout.IN_FLIGHT_LEASE)
    assert (settled.failures, settled.in_flight, settled.in_flight_at) == (3, 0, None)
    # Its request, should it come back after all, finds nothing left to release.
    assert lockout.resolve(settled, failed=True, reserved_at=NOW).in_flight == 0
    assert lockout.resolve(settled, failed=False, reserved_at=NOW).failures == 0


def test_cleared_wipes_everything() -> None:
    t = Throttle("login:1", failures=5, last_failure_at=NOW, in_flight=2, in_flight_at=NOW,
                 version=7)
    assert lockout.cleared(t) == Throttle("login:1", version=7)


@attrs.define
class _Attempt:
    right: bool
    reserved_at: datetime | None = None


@given(st.lists(st.tuples(st.sampled_from(["arrive", "resolve"]), st.booleans(),
                          st.integers(min_value=0, max_value=50)), max_size=120))
def test_no_interleaving_checks_too_many_or_refuses_a_right_password_for_a_race(
        schedule: list[tuple[str, bool, int]]) -> None:
    counter = Throttle("login:1")
    waiting: list[_Attempt] = []
    checking: list[_Attempt] = []
    confirmed = 0  # failures since the last right password, kept by the test itself

    def try_admit(attempt: _Attempt) -> bool:
        nonlocal counter
        admitted = lockout.admit(counter, NOW, POLICY)
        if isinstance(admitted, Throttle):
            counter = admitted
            attempt.reserved_at = NOW
            checking.append(attempt)
            return True
        if admitted is Admission.BUSY:
            # Only attempts being checked stand in the way.
            assert checking, "BUSY with nothing in flight: it would wait forever"
            waiting.append(attempt)
            return True
        # LOCKED: only ever because of confirmed failures.
        assert confirmed >= POLICY.free_attempts
        return False

    for action, right, pick in schedule:
        if action == "arrive":
            try_admit(_Attempt(right))
        elif checking:
            attempt = checking.pop(pick % len(checking))
            assert attempt.reserved_at is not None
            counter = lockout.resolve(counter, failed=not attempt.right,
                                      reserved_at=attempt.reserved_at)
            confirmed = 0 if attempt.right else confirmed + 1
            # Those waiting read the counter again.
            again, waiting[:] = list(waiting), []
            for w in again:
                try_admit(w)
        # The stored numbers are the true ones...
        assert counter.in_flight == len(checking)
        assert counter.failures == confirmed
        # ...and never more attempts checked than the free ones (the clock stands still).
        assert counter.failures + counter.in_flight <= POLICY.free_attempts
