"""Reading a member CSV for bulk provisioning: each row checked, in file order.

Rows are checked with the library's own normalisers; a bad row is reported with its line
number, the field and a reason, never the value. The header is required (the columns
below, in any order, ``;`` or ``,``); blank rows are skipped.
"""

from __future__ import annotations

import csv
import os
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Final, Protocol

import attrs

from . import normalize, texts
from .errors import InvalidInput, ProvisioningError
from .model import Adviser

__all__ = [
    "ADVISER_COLUMNS",
    "COLUMNS",
    "MAX_PHONE",
    "MAX_POSTAL_ADDRESS",
    "REQUIRED_COLUMNS",
    "BadRow",
    "MemberRow",
    "read_members",
    "scan_members",
]

REQUIRED_COLUMNS: Final = ("member_number", "name", "postal_address")
#: Optional: the member's adviser or agency, shown under MON CONSEILLER on the profile.
ADVISER_COLUMNS: Final = ("adviser_agency", "adviser_address", "adviser_orias", "adviser_url")
COLUMNS: Final = (*REQUIRED_COLUMNS, "email", "phone", "lang", *ADVISER_COLUMNS)
MAX_POSTAL_ADDRESS: Final = 500
MAX_PHONE: Final = 32
MAX_ADVISER_AGENCY: Final = 200
MAX_ADVISER_URL: Final = 500
_PHONE_CHARS: Final = frozenset("0123456789+ ().-/")
# Characters that have no business in a link rendered in an href.
_URL_FORBIDDEN: Final = frozenset(" \t\r\n<>\"'`\\")


@attrs.frozen
class MemberRow:
    """One valid CSV row, normalised."""

    line: int
    member_number: str
    name: str
    postal_address: str
    email: str | None = None
    phone: str | None = None
    lang: str = "fr"
    adviser: Adviser | None = None


@attrs.frozen
class BadRow:
    """A rejected CSV row: where it starts, which field, and why (never the value)."""

    line: int
    field: str
    reason: str

    def describe(self) -> str:
        """``line 12: email: malformed``."""
        return f"line {self.line}: {self.field}: {self.reason}"


def _normalize_postal_address(raw: str, field: str = "postal_address") -> str:
    # Addresses span lines in a quoted CSV cell; each line is checked on its own.
    if len(raw) > MAX_POSTAL_ADDRESS:
        raise InvalidInput(field, "too_long")
    lines = []
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            continue
        normalize.check_text(line, field, MAX_POSTAL_ADDRESS)
        lines.append(" ".join(line.split()))
    if not lines:
        raise InvalidInput(field, "empty")
    return "\n".join(lines)


def _normalize_orias(raw: str) -> str:
    # The ORIAS register numbers intermediaries with 8 digits, often written in groups.
    value = "".join(normalize.check_text(raw, "adviser_orias", 32).split())
    if not (value.isascii() and value.isdigit() and len(value) == 8):
        raise InvalidInput("adviser_orias", "malformed")
    return value


def _normalize_adviser_url(raw: str) -> str:
    # The link is rendered in an href on the profile: https only (no javascript:, data:,
    # nor plain http on a page that shows personal data), with a host.
    value = normalize.check_text(raw.strip(), "adviser_url", MAX_ADVISER_URL)
    if _URL_FORBIDDEN & set(value):
        raise InvalidInput("adviser_url", "malformed")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme.lower() != "https":
        raise InvalidInput("adviser_url", "not_https")
    if not parts.hostname:
        raise InvalidInput("adviser_url", "malformed")
    return value


def _adviser(record: Sequence[str], columns: dict[str, int]) -> Adviser | None:
    raw = {name: _cell(record, columns.get(name)).strip() for name in ADVISER_COLUMNS}
    if not any(raw.values()):
        return None
    # The profile names the agency first: the other columns without it would show an
    # address or a number belonging to nobody.
    if not raw["adviser_agency"]:
        raise InvalidInput("adviser_agency", "empty")
    agency = " ".join(normalize.check_text(raw["adviser_agency"], "adviser_agency",
                                           MAX_ADVISER_AGENCY).split())
    address = (_normalize_postal_address(raw["adviser_address"], "adviser_address")
               if raw["adviser_address"] else "")
    orias = _normalize_orias(raw["adviser_orias"]) if raw["adviser_orias"] else ""
    url = _normalize_adviser_url(raw["adviser_url"]) if raw["adviser_url"] else ""
    return Adviser(name=agency, address=address, orias=orias, more_info_url=url)


def _member_number(raw: str) -> str:
    # Most member numbers are plain ASCII digits, which normalize_member_number returns
    # unchanged; it runs twice per row over a million rows, so skip it for those.
    if raw.isascii() and raw.isdigit() and len(raw) <= normalize.MAX_MEMBER_NUMBER:
        return raw
    return normalize.normalize_member_number(raw)


