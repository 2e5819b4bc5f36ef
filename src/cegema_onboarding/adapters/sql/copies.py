"""An account update sets only the indexed copies that changed since the account was read.

SQLite rewrites every index on a column that an UPDATE's ``SET`` names, even to the value
it holds: setting all four copies (member number, address key, stage, queue time) dirtied
about eight pages per save where the JSON alone dirties one, and every page is written to
the WAL and flushed by the durable commit. So the store remembers, per thread, the
account each single-row read returned; a save of that same version (the compare-and-set's
condition) leaves out the copies equal to the ones stored. Any other save sets them all,
as before.
"""

from __future__ import annotations

import threading
from typing import Any

from ...model import Account
from .rows import account_data, index_copies

__all__ = ["ReadCopies"]

#: Accounts remembered per thread: a request reads a handful, and a thread serves one
#: request at a time; past this the memory is cleared rather than grown.
_MAX = 64


class ReadCopies:
    """The accounts this thread read last, to save only what changed since."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _seen(self) -> dict[str, Account]:
        seen: dict[str, Account] | None = getattr(self._local, "seen", None)
        if seen is None:
            seen = self._local.seen = {}
        return seen

    def remember(self, account: Account) -> Account:
        """Note ``account`` as read from its row; returns it."""
        seen = self._seen()
        if len(seen) >= _MAX:
            seen.clear()
        seen[account.account_id] = account
        return account

    def changes(self, account: Account, expected: int) -> dict[str, Any]:
        """The columns a save of ``account`` over version ``expected`` must set."""
        values = index_copies(account)
        before = self._seen().pop(account.account_id, None)
        if before is not None and before.version == expected:
            # The row holds what ``before`` was read from: the compare-and-set fails
            # otherwise, and the whole commit with it.
            old = index_copies(before)
            values = {name: value for name, value in values.items() if old[name] != value}
        values["data"] = account_data(account)
        return values
