"""Mail adapters for development: print to a terminal, or keep a mailbox in a folder.

:class:`AtomicFolder` is the folder both the file mailbox and the file notifier
(:mod:`cegema_onboarding.adapters.notices`) write to, safely from several processes.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import errno
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TextIO

from ..errors import MailError
from ..mail.draft import Mail
from ..mail.legacy import message_of

_STAMP_DIGITS = 20
_RANDOM_BYTES = 8
_NAME_ATTEMPTS = 5
# Names written by this version, and the numbered names (000001.eml) of earlier ones.
_NAME = re.compile(r"[0-9]{20}-[0-9a-f]{16}\.eml|[0-9]{6}\.eml")
# What os.link raises where the file system has no hard links (FAT, some network shares).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                            errno.ENOSYS})


def text_part(message: EmailMessage) -> str:
    """The plain-text body of a message (the first text/plain part)."""
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


class ConsoleMailer:
    """Prints each message's headers and text part to a stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.sent: list[EmailMessage] = []

    def send(self, mail: Mail) -> None:
        """Print the mail."""
        self.send_message(message_of(mail, "ConsoleMailer"))

    def send_message(self, message: EmailMessage) -> None:
        """Print an assembled message."""
        out = self._stream or sys.stdout
        rule = "-" * 72
        print(rule, file=out)
        for header in ("From", "To", "Subject", "Date"):
            print(f"{header}: {message[header]}", file=out)
        print("", file=out)
        print(text_part(message).rstrip(), file=out)
        print(rule, file=out)
        self.sent.append(message)


class AtomicFolder:
    """A folder of files that several processes and threads may write to at once.

    Each file gets a name of its own, made of the time it was written and a random part,
    so names sort oldest first and never collide. A file is written under a temporary
    name, then linked to its final name, so a reader never sees half a file and no file
    ever replaces another. Subclasses name their ``suffix`` (".eml", ".json").
    """

    suffix = ".eml"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._last_ns = 0

    def _store(self, data: bytes) -> None:
        """Write ``data`` as a new file of this folder, atomically; MailError if it cannot."""
        try:
            # The leading dot and the .tmp suffix keep the temporary file out of listings.
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                self._publish(tmp)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        except OSError as exc:
            raise MailError(f"cannot write to the mailbox folder: {exc.strerror}") from exc

    def _publish(self, tmp: str) -> None:
        # os.link fails rather than replace an existing file: a clash (a random part drawn
        # twice) only costs another name, never a message.
        for _ in range(_NAME_ATTEMPTS):
            target = self.directory / self._new_name()
            try:
                os.link(tmp, target)
                return
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise
            # A file system without hard links: the name is unique all the same, and
            # os.replace is atomic.
            os.replace(tmp, target)
            return
        raise MailError("cannot find a free name in the mailbox folder")

    def _new_name(self) -> str:
        # Nanoseconds since the epoch order messages across processes; from one mailbox
        # object they never go backwards, even when the clock is set back or two messages
        # share a tick.
        with self._lock:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            stamp = self._last_ns
        return f"{stamp:0{_STAMP_DIGITS}d}-{secrets.token_hex(_RANDOM_BYTES)}{self.suffix}"

    def _names(self) -> list[str]:
        """The stored files' names, oldest first (temporary files start with a dot)."""
        return sorted(path.name for path in self.directory.glob(f"[0-9]*{self.suffix}"))


class FileMailbox(AtomicFolder):
    """Writes each message as an ``.eml`` file in a folder: a local mailbox for demos.

    Several processes and threads may write to one folder at once (portal workers and
    relays): see :class:`AtomicFolder`.
    """

    def send(self, mail: Mail) -> None:
        """Store the mail, assembled, as a new ``.eml`` file."""
        self.send_message(message_of(mail, "FileMailbox"))

    def send_message(self, message: EmailMessage) -> None:
        """Store an assembled message as a new ``.eml`` file, named after the time it was sent."""
        self._store(message.as_bytes())

    def messages(self) -> Sequence[tuple[str, EmailMessage]]:
        """Every stored message as (file name, message), oldest first."""
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append((path.name, parsed))
        return found

    def get(self, name: str) -> EmailMessage | None:
        """One message by file name, or None (names are checked, never used as paths)."""
        if not _NAME.fullmatch(name):
            return None
        path = self.directory / name
        if not path.is_file():
            return None
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed
