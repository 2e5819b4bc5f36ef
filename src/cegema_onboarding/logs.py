"""Structured logs: one JSON object per line, with the id of the request that logged it.

:class:`JsonFormatter` is a plain :class:`logging.Formatter`; put it on any handler::

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)

Each line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
``request_id`` (``null`` outside a request) and, when one was logged, ``exception``.
The web integrations set the request id for each request (:func:`request_scope`): the
caller's ``X-Request-ID`` when it is a short plain token, else a fresh random one, and
send it back in the response's ``X-Request-ID``.

The package never logs a secret (passwords, answers, tokens, session ids); the
formatter still passes every message through
:func:`cegema_onboarding.integrations.logfilter.redact`'s rule for link tokens, because a
web server's request line can carry one.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["REQUEST_ID_HEADER", "JsonFormatter", "begin_request", "current_request_id",
           "end_request", "request_scope", "safe_request_id"]

#: The header a request id is read from and sent back in.
REQUEST_ID_HEADER: Final = "X-Request-ID"

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cegema_request_id", default=None)
# What a proxy's id looks like (a UUID, a hex or base64url string): nothing that could
# break a log line or smuggle markup into a log viewer.
_SAFE: Final = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# The same rule as integrations.logfilter (kept here: the core imports no integration).
_TOKEN: Final = re.compile(r"(token(?:=|%3D))[^\s&\"'#;]+", re.IGNORECASE)


def safe_request_id(offered: str | None) -> str:
    """``offered`` when it is a plain token of 8 to 64 characters, else a fresh id."""
    if isinstance(offered, str) and _SAFE.fullmatch(offered):
        return offered
    return secrets.token_hex(16)


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None."""
    return _request_id.get()


@contextlib.contextmanager
def request_scope(offered: str | None = None) -> Iterator[str]:
    """Set the request id for the code run inside; yields it."""
    token = _request_id.set(safe_request_id(offered))
    try:
        yield _request_id.get() or ""
    finally:
        _request_id.reset(token)


def begin_request(offered: str | None = None) -> contextvars.Token[str | None]:
    """Set the request id for the rest of this context (see :func:`end_request`)."""
    return _request_id.set(safe_request_id(offered))


def end_request(token: contextvars.Token[str | None]) -> None:
    """Restore the request id that :func:`begin_request` replaced."""
    _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A malformed logging call: keep its format, never crash the caller.
            message = str(record.msg)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _TOKEN.sub(r"\g<1><redacted>", message),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        if record.exc_info:
            entry["exception"] = _TOKEN.sub(r"\g<1><redacted>",
                                            self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)
