"""Liveness and readiness, without a web framework: what the health endpoints answer.

- *Live*: the process answers. Nothing is checked; a host restarts a process that does
  not answer this.
- *Ready*: the process can serve members. The storage is asked, when it knows how
  (:class:`ReadinessSource`: ``SqlStorage`` checks that its database answers and that the
  migrations are current); a storage in memory is always ready.

The web integrations turn a :class:`Health` into a small JSON body, 200 when it is ok and
503 otherwise. Nothing in it is secret: each check says ``ok`` and a short reason, never
an address, a user name or the database's own error text (which can hold either).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["Health", "Probe", "ReadinessSource", "liveness", "readiness"]

log = logging.getLogger("cegema_onboarding")


@attrs.frozen
class Probe:
    """One check: its name, whether it passed, and a short reason safe to show anyone."""

    name: str
    ok: bool
    detail: str = ""


@attrs.frozen
class Health:
    """The answer of a health endpoint: ok when every check passed."""

    checks: tuple[Probe, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every check passed (no check at all is ok)."""
        return all(check.ok for check in self.checks)

    @property
    def status(self) -> int:
        """The HTTP status to answer: 200 or 503."""
        return 200 if self.ok else 503

    def as_json(self) -> dict[str, Any]:
        """The JSON body: ``{"status": "ok"|"unavailable", "checks": {name: {...}}}``."""
        return {
            "status": "ok" if self.ok else "unavailable",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


@runtime_checkable
class ReadinessSource(Protocol):
    """A storage that can tell whether it is ready to serve."""

    def readiness(self) -> Sequence[Probe]:
        """Its checks; never raises (a failure is a failed probe)."""


def liveness() -> Health:
    """The process answers: always ok."""
    return Health()


def readiness(storage: object) -> Health:
    """The storage's checks, or one passing check for a storage that has none."""
    if not isinstance(storage, ReadinessSource):
        return Health((Probe("storage", True, type(storage).__name__),))
    try:
        return Health(tuple(storage.readiness()))
    except Exception as exc:
        # A storage's probe must not crash the endpoint: report it failed, by class only.
        log.warning("the readiness probe failed (%s)", type(exc).__name__)
        return Health((Probe("storage", False, "probe failed"),))
