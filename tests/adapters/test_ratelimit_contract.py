"""The rate-limiter contract on every adapter, SqlRateLimiter's specifics, and its use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.errors import ConfigurationError, StorageError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.ratelimit import Limit, MemoryRateLimiter, RateLimits
from cegema_onboarding.service import OnboardingService
from cegema_onboarding.testing import RateLimiterContract
from cegema_onboarding.testing.ratelimit_contract import MINUTE, T0

from ..conftest import START, make_settings
from ..pg import sql_adapter

sql = sql_adapter()


class TestMemoryRateLimiter(RateLimiterContract):
    """The reference adapter."""

    @pytest.fixture
    def limiter(self) -> MemoryRateLimiter:
        return MemoryRateLimiter()


class TestSqliteRateLimiter(RateLimiterContract):
    """SqlRateLimiter on a SQLite file."""

    @pytest.fixture
    def limiter(self, tmp_path: Path) -> Iterator[Any]:
        engine = sql.sqlite_engine(tmp_path / "limits.db")
        sql.create_schema(engine)
        yield sql.SqlRateLimiter(engine)
        engine.dispose()


@pytest.mark.postgres
class TestPostgresRateLimiter(RateLimiterContract):
    """SqlRateLimiter on PostgreSQL."""

    @pytest.fixture
    def limiter(self, pg_url: str) -> Iterator[Any]:
        engine = sql.postgres_engine(pg_url)
        sql.create_schema(engine)
        yield sql.SqlRateLimiter(engine)
        engine.dispose()


# ---------------------------------------------------------------------- SQL specifics


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    engine = sql.sqlite_engine(tmp_path / "limits.db")
    sql.create_schema(engine)
    yield engine
    engine.dispose()


def test_purge_drops_only_windows_started_before(engine: Any) -> None:
    limiter = sql.SqlRateLimiter(engine)
    assert limiter.hit("old", 5, MINUTE, T0)
    assert limiter.hit("old", 5, MINUTE, T0)
    assert limiter.hit("new", 5, MINUTE, T0 + timedelta(minutes=10))
    assert limiter.count("old") == 2
    assert limiter.purge(T0 + timedelta(minutes=5)) == 1
    assert limiter.count("old") == 0 and limiter.count("new") == 1
    assert limiter.purge(T0 + timedelta(minutes=5)) == 0


def test_the_count_never_passes_the_limit(engine: Any) -> None:
    limiter = sql.SqlRateLimiter(engine)
    for _ in range(9):
        limiter.hit("k", 4, MINUTE, T0)
    assert limiter.count("k") == 4
    assert limiter.count("unknown") == 0


def test_a_zero_limit_refuses_everything(engine: Any) -> None:
    limiter = sql.SqlRateLimiter(engine)
    assert not limiter.hit("k", 0, MINUTE, T0)
    assert limiter.count("k") == 0


def test_failures_are_storage_errors_without_the_key(tmp_path: Path) -> None:
    bare = sql.sqlite_engine(tmp_path / "no-schema.db")
    try:
        limiter = sql.SqlRateLimiter(bare)
        with pytest.raises(StorageError) as caught:
            limiter.hit("rl:forgot_password:id:secret-member-42", 5, MINUTE, T0)
        assert "secret-member-42" not in str(caught.value)
    finally:
        bare.dispose()


def test_naive_times_are_refused(engine: Any) -> None:
    with pytest.raises(StorageError):
        sql.SqlRateLimiter(engine).hit("k", 5, MINUTE, T0.replace(tzinfo=None))


def test_other_databases_are_refused() -> None:
    import sqlalchemy as sa

    with pytest.raises(ConfigurationError):
        # A mock engine: it has MySQL's dialect and needs no driver.
        sql.SqlRateLimiter(sa.create_mock_engine("mysql://", executor=lambda *a: None))


def test_limits_are_shared_by_services_on_one_database(engine: Any) -> None:
    settings = make_settings(rate_limits=RateLimits(login_ip=Limit(3, MINUTE)))
    clock = ManualClock(START)

    def service() -> OnboardingService:
        # Two portal processes: their own service objects, one database.
        return OnboardingService(sql.SqlStorage(engine), MemoryMailer(), settings=settings,
                                 clock=clock, rate_limiter=sql.SqlRateLimiter(engine))

    first, second = service(), service()
    results = [first.login(f"10023456{i}", "wrong password", ip="192.0.2.1")
               for i in range(3)]
    assert [r.reason for r in results if isinstance(r, Refused)] == [
        Reason.BAD_CREDENTIALS] * 3
    refused = second.login("100234569", "wrong password", ip="192.0.2.1")
    assert isinstance(refused, Refused) and refused.reason is Reason.RATE_LIMITED
    other_ip = second.login("100234569", "wrong password", ip="192.0.2.2")
    assert isinstance(other_ip, Refused) and other_ip.reason is Reason.BAD_CREDENTIALS
    clock.advance(minutes=1)
    again = first.login("100234569", "wrong password", ip="192.0.2.1")
    assert isinstance(again, Refused) and again.reason is Reason.BAD_CREDENTIALS
