"""Health, metrics and request ids for Flask: opt-in, at the prefix the host chooses.

The endpoints are a blueprint of their own, which the host registers where it wants
them (nothing is claimed otherwise)::

    from cegema_onboarding.integrations.flask.health import ops_blueprint
    from cegema_onboarding.metrics import Metrics

    metrics = Metrics(storage, clock=service.clock)
    service.observer = metrics
    app.register_blueprint(ops_blueprint(metrics=metrics), url_prefix="/_ops")

gives ``/_ops/live``, ``/_ops/ready`` and ``/_ops/metrics`` (the last only with
``metrics``). Readiness asks the storage of the extension's service unless ``storage`` is
given. Keep the metrics away from the public: a reverse proxy that only lets the scraper
in, or a separate port.

:func:`install_request_ids` (called by the extension) gives every request an id for the
logs (:mod:`cegema_onboarding.logs`) and sends it back in ``X-Request-ID``.
"""

from __future__ import annotations

import contextvars

from flask import Blueprint, Flask, Response, g, json, request

from ... import health
from ...logs import REQUEST_ID_HEADER, begin_request, current_request_id, end_request
from ...metrics import Metrics
from ._context import service

__all__ = ["install_request_ids", "ops_blueprint"]

_NO_CACHE = "no-store"


def ops_blueprint(*, storage: object | None = None, metrics: Metrics | None = None,
                  name: str = "cegema_ops") -> Blueprint:
    """The ``live``, ``ready`` and (with ``metrics``) ``metrics`` endpoints."""
    bp = Blueprint(name, __name__)

    @bp.get("/live")
    def live() -> Response:
        return _json(health.liveness())

    @bp.get("/ready")
    def ready() -> Response:
        return _json(health.readiness(service().storage if storage is None else storage))

    if metrics is not None:
        @bp.get("/metrics")
        def scrape() -> Response:
            body, content_type = metrics.exposition()
            response = Response(body, 200, content_type=content_type)
            response.headers["Cache-Control"] = _NO_CACHE
            return response

    return bp


def _json(result: health.Health) -> Response:
    response = Response(json.dumps(result.as_json()), result.status,
                        content_type="application/json")
    response.headers["Cache-Control"] = _NO_CACHE
    return response


def install_request_ids(app: Flask) -> None:
    """Give each request of ``app`` a request id, for the logs and the response header."""
    if app.extensions.get("cegema_request_ids"):
        return
    app.extensions["cegema_request_ids"] = True
    app.before_request(_begin)
    app.after_request(_header)
    app.teardown_request(_end)


def _begin() -> None:
    g.cegema_request_id_token = begin_request(request.headers.get(REQUEST_ID_HEADER))


def _header(response: Response) -> Response:
    found = current_request_id()
    if found is not None:
        response.headers[REQUEST_ID_HEADER] = found
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("cegema_request_id_token", None)
    if isinstance(token, contextvars.Token):
        end_request(token)
