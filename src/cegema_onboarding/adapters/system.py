"""The real time and the operating system's randomness: the ports' defaults (stdlib only)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

__all__ = ["SystemClock", "SystemRandom"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(UTC)


class SystemRandom:
    """Random bytes from the operating system's CSPRNG."""

    def token_bytes(self, n: int) -> bytes:
        """``n`` bytes from :func:`secrets.token_bytes`."""
        return secrets.token_bytes(n)
