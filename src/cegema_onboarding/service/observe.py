"""Telling the host's :class:`~cegema_onboarding.ports.Observer` what was committed.

An observer (the Prometheus metrics, for one) is told after the fact and must never
turn a committed change into an error: whatever it raises is logged, by class only, and
dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..ports import Observer

__all__ = ["tell"]

log = logging.getLogger("cegema_onboarding")


def tell(observer: Observer | None, call: Callable[[Observer], object]) -> None:
    """Call ``call(observer)`` when there is one; log and drop what it raises."""
    if observer is None:
        return
    try:
        call(observer)
    except Exception as exc:
        log.warning("the observer failed (%s); the change stays committed",
                    type(exc).__name__)
