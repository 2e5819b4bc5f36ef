"""What a bulk import shows and writes: the progress bar, the summary, the print-shop file.

The print-shop file holds each new member's initial password in clear: it is created with
mode 0600 and never overwritten, and :func:`print_warning` says it must be destroyed once
printed.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

import attrs

# tqdm ships no type information; its calls here are checked by the tests.
from tqdm import tqdm  # type: ignore[import-untyped]

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


class _Console:
    """The progress bar and the bad-row messages, both through tqdm.

    Messages go through ``tqdm.write``, which clears the bar, prints the line and redraws
    the bar once, so neither is drawn twice nor spaced out. The bar is only drawn on a
    terminal: on a pipe or a log file (cron, CI) tqdm leaves it out and the messages are
    plain lines.
    """

    def __init__(self, progress: TextIO | None, errors: TextIO | None, total: int) -> None:
        self._errors = errors
        self._bar = (None if progress is None else
                     tqdm(total=total, file=progress, unit=" rows", mininterval=0.2,
                          dynamic_ncols=True, disable=None))

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    def report(self, message: str) -> None:
        if self._errors is not None:
            tqdm.write(message, file=self._errors)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@attrs.frozen
class ProvisionSummary:
    """What one import did."""

    rows: int
    imported: int
    skipped: tuple[str, ...]
    bad: tuple[BadRow, ...]
    #: The print-shop file, or None when nothing was imported and so no file was kept.
    credentials_path: Path | None

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
        if self.credentials_path is None:
            out.append("no credentials file written: no member was imported")
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


def print_warning(path: Path | None, stream: TextIO | None = None) -> None:
    """The reminder that the print-shop file is the one copy of the passwords in clear.

    Nothing when ``path`` is None: a run that imported nobody kept no file.
    """
    if path is None:
        return
    out = stream or sys.stdout
    rule = "!" * 76
    print(rule, file=out)
    print(f"  {path} holds the INITIAL PASSWORDS IN CLEAR.", file=out)
    print("  It is the ONE place they exist: the database keeps only a keyed hash.", file=out)
    print("  Hand it to the print shop over a secure channel, then DESTROY every copy", file=out)
    print("  (shred it, empty backups and mail attachments) once the contracts are printed.",
          file=out)
    print(rule, file=out)
