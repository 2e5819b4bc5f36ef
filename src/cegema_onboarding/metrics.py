"""Prometheus metrics: counters fed by the service's observer, gauges read at scrape time.

Needs the ``metrics`` extra (``prometheus-client``), imported here only, when a
:class:`Metrics` is built: nothing else in the package needs it. Wire it with::

    metrics = Metrics(storage, clock=service.clock)
    service.observer = metrics          # the counters
    # then expose metrics.exposition() on an endpoint that only the scraper reaches

The counters (one set per process; with several workers, each has its own, which
Prometheus sums):

- ``cegema_onboarding_logins_total{outcome}``: login outcomes by reason. An unknown
  member number is counted as ``bad_credentials``, as the member is told: otherwise the
  endpoint would tell whoever can read it and try a number whether that number exists.
- ``cegema_onboarding_steps_total{step}``: first-connection steps completed.
- ``cegema_onboarding_deliveries_total{channel,outcome}``: outbox sends, retries, parks.
- ``cegema_onboarding_refusals_total{guard,request}``: rate-limit and lockout refusals.

The gauges, computed from the storage at each scrape (the same from every process), when
the storage can count (:class:`~cegema_onboarding.ports.StatsReader`):

- ``cegema_onboarding_outbox_waiting``, ``cegema_onboarding_outbox_oldest_age_seconds``;
- ``cegema_onboarding_members{stage}``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .adapters.system import SystemClock
from .errors import ConfigurationError
from .model import Channel, Stage
from .ports import AuditRecord, Clock, StatsReader

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["LOCKOUT_OUTCOMES", "STEPS", "Metrics"]

#: The audit actions that complete a first-connection step, and the step's label.
STEPS: Mapping[str, str] = {
    "email_submitted": "email_given",
    "activation_requested": "no_email",
    "email_verified": "email_verified",
    "activation_approved": "activated",
    "password_set": "password_set",
    "secret_answer_set": "active",
}
#: Audit outcomes that are lockout refusals, whatever the action.
LOCKOUT_OUTCOMES = frozenset({"locked", "hard_locked"})
# Outcomes a login's metric shows as something else (see the module's docstring).
_LOGIN_ALIASES: Mapping[str, str] = {"unknown_account": "bad_credentials"}


def _prometheus() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core
    except ImportError:  # pragma: no cover - the extra is installed in the tests
        raise ConfigurationError(
            "metrics need prometheus-client: install cegema-onboarding[metrics]") from None
    return prometheus_client


class Metrics:
    """The package's Prometheus metrics in their own registry; an :class:`Observer`."""

    def __init__(self, stats: object | None = None, *, clock: Clock | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        prom = _prometheus()
        self._prom = prom
        self.registry: CollectorRegistry = registry or prom.CollectorRegistry()
        self._lock = threading.Lock()
        r = self.registry
        self.logins = prom.Counter("cegema_onboarding_logins", "Login outcomes, by reason.",
                                   ["outcome"], registry=r)
        self.steps = prom.Counter("cegema_onboarding_steps",
                                  "First-connection steps completed.", ["step"], registry=r)
        self.deliveries = prom.Counter(
            "cegema_onboarding_deliveries",
            "Outbox delivery attempts, by channel and outcome (sent, retried, parked).",
            ["channel", "outcome"], registry=r)
        self.refusals = prom.Counter(
            "cegema_onboarding_refusals",
            "Requests refused by a guard (rate_limit, lockout), by request.",
            ["guard", "request"], registry=r)
        if isinstance(stats, StatsReader):
            r.register(_StorageGauges(prom, stats, clock))

    # ------------------------------------------------------------------ Observer

    def recorded(self, records: Sequence[AuditRecord]) -> None:
        """Count the audit records just committed."""
        for rec in records:
            if rec.action == "login":
                self.logins.labels(_LOGIN_ALIASES.get(rec.outcome, rec.outcome)).inc()
            if rec.outcome == "ok" and rec.action in STEPS:
                self.steps.labels(STEPS[rec.action]).inc()
            if rec.outcome in LOCKOUT_OUTCOMES:
                self.refusals.labels("lockout", rec.action).inc()

    def rate_limited(self, request: str) -> None:
        """Count a request refused by a rate limit."""
        self.refusals.labels("rate_limit", request).inc()

    def delivery(self, channel: Channel, outcome: str) -> None:
        """Count one delivery attempt's outcome."""
        self.deliveries.labels(channel.value, outcome).inc()

    # ------------------------------------------------------------------ exposition

    def serve(self, port: int, address: str = "127.0.0.1") -> tuple[Any, Any]:
        """Serve these metrics over HTTP with prometheus-client's ``start_http_server``
        (a daemon thread): for a process with no web app of its own, like the relay.
        Returns the server and its thread; port 0 picks a free port."""
        server, thread = self._prom.start_http_server(port, addr=address,
                                                      registry=self.registry)
        return server, thread

    def exposition(self) -> tuple[bytes, str]:
        """The text a scraper reads, and its content type."""
        with self._lock:
            body: bytes = self._prom.generate_latest(self.registry)
        return body, str(self._prom.CONTENT_TYPE_LATEST)


class _StorageGauges:
    """The gauges computed from the storage when scraped."""

    def __init__(self, prom: Any, stats: StatsReader, clock: Clock | None) -> None:
        self._core = prom.core
        self._stats = stats
        self._clock: Clock = clock or SystemClock()

    def describe(self) -> Iterator[Any]:
        # Described without a query, so that registering costs no database round trip.
        yield from self._families()

    def collect(self) -> Iterator[Any]:
        yield from self._families(filled=True)

    def _families(self, *, filled: bool = False) -> Iterator[Any]:
        core = self._core
        waiting = core.GaugeMetricFamily("cegema_onboarding_outbox_waiting",
                                         "Messages pending or being sent.")
        age = core.GaugeMetricFamily(
            "cegema_onboarding_outbox_oldest_age_seconds",
            "Age of the oldest message pending or being sent (0 when none).")
        members = core.GaugeMetricFamily("cegema_onboarding_members",
                                         "Members per stage of the journey.", labels=["stage"])
        if filled:
            depth = self._stats.outbox_depth()
            waiting.add_metric([], depth.waiting)
            oldest = 0.0
            if depth.oldest_at is not None:
                now = self._clock.now()
                oldest = max(0.0, (now - depth.oldest_at).total_seconds())
            age.add_metric([], oldest)
            counts = self._stats.count_by_stage()
            for stage in Stage:
                members.add_metric([stage.value], counts.get(stage, 0))
        yield waiting
        yield age
        yield members
