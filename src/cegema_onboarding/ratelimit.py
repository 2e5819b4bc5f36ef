"""Rate limits per IP and per normalised identifier, and an in-memory limiter.

:data:`REQUESTS` says which member requests are limited and how; :func:`rate_keys` which
counters an action touches; a :class:`~cegema_onboarding.ports.RateLimiter` counts.
:class:`MemoryRateLimiter` is the ready adapter for one process: a fixed window per key,
behind one lock, so that concurrent hits never push a count past its limit.

The defaults follow django-allauth's (login 30 per minute per IP; password reset 20 per
minute per IP and 5 per 5 minutes per identifier). Repeated *failures* per identifier are
not counted here: the lockout (:class:`~cegema_onboarding.config.LockoutPolicy`) does that.
"""

from __future__ import annotations

import enum
import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from .errors import ConfigurationError

if TYPE_CHECKING:
    # Only for annotations: config imports this module for RateLimits.
    from .config import Settings


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

    def retry_after(self, key: str, window: timedelta, now: datetime) -> timedelta | None:
        """The time left in ``key``'s current window; None when it has none."""
        with self._lock:
            found = self._windows.get(key)
        if found is None or now < found[0]:
            return None
        left = found[0] + found[2] - now
        return left if left > timedelta(0) else None

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


# --------------------------------------------------------------------------- which counters


class Action(enum.Enum):
    """The member actions that rate limits guard, each with its own counters."""

    LOGIN = "login"
    LINK = "link"
    FORGOT_PASSWORD = "forgot_password"  # noqa: S105 (a name, not a password)
    FORGOT_IDENTIFIER = "forgot_identifier"
    RECOVERY = "recovery"
    CODE = "code"
    REMEMBER = "remember"


class Per(enum.Enum):
    """What a request's identifier counter counts by, besides the client's IP."""

    #: The logged-in member's account (``account:<id>``): link requests of the first login.
    SESSION = "session"
    #: The account id itself: a re-authenticated change of address.
    ACCOUNT = "account"
    #: The normalised member number typed into a form.
    MEMBER_NUMBER = "member_number"
    #: The normalised email key typed into a form.
    EMAIL = "email"


@attrs.frozen
class Guard:
    """The limit a request spends before anything else: an action, and its identifier."""

    action: Action
    per: Per | None = None


#: The member requests under a rate limit, by the name of the service method that serves
#: them. Every other request is either behind a session or spends a lockout counter.
REQUESTS: Mapping[str, Guard] = MappingProxyType({
    "login": Guard(Action.LOGIN),
    "submit_email": Guard(Action.LINK, Per.SESSION),
    "resend_link": Guard(Action.LINK, Per.SESSION),
    "submit_code": Guard(Action.CODE),
    "login_with_token": Guard(Action.REMEMBER),
    "forgot_password": Guard(Action.FORGOT_PASSWORD, Per.MEMBER_NUMBER),
    "forgot_identifier": Guard(Action.FORGOT_IDENTIFIER, Per.EMAIL),
    "complete_reset": Guard(Action.RECOVERY),
    "request_email_change": Guard(Action.LINK, Per.ACCOUNT),
})


def request_keys(request: str, settings: Settings, *, ip: str | None = None,
                 identifier: str | None = None) -> tuple[tuple[str, Limit], ...]:
    """The counters one ``request`` (a key of :data:`REQUESTS`) spends.

    ``identifier`` is what the request's :class:`Per` names (already normalised); it is
    ignored when the request has no identifier counter.
    """
    guard = REQUESTS[request]
    if guard.per is None or identifier is None:
        identifier = None
    elif guard.per is Per.SESSION:
        identifier = f"account:{identifier}"
    return rate_keys(guard.action, settings, ip=ip, identifier=identifier)


def rate_keys(action: Action, settings: Settings, *, ip: str | None = None,
              identifier: str | None = None) -> tuple[tuple[str, Limit], ...]:
    """The rate-limit counters one attempt at ``action`` spends: per IP, per identifier.

    ``identifier`` is already normalised (member number, email key or account id), so
    case and Unicode variants share one counter. Failures per identifier are the
    lockout's business, not this one's: login has no identifier counter here.
    """
    rl = settings.rate_limits
    per_ip: Mapping[Action, Limit] = {
        Action.LOGIN: rl.login_ip, Action.LINK: rl.link_ip, Action.FORGOT_PASSWORD: rl.forgot_ip,
        Action.FORGOT_IDENTIFIER: rl.forgot_ip, Action.RECOVERY: rl.recovery_ip,
        Action.CODE: rl.code_ip, Action.REMEMBER: rl.remember_ip,
    }
    per_id: Mapping[Action, Limit] = {
        Action.LINK: rl.link_identifier, Action.FORGOT_PASSWORD: rl.forgot_identifier,
        Action.FORGOT_IDENTIFIER: rl.forgot_identifier,
    }
    keys: list[tuple[str, Limit]] = []
    if ip:
        keys.append((f"rl:{action.value}:ip:{client_key(ip[:64])}", per_ip[action]))
    if identifier and action in per_id:
        keys.append((f"rl:{action.value}:id:{identifier[:300]}", per_id[action]))
    return tuple(keys)


def client_key(ip: str) -> str:
    """The rate-limit identity of a client address: the address, or its /64 for IPv6.

    One IPv6 client usually holds a whole /64, so counting per address would give it
    billions of budgets.
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
