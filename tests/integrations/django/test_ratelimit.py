"""DjangoRateLimiter: the shipped contract on SQLite and PostgreSQL, its purge, its use.

The contract's races run threads, each on its own connection, committing for real: on a
SQLite file (``sqlite_file_db``) and on the throw-away PostgreSQL server (``pg_db``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.errors import StorageError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.integrations.django.conf import get_service, reset_service
from cegema_onboarding.integrations.django.models import OnboardingRateLimit
from cegema_onboarding.integrations.django.ratelimit import DjangoRateLimiter
from cegema_onboarding.ratelimit import Limit, MemoryRateLimiter, RateLimits
from cegema_onboarding.service import OnboardingService
from cegema_onboarding.testing import RateLimiterContract
from cegema_onboarding.testing.ratelimit_contract import MINUTE, T0, race

from .conftest import onboarding_config


def _closing(limiter: DjangoRateLimiter) -> DjangoRateLimiter:
    """The limiter, whose threads close their connections (a thread's own) when done."""
    hit = limiter.hit

    def hit_and_close(*args: object) -> bool:
        try:
            return hit(*args)  # type: ignore[arg-type]
        finally:
            connections[limiter.using].close()

    limiter.hit = hit_and_close  # type: ignore[method-assign]
    return limiter


class TestDjangoSqliteRateLimiter(RateLimiterContract):
    """DjangoRateLimiter on a SQLite file."""

    @pytest.fixture
    def limiter(self, sqlite_file_db: str) -> DjangoRateLimiter:
        return _closing(DjangoRateLimiter(using=sqlite_file_db))


@pytest.mark.postgres
class TestDjangoPostgresRateLimiter(RateLimiterContract):
    """DjangoRateLimiter on PostgreSQL."""

    @pytest.fixture
    def limiter(self, pg_db: str) -> DjangoRateLimiter:
        return _closing(DjangoRateLimiter(using=pg_db))


@pytest.fixture(params=["sqlite_file", pytest.param("pg", marks=pytest.mark.postgres)])
def shared_alias(request: pytest.FixtureRequest) -> str:
    alias: str = request.getfixturevalue(
        "sqlite_file_db" if request.param == "sqlite_file" else "pg_db")
    return alias


def test_many_threads_on_one_key_pass_exactly_the_limit(shared_alias: str) -> None:
    # Each thread is a process's worth of state: its own limiter, its own connection.
    def hit(i: int) -> bool:
        try:
            return DjangoRateLimiter(shared_alias).hit("rl:login:ip:192.0.2.7", 5, MINUTE, T0)
        finally:
            connections[shared_alias].close()

    assert race(16, hit).count(True) == 5
    assert DjangoRateLimiter(shared_alias).count("rl:login:ip:192.0.2.7") == 5


def test_threads_starting_a_new_window_together_count_once_each(shared_alias: str) -> None:
    limiter = _closing(DjangoRateLimiter(shared_alias))
    assert [limiter.hit("k", 3, MINUTE, T0) for _ in range(4)] == [True, True, True, False]
    # The old window has ended for all of them: one resets it, the others count in it.
    later = T0 + 2 * MINUTE
    assert race(10, lambda i: limiter.hit("k", 3, MINUTE, later)).count(True) == 3


# ---------------------------------------------------------------------- specifics


@pytest.mark.django_db
def test_purge_drops_only_windows_started_before() -> None:
    limiter = DjangoRateLimiter()
    assert limiter.hit("old", 5, MINUTE, T0)
    assert limiter.hit("old", 5, MINUTE, T0)
    assert limiter.hit("new", 5, MINUTE, T0 + timedelta(minutes=10))
    assert limiter.count("old") == 2
    assert limiter.purge(T0 + timedelta(minutes=5)) == 1
    assert limiter.count("old") == 0 and limiter.count("new") == 1
    assert limiter.purge(T0 + timedelta(minutes=5)) == 0


@pytest.mark.django_db
def test_the_count_never_passes_the_limit_and_refusals_write_nothing() -> None:
    limiter = DjangoRateLimiter()
    for _ in range(9):
        limiter.hit("k", 4, MINUTE, T0)
    assert limiter.count("k") == 4
    assert limiter.count("unknown") == 0
    assert not limiter.hit("zero", 0, MINUTE, T0)
    assert not OnboardingRateLimit.objects.filter(key="zero").exists()


@pytest.mark.django_db
def test_times_are_kept_in_utc_without_time_zone_support() -> None:
    with override_settings(USE_TZ=False):
        limiter = DjangoRateLimiter()
        assert limiter.hit("k", 1, MINUTE, T0)
        assert not limiter.hit("k", 1, MINUTE, T0 + MINUTE - timedelta(seconds=1))
        assert limiter.hit("k", 1, MINUTE, T0 + MINUTE)
        assert limiter.purge(T0 + MINUTE) == 0
        assert limiter.purge(T0 + MINUTE + timedelta(seconds=1)) == 1


@pytest.mark.django_db
def test_naive_times_are_refused() -> None:
    with pytest.raises(StorageError):
        DjangoRateLimiter().hit("k", 5, MINUTE, T0.replace(tzinfo=None))


@pytest.mark.django_db
def test_failures_are_storage_errors_without_the_key() -> None:
    # The table dropped inside the test's transaction (rolled back after it).
    table = OnboardingRateLimit._meta.db_table
    with connections["default"].cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    with pytest.raises(StorageError) as caught:
        DjangoRateLimiter().hit("rl:forgot_password:id:secret-member-42", 5, MINUTE, T0)
    assert "secret-member-42" not in str(caught.value)


# ---------------------------------------------------------------------- the app's service


@pytest.mark.django_db
def test_the_app_counts_in_the_database_without_a_warning() -> None:
    reset_service()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        service = get_service()
    assert isinstance(service.rate_limiter, DjangoRateLimiter)
    assert service.rate_limiter.using == "default"


def test_the_limiter_follows_the_database_setting(sqlite_file_alias: str) -> None:
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(DATABASE=sqlite_file_alias)):
        limiter = get_service().rate_limiter
    assert isinstance(limiter, DjangoRateLimiter) and limiter.using == sqlite_file_alias


