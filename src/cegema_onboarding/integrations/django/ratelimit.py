"""``DjangoRateLimiter``: fixed-window rate-limit counters in one ORM table, shared by processes.

The same windows as :class:`~cegema_onboarding.ratelimit.MemoryRateLimiter` and
``SqlRateLimiter``: a window starts at a key's first hit and ends one window later (or as
soon as the clock reads a time before its start); a refused hit is not counted.

Each hit runs in one ``transaction.atomic`` that first takes the key's lock, then reads the
row and writes its new count, so two processes never both count the last allowed hit:

- on PostgreSQL (and any database with ``SELECT ... FOR UPDATE``) the row is read with
  ``select_for_update``: a concurrent hit waits for the first to commit and then reads its
  count;
- on SQLite the first statement is a write that leaves the row as it is. A write takes the
  database's write lock, waiting up to the connection's timeout; a read first would hold a
  shared lock that SQLite cannot upgrade while another writer waits ("database is locked").

A key seen for the first time is inserted in a savepoint: of two racing first inserts one
fails on the primary key, and that hit starts over and finds the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import F

from ...errors import StorageError
from .models import OnboardingRateLimit
from .rows import from_db, to_db

__all__ = ["DjangoRateLimiter"]

# A lost first-insert race is retried; more than this many in a row is not a race.
_ATTEMPTS = 5


class DjangoRateLimiter:
    """A :class:`~cegema_onboarding.ports.RateLimiter` on the Django ORM, in ``using``.

    Its table comes with the app's migrations. Call :meth:`purge` now and then
    (``cegema_purge_tokens`` does) to drop the windows that have ended.
    """

    def __init__(self, using: str = "default") -> None:
        self.using = using

    def __repr__(self) -> str:
        return f"DjangoRateLimiter(using={self.using!r})"

    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> bool:
        """Count one hit on ``key``; False (and not counted) once ``limit`` is reached."""
        if limit < 1:
            return False
        if now.tzinfo is None:
            # An aware time, as every Clock gives: a naive one would be stored as local time.
            raise StorageError("rate limit update needs a timezone-aware time")
        try:
            for _ in range(_ATTEMPTS):
                counted = self._hit(key, limit, window, now)
                if counted is not None:
                    return counted
        except DatabaseError as exc:
            # The key can name a member number or email: the message never holds it.
            raise StorageError(
                f"rate limit update failed ({type(exc).__name__})") from exc
        raise StorageError("rate limit update kept colliding with inserts of the same key")

    def _hit(self, key: str, limit: int, window: timedelta, now: datetime) -> bool | None:
        """One attempt; None when a concurrent first insert of the key won the race."""
        rows = OnboardingRateLimit.objects.using(self.using).filter(key=key)
        with transaction.atomic(using=self.using):
            if connections[self.using].features.has_select_for_update:
                locked = rows.select_for_update()
            else:
                rows.update(count=F("count"))
                locked = rows
            found = locked.values_list("window_start", "count").first()
            if found is None:
                try:
                    with transaction.atomic(using=self.using):
                        OnboardingRateLimit.objects.using(self.using).create(
                            key=key, window_start=to_db(now), count=1)
                except IntegrityError:
                    return None
                return True
            start, count = from_db(found[0]), found[1]
            assert start is not None  # the column is not nullable
            if now >= start + window or now < start:
                rows.update(window_start=to_db(now), count=1)
                return True
            if count >= limit:
                return False
            rows.update(count=F("count") + 1)
            return True

    def retry_after(self, key: str, window: timedelta, now: datetime) -> timedelta | None:
        """The time left in ``key``'s current window; None when it has none."""
        try:
            found = (OnboardingRateLimit.objects.using(self.using).filter(key=key)
                     .values_list("window_start", flat=True).first())
        except DatabaseError as exc:
            raise StorageError(f"rate limit read failed ({type(exc).__name__})") from exc
        start = from_db(found) if found is not None else None
        if start is None:
            return None
        left: timedelta = start + window - now
        return left if timedelta(0) < left <= window else None

    def count(self, key: str) -> int:
        """The hits counted in the key's last window (for tests and monitoring)."""
        try:
            found = (OnboardingRateLimit.objects.using(self.using).filter(key=key)
                     .values_list("count", flat=True).first())
        except DatabaseError as exc:
            raise StorageError(f"rate limit read failed ({type(exc).__name__})") from exc
        return int(found or 0)

    def purge(self, before: datetime) -> int:
        """Delete the windows that started before ``before``; returns how many.

        Pass ``now`` minus the longest window in use (five minutes with the default
        limits): every window removed has then ended, and a key seen again simply starts
        a new one.
        """
        try:
            deleted, _ = (OnboardingRateLimit.objects.using(self.using)
                          .filter(window_start__lt=to_db(before)).delete())
        except DatabaseError as exc:
            raise StorageError(f"rate limit purge failed ({type(exc).__name__})") from exc
        return int(deleted)
