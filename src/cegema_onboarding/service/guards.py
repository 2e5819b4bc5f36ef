"""What stands before a member action: rate limits and counted attempts.

- :meth:`Guards.limit` spends the rate-limit counters a request names in
  :data:`cegema_onboarding.ratelimit.REQUESTS`.
- :meth:`Guards.reserve` counts an attempt at a secret before it is checked,
  :meth:`Guards.resolve` ends it; the rules (which counter, which refusals are no
  failure, which success wipes which counter) are the tables of
  :mod:`cegema_onboarding.lockout`.
- :meth:`Guards.guarded` and :meth:`Guards.login` run an event under those counters.

The enumeration-safe requests (the same work whether a member exists or not) are in
:mod:`.decoys`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import secrets
import time
from datetime import datetime, timedelta

import attrs

from .. import flow, lockout
from ..config import Settings
from ..credentials import Pepper
from ..errors import ConcurrentUpdate, OnboardingError
from ..flow import Accepted, Audit, Origin, Reason, Refused
from ..lockout import Admission, Counter
from ..model import Account, Session, Throttle
from ..ports import Changes, RateLimiter, ReportsWait
from ..ratelimit import request_keys
from .observe import tell
from .results import Result
from .unit import UnitOfWork

__all__ = ["PATIENCE", "Guards"]

log = logging.getLogger("cegema_onboarding")

#: How long a member action waits for its turn (attempts of others still being checked, a
#: record that keeps changing) before it is answered RATE_LIMITED, "try again", instead.
#: Attempts are checked in milliseconds; only a crashed request or a storm outlasts it.
PATIENCE = 10.0
# Polling the stored attempt counter while other attempts are checked, possibly by other
# processes: the first pause and the longest, in seconds (jittered).
_FIRST_PAUSE = 0.002
_LONGEST_PAUSE = 0.05
#: The wait a "busy" refusal names (other attempts still checked after PATIENCE): by then
#: they have ended or their lease has, so a member who waits that long is served.
BUSY = (("retry_seconds", math.ceil(PATIENCE)),)


class Guards:
    """Rate limits and lockout counters around the unit of work."""

    def __init__(self, unit: UnitOfWork, rate_limiter: RateLimiter, settings: Settings) -> None:
        self.unit = unit
        self.rate_limiter = rate_limiter
        self.settings = settings

    # ------------------------------------------------------------------ rate limits

    def limit(self, request: str, ip: str | None,
              identifier: str | None = None) -> Refused | None:
        """Spend the counters of ``request``; RATE_LIMITED when one is used up."""
        now = self.unit.clock.now()
        ip_ = ip if isinstance(ip, str) else None
        for key, limit in request_keys(request, self.settings, ip=ip_, identifier=identifier):
            if not self.rate_limiter.hit(key, limit.count, limit.window, now):
                tell(self.unit.observer, lambda o: o.rate_limited(request))
                return Refused(Reason.RATE_LIMITED,
                               params=(("retry_seconds", self._wait(key, limit.window, now)),))
        return None

    def _wait(self, key: str, window: timedelta, now: datetime) -> int:
        """Whole seconds until ``key`` is served again, rounded up: what the refusal says
        and ``Retry-After`` sends. The whole window when the limiter cannot tell."""
        left: timedelta | None = None
        if isinstance(self.rate_limiter, ReportsWait):
            left = self.rate_limiter.retry_after(key, window, now)
        if left is None or left > window:
            left = window
        return max(1, math.ceil(left.total_seconds()))

    # ------------------------------------------------------------------ counted attempts

    def login(self, number: str, password: str, remember: bool, origin: Origin) -> Result:
        """A login of a normalised member number, counted on its lockout counter."""
        unit = self.unit
        reserved = self.reserve(lockout.attempt_key(number))
        if isinstance(reserved, Refused):
            unit.audit_only(Audit("login", reserved.reason.value, unit.clock.now(), None,
                                  "member", origin.ip))
            return reserved
        try:
            result, right, resolved = self._check_login(number, password, remember, origin,
                                                        reserved)
        except BaseException:
            # Counted, then not checked to the end: a failure, as a crash would leave it.
            with contextlib.suppress(OnboardingError):
                self.resolve(reserved, failed=True)
            raise
        if not resolved:
            self.resolve(reserved, failed=not right)
        return result

    def _check_login(self, number: str, password: str, remember: bool, origin: Origin,
                     reserved: Throttle) -> tuple[Result, bool, bool]:
        """Check a counted login and save its outcome, retrying lost races.

        Returns the result, whether the password was right, and whether the counted
        attempt was resolved in the outcome's own commit (then the caller has nothing
        left to do). A commit that loses a race (another login added its remembered
        browser, another attempt moved the counter) reads the account again and applies
        the flow again: the same entropy, and a hasher that answers the checks it has
        already made, so a retry costs no second Argon2id computation and yields the same
        outcome on an unchanged account.
        """
        unit = self.unit
        env = unit.replaying()
        entropy = unit.entropy()
        event = flow.Login(password, remember=remember)
        at = reserved.in_flight_at or unit.clock.now()
        # The counter as reserved: resolving the attempt rides on the outcome's commit,
        # one write fewer, as long as nobody else moved the counter since.
        ride: Throttle | None = reserved
        warned = False
        deadline = time.monotonic() + PATIENCE
        while True:
            now = unit.clock.now()
            account = unit.storage.find_by_member_number(number)
            if account is None:
                outcome: Accepted | Refused = flow.login_unknown(password, env, now, origin)
            else:
                outcome = flow.step(account, event, now, env, entropy=entropy, origin=origin)
            right = not lockout.failed(event, outcome)
            if account is not None and not right and not warned:
                # Once per login, not once per lost race.
                _warn_unknown_pepper(account, env.crypto.pepper)
                warned = True
            throttles = () if ride is None else (
                (lockout.resolve(ride, failed=not right, reserved_at=at), ride.version),)
            try:
                return unit.save(account, outcome, now, throttles=throttles), right, bool(
                    throttles)
            except ConcurrentUpdate:
                # Resolve apart from now on: the counter is the likely mover, and it is
                # written by every concurrent attempt.
                ride = None
            if time.monotonic() >= deadline:
                unit.audit_only(Audit("login", "busy", unit.clock.now(), None,
                                      origin.actor, origin.ip))
                return Refused(Reason.RATE_LIMITED, params=BUSY), right, False

    def guarded(self, account: Account, event: flow.Event, origin: Origin,
                notice: str | None, *, session: Session | None = None,
                reserve: bool = True) -> Result:
        """Apply an event that checks a password or answer, under its lockout counter.

        The counter is the one :data:`lockout.COUNTED_BY` names for the event; an
        accepted event also wipes the counters :data:`lockout.CLEARS` names.
        """
        unit = self.unit
        key = lockout.counter_key(lockout.COUNTED_BY[type(event)], account)
        if flow.precheck(account, event, unit.clock.now(), self.settings) is not None:
            # Refused before any secret is looked at: run it to record it, count nothing.
            return unit.run(account.account_id, session, event, origin, notice)[0]
        reserved: Throttle | None = None
        if reserve:
            counted = self.reserve(key)
            if isinstance(counted, Refused):
                action = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
                unit.audit_only(Audit(action, counted.reason.value, unit.clock.now(),
                                      account.account_id, origin.actor, origin.ip))
                return counted
            reserved = counted
        try:
            result, outcome = unit.run(account.account_id, session, event, origin, notice)
        except BaseException:
            if reserved is not None:
                with contextlib.suppress(OnboardingError):
                    self.resolve(reserved, failed=True)
            raise
        failed = outcome is None or lockout.failed(event, outcome)
        if reserved is not None:
            self.resolve(reserved, failed=failed)
        elif not failed:
            self.clear(key)
        if isinstance(outcome, Accepted):
            self.clear_after(event, account)
        return result

    # ------------------------------------------------------------------ the counters

    def reserve(self, key: str) -> Refused | Throttle:
        """Count an attempt in flight before checking it: the stored counter, or a refusal.

        :attr:`Reason.LOCKED` when the confirmed failures refuse it. When only attempts
        still being checked stand in the way, it waits for their outcome (polling the
        stored counter: they may be another process's), so that a right password is never
        refused because other attempts raced it; :attr:`Reason.RATE_LIMITED` ("try again")
        only if they have not ended within :data:`PATIENCE`.
        """
        storage, clock = self.unit.storage, self.unit.clock
        policy = self.settings.lockout
        deadline = time.monotonic() + PATIENCE
        pause = _FIRST_PAUSE
        while True:
            current = storage.get_throttle(key)
            admitted = lockout.admit(current, clock.now(), policy)
            if admitted is Admission.LOCKED:
                return Refused(Reason.LOCKED)
            if isinstance(admitted, Throttle):
                try:
                    # Not flushed on its own: see Changes.durable.
                    storage.commit(Changes(throttles=((admitted, current.version),),
                                           durable=False))
                except ConcurrentUpdate:
                    # Another attempt moved the counter: read it again at once.
                    if time.monotonic() < deadline:
                        continue
                    return Refused(Reason.RATE_LIMITED, params=BUSY)
                return attrs.evolve(admitted, version=current.version + 1)
            if time.monotonic() >= deadline:
                return Refused(Reason.RATE_LIMITED, params=BUSY)
            # Jittered, so that the waiting attempts do not all read at the same instant.
            time.sleep(pause * (0.5 + secrets.randbelow(1024) / 2048))
            pause = min(pause * 2, _LONGEST_PAUSE)

    def resolve(self, reserved: Throttle, *, failed: bool) -> None:
        """End an attempt counted by :meth:`reserve`: a confirmed failure, or cleared."""
        storage = self.unit.storage
        at = reserved.in_flight_at or self.unit.clock.now()
        deadline = time.monotonic() + PATIENCE
        while True:
            current = storage.get_throttle(reserved.key)
            resolved = lockout.resolve(current, failed=failed, reserved_at=at)
            try:
                storage.commit(Changes(throttles=((resolved, current.version),)))
            except ConcurrentUpdate:
                if time.monotonic() < deadline:
                    continue
                # Left in flight: once its lease is over it counts as a failure.
                log.warning("an attempt counter kept changing; an attempt stays in flight")
            return

    def clear_after(self, event: flow.Event, account: Account) -> None:
        """Wipe the counters an accepted ``event`` clears (:data:`lockout.CLEARS`)."""
        cleared = lockout.CLEARS.get(type(event))
        if cleared:
            for counter in Counter:  # in a fixed order
                if counter in cleared:
                    self.clear(lockout.counter_key(counter, account))

    def clear(self, key: str) -> None:
        """Wipe a counter (staff unlock, new credentials, completed recovery)."""
        storage = self.unit.storage
        deadline = time.monotonic() + PATIENCE
        while True:
            current = storage.get_throttle(key)
            if current.failures == 0 and current.in_flight == 0:
                return
            try:
                storage.commit(Changes(throttles=((lockout.cleared(current),
                                                   current.version),)))
            except ConcurrentUpdate:
                if time.monotonic() < deadline:
                    continue
                log.warning("an attempt counter kept changing; it was not cleared")
            return


def _warn_unknown_pepper(account: Account, pepper: Pepper) -> None:
    """Tell operators when an initial password can never match: its key is not configured.

    The member gets the usual refusal; nothing tells them more. But every member of a
    print-shop file made with other pepper keys (or the same key under another id) is
    refused that way, so the log names the key id the digest carries and the ids the
    settings have (ids are not secrets).
    """
    if account.initial_digest and (missing := pepper.unknown_key(account.initial_digest)):
        log.warning("account %s: its initial password was digested under pepper key %r, "
                    "which the settings do not have (they have %s): no login with it can "
                    "succeed; check CEGEMA_PEPPER_KEYS against the provisioning's",
                    account.account_id, missing, ", ".join(map(repr, pepper.key_ids)))
