"""Mail adapters for development: print to a terminal, or keep a mailbox in a folder."""

from __future__ import annotations

import email
import email.policy
import os
import re
import sys
import tempfile
import threading
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TextIO

from ..errors import MailError
from ..mail.draft import Mail
from ..mail.legacy import message_of


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


class FileMailbox:
    """Writes each message as an ``.eml`` file in a folder: a local mailbox for demos.

    Files are written atomically (temporary file, then rename), so a reader never sees
    half a message.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> None:
        """Store the mail, assembled, as the next ``.eml`` file."""
        self.send_message(message_of(mail, "FileMailbox"))

    def send_message(self, message: EmailMessage) -> None:
        """Store an assembled message as the next numbered ``.eml`` file."""
        data = message.as_bytes()
        with self._lock:
            number = len(list(self.directory.glob("*.eml"))) + 1
            target = self.directory / f"{number:06d}.eml"
            try:
                fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except OSError as exc:
                raise MailError(f"cannot write to the mailbox folder: {exc.strerror}") from exc

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
        if not re.fullmatch(r"[0-9]{6}\.eml", name):
            return None
        path = self.directory / name
        if not path.is_file():
            return None
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed
