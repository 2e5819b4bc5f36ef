"""``cegema-onboarding provision``: a database without tables, runs that import nothing, and
the console (progress bar and bad-row messages)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest

from cegema_onboarding.adapters.memory import MemoryStorage
from cegema_onboarding.adapters.sql import create_schema, missing_tables, sqlite_engine
from cegema_onboarding.bootstrap import pepper_from_keys
from cegema_onboarding.cli import main
from cegema_onboarding.errors import ProvisioningError, SchemaMissing, StorageError
from cegema_onboarding.model import Account
from cegema_onboarding.ports import AuditRecord
from cegema_onboarding.provisioning import provision_csv

from ..conftest import PEPPER, make_settings

HEADER = "member_number;name;postal_address;email;phone;lang\n"
GOOD = ("100234567;Marie Dupont;12 rue de la Paix 75002 Paris;marie@example.com;;fr\n"
        "100234568;Jean Martin;3 place d'Italie 75013 Paris;;;en\n")
# Lines 2 and 4 are bad, 3 and 5 good.
MIXED = HEADER + ("100000001;;1 rue A;;;\n"
                  "100000002;Membre Deux;1 rue A;;;\n"
                  "100000003;Membre Trois;1 rue A;not-an-email;;\n"
                  "100000004;Membre Quatre;1 rue A;;;\n")


@pytest.fixture(autouse=True)
def _pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEGEMA_PEPPER_KEYS", f"t1:{PEPPER}")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _provision(db: Path, source: Path, out: Path, *extra: str) -> int:
    return main(["provision", "--database", f"sqlite:///{db}", "--csv", str(source),
                 "--credentials-out", str(out), *extra])


# ------------------------------------------------------------ a database without tables


def test_no_tables_stops_before_any_file_and_names_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "empty.db"
    source = _write(tmp_path / "members.csv", HEADER + GOOD)
    out = tmp_path / "print-shop.csv"

    assert _provision(db, source, out) == 2
    captured = capsys.readouterr()
    assert "the database has none of the library's tables" in captured.err
    assert "cegema-onboarding migrate" in captured.err and "--create-schema" in captured.err
    assert "StorageError" not in captured.err and "line " not in captured.err
    assert captured.out == ""
    assert not out.exists()

    # Nothing is left in the way: the re-run with the fix works.
    assert _provision(db, source, out, "--create-schema", "--no-progress") == 0
    assert "imported: 2" in capsys.readouterr().out
    assert out.exists()


def test_missing_tables_reads_the_schema(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "portal.db")
    try:
        assert "cegema_accounts" in missing_tables(engine)
        create_schema(engine)
        assert missing_tables(engine) == ()
    finally:
        engine.dispose()
    error = SchemaMissing("the database lacks two tables", fix="migrate",
                          tables=("accounts", "audit"))
    assert error.tables == ("accounts", "audit") and error.fix == "migrate"
    assert isinstance(error, StorageError)


def test_a_failure_before_any_row_is_written_leaves_no_file(tmp_path: Path) -> None:
    class Broken(MemoryStorage):
        def insert_accounts(self, accounts: Sequence[Account],
                            audit: Sequence[AuditRecord]) -> Sequence[str]:
            raise StorageError("no such table: cegema_accounts")

    source = _write(tmp_path / "members.csv", HEADER + GOOD)
    out = tmp_path / "print-shop.csv"
    pepper = pepper_from_keys(make_settings().pepper_keys)
    with pytest.raises(ProvisioningError, match="0 members were imported"):
        provision_csv(source, Broken(), pepper, out)
    assert not out.exists()
    # So the same command can simply be run again.
    summary = provision_csv(source, MemoryStorage(), pepper, out)
    assert summary.imported == 2 and summary.credentials_path == out and out.exists()


# ------------------------------------------------------------ runs that import nothing


def test_a_rerun_that_imports_nothing_writes_no_credentials_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "portal.db"
    source = _write(tmp_path / "members.csv", HEADER + GOOD)
    assert _provision(db, source, tmp_path / "first.csv", "--create-schema") == 0
    assert "INITIAL PASSWORDS IN CLEAR" in capsys.readouterr().out

    again = tmp_path / "again.csv"
    assert _provision(db, source, again) == 0
    captured = capsys.readouterr()
    assert "imported: 0" in captured.out
    assert "no credentials file written" in captured.out
    assert "INITIAL PASSWORDS IN CLEAR" not in captured.out
    assert not again.exists()


def test_a_file_of_bad_rows_writes_no_credentials_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "portal.db"
    source = _write(tmp_path / "members.csv", HEADER + "100000001;;1 rue A;;;\n")
    out = tmp_path / "print-shop.csv"
    assert _provision(db, source, out, "--create-schema") == 1
    captured = capsys.readouterr()
    assert "line 2: name: empty" in captured.err
    assert "INITIAL PASSWORDS IN CLEAR" not in captured.out
    assert not out.exists()


# ------------------------------------------------------------ the console


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as stderr is in an interactive shell."""

    def isatty(self) -> bool:
        return True


def _screen(written: str) -> list[str]:
    """What a terminal shows once ``written`` is drawn: ``\\r`` goes back to the line's
    start and later characters overwrite earlier ones."""
    lines = [""]
    column = 0
    for char in written:
        if char == "\n":
            lines.append("")
            column = 0
        elif char == "\r":
            column = 0
        else:
            line = lines[-1]
            lines[-1] = line[:column] + char + line[column + 1:]
            column += 1
    return [line.rstrip() for line in lines]


def _run(tmp_path: Path, text: str, progress: io.StringIO | None,
         errors: io.StringIO) -> None:
    source = _write(tmp_path / "members.csv", text)
    pepper = pepper_from_keys(make_settings().pepper_keys)
    # A chunk per batch of two rows, so the bar is redrawn between the messages.
    provision_csv(source, MemoryStorage(), pepper, tmp_path / "print-shop.csv",
                  progress=progress, errors=errors, batch_size=2)


def test_on_a_terminal_one_bar_and_one_line_per_bad_row(tmp_path: Path) -> None:
    terminal = _Terminal()
    _run(tmp_path, MIXED, terminal, terminal)
    screen = _screen(terminal.getvalue())
    assert screen[-1] == ""  # the bar ends with its line
    shown = screen[:-1]
    assert shown[:2] == ["line 2: name: empty", "line 4: email: malformed"]
    # The bar, drawn once, below the messages, complete; no blank line anywhere.
    assert len(shown) == 3
    assert "100%" in shown[2] and "4/4" in shown[2] and "rows" in shown[2]
    assert "" not in shown


def test_off_a_terminal_no_bar_and_plain_lines(tmp_path: Path) -> None:
    piped = io.StringIO()  # a pipe or a log file: not a terminal
    _run(tmp_path, MIXED, piped, piped)
    assert piped.getvalue() == "line 2: name: empty\nline 4: email: malformed\n"


def test_no_progress_gives_the_same_plain_lines(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path / "members.csv", MIXED)
    code = _provision(tmp_path / "portal.db", source, tmp_path / "out.csv",
                      "--create-schema", "--no-progress")
    assert code == 1
    assert capsys.readouterr().err == "line 2: name: empty\nline 4: email: malformed\n"
