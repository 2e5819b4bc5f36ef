"""Bulk provisioning: a member CSV in, accounts in storage, a print-shop file out.

The print-shop file holds each new member's initial password in clear, formatted for the
contract. It is the ONE place those passwords exist: storage keeps only their peppered
HMAC (see :mod:`cegema_onboarding.credentials` for why HMAC and not Argon2id). It is
created with mode 0600, never overwritten, and must be destroyed once printed (see
:mod:`cegema_onboarding.provisioning_report`). The command is ``cegema-onboarding
provision`` (:mod:`cegema_onboarding.cli.provision`).

Rows are read and checked by :mod:`cegema_onboarding.provisioning_rows`; a bad row is
reported with its line number and reason and the good rows are still imported. Member
numbers already in storage are skipped without generating or writing a new password, so a
re-run is harmless.
"""

from __future__ import annotations

import base64
import csv
import multiprocessing
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from queue import Empty
from typing import Any, Final, Protocol, TextIO

from . import normalize
from .credentials import ALPHABET, INITIAL_PASSWORD_BYTES, INITIAL_PASSWORD_LENGTH, Pepper
from .errors import ConfigurationError
from .errors import ProvisioningError as ProvisioningError  # its home before errors.py
from .journey.provision import build_account as build_account  # its home before journey/
from .journey.provision import provisioned_audit as provisioned_audit  # the same
from .model import Adviser
from .ports import AccountBulkWriter, Clock
from .provisioning_report import ProvisionSummary as ProvisionSummary
from .provisioning_report import _Console, _create_private
from .provisioning_report import print_warning as print_warning
from .provisioning_rows import ADVISER_COLUMNS as ADVISER_COLUMNS
from .provisioning_rows import COLUMNS as COLUMNS
from .provisioning_rows import REQUIRED_COLUMNS as REQUIRED_COLUMNS
from .provisioning_rows import BadRow as BadRow
from .provisioning_rows import MemberRow as MemberRow
from .provisioning_rows import _open_csv
from .provisioning_rows import read_members as read_members
from .provisioning_rows import scan_members as scan_members

__all__ = [
    "ADVISER_COLUMNS",
    "COLUMNS",
    "DEFAULT_BATCH",
    "REQUIRED_COLUMNS",
    "BadRow",
    "MemberRow",
    "ProvisionSummary",
    "ProvisioningError",
    "build_account",
    "print_warning",
    "provision_csv",
    "provisioned_audit",
    "read_members",
    "scan_members",
]

PRINT_SHOP_COLUMNS: Final = ("member_number", "name", "postal_address", "initial_password")
# Accounts per transaction: each one ends with two fsyncs (the database's and the
# print-shop file's), so a million members take 50 of them rather than 200.
DEFAULT_BATCH: Final = 20_000


class _CsvWriter(Protocol):
    # The stdlib's writer type is private; this is the one method used.
    def writerow(self, row: Iterable[Any], /) -> Any: ...


# --------------------------------------------------------------------------- accounts


# A valid row ready to insert: (line, member_number, name, postal_address, email, phone,
# lang, account_id, initial password as printed, initial_digest, adviser). Plain tuples
# because they cross a process boundary by the million, and tuples of str pickle fastest
# (the adviser is None unless the file has adviser columns).
_Ready = tuple[int, str, str, str, str | None, str | None, str, str, str, str, Adviser | None]
_Item = _Ready | BadRow

# Below this size the helper process costs more to start than it saves.
_WORKER_MIN_BYTES: Final = 2_000_000
_CHUNK: Final = 2000


# Standard base32 of 10 bytes cuts them into sixteen 5-bit groups, high bits first, as
# credentials.initial_password_from_bytes does; only the alphabet differs.
_TO_CROCKFORD: Final = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                                       ALPHABET.encode("ascii"))
_ID_BYTES: Final = 10
_ROW_BYTES: Final = INITIAL_PASSWORD_BYTES + _ID_BYTES
_RAND_B: Final = (1 << 62) - 1


