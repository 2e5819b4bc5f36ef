"""``cegema-onboarding stats``: the onboarding funnel, its medians, its stuck members, its
plot, and the query plans behind it."""

from __future__ import annotations

import argparse
import io
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest

from cegema_onboarding import cli
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.cli.stats import run_stats
from cegema_onboarding.funnel import STEP_KEYS, build_funnel
from cegema_onboarding.model import Account, Stage
from cegema_onboarding.ports import AuditRecord
from cegema_onboarding.service import Ok, OnboardingService
from cegema_onboarding.texts import text

from ..conftest import GOOD_PASSWORD, START, link_token, make_settings
from ..pg import sql_adapter

sql = sql_adapter()


def _walk(service: OnboardingService, clock: ManualClock, mailer: MemoryMailer,
          number: str, upto: str) -> None:
    """One member, from provisioning to the step ``upto``, an hour between steps."""
    member = service.staff.provision(number, "Membre")
    if upto == "provisioned":
        return
    clock.advance(hours=1)
    r = service.login(number, member.initial_password)
    assert isinstance(r, Ok) and r.session is not None
    session = r.session
    if upto == "login":
        return
    clock.advance(hours=2)
    if upto == "no_email":
        assert isinstance(service.declare_no_email(session), Ok)
        return
    service.submit_email(session, f"m{number}@example.com", f"m{number}@example.com")
    if upto == "email":
        return
    clock.advance(hours=3)
    r = service.confirm_link(link_token(mailer), session=session)
    assert isinstance(r, Ok) and r.session is not None
    if upto == "verified":
        return
    clock.advance(hours=4)
    r = service.set_password(r.session, GOOD_PASSWORD, GOOD_PASSWORD)
    assert isinstance(r, Ok) and r.session is not None
    clock.advance(hours=5)
    qid = next(iter(service.settings.questions)).id
    assert isinstance(service.set_secret_answer(r.session, qid, "Rex", "Rex"), Ok)


def _populated(tmp_path: Path) -> tuple[str, ManualClock]:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    engine = sql.sqlite_engine(tmp_path / "portal.db")
    sql.create_schema(engine)
    clock = ManualClock(START)
    mailer = MemoryMailer()
    service = OnboardingService(sql.SqlStorage(engine), mailer, settings=make_settings(),
                                clock=clock)
    # The ones waiting for their link last, so that their links are still live at the end.
    plan = ["provisioned"] * 4 + ["login"] * 2 + ["verified"] + ["active"] * 3 + [
        "no_email"] * 2 + ["email"] * 2
    for n, upto in enumerate(plan):
        _walk(service, clock, mailer, f"1000000{n:02d}", upto)
    engine.dispose()
    return url, clock