@pytest.mark.django_db
def test_a_limiter_of_the_host_is_used_and_a_memory_one_is_warned_of() -> None:
    config = onboarding_config(RATE_LIMITER="cegema_onboarding.ratelimit.MemoryRateLimiter")
    with override_settings(CEGEMA_ONBOARDING=config), pytest.warns(RuntimeWarning):
        assert isinstance(get_service().rate_limiter, MemoryRateLimiter)


@pytest.mark.django_db
def test_a_limiter_that_is_not_one_is_refused() -> None:
    from django.core.exceptions import ImproperlyConfigured

    config = onboarding_config(RATE_LIMITER=object())
    with (override_settings(CEGEMA_ONBOARDING=config),
          pytest.raises(ImproperlyConfigured, match="RATE_LIMITER")):
        get_service()


@pytest.fixture
def two_services(sqlite_file_db: str, clock: ManualClock
                 ) -> Iterator[tuple[OnboardingService, OnboardingService]]:
    # Two portal processes: each builds its own service from the same settings.
    config = onboarding_config(CLOCK=clock, DATABASE=sqlite_file_db,
                               RATE_LIMITS=RateLimits(login_ip=Limit(3, MINUTE)))
    with override_settings(CEGEMA_ONBOARDING=config):
        first = get_service()
        reset_service()
        second = get_service()
        yield first, second
    reset_service()


def test_two_services_on_one_database_share_one_login_limit(
        two_services: tuple[OnboardingService, OnboardingService],
        clock: ManualClock) -> None:
    first, second = two_services
    assert first is not second and first.rate_limiter is not second.rate_limiter
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


@pytest.mark.django_db
def test_purge_tokens_drops_ended_rate_limit_windows(dj_service: OnboardingService,
                                                     clock: ManualClock) -> None:
    limiter = dj_service.rate_limiter
    assert isinstance(limiter, DjangoRateLimiter)
    assert limiter.hit("rl:forgot_password:id:100234567", 5, timedelta(minutes=5), clock.now())
    clock.advance(minutes=2)
    assert limiter.hit("rl:login:ip:192.0.2.1", 30, MINUTE, clock.now())
    clock.advance(minutes=4)
    out = StringIO()
    call_command("cegema_purge_tokens", stdout=out)
    # Only the window that started more than five minutes ago, the longest in use, ended.
    assert "rate-limit windows deleted: 1" in out.getvalue()
    assert limiter.count("rl:forgot_password:id:100234567") == 0
    assert limiter.count("rl:login:ip:192.0.2.1") == 1
