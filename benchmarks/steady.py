"""Bring a SQLite file to its steady state before measuring journeys on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def until_steady(run: Callable[[], object], database: Path | None, limit: int = 200) -> int:
    """Call ``run`` (one journey) until one leaves the write-ahead log's size unchanged.

    Returns how many journeys ran; one when ``database`` is None (nothing to settle: the
    first journey only compiles templates and fills caches). After its first checkpoint
    (1,000 pages) SQLite writes the log again from its start, so commits overwrite blocks
    of a file of stable size, as in a running portal. Before that, every commit also grows
    the file, and its flush then includes file-system metadata (measured here: about
    twice the time per flush), a cost only a new database pays.
    """
    wal = None if database is None else database.with_name(database.name + "-wal")
    for n in range(1, limit + 1):
        before = wal.stat().st_size if wal is not None and wal.exists() else None
        run()
        if wal is None or (before is not None and wal.exists()
                           and wal.stat().st_size == before):
            return n
    return limit
