"""In-memory doubles of the mailer, the notifier, the clock and the random source.

They are the non-storage half of the in-memory adapters: tests and single-process
embeddings get them from :mod:`cegema_onboarding.adapters.memory`, which re-exports every
name here beside :class:`~cegema_onboarding.adapters.memory.MemoryStorage`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import overload

from ..errors import MailError
from ..mail.assemble import assemble
from ..mail.draft import Mail
from ..mail.legacy import message_of
from ..model import Account, Channel

__all__ = ["CallbackRandom", "ManualClock", "MemoryMailer", "MemoryNotifier", "SentMail"]


class SentMail(Sequence[EmailMessage]):
    """The messages a :class:`MemoryMailer` was given, assembled when first read.

    A journey in memory then builds no MIME at all; a test that reads a mail gets the very
    message the SMTP adapter would send.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._given: list[Mail | EmailMessage] = []
        self._built: list[EmailMessage | None] = []

    def __len__(self) -> int:
        return len(self._given)

    # Compared and printed as the list it stands for (``mailer.sent == []`` in a test).
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list | tuple | SentMail):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"SentMail({list(self)!r})"

    @overload
    def __getitem__(self, index: int) -> EmailMessage: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[EmailMessage]: ...

    def __getitem__(self, index: int | slice) -> EmailMessage | Sequence[EmailMessage]:
        if isinstance(index, slice):
            return [self._message(i) for i in range(len(self._given))[index]]
        return self._message(range(len(self._given))[index])

    def _message(self, i: int) -> EmailMessage:
        with self._lock:
            given, built = self._given[i], self._built[i]
            if built is None:
                # Kept assembled: readers may compare or annotate the same object twice.
                built = self._built[i] = given if isinstance(given, EmailMessage) else (
                    assemble(given))
            return built

    def append(self, mail: Mail | EmailMessage) -> None:
        """Keep one more mail (as given: assembled only when read)."""
        with self._lock:
            self._given.append(mail)
            self._built.append(None)

    def clear(self) -> None:
        """Forget every mail kept so far."""
        with self._lock:
            self._given.clear()
            self._built.clear()

    def drafts(self) -> list[Mail]:
        """The drafts given so far, as sent (not the messages passed by old callers)."""
        with self._lock:
            return [m for m in self._given if isinstance(m, Mail)]


class MemoryMailer:
    """Keeps every sent message in ``sent``. Set ``fail`` to make it refuse, for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = SentMail(threading.Lock())
        self.fail: bool = False
        self.attempts = 0

    def send(self, mail: Mail) -> None:
        """Keep the mail, or raise MailError when ``fail`` is set."""
        with self._lock:
            self.attempts += 1
            if self.fail:
                raise MailError("mail server unavailable (simulated)")
            if isinstance(mail, EmailMessage):
                # An old caller's MIME message (deprecated): kept as it is.
                message_of(mail, "MemoryMailer")
            self.sent.append(mail)


class MemoryNotifier:
    """Keeps every post, SMS or phone notice in ``sent``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[tuple[Channel, str, str, str]] = []
        self.fail: bool = False

    def notify(self, channel: Channel, account: Account, kind: str, text: str) -> None:
        """Keep the notice as (channel, account id, kind, text)."""
        with self._lock:
            if self.fail:
                raise MailError("notification channel unavailable (simulated)")
            self.sent.append((channel, account.account_id, kind, text))


class ManualClock:
    """A clock that only moves when told to, for tests and demos."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = start or datetime(2026, 1, 5, 9, 39, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")

    def now(self) -> datetime:
        """The clock's current time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``."""
        with self._lock:
            self._now = when


class CallbackRandom:
    """Random bytes from a callable, for deterministic tests."""

    def __init__(self, source: Callable[[int], bytes]) -> None:
        self._source = source

    def token_bytes(self, n: int) -> bytes:
        """``n`` bytes from the callable."""
        return self._source(n)
