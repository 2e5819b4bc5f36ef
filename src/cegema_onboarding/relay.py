"""The outbox relay: a worker that delivers queued messages until it is told to stop.

Portals commit each state change together with the messages it causes (the outbox).
:class:`Relay` calls :meth:`OnboardingService.deliver_due` in a loop: each message is
claimed (marked SENDING with a lease) before it is sent, so two relays never send the same
one, and a relay that dies mid-send leaves it to be claimed again once the lease runs out.
Failures are retried with exponential backoff and parked after 8 attempts by the service.

Delivery is at least once, never lost: the only window for a duplicate is a relay killed
after the SMTP server accepted a message and before the outbox recorded it, and the
duplicate carries the same Message-ID, which mail systems use to drop it.

The relay needs only something that delivers due messages (:class:`Deliverer`);
:func:`cegema_onboarding.bootstrap.build_outbox` builds one. The ``relay`` and ``outbox``
commands of ``cegema-onboarding`` live in :mod:`cegema_onboarding.cli`, see
docs/operations.md.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any, Protocol

import attrs

from .errors import ConfigurationError
from .service import DeliveryReport

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_INTERVAL",
    "DEFAULT_RATE_LIMIT_RETENTION",
    "HOUSEKEEPING_INTERVAL",
    "Deliverer",
    "Relay",
    "RelayTotals",
]

log = logging.getLogger("cegema_onboarding.relay")

DEFAULT_INTERVAL = 5.0
# A claimed batch is sent one message at a time under one lease (5 minutes); a message
# can take ~10 SMTP round trips of up to the timeout each against a stalling server, so
# the default claims messages one by one: the lease can then never run out mid-send.
DEFAULT_BATCH = 1
# Chores between passes (the retention purge) run at most this often (seconds).
HOUSEKEEPING_INTERVAL = 300.0
# Rate-limit windows that started longer ago than this are purged by default (see
# cegema_onboarding.retention.Retention): a day outlasts every window in use.
DEFAULT_RATE_LIMIT_RETENTION = timedelta(days=1)


class Deliverer(Protocol):
    """What the relay delivers with: today :class:`OnboardingService`, built for it by
    :func:`cegema_onboarding.bootstrap.build_outbox`."""

    def deliver_due(self, *, limit: int = ...) -> DeliveryReport:
        """Claim, send and record up to ``limit`` due messages."""
        ...


@attrs.frozen
class RelayTotals:
    """What a relay run did, over all its passes."""

    passes: int = 0
    sent: int = 0
    retried: int = 0
    parked: int = 0
    errors: int = 0

    def add(self, report: DeliveryReport) -> RelayTotals:
        """These totals plus one delivery round."""
        return attrs.evolve(self, sent=self.sent + report.sent,
                            retried=self.retried + report.retried,
                            parked=self.parked + report.parked)


class Relay:
    """Delivers due outbox messages every ``poll_interval`` seconds until :meth:`stop`."""

    def __init__(self, service: Deliverer, *, poll_interval: float = DEFAULT_INTERVAL,
                 batch_size: int = DEFAULT_BATCH,
                 housekeeping: Callable[[], object] | None = None,
                 housekeeping_interval: float = HOUSEKEEPING_INTERVAL) -> None:
        """Deliver with ``service``; run ``housekeeping`` too, at most every so often.

        ``service`` is anything with ``deliver_due`` (see :class:`Deliverer`), such as an
        :class:`~cegema_onboarding.service.OnboardingService`.
        """
        if poll_interval <= 0 or batch_size < 1 or housekeeping_interval < 0:
            raise ConfigurationError("the relay needs a positive interval and batch size")
        self.service = service
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.housekeeping = housekeeping
        self.housekeeping_interval = housekeeping_interval
        self._chores_due = time.monotonic()
        self._stop = threading.Event()
        # Set by the signal handler, which must not take the Event's lock: the signal may
        # land while this very thread holds it inside Event.wait, and that would deadlock.
        self._signalled = False
        self._lock = threading.Lock()
        self._totals = RelayTotals()

    @property
    def totals(self) -> RelayTotals:
        """The totals so far (safe to read from another thread)."""
        with self._lock:
            return self._totals

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called or a stop signal arrived."""
        return self._signalled or self._stop.is_set()

    def stop(self) -> None:
        """Ask the relay to stop after the message it is sending now (from any thread)."""
        self._stop.set()

    def run_pass(self) -> DeliveryReport:
        """Deliver everything due now, batch after batch, and return what happened."""
        total = DeliveryReport()
        while not self.stopping:
            report = self.service.deliver_due(limit=self.batch_size)
            total = DeliveryReport(total.sent + report.sent, total.retried + report.retried,
                                   total.parked + report.parked)
            handled = report.sent + report.retried + report.parked
            with self._lock:
                self._totals = self._totals.add(report)
            if handled < self.batch_size:
                break
        with self._lock:
            self._totals = attrs.evolve(self._totals, passes=self._totals.passes + 1)
        return total

    def run(self, *, once: bool = False) -> RelayTotals:
        """Run passes until stopped (or one pass with ``once``); returns the totals.

        An error in a pass (the database is down, say) is logged and the relay tries again
        at the next interval; with ``once`` it is raised.
        """
        while not self.stopping:
            try:
                report = self.run_pass()
            except Exception as exc:
                if once:
                    raise
                with self._lock:
                    self._totals = attrs.evolve(self._totals, errors=self._totals.errors + 1)
                # The type only: a driver's message may quote connection strings.
                log.error("relay pass failed (%s); retrying in %.0f s", type(exc).__name__,
                          self.poll_interval)
            else:
                if report.sent or report.retried or report.parked:
                    log.info("relay pass: %d sent, %d to retry, %d parked",
                             report.sent, report.retried, report.parked)
            self._chores()
            if once:
                break
            self._pause()
        return self.totals

    def _chores(self) -> None:
        if self.housekeeping is None or time.monotonic() < self._chores_due:
            return
        self._chores_due = time.monotonic() + self.housekeeping_interval
        try:
            done = self.housekeeping()
        except Exception as exc:
            # Chores never stop deliveries; the type only, as for a failed pass.
            log.error("relay housekeeping failed (%s)", type(exc).__name__)
        else:
            log.info("relay housekeeping: %s", done)

    def _pause(self) -> None:
        # In short slices, so that a signal (which only sets a flag) is seen quickly.
        deadline = time.monotonic() + self.poll_interval
        while not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, 0.2))

    @contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """While inside, SIGTERM and SIGINT stop the relay cleanly (main thread only)."""
        previous: dict[signal.Signals, Any] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            # No logging and no locks here: the interrupted code may hold them.
            self._signalled = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
