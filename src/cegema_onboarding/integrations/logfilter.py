"""Keeps link tokens out of log lines: a :class:`logging.Filter` for web servers' logs.

Mailed links carry their token in the query string (``/premiere-connexion/valider?token=``),
and web servers write every request line to their access log. The web integrations answer
the GET of a link with a redirect to the same page without the token, so only that first
request line carries it; this filter rewrites that line before any handler writes it.

The Flask extension installs it on Werkzeug's ``werkzeug`` logger (the development server)
and the Django app on ``django.server`` (``runserver``). Other servers log elsewhere, so a
host adds it there, in ``gunicorn.conf.py`` for example::

    from cegema_onboarding.integrations.logfilter import redact_tokens_in
    redact_tokens_in("gunicorn.access", "gunicorn.error")

or in a ``logging.config.dictConfig`` dict (Django's ``LOGGING``) as a filter
``{"()": "cegema_onboarding.integrations.logfilter.RedactTokens"}`` on the handlers that
write request lines. A handler's filters see every record it writes, those propagated from
other loggers too; a logger's filters see only the records logged on that very logger,
which is why :func:`redact_tokens_in` names the loggers that log.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["REDACTED", "RedactTokens", "redact", "redact_tokens_in"]

REDACTED: Final = "<redacted>"
# ``token=`` as the mails write it, and ``token%3D`` for a link quoted inside another URL
# (a Referer or a redirector's ``?url=``). The value ends where a query value ends.
_TOKEN: Final = re.compile(r"(token(?:=|%3D))[^\s&\"'#;]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the value of every ``token=`` replaced by :data:`REDACTED`."""
    return _TOKEN.sub(rf"\g<1>{REDACTED}", text)


class RedactTokens(logging.Filter):
    """Hides link tokens in log records (a server logs each request line); drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record with its tokens redacted; always keep it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A malformed logging call: the handler reports it when it formats the record.
            # Raising here instead would break the request that was being logged.
            return True
        redacted = redact(message)
        if redacted != message:
            # The formatted line replaces format and arguments: a token may sit in either.
            record.msg, record.args = redacted, ()
        return True


def redact_tokens_in(*logger_names: str) -> None:
    """Add :class:`RedactTokens` to each named logger, once (calling again changes nothing)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
