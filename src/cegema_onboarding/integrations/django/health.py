"""Health, metrics and request ids for Django: opt-in, at the path the host chooses.

Include the endpoints where you want them (nothing is claimed otherwise)::

    path("_ops/", include("cegema_onboarding.integrations.django.health"))

gives ``_ops/live``, ``_ops/ready`` and ``_ops/metrics``. The metrics answer 404 unless
``CEGEMA_ONBOARDING["METRICS"]`` is true, which also makes the service feed them. Keep
them away from the public (a proxy rule, or a separate port).

Readiness: the service's storage checks itself when it can (``SqlStorage``); the
library's ``DjangoStorage`` is ready when its database answers and this app's migrations
are all applied.

Request ids: add ``cegema_onboarding.integrations.django.health.RequestIdMiddleware`` at
the top of ``MIDDLEWARE``; every log record of the request then carries the id (with
:class:`cegema_onboarding.logs.JsonFormatter`), and the response sends it back in
``X-Request-ID``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_safe

from ... import health
from ...logs import REQUEST_ID_HEADER, begin_request, current_request_id, end_request
from ...metrics import Metrics
from ...service import OnboardingService
from .conf import get_service, option
from .storage import DjangoStorage

__all__ = ["RequestIdMiddleware", "live", "metrics", "metrics_of", "ready", "urlpatterns"]

_APP_LABEL = "cegema_onboarding"
_lock = threading.Lock()
_metrics: weakref.WeakKeyDictionary[OnboardingService, Metrics] = weakref.WeakKeyDictionary()


def metrics_of(service: OnboardingService) -> Metrics:
    """The metrics fed by ``service`` (built and attached on first use)."""
    with _lock:
        found = _metrics.get(service)
        if found is None:
            found = _metrics[service] = Metrics(service.storage, clock=service.clock)
            service.observer = found
        return found


def _storage_probes(storage: DjangoStorage) -> Sequence[health.Probe]:
    try:
        connection = connections[storage.using]
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        targets = [n for n in executor.loader.graph.leaf_nodes() if n[0] == _APP_LABEL]
        pending = executor.migration_plan(targets)
    except Exception as exc:
        # By class only: a driver's message can hold the host, user or database name.
        return [health.Probe("database", False, f"unreachable ({type(exc).__name__})")]
    return [health.Probe("database", True, "reachable"),
            health.Probe("migrations", not pending,
                          "current" if not pending else f"{len(pending)} not applied")]


def _no_cache(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _answer(result: health.Health) -> HttpResponse:
    return _no_cache(JsonResponse(result.as_json(), status=result.status))


@require_safe
def live(request: HttpRequest) -> HttpResponse:
    """The process answers."""
    return _answer(health.liveness())


@require_safe
def ready(request: HttpRequest) -> HttpResponse:
    """The database answers and the migrations are current."""
    storage = get_service().storage
    if isinstance(storage, DjangoStorage):
        return _answer(health.Health(tuple(_storage_probes(storage))))
    return _answer(health.readiness(storage))


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition, when ``METRICS`` is on."""
    if not option("METRICS"):
        return _no_cache(HttpResponse(status=404))
    body, content_type = metrics_of(get_service()).exposition()
    return _no_cache(HttpResponse(body, content_type=content_type))


class RequestIdMiddleware:
    """Sets the request id of each request, for the logs and ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = begin_request(request.headers.get(REQUEST_ID_HEADER))
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = current_request_id() or ""
            return response
        finally:
            end_request(token)


app_name = "cegema_ops"

urlpatterns: list[URLPattern] = [
    path("live", live, name="live"),
    path("ready", ready, name="ready"),
    path("metrics", metrics, name="metrics"),
]
