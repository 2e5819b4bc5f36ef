"""What a bulk import shows and writes: the progress bar, the summary, the print-shop file.

The print-shop file holds each new member's initial password in clear: it is created with
mode 0600 and never overwritten, and :func:`print_warning` says it must be destroyed once
printed.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

import attrs

from .errors import ProvisioningError
from .provisioning_rows import BadRow

__all__ = ["ProvisionSummary", "print_warning"]


def _create_private(path: Path) -> TextIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ProvisioningError("the credentials file already exists; it is never "
                                "overwritten (destroy it or choose another name)") from None
    except OSError as exc:
        raise ProvisioningError(f"cannot create the credentials file: {exc.strerror}") from None
    # The umask may have narrowed the mode further; it can never have widened it.
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


class _Progress:
    """A one-line text progress bar, redrawn with ``\\r`` a few times a second at most."""

    def __init__(self, stream: TextIO | None, total: int) -> None:
        self._stream = stream
        self._total = max(total, 1)
        self._last = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        if self._stream is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        share = min(done / self._total, 1.0)
        filled = int(share * 30)
        bar = "#" * filled + "." * (30 - filled)
        self._stream.write(f"\r[{bar}] {share:6.1%} {done}/{self._total} rows")
        self._stream.flush()

    def finish(self, done: int) -> None:
        if self._stream is None:
            return
        self.update(done, force=True)
        self._stream.write("\n")
        self._stream.flush()


@attrs.frozen
class ProvisionSummary:
    """What one import did."""

    rows: int
    imported: int
    skipped: tuple[str, ...]
    bad: tuple[BadRow, ...]
    credentials_path: Path

    @property
    def exit_code(self) -> int:
        """0 when every row was imported or skipped, 1 when some rows were bad."""
        return 1 if self.bad else 0

    def lines(self) -> list[str]:
        """The human summary, one line per item (bad rows are counted by reason)."""
        out = [
            f"rows read: {self.rows}",
            f"imported: {self.imported}",
            f"skipped (member number already provisioned, password not reissued): "
            f"{len(self.skipped)}",
            f"bad rows: {len(self.bad)}",
        ]
        if self.skipped:
            shown = ", ".join(self.skipped[:20])
            more = f" and {len(self.skipped) - 20} more" if len(self.skipped) > 20 else ""
            out.append(f"  skipped member numbers: {shown}{more}")
        reasons = Counter(f"{b.field}: {b.reason}" for b in self.bad)
        for reason, n in sorted(reasons.items()):
            out.append(f"  {n} x {reason}")
        first = ", ".join(str(b.line) for b in self.bad[:20])
        if self.bad:
            more = " ..." if len(self.bad) > 20 else ""
            out.append(f"  bad lines: {first}{more}")
        return out


def print_warning(path: Path, stream: TextIO | None = None) -> None:
    """The reminder that the print-shop file is the one copy of the passwords in clear."""
    out = stream or sys.stdout
    rule = "!" * 76
    print(rule, file=out)
    print(f"  {path} holds the INITIAL PASSWORDS IN CLEAR.", file=out)
    print("  It is the ONE place they exist: the database keeps only a keyed hash.", file=out)
    print("  Hand it to the print shop over a secure channel, then DESTROY every copy", file=out)
    print("  (shred it, empty backups and mail attachments) once the contracts are printed.",
          file=out)
    print(rule, file=out)
