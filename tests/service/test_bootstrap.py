"""The composition root builds services, outboxes, settings and storage the same everywhere."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cegema_onboarding import bootstrap
from cegema_onboarding.adapters.mailbox import ConsoleMailer
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryStorage,
    SystemClock,
)
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.relay import Relay
from cegema_onboarding.service import DeliveryReport, Ok

from ..conftest import PEPPER, SECRET, START, make_settings


def test_a_service_gets_the_system_clock_unless_given_one() -> None:
    service = bootstrap.build_service(make_settings(), MemoryStorage(), MemoryMailer())
    assert isinstance(service.clock, SystemClock) and service.deliver_inline
    clock = ManualClock(START)
    service = bootstrap.build_service(make_settings(), MemoryStorage(), MemoryMailer(),
                                      clock=clock, deliver_inline=False)
    assert service.clock is clock and not service.deliver_inline


def test_the_outbox_leaves_delivery_to_the_relay() -> None:
    storage, mailer = MemoryStorage(), MemoryMailer()
    portal = bootstrap.build_service(make_settings(), storage, mailer, clock=ManualClock(START),
                                     deliver_inline=False)
    member = portal.staff.provision("100234567", "Marie Dupont")
    session = portal.login("100234567", member.initial_password)
    assert isinstance(session, Ok) and session.session is not None
    portal.submit_email(session.session, "marie@example.com", "marie@example.com")
    assert mailer.sent == []
    outbox = bootstrap.build_outbox(make_settings(), storage, mailer, clock=ManualClock(START))
    assert Relay(outbox).run_pass() == DeliveryReport(sent=1)
    assert len(mailer.sent) == 1


def test_settings_from_keys_take_pairs_and_refuse_other_shapes() -> None:
    settings = bootstrap.settings_from_keys([SECRET], [["k1", PEPPER]], "https://portal.test")
    assert settings.pepper_keys == (("k1", PEPPER),)
    assert settings.secret_keys == (SECRET,)
    bad_pairs: list[Any] = [["k1"], "k1:" + PEPPER, ("k1", PEPPER, "extra"), ("k1", 1)]
    for bad in bad_pairs:
        with pytest.raises(ConfigurationError) as caught:
            bootstrap.settings_from_keys([SECRET], [bad], "https://portal.test")
        assert PEPPER not in str(caught.value)


def test_the_pepper_comes_from_the_environment_once() -> None:
    with pytest.raises(ConfigurationError, match="CEGEMA_PEPPER_KEYS"):
        bootstrap.pepper_from_env({})
    with pytest.raises(ConfigurationError, match="CEGEMA_PEPPER_KEYS"):
        bootstrap.pepper_from_env({"CEGEMA_PEPPER_KEYS": ""})
    pepper = bootstrap.pepper_from_env({"CEGEMA_PEPPER_KEYS": f"k2:{PEPPER},k1:{SECRET}"})
    same = bootstrap.pepper_from_keys(bootstrap.parse_pepper_keys(f"k2:{PEPPER}"))
    assert pepper.digest("ABCD") == same.digest("ABCD")


def test_settings_from_env_need_the_portals_secret_keys() -> None:
    with pytest.raises(ConfigurationError, match="CEGEMA_SECRET_KEYS"):
        bootstrap.settings_from_env({"CEGEMA_PEPPER_KEYS": f"k1:{PEPPER}"})
    settings = bootstrap.settings_from_env({"CEGEMA_SECRET_KEYS": f" {SECRET} ,"})
    assert settings.secret_keys == (SECRET,)
    assert settings.base_url == bootstrap.DEFAULT_BASE_URL


@pytest.mark.parametrize("url", ["postgres://portal:hunter2@db/portal",
                                 "postgres+psycopg://portal:hunter2@db/portal"])
def test_a_postgres_url_is_refused_with_the_right_scheme_and_no_password(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"postgresql://") as caught:
        bootstrap.storage_from_url(url)
    assert "hunter2" not in str(caught.value)


def test_storage_from_url_needs_a_url_and_builds_sqlite(tmp_path: Path) -> None:
    for missing in (None, ""):
        with pytest.raises(ConfigurationError, match="CEGEMA_DATABASE_URL"):
            bootstrap.storage_from_url(missing)
    storage = bootstrap.storage_from_url(f"sqlite:///{tmp_path / 'db.sqlite3'}",
                                         create_schema=True)
    assert storage.find_by_member_number("100234567") is None
    assert bootstrap.rate_limit_purge(storage, timedelta(0)) is None
    purge = bootstrap.rate_limit_purge(storage, timedelta(days=1))
    assert purge is not None and purge().startswith("0 ended")
    assert bootstrap.rate_limit_purge(MemoryStorage(), timedelta(days=1)) is None


def test_the_demo_defaults_are_sqlite_and_a_local_mailbox(tmp_path: Path) -> None:
    storage, where = bootstrap.demo_storage(tmp_path)
    assert where.startswith("SQLite") and (tmp_path / "portal.sqlite3").is_file()
    assert storage.find_by_member_number("100234567") is None
    mailbox = bootstrap.local_mailbox(tmp_path / "mailbox")
    assert mailbox.messages() == []
    settings = bootstrap.throwaway_settings("http://127.0.0.1:9000", secret_key=SECRET)
    assert settings.secret_keys == (SECRET,) and settings.base_url == "http://127.0.0.1:9000"
    assert bootstrap.throwaway_settings().secret_keys != bootstrap.throwaway_settings().secret_keys


def test_mailers_by_name() -> None:
    stream = io.StringIO()
    assert isinstance(bootstrap.mailer_from("console", console=stream), ConsoleMailer)
    with pytest.raises(ConfigurationError, match="smtp"):
        bootstrap.mailer_from("carrier-pigeon")
    with pytest.raises(ConfigurationError, match="SMTP host"):
        bootstrap.mailer_from("smtp", None, {})


def test_nothing_inside_imports_the_composition_root() -> None:
    code = ("import sys, cegema_onboarding.flow, cegema_onboarding.service, "
            "cegema_onboarding.relay, cegema_onboarding.provisioning; "
            "assert 'cegema_onboarding.bootstrap' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 - fixed argv
