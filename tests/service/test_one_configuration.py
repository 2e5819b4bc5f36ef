"""One configuration: the same CEGEMA_* names and formats everywhere, conflicts refused."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from cegema_onboarding import bootstrap
from cegema_onboarding.adapters.memory import MemoryMailer, MemoryStorage
from cegema_onboarding.environment import duration, load_environment
from cegema_onboarding.errors import ConfigurationError, SettingsConflict
from cegema_onboarding.ratelimit import MemoryRateLimiter

from ..conftest import make_settings

SECRET = "s" * 40
PEPPER = "p" * 40
PORTAL = {"CEGEMA_SECRET_KEYS": SECRET, "CEGEMA_PEPPER_KEYS": f"k1:{PEPPER}",
          "CEGEMA_BASE_URL": "https://espace.example.fr"}


def _file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def test_the_file_and_the_environment_are_merged(tmp_path: Path) -> None:
    path = _file(tmp_path, f'CEGEMA_SECRET_KEYS = "{SECRET}"\nCEGEMA_RELAY_INTERVAL = 2\n')
    values = load_environment({"CEGEMA_CONFIG": str(path), "CEGEMA_BASE_URL": "https://x.fr",
                               "HOME": "/elsewhere", "CEGEMA_PEPPER_KEYS": ""})
    assert values == {"CEGEMA_CONFIG": str(path), "CEGEMA_BASE_URL": "https://x.fr",
                      "CEGEMA_SECRET_KEYS": SECRET, "CEGEMA_RELAY_INTERVAL": "2"}
    # The same value twice is no conflict; two values are, whatever the name.
    assert load_environment({"CEGEMA_SECRET_KEYS": SECRET}, path)["CEGEMA_SECRET_KEYS"] == SECRET
    with pytest.raises(SettingsConflict) as caught:
        load_environment({"CEGEMA_SECRET_KEYS": SECRET[::-1] + "x"}, path)
    assert caught.value.names == ("CEGEMA_SECRET_KEYS",)
    assert SECRET not in str(caught.value)


def test_a_bad_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown name 'CEGEMA_SECRET_KEY'"):
        load_environment({}, _file(tmp_path, f'CEGEMA_SECRET_KEY = "{SECRET}"\n'))
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_environment({}, _file(tmp_path, f'CEGEMA_SECRET_KEYS = "{SECRET}"\n', 0o644))
    # No secret in it: others may read it.
    load_environment({}, _file(tmp_path, 'CEGEMA_BASE_URL = "https://x.fr"\n', 0o644))
    with pytest.raises(ConfigurationError, match="not TOML"):
        load_environment({}, _file(tmp_path, "CEGEMA_BASE_URL = \n"))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_environment({}, tmp_path / "missing.toml")
    with pytest.raises(ConfigurationError, match="same format"):
        load_environment({}, _file(tmp_path, f'CEGEMA_SECRET_KEYS = ["{SECRET}"]\n'))


def test_a_portal_needs_all_three_and_names_the_missing() -> None:
    settings = bootstrap.portal_settings_from_env(PORTAL)
    assert settings.secret_keys == (SECRET,)
    assert settings.pepper_keys == (("k1", PEPPER),)
    with pytest.raises(SettingsConflict) as caught:
        bootstrap.portal_settings_from_env({"CEGEMA_PEPPER_KEYS": f"k1:{PEPPER}"})
    assert caught.value.names == ("CEGEMA_SECRET_KEYS", "CEGEMA_BASE_URL")
    with pytest.raises(ConfigurationError, match="'id:key"):
        bootstrap.portal_settings_from_env({**PORTAL, "CEGEMA_PEPPER_KEYS": "k1:"})


def test_the_old_names_still_work_for_one_release_with_a_warning() -> None:
    old = {"CEGEMA_LINK_KEY": SECRET, "CEGEMA_PEPPER": PEPPER,
           "CEGEMA_BASE_URL": "https://espace.example.fr"}
    with pytest.warns(DeprecationWarning, match="is deprecated") as caught:
        settings = bootstrap.portal_settings_from_env(old)
    assert {str(w.message).split(" ")[0] for w in caught} == {"CEGEMA_LINK_KEY",
                                                              "CEGEMA_PEPPER"}
    # The quick start's pepper id: initial passwords printed then still open accounts.
    assert settings.pepper_keys == (("p1", PEPPER),)
    assert settings.secret_keys == (SECRET,)
    with pytest.warns(DeprecationWarning, match="use CEGEMA_PEPPER_KEYS"):
        assert bootstrap.pepper_from_env({"CEGEMA_PEPPER": PEPPER}).key_ids == ("p1",)


def test_old_and_new_names_that_disagree_are_refused() -> None:
    with pytest.raises(SettingsConflict, match="unset CEGEMA_PEPPER") as caught:
        bootstrap.portal_settings_from_env({**PORTAL, "CEGEMA_PEPPER": PEPPER})
    assert caught.value.names == ("CEGEMA_PEPPER_KEYS", "CEGEMA_PEPPER")
    assert PEPPER not in str(caught.value)
    with pytest.raises(SettingsConflict, match="unset CEGEMA_LINK_KEY"):
        bootstrap.settings_from_env({**PORTAL, "CEGEMA_LINK_KEY": "l" * 40})
    # Both, agreeing: accepted, still with the warning.
    with pytest.warns(DeprecationWarning, match="CEGEMA_PEPPER is deprecated"):
        bootstrap.portal_settings_from_env({**PORTAL, "CEGEMA_PEPPER_KEYS": f"p1:{PEPPER}",
                                            "CEGEMA_PEPPER": PEPPER})


def test_durations_take_seconds_or_a_unit() -> None:
    default = timedelta(days=1)
    assert duration({}, "X", default) == default
    assert duration({"X": "3600"}, "X", default) == timedelta(hours=1)
    assert duration({"X": "90m"}, "X", default) == timedelta(minutes=90)
    assert duration({"X": "30d"}, "X", default) == timedelta(days=30)
    assert duration({"X": "0"}, "X", default) == timedelta(0)
    with pytest.raises(ConfigurationError, match="X must be a duration"):
        duration({"X": "soon"}, "X", default)
    retention = bootstrap.retention_from_env({"CEGEMA_AUDIT_RETENTION": "90d"})
    assert retention.audit == timedelta(days=90) and retention.sent_mail == timedelta(days=30)


# ---------------------------------------------------------------------- guards in memory


def test_shared_storage_with_limits_in_one_process_is_warned_about(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from cegema_onboarding.adapters.sql import (
        SqlRateLimiter,
        SqlStorage,
        create_schema,
        sqlite_engine,
    )

    engine = sqlite_engine(tmp_path / "portal.db")
    create_schema(engine)
    storage = SqlStorage(engine)
    try:
        # SqlStorage alone: the limits go to the database, and nothing is said.
        with caplog.at_level(logging.WARNING):
            service = bootstrap.build_service(make_settings(), storage, MemoryMailer())
        assert isinstance(service.rate_limiter, SqlRateLimiter)
        assert not caplog.records
        # A limiter in this process's memory beside shared storage: logged and warned.
        with caplog.at_level(logging.WARNING), pytest.warns(RuntimeWarning,
                                                            match="one process's memory"):
            bootstrap.build_service(make_settings(), storage, MemoryMailer(),
                                    rate_limiter=MemoryRateLimiter())
        assert "shared by every process" in caplog.text
        # Unless the host says one process serves the whole portal.
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            bootstrap.build_service(make_settings(), storage, MemoryMailer(),
                                    rate_limiter=MemoryRateLimiter(), single_process=True)
        assert not caplog.records
    finally:
        engine.dispose()


def test_memory_storage_is_one_process_anyway(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        service = bootstrap.build_service(make_settings(), MemoryStorage(), MemoryMailer())
    assert isinstance(service.rate_limiter, MemoryRateLimiter)
    assert not caplog.records


class _Shared(MemoryStorage):
    """A host's own adapter, say one on its ORM: shared, with no limiter of its own."""