def _stats(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    cli.stats.add_subcommand(parser.add_subparsers())
    out = io.StringIO()
    code = run_stats(parser.parse_args(["stats", *argv]), env={}, out=out)
    return code, out.getvalue()


def test_the_funnel_counts_shares_medians_and_stuck_members(tmp_path: Path) -> None:
    url, clock = _populated(tmp_path)
    storage = sql.SqlStorage(sql.create_engine_from_url(url))
    funnel = build_funnel(storage, clock.now(), awaiting_days=7)
    assert [(s.name, s.count) for s in funnel.steps] == [
        ("provisioned", 14), ("first login", 10), ("email given or no-email", 8),
        ("verified or activated", 4), ("password set", 3), ("active", 3)]
    assert funnel.steps[-1].share == pytest.approx(3 / 14)
    assert [s.median_since_previous for s in funnel.steps] == [
        None, timedelta(hours=1), timedelta(hours=2), timedelta(hours=3),
        timedelta(hours=4), timedelta(hours=5)]
    assert (funnel.email_pending, funnel.awaiting_activation) == (2, 2)
    # Nothing stuck yet: the links are live, the requests recent.
    assert (funnel.link_expired, funnel.awaiting_longer) == (0, 0)
    later = build_funnel(storage, clock.now() + timedelta(days=8), awaiting_days=7)
    assert (later.link_expired, later.awaiting_longer) == (2, 2)
    assert build_funnel(storage, clock.now() + timedelta(days=8),
                        awaiting_days=30).awaiting_longer == 0


def test_the_command_prints_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # the plot's optional dependency (bench extra)
    url, _ = _populated(tmp_path)
    png = tmp_path / "funnel.png"
    code, out = _stats("--database", url, "--plot", str(png))
    assert code == 0
    assert "comptes créés" in out and "actifs" in out
    assert "21,4 %" in out  # 3 active of 14
    # The members were walked through at a fixed date, months before the system clock.
    assert "En attente d'activation depuis plus de 7 jours : 2" in out
    assert "Lien de validation expiré sans avoir servi : 2" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_speaks_french_by_default_and_english_when_asked(tmp_path: Path) -> None:
    url, _ = _populated(tmp_path)
    code, french = _stats("--database", url)
    assert code == 0
    assert _stats("--database", url, "--lang", "fr") == (0, french)
    # The step names are the Django funnel page's (ui.admin.funnel.*), and so is the rest.
    for key in STEP_KEYS.values():
        assert text(key, "fr") in french, key
    for wanted in ("Médiane depuis l'étape précédente", "21,4 %", "1 h 00 min",
                   "En attente d'activation depuis plus de 7 jours : 2",
                   "Lien de validation expiré sans avoir servi : 2",
                   "2 en attente de leur lien, 2 en attente d'activation (sans email)."):
        assert wanted in french, wanted
    assert "first login" not in french and "provisioned" not in french
    code, english = _stats("--database", url, "--lang", "en")
    assert code == 0
    for key in STEP_KEYS.values():
        assert text(key, "en") in english, key
    assert "21.4%" in english and "Awaiting activation for more than 7 days: 2" in english
    assert "première connexion" not in english
    # Each step's line: its name, its count, its share and its median, in columns.
    assert re.search(r"^première connexion +10 +71,4 %  1 h 00 min$", french, re.MULTILINE)
    assert re.search(r"^first login +10 +71\.4%  1 h 00 min$", english, re.MULTILINE)


def test_the_command_knows_two_languages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _stats("--database", "sqlite://", "--lang", "de")
    assert exited.value.code == 2
    assert "invalid choice: 'de'" in capsys.readouterr().err


def test_the_command_needs_a_database() -> None:
    assert _stats()[0] == 2


def test_the_funnel_queries_use_indexes(tmp_path: Path) -> None:
    from sqlalchemy import event

    engine = sql.sqlite_engine(tmp_path / "plans.db")
    sql.create_schema(engine)
    storage = sql.SqlStorage(engine)
    ran: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(conn: object, cursor: object, statement: str, parameters: object,
             context: object, executemany: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            ran.append((statement, parameters))

    # What the funnel and the gauges run, as they run it.
    storage.count_by_stage()
    storage.count_waiting_since(Stage.AWAITING_ACTIVATION, START)
    storage.outbox_depth()
    storage.median_wait(["provisioned"], ["login"])
    storage.median_wait(["email_submitted", "activation_requested"],
                        ["email_verified", "activation_approved"])
    event.remove(engine, "before_cursor_execute", keep)
    assert len(ran) == 5
    with engine.connect() as conn:
        for statement, parameters in ran:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                        parameters).all()  # type: ignore[arg-type]
            details = [str(row[-1]) for row in plan]
            # Every table is reached through an index, none read row by row (the
            # intermediate results a query scans are its own, already bounded).
            reads = [d for d in details if d.startswith(("SCAN", "SEARCH"))
                     and "cegema_" in d]
            assert reads and all("INDEX" in d for d in reads), (statement, details)
    engine.dispose()


@pytest.mark.slow
def test_a_million_members_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = sql.sqlite_engine(tmp_path / "million.db", synchronous="NORMAL")
    sql.create_schema(engine)
    storage = sql.SqlStorage(engine)
    stages = [Stage.PROVISIONED] * 50 + [Stage.EMAIL_REQUIRED] * 5 + [
        Stage.EMAIL_PENDING] * 3 + [Stage.AWAITING_ACTIVATION] * 2 + [
        Stage.PASSWORD_REQUIRED] * 2 + [Stage.QUESTION_REQUIRED] * 2 + [Stage.ACTIVE] * 36
    batch = 50_000
    for start in range(0, 1_000_000, batch):
        accounts, audit = [], []
        for n in range(start, start + batch):
            stage = stages[n % 100]
            created = START + timedelta(seconds=n % 86400)
            accounts.append(Account(account_id=f"a{n:07d}", member_number=f"9{n:08d}",
                                    name="M", created_at=created, stage=stage))
            audit.append(AuditRecord(created, "provisioned", "ok", "staff:s", f"a{n:07d}"))
            if stage is not Stage.PROVISIONED:
                audit.append(AuditRecord(created + timedelta(hours=1), "login", "ok",
                                         "member", f"a{n:07d}"))
            if stage is Stage.ACTIVE:
                audit.append(AuditRecord(created + timedelta(days=1), "secret_answer_set",
                                         "ok", "member", f"a{n:07d}"))
        storage.insert_accounts(accounts, audit)
    began = time.perf_counter()
    funnel = build_funnel(storage, START + timedelta(days=30))
    took = time.perf_counter() - began
    assert funnel.steps[0].count == 1_000_000
    assert funnel.steps[1].count == 500_000
    assert funnel.steps[-1].count == 360_000
    assert funnel.steps[1].median_since_previous == timedelta(hours=1)
    assert funnel.link_expired == 30_000
    with capsys.disabled():
        print(f"\nfunnel of 1,000,000 members on SQLite: {took:.2f} s")
    engine.dispose()
