"""Failed-attempt counting that stays exact under concurrency (the lockout's pure rules).

An attempt is counted *before* its password or answer is checked, so that concurrent
attempts can never be checked in greater number than the policy allows (Keycloak issue
31726): the check is the expensive and the dangerous part. But until it is checked, an
attempt is neither right nor wrong, so the counter keeps two numbers apart:

- ``failures``: attempts checked and found wrong (consecutive: a right one clears them);
- ``in_flight``: attempts counted but still being checked.

An attempt may be checked when the policy would let it through even if every attempt in
flight turned out wrong. When only the confirmed failures stop it, it is locked. When the
attempts in flight are what stop it, it is neither: it waits for them (:attr:`Admission.BUSY`).
Each one ends with :func:`resolve`, which confirms a failure or clears the counter, and
the waiting ones then get the answer that the confirmed failures give. So a burst of right
passwords queues and gets in, while a burst of wrong ones is checked no more than the
policy allows and locks at its threshold, as if the attempts had come one after another.

A request that dies while its attempt is in flight cannot resolve it: once the newest
reservation is older than :data:`IN_FLIGHT_LEASE`, every reservation still in flight counts
as a failure (:func:`settled`).

The rules the shell follows around a checked secret are data here, so that they can be
read in one place: which counter each event counts on (:data:`COUNTED_BY`), which refusals
prove the secret right and so are no failure (:data:`NOT_FAILURES`), and which further
counters a success wipes (:data:`CLEARS`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

import attrs

from .config import LockoutPolicy
from .journey.events import (
    ChangePassword,
    CompleteReset,
    Event,
    Login,
    RequestEmailChange,
    StaffAssistedReset,
    StaffReissue,
    StaffUnlock,
)
from .journey.outcomes import Accepted, Reason, Refused
from .model import Account, Throttle

__all__ = [
    "CLEARS",
    "COUNTED_BY",
    "IN_FLIGHT_LEASE",
    "NOT_FAILURES",
    "Admission",
    "Counter",
    "admit",
    "attempt_key",
    "clear_attempts",
    "cleared",
    "counter_key",
    "failed",
    "lockout_wait",
    "reserve_attempt",
    "reset_attempt_key",
    "resolve",
    "settled",
    "wait",
]

#: How long a counted attempt may stay unresolved before it is taken for a failure. Far
#: above what one check takes (a slow hash and a commit), so a live request never sees
#: its attempt turned into a failure; short enough that a crashed one frees the queue.
IN_FLIGHT_LEASE = timedelta(minutes=1)


class Admission(enum.Enum):
    """Why an attempt may not be checked now."""

    #: Only attempts still being checked stand in the way: wait for their outcome.
    BUSY = "busy"
    #: The confirmed failures alone refuse it, whatever the attempts in flight turn out.
    LOCKED = "locked"


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _delay(failures: int, last: datetime | None, now: datetime,
           policy: LockoutPolicy) -> timedelta | None:
    if failures >= policy.hard_limit:
        return timedelta.max
    if failures < policy.free_attempts or last is None:
        return None
    exponent = failures - policy.free_attempts
    # Capping the exponent keeps the multiplication small; the max_delay cap applies anyway.
    delay = min(policy.base_delay * (2 ** min(exponent, 30)), policy.max_delay)
    ready_at = last + delay
    return None if now >= ready_at else ready_at - now


def settled(throttle: Throttle, now: datetime) -> Throttle:
    """The counter with abandoned attempts taken for failures.

    Reservations share one timestamp, the newest: once even that one is older than the
    lease, no request is still checking any of them.
    """
    if throttle.in_flight <= 0:
        return throttle
    at = throttle.in_flight_at
    if at is not None and now - at < IN_FLIGHT_LEASE:
        return throttle
    return attrs.evolve(throttle, failures=throttle.failures + throttle.in_flight,
                        last_failure_at=_latest(throttle.last_failure_at, at),
                        in_flight=0, in_flight_at=None)


def wait(throttle: Throttle, now: datetime, policy: LockoutPolicy, *,
         in_flight: bool = True) -> timedelta | None:
    """How long before the next attempt may be checked; ``None`` when it may be now.

    With ``in_flight`` (the default) the attempts still being checked count as failures
    made at their reservation: the wait if they all turn out wrong. Without it, only the
    confirmed failures count. Past the hard limit the wait is ``timedelta.max``.
    """
    t = settled(throttle, now)
    if not in_flight:
        return _delay(t.failures, t.last_failure_at, now, policy)
    return _delay(t.failures + t.in_flight, _latest(t.last_failure_at, t.in_flight_at),
                  now, policy)


def admit(throttle: Throttle, now: datetime, policy: LockoutPolicy) -> Throttle | Admission:
    """Count an attempt in flight before it is checked, or say why it may not be checked.

    The stored counter must be written with compare-and-set: of two racing attempts, one
    sees the other's reservation or loses the race and reads again.
    """
    t = settled(throttle, now)
    if wait(t, now, policy, in_flight=False) is not None:
        return Admission.LOCKED
    if wait(t, now, policy) is not None:
        return Admission.BUSY
    return attrs.evolve(t, in_flight=t.in_flight + 1, in_flight_at=now)


def resolve(throttle: Throttle, *, failed: bool, reserved_at: datetime) -> Throttle:
    """The counter after one attempt counted by :func:`admit` was checked.

    A failure is confirmed at the time of its reservation; a success clears the confirmed
    failures (the others still in flight stay counted). An attempt whose reservation was
    already taken for a failure (:func:`settled`) finds nothing left to release: it still
    clears on success, and on failure it counts once more, which errs on the safe side.
    """
    in_flight = max(0, throttle.in_flight - 1)
    in_flight_at = throttle.in_flight_at if in_flight else None
    if failed:
        return attrs.evolve(throttle, failures=throttle.failures + 1,
                            last_failure_at=_latest(throttle.last_failure_at, reserved_at),
                            in_flight=in_flight, in_flight_at=in_flight_at)
    return attrs.evolve(throttle, failures=0, last_failure_at=None, in_flight=in_flight,
                        in_flight_at=in_flight_at)


def cleared(throttle: Throttle) -> Throttle:
    """The counter wiped, attempts in flight included (staff unlock, new credentials).

    Attempts still being checked then find nothing to release when they end; a wrong one
    counts as the first failure of the fresh counter.
    """
    return attrs.evolve(throttle, failures=0, last_failure_at=None, in_flight=0,
                        in_flight_at=None)


def lockout_wait(throttle: Throttle, now: datetime, policy: LockoutPolicy) -> timedelta | None:
    """How long the identifier must wait before its next attempt; ``None`` when free.

    Attempts still being checked count as failures here. Past the hard limit the wait is
    unbounded, returned as ``timedelta.max``.
    """
    return wait(throttle, now, policy)


def reserve_attempt(throttle: Throttle, now: datetime, policy: LockoutPolicy) -> Throttle | Refused:
    """Count an attempt *before* checking it, or refuse it as locked.

    Storing the reserved count with compare-and-set before any hash is computed is what
    keeps the count exact under concurrent attempts: a racing request either sees the
    new count or loses the race and reloads. The attempt is counted in flight and
    resolved once checked (:func:`resolve`). Refused when it may not be checked now; the
    shell tells "wait for the attempts in flight" from "locked" with :func:`admit`.
    """
    admitted = admit(throttle, now, policy)
    return admitted if isinstance(admitted, Throttle) else Refused(Reason.LOCKED)


def clear_attempts(throttle: Throttle) -> Throttle:
    """The throttle wiped (a staff unlock, new credentials)."""
    return cleared(throttle)


def attempt_key(member_number: str) -> str:
    """The failure counter (lockout) of a normalised member number: login, re-authentication."""
    return f"login:{member_number}"


def reset_attempt_key(account_id: str) -> str:
    """The failure counter of wrong secret answers on reset links, apart from login's.

    Only the holder of a live reset link can spend it, so a stranger's wrong logins can
    lock the login without locking the member out of recovery.
    """
    return f"reset:{account_id}"


# --------------------------------------------------------------------------- the rules as data


class Counter(enum.Enum):
    """The failure counters of one member: each one locks its own door."""

    #: Wrong passwords, per member number: login and re-authentication.
    LOGIN = "login"
    #: Wrong secret answers on reset links, per account.
    RESET = "reset"


def counter_key(counter: Counter, account: Account) -> str:
    """The stored key of one of ``account``'s counters."""
    if counter is Counter.LOGIN:
        return attempt_key(account.member_number)
    return reset_attempt_key(account.account_id)