def _new_credentials(count: int, digest: Callable[[str], str],
                     now_ms: int | None = None) -> list[tuple[str, str, str]]:
    """``count`` fresh (account id, initial password as printed, its digest) triples.

    The passwords are those of credentials.new_initial_password (80 bits from the CSPRNG),
    drawn in one call for the whole chunk. The account ids are UUIDv7 (RFC 9562): 48 bits
    of Unix milliseconds, then 74 random bits. Time-ordered ids land at the end of the
    primary-key index instead of all over it, which on SQLite makes a million inserts
    about twice as fast; they are identifiers, not secrets.
    """
    random = secrets.token_bytes(count * _ROW_BYTES)
    split = count * INITIAL_PASSWORD_BYTES
    # Base32 works on 5-byte blocks, so the text of 10-byte groups laid end to end is
    # their 16-symbol texts laid end to end: one call encodes the whole chunk.
    symbols = base64.b32encode(random[:split]).translate(_TO_CROCKFORD).decode()
    prefix = ((time.time_ns() // 1_000_000 if now_ms is None else now_ms) << 80) | (0x7 << 76)
    out = []
    for i in range(count):
        initial = symbols[i * INITIAL_PASSWORD_LENGTH:(i + 1) * INITIAL_PASSWORD_LENGTH]
        tail = int.from_bytes(random[split + i * _ID_BYTES:split + (i + 1) * _ID_BYTES], "big")
        account_id = f"{prefix | ((tail >> 68) << 64) | (0b10 << 62) | (tail & _RAND_B):032x}"
        out.append((account_id,
                    f"{initial[:4]}-{initial[4:8]}-{initial[8:12]}-{initial[12:]}",
                    digest(initial)))
    return out


def _prepare(source: Path, pepper: Pepper) -> Iterator[int | list[_Item]]:
    """The row count first, then chunks of prepared rows and bad rows, in file order."""
    total, duplicated = scan_members(source)
    yield total
    digest = pepper.ascii_digester()
    rows: Iterator[MemberRow | BadRow] = read_members(source, duplicated)
    while True:
        # A chunk of rows, then the credentials of its good rows in one go.
        part = [row for _, row in zip(range(_CHUNK), rows, strict=False)]
        if not part:
            break
        fresh = iter(_new_credentials(sum(isinstance(r, MemberRow) for r in part), digest))
        chunk: list[_Item] = []
        for row in part:
            if isinstance(row, BadRow):
                chunk.append(row)
            else:
                account_id, printed, initial_digest = next(fresh)
                chunk.append((row.line, row.member_number, row.name, row.postal_address,
                              row.email, row.phone, row.lang, account_id, printed,
                              initial_digest, row.adviser))
        yield chunk


def _produce(source: str, pepper: Pepper, queue: Any) -> None:
    """Helper process: read, validate and prepare rows while the parent writes them."""
    try:
        for piece in _prepare(Path(source), pepper):
            queue.put(("data", piece))
        queue.put(("done", None))
    except ProvisioningError as exc:
        queue.put(("error", str(exc)))
    except Exception as exc:  # reported by type only: a message could quote a row
        queue.put(("error", f"the helper process failed ({type(exc).__name__})"))


def _helper_context() -> Any:
    # fork starts at once and needs no importable __main__, but forking a process that runs
    # other threads can deadlock the child: spawn then. The child never touches the
    # parent's database connections, and multiprocessing ends it with os._exit.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _prepared_in_helper(source: Path, pepper: Pepper,
                        batch_size: int = DEFAULT_BATCH) -> Iterator[int | list[_Item]]:
    ctx = _helper_context()
    # Room for two batches: while this process writes one, the helper prepares the next
    # instead of waiting on a full queue. Bounded: a chunk of rows is about a megabyte.
    queue = ctx.Queue(maxsize=max(8, 2 * -(-min(batch_size, 50_000) // _CHUNK) + 2))
    helper = ctx.Process(target=_produce, args=(str(source), pepper, queue),
                         name="cegema-provision-reader", daemon=True)
    helper.start()
    started = drained = False
    try:
        while True:
            try:
                kind, payload = queue.get(timeout=1.0)
            except Empty:
                # A helper that exited normally has flushed everything into the pipe.
                if helper.is_alive() or (helper.exitcode == 0 and not drained):
                    drained = helper.exitcode == 0
                    continue
                if helper.exitcode != 0 and not started:
                    # It could not even start (spawn from an unusual __main__):
                    # do the work here instead, only slower.
                    yield from _prepare(source, pepper)
                    return
                raise ProvisioningError("the helper process died") from None
            started = True
            if kind == "done":
                return
            if kind == "error":
                raise ProvisioningError(payload)
            yield payload
    finally:
        if helper.is_alive():
            helper.terminate()
        helper.join(timeout=10)
        queue.close()


def provision_csv(
    source: str | os.PathLike[str],
    storage: AccountBulkWriter,
    pepper: Pepper,
    credentials_out: str | os.PathLike[str],
    *,
    now: Callable[[], datetime] | Clock | None = None,
    staff_id: str = "bulk-import",
    batch_size: int = DEFAULT_BATCH,
    progress: TextIO | None = None,
    errors: TextIO | None = None,
    helper_process: bool | None = None,
) -> ProvisionSummary:
    """Import a member CSV into ``storage`` and write the print-shop file.

    Bad rows go to ``errors`` as they are found (``line N: field: reason``); ``progress``
    gets a progress bar when it is a terminal. Raises ProvisioningError when the import
    cannot start; rows committed before a later failure stay committed, and their
    passwords are already in the print-shop file, which is flushed after every batch. A
    run that writes no password (nothing imported, or a failure before the first batch)
    leaves no print-shop file, and its summary's ``credentials_path`` is None.

    With ``helper_process`` (the default for files over 2 MB on a multi-core machine) a
    second process reads, validates and generates passwords while this one writes.
    """
    if batch_size < 1:
        raise ConfigurationError("batch_size must be at least 1")
    normalize.check_text(staff_id, "staff_id", 100)
    source_path = Path(source)
    out_path = Path(credentials_out)
    clock = _clock(now)
    if not source_path.is_file():
        raise ProvisioningError("the member file does not exist")
    if helper_process is None:
        helper_process = ((os.cpu_count() or 1) > 1
                          and source_path.stat().st_size >= _WORKER_MIN_BYTES)
    # Fail on a bad header or an existing output before starting anything.
    _open_csv(source_path)[0].close()
    out = _create_private(out_path)
    sheet = _PrintShop(out)
    try:
        with out:
            stream = (_prepared_in_helper(source_path, pepper, batch_size) if helper_process
                      else _prepare(source_path, pepper))
            first = next(stream)
            assert isinstance(first, int)
            console = _Console(progress, errors, first)
            try:
                done = imported = 0
                skipped: list[str] = []
                bad: list[BadRow] = []
                batch: list[_Ready] = []
                for piece in stream:
                    assert isinstance(piece, list)
                    for item in piece:
                        done += 1
                        if isinstance(item, BadRow):
                            bad.append(item)
                            console.report(item.describe())
                            continue
                        batch.append(item)
                        if len(batch) >= batch_size:
                            imported += _import_or_stop(batch, storage, sheet, clock(),
                                                        staff_id, skipped, imported, out_path)
                            batch = []
                    console.update(done)
                if batch:
                    imported += _import_or_stop(batch, storage, sheet, clock(), staff_id,
                                                skipped, imported, out_path)
            finally:
                console.close()
    finally:
        # A file that never received a row holds no password: remove it, so that it cannot
        # block the next run ("already exists") nor be mistaken for a print-shop file.
        if sheet.empty:
            out_path.unlink(missing_ok=True)
    return ProvisionSummary(done, imported, tuple(skipped), tuple(bad),
                            None if sheet.empty else out_path)


class _PrintShop:
    """The print-shop file: its header is written with its first row, so that a run that
    imports nothing leaves an empty file, which provision_csv removes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._writer: _CsvWriter = csv.writer(out, delimiter=";", lineterminator="\r\n")
        self.empty = True

    def row(self, values: Iterable[str]) -> None:
        if self.empty:
            self._writer.writerow(PRINT_SHOP_COLUMNS)
            self.empty = False
        self._writer.writerow(values)

    def sync(self) -> None:
        # Committed accounts whose password is not on disk could never log in.
        self._out.flush()
        os.fsync(self._out.fileno())


def _clock(now: Callable[[], datetime] | Clock | None) -> Callable[[], datetime]:
    if now is None:
        from .adapters.system import SystemClock

        return SystemClock().now
    if callable(now):
        return now
    return now.now


def _import_or_stop(batch: Sequence[_Ready], storage: AccountBulkWriter, sheet: _PrintShop,
                    now: datetime, staff_id: str, skipped: list[str],
                    imported: int, out_path: Path) -> int:
    try:
        return _import_batch(batch, storage, sheet, now, staff_id, skipped)
    except Exception as exc:
        # The batch rolled back; what came before is committed and on disk. Say so, by
        # error type only (a driver's message may quote a connection string).
        raise ProvisioningError(
            f"the import stopped at line {batch[0][0]} ({type(exc).__name__}); {imported} "
            f"members were imported before it and their passwords are in {out_path}; "
            f"run the same file again to import the rest") from None


def _import_batch(batch: Sequence[_Ready], storage: AccountBulkWriter, sheet: _PrintShop,
                  now: datetime, staff_id: str, skipped: list[str]) -> int:
    accounts = [build_account(account_id=account_id, member_number=number, name=name, now=now,
                              initial_digest=digest, email=email, postal_address=address,
                              phone=phone, lang=lang, adviser=adviser)
                for (_, number, name, address, email, phone, lang, account_id, _, digest,
                     adviser) in batch]
    audit = [provisioned_audit(a, now, staff_id) for a in accounts]
    refused = set(storage.insert_accounts(accounts, audit))
    written = 0
    for _, number, name, address, _, _, _, _, printed, _, _ in batch:
        if number in refused:
            skipped.append(number)
            continue
        sheet.row((number, name, address, printed))
        written += 1
    sheet.sync()
    return written
