"""Bulk provisioning from a member CSV, and the ``cegema-onboarding provision`` command."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from cegema_onboarding import provisioning
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine
from cegema_onboarding.bootstrap import parse_pepper_keys, pepper_from_keys
from cegema_onboarding.cli import main
from cegema_onboarding.credentials import ALPHABET, Pepper
from cegema_onboarding.errors import StorageError
from cegema_onboarding.model import Account, Stage, Step
from cegema_onboarding.ports import AuditRecord
from cegema_onboarding.provisioning import (
    BadRow,
    MemberRow,
    ProvisioningError,
    ProvisionSummary,
    build_account,
    provision_csv,
    read_members,
)
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import PEPPER, START, make_settings

HEADER = "member_number;name;postal_address;email;phone;lang\n"
GOOD = (
    '100234567;Marie Dupont;"12 rue de la Paix\n75002 Paris";marie@example.com;'
    "06 12 34 56 78;fr\n"
    "100234568;  Jean   Martin ;3 place d'Italie 75013 Paris;;;en\n"
    "100234569;Léa Bernard;1 avenue Foch 75116 Paris;LEA@Example.COM;;\n"
)


def pepper() -> Pepper:
    return pepper_from_keys(make_settings().pepper_keys)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine(tmp_path / "onboarding.db")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sql(engine: Engine) -> SqlStorage:
    return SqlStorage(engine)


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def read_print_shop(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def service_on(storage: SqlStorage | MemoryStorage) -> OnboardingService:
    return OnboardingService(storage, MemoryMailer(), settings=make_settings(),
                             clock=ManualClock(START))


def run(source: Path, storage: SqlStorage | MemoryStorage, out: Path,
        helper_process: bool | None = None) -> tuple[ProvisionSummary, str]:
    errors = io.StringIO()
    summary = provision_csv(source, storage, pepper(), out, errors=errors,
                            now=ManualClock(START), helper_process=helper_process)
    return summary, errors.getvalue()


# ---------------------------------------------------------------------- the happy path


def test_import_writes_accounts_and_a_private_print_shop_file(tmp_path: Path,
                                                              sql: SqlStorage) -> None:
    source = write(tmp_path / "members.csv", HEADER + GOOD, bom=True)
    out = tmp_path / "print-shop.csv"
    old_umask = os.umask(0)  # even a permissive umask must not widen the file's mode
    try:
        summary, errors = run(source, sql, out)
    finally:
        os.umask(old_umask)
    assert errors == ""
    assert summary.rows == 3 and summary.imported == 3
    assert summary.exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    rows = read_print_shop(out)
    assert [r["member_number"] for r in rows] == ["100234567", "100234568", "100234569"]
    assert rows[0]["postal_address"] == "12 rue de la Paix\n75002 Paris"
    assert rows[1]["name"] == "Jean Martin"
    for r in rows:
        groups = r["initial_password"].split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(ALPHABET)
    assert len({r["initial_password"] for r in rows}) == 3

    marie = sql.find_by_member_number("100234567")
    assert marie is not None and marie.stage is Stage.PROVISIONED
    assert marie.pending_email == "marie@example.com" and marie.email is None
    assert marie.phone == "06 12 34 56 78" and marie.lang == "fr"
    jean = sql.find_by_member_number("100234568")
    assert jean is not None and jean.lang == "en" and jean.pending_email is None
    # Only the keyed digest is stored, never the password itself.
    assert marie.initial_digest is not None and marie.initial_digest.startswith("t1$")
    assert rows[0]["initial_password"].replace("-", "") not in repr(sql.get(marie.account_id))
    audit = sql.audit_records(account_id=marie.account_id)
    assert [(a.action, a.actor) for a in audit] == [("provisioned", "staff:bulk-import")]


def test_printed_passwords_log_in_through_the_service(tmp_path: Path, sql: SqlStorage) -> None:
    source = write(tmp_path / "members.csv", HEADER + GOOD)
    out = tmp_path / "print-shop.csv"
    run(source, sql, out)
    service = service_on(sql)
    for row in read_print_shop(out):
        # Typed the way a member would: lower case, without the dashes.
        typed = row["initial_password"].replace("-", "").lower()
        result = service.login(row["member_number"], typed)
        assert isinstance(result, Ok), row["member_number"]
        assert result.step is Step.EMAIL
    wrong = service.login("100234567", "AAAA-AAAA-AAAA-AAAA")
    assert not isinstance(wrong, Ok)


def test_comma_delimiter_without_bom_and_memory_storage(tmp_path: Path) -> None:
    text = ("member_number,name,postal_address\n"
            '100234567,Marie Dupont,"12, rue de la Paix, 75002 Paris"\n')
    source = write(tmp_path / "members.csv", text)
    storage = MemoryStorage()
    summary, errors = run(source, storage, tmp_path / "out.csv")
    assert errors == "" and summary.imported == 1
    account = storage.find_by_member_number("100234567")
    assert account is not None and account.postal_address == "12, rue de la Paix, 75002 Paris"
    [row] = read_print_shop(tmp_path / "out.csv")
    assert isinstance(service_on(storage).login("100234567", row["initial_password"]), Ok)


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_helper_process_path_gives_the_same_result(tmp_path: Path, sql: SqlStorage,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   start: str) -> None:
    if start not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {start} here")
    monkeypatch.setattr(provisioning, "_helper_context",
                        lambda: multiprocessing.get_context(start))
    source = write(tmp_path / "members.csv", HEADER + GOOD + "bad number!;X;Y;;;\n")
    out = tmp_path / "print-shop.csv"
    summary, errors = run(source, sql, out, helper_process=True)
    assert summary.imported == 3
    assert errors == "line 6: member_number: malformed\n"
    rows = read_print_shop(out)
    service = service_on(sql)
    assert all(isinstance(service.login(r["member_number"], r["initial_password"]), Ok)
               for r in rows)


# ---------------------------------------------------------------------- bad rows


BAD = (
    "100000001;Ok Person;1 rue A;;;\n"                 # line 2: good
    "100 000 002;Spaces In Number;1 rue A;;;\n"        # line 3: good (spaces dropped)
    "10000/0$3;Bad Number;1 rue A;;;\n"                # line 4
    "100000004;   ;1 rue A;;;\n"                       # line 5
    "100000005;No Address;;;;\n"                       # line 6
    "100000006;Bad Mail;1 rue A;marie@@example;;\n"    # line 7
    "100000007;Bad Phone;1 rue A;;call me;\n"          # line 8
    "100000008;Bad Lang;1 rue A;;;de\n"                # line 9
    '100000009;Multi Line;"1 rue A\n\n75001 Paris";;;\n'  # lines 10-12: good
    "100000010;Twice;1 rue A;;;\n"                     # line 13: duplicate
    "100000011;Nul\x00Byte;1 rue A;;;\n"               # line 14
    "100000010;Twice Again;1 rue B;;;\n"               # line 15: duplicate
    "\n"                                               # line 16: blank, ignored
    "100000012;Last Good;1 rue A;;;\n"                 # line 17: good
)


def test_bad_rows_are_reported_with_line_and_reason(tmp_path: Path, sql: SqlStorage) -> None:
    source = write(tmp_path / "members.csv", HEADER + BAD)
    summary, errors = run(source, sql, tmp_path / "out.csv")
    assert errors.splitlines() == [
        "line 4: member_number: malformed",
        "line 5: name: empty",
        "line 6: postal_address: empty",
        "line 7: email: malformed",
        "line 8: phone: malformed",
        "line 9: lang: unsupported",
        "line 13: member_number: duplicate in file",
        "line 14: name: control_char",
        "line 15: member_number: duplicate in file",
    ]
    assert "marie@@example" not in errors  # reasons, never the values
    assert summary.exit_code == 1
    assert summary.imported == 4 and len(summary.bad) == 9
    assert sorted(r["member_number"] for r in read_print_shop(tmp_path / "out.csv")) == [
        "100000001", "100000002", "100000009", "100000012"]
    assert sql.find_by_member_number("100000010") is None
    multi = sql.find_by_member_number("100000009")
    assert multi is not None and multi.postal_address == "1 rue A\n75001 Paris"
    lines = summary.lines()
    assert "bad rows: 9" in lines
    assert "  2 x member_number: duplicate in file" in lines


def test_undecodable_bytes_are_a_bad_row_not_a_crash(tmp_path: Path) -> None:
    source = tmp_path / "members.csv"
    source.write_bytes(HEADER.encode() + b"100000001;Ren\xe9 Latin1;1 rue A;;;\n"
                       + b"100000002;Ok;1 rue A;;;\n")
    rows = list(read_members(source))
    assert rows[0] == BadRow(2, "name", "encoding")
    assert isinstance(rows[1], MemberRow) and rows[1].line == 3


def test_missing_column_stops_before_anything(tmp_path: Path, sql: SqlStorage) -> None:
    source = write(tmp_path / "members.csv", "member_number;name\n100000001;Marie\n")
    with pytest.raises(ProvisioningError, match="postal_address"):
        run(source, sql, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
    assert sql.find_by_member_number("100000001") is None


# ---------------------------------------------------------------------- re-runs


def test_rerun_skips_existing_members_and_keeps_their_passwords(tmp_path: Path,
                                                                sql: SqlStorage) -> None:
    source = write(tmp_path / "members.csv", HEADER + GOOD)
    run(source, sql, tmp_path / "first.csv")
    first = {r["member_number"]: r["initial_password"]
             for r in read_print_shop(tmp_path / "first.csv")}
    before = sql.find_by_member_number("100234567")
    assert before is not None and before.initial_digest

    more = write(tmp_path / "more.csv",
                 HEADER + GOOD + "100234570;Nouveau Membre;5 rue B 75005 Paris;;;\n")
    summary, errors = run(more, sql, tmp_path / "second.csv")
    assert errors == ""
    assert summary.exit_code == 0
    assert summary.imported == 1
    assert summary.skipped == ("100234567", "100234568", "100234569")
    # Only the new member's password is written; the others are not regenerated.
    assert [r["member_number"] for r in read_print_shop(tmp_path / "second.csv")] == [
        "100234570"]
    after = sql.find_by_member_number("100234567")
    assert after is not None and after.initial_digest == before.initial_digest
    service = service_on(sql)
    assert isinstance(service.login("100234567", first["100234567"]), Ok)
    assert any("skipped" in line and ": 3" in line for line in summary.lines())


def test_existing_credentials_file_is_never_overwritten(tmp_path: Path, sql: SqlStorage) -> None:
    source = write(tmp_path / "members.csv", HEADER + GOOD)
    out = tmp_path / "print-shop.csv"
    out.write_text("previous run, not printed yet\n")
    with pytest.raises(ProvisioningError, match="never overwritten"):
        run(source, sql, out)
    assert out.read_text() == "previous run, not printed yet\n"
    assert sql.find_by_member_number("100234567") is None


# ---------------------------------------------------------------------- helpers


def test_build_account_is_what_the_service_provisions() -> None:
    account = build_account(account_id="a" * 32, member_number="100234567", name="Marie",
                            now=START, initial_digest="t1$" + "0" * 64, lang="en-GB")
    assert account.stage is Stage.PROVISIONED and account.lang == "en"
    assert account.initial_issued_at == START and account.created_at == START
    service = service_on(MemoryStorage())
    made = service.staff.provision("100234567", "Marie")
    stored = service.storage.get(made.account_id)
    assert stored is not None and stored.initial_issued_at == START


def test_pepper_keys_parsing() -> None:
    assert parse_pepper_keys("k2:abc,k1:def") == (("k2", "abc"), ("k1", "def"))
    with pytest.raises(Exception, match="id:key") as info:
        parse_pepper_keys("just-a-secret-value")
    assert "just-a-secret-value" not in str(info.value)


# ---------------------------------------------------------------------- the command


def test_provision_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CEGEMA_PEPPER_KEYS", f"t1:{PEPPER}")
    db = tmp_path / "cli.db"
    source = write(tmp_path / "members.csv", HEADER + GOOD, bom=True)
    args = ["provision", "--database", f"sqlite:///{db}", "--csv", str(source),
            "--create-schema"]
    assert main([*args, "--credentials-out", str(tmp_path / "a.csv")]) == 0
    captured = capsys.readouterr()
    assert "imported: 3" in captured.out
    assert "ONE place" in captured.out and "DESTROY" in captured.out
    # Captured stderr is no terminal: no progress bar (tests/cli/test_provision.py).
    assert captured.err == ""
    rows = read_print_shop(tmp_path / "a.csv")
    storage = SqlStorage(sqlite_engine(db))
    assert isinstance(service_on(storage).login(rows[0]["member_number"],
                                                rows[0]["initial_password"]), Ok)

    bad = write(tmp_path / "bad.csv", HEADER + "100234599;;1 rue A;;;\n")
    code = main(["provision", "--database", f"sqlite:///{db}", "--csv", str(bad),
                 "--credentials-out", str(tmp_path / "b.csv"), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert "line 2: name: empty" in captured.err and "\r[" not in captured.err

    code = main([*args, "--credentials-out", str(tmp_path / "a.csv")])
    assert code == 2
    assert "never overwritten" in capsys.readouterr().err


def test_provision_command_needs_the_pepper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CEGEMA_PEPPER_KEYS", raising=False)
    source = write(tmp_path / "members.csv", HEADER + GOOD)
    code = main(["provision", "--database", f"sqlite:///{tmp_path / 'x.db'}", "--csv",
                 str(source), "--credentials-out", str(tmp_path / "out.csv")])
    assert code == 2
    assert "CEGEMA_PEPPER_KEYS" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_a_failing_batch_stops_the_import_and_says_what_is_done(tmp_path: Path) -> None:
    class FailsOnSecondBatch(MemoryStorage):
        calls = 0

        def insert_accounts(self, accounts: Sequence[Account],
                            audit: Sequence[AuditRecord]) -> Sequence[str]:
            self.calls += 1
            if self.calls == 2:
                raise StorageError("disk I/O error at postgresql://u:hunter2@db")
            return super().insert_accounts(accounts, audit)

    text = HEADER + "".join(f"1000000{i:02d};Membre {i};1 rue A;;;\n" for i in range(5))
    source = write(tmp_path / "members.csv", text)
    storage = FailsOnSecondBatch()
    out = tmp_path / "out.csv"
    with pytest.raises(ProvisioningError) as info:
        provision_csv(source, storage, pepper(), out, batch_size=2)
    message = str(info.value)
    assert "line 4" in message and "2 members were imported" in message
    assert "StorageError" in message and "hunter2" not in message
    assert [r["member_number"] for r in read_print_shop(out)] == ["100000000", "100000001"]
    assert storage.find_by_member_number("100000001") is not None
    assert storage.find_by_member_number("100000002") is None


def test_staff_id_is_checked_before_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CEGEMA_PEPPER_KEYS", f"t1:{PEPPER}")
    source = write(tmp_path / "members.csv", HEADER + GOOD)
    code = main(["provision", "--database", f"sqlite:///{tmp_path / 'x.db'}",
                 "--create-schema", "--csv", str(source), "--credentials-out",
                 str(tmp_path / "out.csv"), "--staff-id", "alice\x00" * 50])
    assert code == 2
    assert "staff_id" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


@given(cells=st.lists(st.tuples(st.text(max_size=40), st.text(max_size=40),
                                st.text(max_size=40), st.text(max_size=40)),
                      min_size=1, max_size=8))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_cell_content_gives_a_row_or_a_bad_row(tmp_path: Path,
                                                   cells: list[tuple[str, ...]]) -> None:
    source = tmp_path / "fuzz.csv"
    with open(source, "w", encoding="utf-8", errors="surrogatepass", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(("member_number", "name", "postal_address", "email"))
        for i, (name, address, mail, extra) in enumerate(cells):
            writer.writerow((f"{i}{extra[:3]}", name, address, mail))
    items = list(read_members(source))
    assert len(items) <= len(cells)
    for item in items:
        assert isinstance(item, MemberRow | BadRow)
        if isinstance(item, MemberRow):
            assert item.name.strip() and item.postal_address.strip()
            assert "\x00" not in item.name + item.postal_address
