"""Rate limits per IP and per normalised identifier, and an in-memory limiter.

The flow decides which counters an action touches (:func:`cegema_onboarding.flow.rate_keys`);
a :class:`~cegema_onboarding.ports.RateLimiter` counts. :class:`MemoryRateLimiter` is the
ready adapter for one process: a fixed window per key, behind one lock, so that concurrent
hits never push a count past its limit.

The defaults follow django-allauth's (login 30 per minute per IP; password reset 20 per
minute per IP and 5 per 5 minutes per identifier). Repeated *failures* per identifier are
not counted here: the lockout (:class:`~cegema_onboarding.config.LockoutPolicy`) does that.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

import attrs

from .errors import ConfigurationError


@attrs.frozen
class Limit:
    """At most ``count`` hits per ``window``."""

    count: int
    window: timedelta

    def __attrs_post_init__(self) -> None:
        if self.count < 1 or self.window <= timedelta(0):
            raise ConfigurationError("a rate limit needs count >= 1 and a positive window")


_MINUTE = timedelta(minutes=1)
_FIVE_MINUTES = timedelta(minutes=5)
LOGIN_PER_IP = Limit(30, _MINUTE)
LINKS_PER_IP = Limit(20, _MINUTE)
LINKS_PER_IDENTIFIER = Limit(5, _FIVE_MINUTES)
FORGOT_PER_IP = Limit(20, _MINUTE)
FORGOT_PER_IDENTIFIER = Limit(5, _FIVE_MINUTES)
RECOVERY_PER_IP = Limit(20, _MINUTE)
CODES_PER_IP = Limit(20, _MINUTE)
REMEMBER_PER_IP = Limit(60, _MINUTE)


@attrs.frozen
class RateLimits:
    """The limits of each action, per IP and per identifier (member number or email)."""

    login_ip: Limit = LOGIN_PER_IP
    link_ip: Limit = LINKS_PER_IP
    link_identifier: Limit = LINKS_PER_IDENTIFIER
    forgot_ip: Limit = FORGOT_PER_IP
    forgot_identifier: Limit = FORGOT_PER_IDENTIFIER
    recovery_ip: Limit = RECOVERY_PER_IP
    code_ip: Limit = CODES_PER_IP
    remember_ip: Limit = REMEMBER_PER_IP


class MemoryRateLimiter:
    """Fixed-window counters in an ordered dict behind one lock (one process only).

    Windows are kept in the order they started, so dropping ended or excess windows
    costs constant time per key, however many keys there are.
    """

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, tuple[datetime, int, timedelta]] = OrderedDict()
        self._max_keys = max_keys

    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> bool:
        """Count one hit on ``key``; False (and not counted) once ``limit`` is reached."""
        with self._lock:
            self._sweep(now)
            started, count, _ = self._windows.get(key, (now, 0, window))
            if now >= started + window or now < started:
                started, count = now, 0
                self._windows.pop(key, None)
            if count >= limit:
                return False
            if key not in self._windows:
                while len(self._windows) >= self._max_keys:
                    # Full of live windows: the oldest goes, which can only under-count.
                    self._windows.popitem(last=False)
            self._windows[key] = (started, count + 1, window)
            return True

    def count(self, key: str) -> int:
        """The hits counted in the key's current window (for tests and monitoring)."""
        with self._lock:
            return self._windows.get(key, (None, 0, None))[1]

    def _sweep(self, now: datetime) -> None:
        # The front holds the oldest windows: drop them while they have ended.
        while self._windows:
            key, (started, _, window) = next(iter(self._windows.items()))
            if now < started + window:
                return
            del self._windows[key]
