"""Races on a real PostgreSQL server: many threads, one link, exactly one winner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connections

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.integrations.django.storage import DjangoStorage
from cegema_onboarding.model import Stage
from cegema_onboarding.service import Ok, OnboardingService

from ...conftest import START, link_token, make_settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

T = TypeVar("T")
THREADS = 12


def race(n: int, work: Callable[[], T]) -> list[T]:
    """Run ``work`` in ``n`` threads released at once; each closes its own connection."""
    barrier = threading.Barrier(n)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=60)
            value = work()
            with lock:
                results.append(value)
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == n
    return results


@pytest.fixture
def pg_service(pg_db: str) -> OnboardingService:
    return OnboardingService(DjangoStorage(using=pg_db), MemoryMailer(),
                             settings=make_settings(), clock=ManualClock(START))


def test_many_threads_redeem_one_link_and_exactly_one_wins(
        pg_service: OnboardingService) -> None:
    member = pg_service.staff.provision("100234567", "Marie Dupont")
    session = pg_service.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    pg_service.submit_email(session, "marie@example.org", "marie@example.org")
    assert isinstance(pg_service.mailer, MemoryMailer)
    token = link_token(pg_service.mailer)

    results = race(THREADS, lambda: pg_service.confirm_link(token, ip="192.0.2.9"))

    winners = [r for r in results if isinstance(r, Ok)]
    assert len(winners) == 1
    account = pg_service.storage.get(member.account_id)
    assert account is not None and account.stage is Stage.PASSWORD_REQUIRED
    verified = [r for r in pg_service.storage.audit_records(account_id=member.account_id)
                if r.action == "email_verified"]
    assert len(verified) == 1


def test_concurrent_wrong_passwords_are_all_counted(pg_service: OnboardingService) -> None:
    pg_service.staff.provision("100234567", "Marie Dupont")
    race(4, lambda: pg_service.login("100234567", "WRONG-PASSWORD"))
    assert pg_service.storage.get_throttle("login:100234567").failures == 4
