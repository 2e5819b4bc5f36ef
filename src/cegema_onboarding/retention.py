"""Retention: how long ended records are kept, and the purge that deletes the rest.

Without it the audit table grows by one row per login for ever (100,000 rows after a load
run) and sent outbox rows stay after their payload is gone. :func:`purge` deletes, through
the storage's :class:`~cegema_onboarding.ports.RetentionStore` methods and in short
batches, the audit rows, sent messages and (given a way to do it) shared rate-limit
windows older than their :class:`Retention`. The ``cegema-onboarding purge`` command runs
it once; the relay runs it as housekeeping (see docs/deployment.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from .errors import ConfigurationError
from .ports import RetentionStore

__all__ = ["PurgeReport", "Retention", "purge"]


@attrs.frozen
class Retention:
    """How long ended records are kept; a zero duration keeps them for ever.

    ``audit``: audit rows (one per login and step), counted from when they were written.
    ``sent_mail``: outbox rows already sent (their payload is dropped at sending; the row
    says when and to whom), counted from the sending. ``rate_limit_windows``: shared
    rate-limit windows (``SqlRateLimiter``), counted from their start; keep it longer than
    the longest window in use.
    """

    audit: timedelta = timedelta(days=365)
    sent_mail: timedelta = timedelta(days=30)
    rate_limit_windows: timedelta = timedelta(days=1)

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(Retention):
            if getattr(self, field.name) < timedelta(0):
                raise ConfigurationError(f"the {field.name} retention cannot be negative")


@attrs.frozen
class PurgeReport:
    """How many records one purge deleted."""

    audit: int = 0
    sent_mail: int = 0
    rate_limit_windows: int = 0

    def line(self) -> str:
        """One line for a log or a terminal."""
        return (f"purged {self.audit} audit row(s), {self.sent_mail} sent message(s), "
                f"{self.rate_limit_windows} ended rate-limit window(s)")


def purge(storage: object, retention: Retention, now: datetime, *,
          rate_limit_purge: Callable[[datetime], int] | None = None,
          batch: int = 1000) -> PurgeReport:
    """Delete what ``retention`` no longer keeps, as of ``now``.

    ``storage`` must be a :class:`~cegema_onboarding.ports.RetentionStore` as soon as a
    retention of audit rows or sent mail is set; ``rate_limit_purge(before)`` deletes the
    windows that started before ``before`` (``SqlRateLimiter.purge``), when limits are
    shared.
    """
    store = storage if isinstance(storage, RetentionStore) else None
    if store is None and (retention.audit or retention.sent_mail):
        raise ConfigurationError(f"{type(storage).__name__} cannot purge old records: "
                                 "set the audit and sent-mail retentions to 0")
    audit = sent = windows = 0
    if store is not None and retention.audit:
        audit = store.purge_audit(now - retention.audit, batch=batch)
    if store is not None and retention.sent_mail:
        sent = store.purge_sent(now - retention.sent_mail, batch=batch)
    if rate_limit_purge is not None and retention.rate_limit_windows:
        windows = rate_limit_purge(now - retention.rate_limit_windows)
    return PurgeReport(audit=audit, sent_mail=sent, rate_limit_windows=windows)