def test_other_shared_storage_without_a_limiter_is_warned_about() -> None:
    with pytest.warns(RuntimeWarning):
        bootstrap.build_service(make_settings(), _Shared(), MemoryMailer())


def test_two_processes_built_by_the_composition_root_share_one_login_limit(
        tmp_path: Path) -> None:
    """What the two-node trial found: each process let 30 logins a minute through from one
    address. Two services on one database (two processes' worth of memory) now share it."""
    from cegema_onboarding.adapters.memory import ManualClock
    from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine
    from cegema_onboarding.flow import Reason, Refused
    from cegema_onboarding.ratelimit import Limit, RateLimits

    engine = sqlite_engine(tmp_path / "portal.db")
    create_schema(engine)
    settings = make_settings(rate_limits=RateLimits(login_ip=Limit(5, timedelta(minutes=1))))
    clock = ManualClock()
    try:
        nodes = [bootstrap.build_service(settings, SqlStorage(engine), MemoryMailer(),
                                         clock=clock) for _ in range(2)]
        results = [nodes[i % 2].login("100000001", "not the password", ip="192.0.2.7")
                   for i in range(8)]
        limited = [r for r in results
                   if isinstance(r, Refused) and r.reason is Reason.RATE_LIMITED]
        assert len(limited) == 3  # 5 through in all, not 5 per process
    finally:
        engine.dispose()
