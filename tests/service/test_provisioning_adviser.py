"""The provisioning CSV's optional adviser columns: checked per row, shown on the profile."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine
from cegema_onboarding.bootstrap import pepper_from_keys
from cegema_onboarding.model import Adviser, Step
from cegema_onboarding.provisioning import (
    ADVISER_COLUMNS,
    COLUMNS,
    MemberRow,
    provision_csv,
    read_members,
)
from cegema_onboarding.service import Ok, OnboardingService, ProfileView

from ..conftest import GOOD_PASSWORD, START, make_settings
from .test_recovery import links

HEADER = ("member_number;name;postal_address;email;adviser_agency;adviser_address;"
          "adviser_orias;adviser_url\n")
AGENCY = ('100234567;Marie Dupont;12 rue de la Paix 75002 Paris;marie@example.com;'
          'CEGEMA  Villeneuve;"679 AVENUE DU DOCTEUR LEFEBVRE\nBP 189\n06272\n'
          'VILLENEUVE LOUBET CX";07 001 328;https://www.orias.fr\n')
IP = "203.0.113.7"


@pytest.fixture
def sql(tmp_path: Path) -> Iterator[SqlStorage]:
    engine = sqlite_engine(tmp_path / "portal.db")
    create_schema(engine)
    yield SqlStorage(engine)
    engine.dispose()


def _provision(tmp_path: Path, text: str, storage: SqlStorage | MemoryStorage
               ) -> tuple[list[dict[str, str]], str]:
    source = tmp_path / "members.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "print-shop.csv"
    errors = io.StringIO()
    provision_csv(source, storage, pepper_from_keys(make_settings().pepper_keys), out,
                  now=ManualClock(START), errors=errors)
    if not out.exists():
        return [], errors.getvalue()
    with open(out, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";")), errors.getvalue()


def test_the_columns_are_optional_and_listed() -> None:
    assert set(ADVISER_COLUMNS) <= set(COLUMNS)
    assert ADVISER_COLUMNS == ("adviser_agency", "adviser_address", "adviser_orias",
                               "adviser_url")


def test_a_bulk_imported_member_sees_the_adviser_on_the_profile(tmp_path: Path,
                                                                  sql: SqlStorage) -> None:
    printed, errors = _provision(tmp_path, HEADER + AGENCY, sql)
    assert errors == ""
    mailer = MemoryMailer()
    service = OnboardingService(sql, mailer, settings=make_settings(),
                                clock=ManualClock(START))
    # The whole first connection, with the password from the print-shop file.
    out = service.login("100234567", printed[0]["initial_password"], ip=IP)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(service.submit_email(out.session, "marie@example.com",
                                           "marie@example.com", ip=IP), Ok)
    out = service.confirm_link(links(mailer, "/premiere-connexion/valider")[-1], ip=IP,
                               session=out.session)
    assert isinstance(out, Ok) and out.session is not None
    out = service.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP)
    assert isinstance(out, Ok) and out.session is not None
    session = out.session
    question = next(iter(service.settings.questions)).id
    out = service.set_secret_answer(session, question, "Martin", "Martin", ip=IP)
    assert isinstance(out, Ok) and out.step is Step.PROFILE

    view = service.profile(session)
    assert isinstance(view, ProfileView)
    assert view.profile.adviser == Adviser(
        name="CEGEMA Villeneuve",
        address="679 AVENUE DU DOCTEUR LEFEBVRE\nBP 189\n06272\nVILLENEUVE LOUBET CX",
        orias="07001328", more_info_url="https://www.orias.fr")


def test_without_adviser_columns_there_is_no_adviser(tmp_path: Path) -> None:
    storage = MemoryStorage()
    _provision(tmp_path, "member_number;name;postal_address\n100234567;Marie;1 rue A\n",
               storage)
    account = storage.find_by_member_number("100234567")
    assert account is not None and account.profile.adviser is None


def test_empty_adviser_cells_give_no_adviser(tmp_path: Path) -> None:
    storage = MemoryStorage()
    _, errors = _provision(tmp_path, HEADER + "100234567;Marie;1 rue A;;;; ; \n", storage)
    account = storage.find_by_member_number("100234567")
    assert errors == ""
    assert account is not None and account.profile.adviser is None


def test_only_an_agency_is_enough(tmp_path: Path) -> None:
    storage = MemoryStorage()
    _, errors = _provision(tmp_path, HEADER + "100234567;Marie;1 rue A;;Agence Nice;;;\n",
                           storage)
    account = storage.find_by_member_number("100234567")
    assert errors == ""
    assert account is not None and account.profile.adviser == Adviser(name="Agence Nice")


@pytest.mark.parametrize(("cells", "expected"), [
    (";1 rue A;07001328;https://www.orias.fr", "adviser_agency: empty"),
    ("A" * 201 + ";;;", "adviser_agency: too_long"),
    ("Agence;" + "B" * 501 + ";;", "adviser_address: too_long"),
    ("Agence;;0700132;", "adviser_orias: malformed"),
    ("Agence;;0700132A;", "adviser_orias: malformed"),
    ("Agence;;;http://www.orias.fr", "adviser_url: not_https"),
    ("Agence;;;javascript:alert(1)", "adviser_url: not_https"),
    ("Agence;;;www.orias.fr", "adviser_url: not_https"),
    ("Agence;;;https://", "adviser_url: malformed"),
    ('Agence;;;https://a.fr/"onmouseover=x', "adviser_url: malformed"),
    ("Agence;;;https://a.fr/" + "x" * 500, "adviser_url: too_long"),
    ("Agen\x07ce;;;", "adviser_agency: control_char"),
])
def test_a_bad_adviser_cell_is_a_bad_row(tmp_path: Path, cells: str, expected: str) -> None:
    storage = MemoryStorage()
    text = HEADER + f"100234567;Marie;1 rue A;;{cells}\n" + "100234568;Jean;2 rue B;;;;;\n"
    printed, errors = _provision(tmp_path, text, storage)
    assert errors == f"line 2: {expected}\n"
    # The row is not imported; the good row after it is.
    assert storage.find_by_member_number("100234567") is None
    assert [row["member_number"] for row in printed] == ["100234568"]


def test_rows_carry_the_adviser(tmp_path: Path) -> None:
    source = tmp_path / "members.csv"
    source.write_text(HEADER + AGENCY, encoding="utf-8")
    (row,) = read_members(source)
    assert isinstance(row, MemberRow) and row.adviser is not None
    assert row.adviser.name == "CEGEMA Villeneuve" and row.adviser.orias == "07001328"


def test_the_helper_process_carries_the_adviser_too(tmp_path: Path) -> None:
    source = tmp_path / "members.csv"
    source.write_text(HEADER + AGENCY, encoding="utf-8")
    storage = MemoryStorage()
    provision_csv(source, storage, pepper_from_keys(make_settings().pepper_keys),
                  tmp_path / "print-shop.csv", helper_process=True)
    account = storage.find_by_member_number("100234567")
    assert account is not None and account.profile.adviser is not None
    assert account.profile.adviser.more_info_url == "https://www.orias.fr"
