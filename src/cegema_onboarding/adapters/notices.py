"""A notifier for development: keep every post, SMS or phone notice as a file in a folder.

:class:`FileNotifier` is to the :class:`~cegema_onboarding.ports.Notifier` port what
:class:`~cegema_onboarding.adapters.mailbox.FileMailbox` is to the mail port: each notice
becomes one ``.json`` file (unique name, atomic write, safe from several processes), and
reads back as an :class:`OfflineNotice`, with the letter as it would be printed. The demo
portal writes them next to its mails and shows them under "Courrier" and "SMS".
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from ..errors import InvalidInput
from ..model import Account, Channel
from ..ports import Clock
from .mailbox import AtomicFolder
from .system import SystemClock

__all__ = ["FileNotifier", "OfflineNotice"]

_NAME = re.compile(r"[0-9]{20}-[0-9a-f]{16}\.json")


@attrs.frozen
class OfflineNotice:
    """One notice for a member without email, as handed to the post, SMS or phone channel.

    ``recipient`` is the postal address (several lines) for a letter, else the phone number.
    """

    channel: Channel
    kind: str
    created: datetime
    account_id: str
    name: str
    recipient: str
    text: str

    @property
    def printed(self) -> str:
        """What is printed or sent: a letter opens with the address block of its envelope."""
        if self.channel is not Channel.POST:
            return self.text
        block = [self.name, *(line.strip() for line in self.recipient.splitlines())]
        return "\n".join([*(line for line in block if line), "", self.text])

    def to_json(self) -> bytes:
        """The notice as stored: UTF-8 JSON."""
        data = attrs.asdict(self)
        data["channel"] = self.channel.value
        data["created"] = self.created.isoformat()
        return json.dumps(data, ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> OfflineNotice:
        """A notice read back from :meth:`to_json`; ValueError if it is not one."""
        data: Any = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a notice")
        fields = ("kind", "account_id", "name", "recipient", "text")
        if not all(isinstance(data.get(key), str) for key in (*fields, "channel", "created")):
            raise ValueError("not a notice")
        return cls(channel=Channel(data["channel"]),
                   created=datetime.fromisoformat(data["created"]),
                   **{key: data[key] for key in fields})


class FileNotifier(AtomicFolder):
    """Writes each post, SMS or phone notice as a ``.json`` file in a folder.

    A letter needs the member's postal address and an SMS or a call their phone number: a
    notice without one raises :class:`~cegema_onboarding.errors.InvalidInput`, which the
    outbox parks at once (a retry would not find the address either), where staff see it.
    """

    suffix = ".json"

    def __init__(self, directory: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        super().__init__(directory)
        self._clock: Clock = clock or SystemClock()

    def notify(self, channel: Channel, account: Account, kind: str, text: str) -> None:
        """Store the notice; InvalidInput when the member cannot be reached that way."""
        if channel is Channel.EMAIL:
            raise InvalidInput("channel", "not_offline")  # email goes to the mailer
        field = "postal_address" if channel is Channel.POST else "phone"
        recipient = account.postal_address if channel is Channel.POST else account.phone
        if not recipient or not recipient.strip():
            raise InvalidInput(field, "missing")
        notice = OfflineNotice(channel=channel, kind=kind, created=self._clock.now(),
                               account_id=account.account_id, name=account.name,
                               recipient=recipient.strip(), text=text)
        self._store(notice.to_json())

    def notices(self, channel: Channel | None = None) -> Sequence[tuple[str, OfflineNotice]]:
        """Stored notices as (file name, notice), oldest first, optionally of one channel."""
        found = []
        for name in self._names():
            notice = self.get(name)
            if notice is not None and channel in (None, notice.channel):
                found.append((name, notice))
        return found

    def get(self, name: str) -> OfflineNotice | None:
        """One notice by file name, or None (names are checked, never used as paths)."""
        if not _NAME.fullmatch(name):
            return None
        path = self.directory / name
        try:
            return OfflineNotice.from_json(path.read_bytes())
        except (OSError, ValueError):
            # Some other .json file in the folder is no notice of ours: leave it out.
            return None