def _normalize_phone(raw: str) -> str:
    value = normalize.check_text(raw.strip(), "phone", MAX_PHONE)
    if not set(value) <= _PHONE_CHARS or sum(map(str.isdigit, value)) < 6:
        raise InvalidInput("phone", "malformed")
    return " ".join(value.split())


def _normalize_lang(raw: str) -> str:
    primary = raw.strip().replace("_", "-").split("-")[0].lower()
    if primary not in texts.LANGS:
        raise InvalidInput("lang", "unsupported")
    return primary


def _cell(record: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(record):
        return ""
    return record[index]


class _CsvReader(Protocol):
    line_num: int

    def __next__(self) -> list[str]: ...


def _open_csv(path: Path) -> tuple[IO[str], _CsvReader, dict[str, int]]:
    try:
        # Undecodable bytes survive as surrogates, which the normalisers refuse per row.
        fh = open(path, encoding="utf-8-sig", errors="surrogateescape",  # noqa: SIM115
                  newline="")
    except OSError as exc:
        raise ProvisioningError(f"cannot open the member file: {exc.strerror}") from None
    try:
        header_line = fh.readline()
        if not header_line.strip():
            raise ProvisioningError("the member file is empty")
        delimiter = _sniff_delimiter(header_line)
        fh.seek(0)
        if fh.read(1) != "\ufeff":
            fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter, quotechar='"', strict=False)
        header = [h.strip().lower() for h in next(reader)]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ProvisioningError(f"the member file lacks the column(s) {', '.join(missing)}")
        duplicated = sorted(c for c, n in Counter(header).items() if n > 1 and c in COLUMNS)
        if duplicated:
            raise ProvisioningError(f"the member file repeats the column(s) "
                                    f"{', '.join(duplicated)}")
        columns: dict[str, int] = {name: header.index(name) for name in COLUMNS
                                   if name in header}
    except BaseException:
        fh.close()
        raise
    return fh, reader, columns


def _sniff_delimiter(header_line: str) -> str:
    # Only the header is sniffed: it holds nothing but column names, whereas addresses in
    # the data rows are full of commas whatever the delimiter is.
    try:
        return csv.Sniffer().sniff(header_line, delimiters=";,").delimiter
    except csv.Error:
        return ";" if header_line.count(";") > header_line.count(",") else ","


def _records(path: Path) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    fh, reader, columns = _open_csv(path)
    with fh:
        while True:
            line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise ProvisioningError(f"line {line}: the CSV structure is broken") from None
            if not "".join(record).strip():  # a blank row, however many cells
                continue
            yield line, record, columns


def _validate(line: int, record: Sequence[str], columns: dict[str, int]) -> MemberRow | BadRow:
    field = "member_number"
    try:
        number = _member_number(_cell(record, columns["member_number"]))
        field = "name"
        name = normalize.normalize_name(_cell(record, columns["name"]))
        field = "postal_address"
        address = _normalize_postal_address(_cell(record, columns["postal_address"]))
        field = "email"
        raw_email = _cell(record, columns.get("email")).strip()
        email = normalize.normalize_email(raw_email) if raw_email else None
        field = "phone"
        raw_phone = _cell(record, columns.get("phone")).strip()
        phone = _normalize_phone(raw_phone) if raw_phone else None
        field = "lang"
        raw_lang = _cell(record, columns.get("lang")).strip()
        lang = _normalize_lang(raw_lang) if raw_lang else texts.DEFAULT_LANG
        field = "adviser"
        adviser = _adviser(record, columns)
    except InvalidInput as exc:
        return BadRow(line, exc.field, exc.reason)
    except Exception:  # a hostile cell must not stop the whole import
        return BadRow(line, field, "malformed")
    return MemberRow(line, number, name, address, email, phone, lang, adviser)


def scan_members(path: str | os.PathLike[str]) -> tuple[int, frozenset[str]]:
    """A first, cheap pass: the number of data rows and the member numbers seen twice."""
    counts: Counter[str] = Counter()
    rows = 0
    for _, record, columns in _records(Path(path)):
        rows += 1
        try:
            counts[_member_number(_cell(record, columns["member_number"]))] += 1
        except InvalidInput:
            continue
    return rows, frozenset(number for number, n in counts.items() if n > 1)


def read_members(path: str | os.PathLike[str],
                 duplicated: frozenset[str] | None = None) -> Iterator[MemberRow | BadRow]:
    """Every non-blank data row of the CSV, validated, in file order.

    Member numbers that appear more than once are all reported as bad rows: the file does
    not say which of them is right. ``duplicated`` comes from :func:`scan_members`, which
    is run first when it is not given.
    """
    source = Path(path)
    if duplicated is None:
        _, duplicated = scan_members(source)
    for line, record, columns in _records(source):
        row = _validate(line, record, columns)
        if isinstance(row, MemberRow) and row.member_number in duplicated:
            yield BadRow(line, "member_number", "duplicate in file")
        else:
            yield row