#: The counter on which each event that checks a secret counts its attempts. A reset
#: counts its wrong answers apart, so that a stranger's wrong logins cannot lock the member
#: out of recovering the account.
COUNTED_BY: Mapping[type[Event], Counter] = MappingProxyType({
    Login: Counter.LOGIN,
    ChangePassword: Counter.LOGIN,
    RequestEmailChange: Counter.LOGIN,
    StaffAssistedReset: Counter.LOGIN,
    CompleteReset: Counter.RESET,
})

#: Refusals the flow only gives once the secret was found right: not a failed attempt.
#: (Refusals marked :attr:`Refused.secret_checked` say so themselves.)
NOT_FAILURES: Mapping[type[Event], frozenset[Reason]] = MappingProxyType({
    Login: frozenset({Reason.DISABLED, Reason.INITIAL_CREDENTIALS_EXPIRED}),
})

#: The counters an accepted event wipes, besides resolving the attempt it counted itself.
CLEARS: Mapping[type[Event], frozenset[Counter]] = MappingProxyType({
    # A completed recovery reopens the login too.
    CompleteReset: frozenset({Counter.LOGIN}),
    StaffUnlock: frozenset({Counter.LOGIN, Counter.RESET}),
    # New initial credentials: the old password's failures mean nothing any more.
    StaffReissue: frozenset({Counter.LOGIN}),
})


def failed(event: Event, outcome: Accepted | Refused) -> bool:
    """Whether a checked attempt at ``event`` counts as a failure."""
    if isinstance(outcome, Accepted) or outcome.secret_checked:
        return False
    return outcome.reason not in NOT_FAILURES.get(type(event), frozenset())
