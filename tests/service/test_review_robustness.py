"""Review findings on abuse limits, configuration edges and the outbox (strict xfail)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    MemoryMailer,
)
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.mail import Mail
from cegema_onboarding.model import Adviser, Session, Stage
from cegema_onboarding.password_policy import PasswordPolicy
from cegema_onboarding.ports import OutboxStatus
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import GOOD_PASSWORD
from .test_recovery import make_service as _build

NUMBER = "100234567"


def _first_login(service: OnboardingService) -> tuple[str, Session]:
    member = service.staff.provision(NUMBER, "Marie Dupont")
    out = service.login(NUMBER, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    return member.account_id, out.session


def _password_step(service: OnboardingService, mailer: MemoryMailer) -> tuple[str, Session]:
    account_id, session = _first_login(service)
    assert isinstance(service.submit_email(session, "marie@example.com",
                                           "marie@example.com"), Ok)
    token = re.findall(r"token=([A-Za-z0-9_.\-]+)", text_part(mailer.sent[-1]))[-1]
    out = service.confirm_link(token, session=session)
    assert isinstance(out, Ok) and out.session is not None
    return account_id, out.session


def test_review_validation_mails_are_limited_per_account() -> None:
    service, _storage, mailer, _clock = _build()
    _account_id, session = _first_login(service)
    results = [service.submit_email(session, f"stranger{i}@example.org",
                                    f"stranger{i}@example.org", ip=f"198.51.100.{i}")
               for i in range(8)]
    assert len(mailer.sent) <= 5
    assert isinstance(results[-1], Refused) and results[-1].reason is Reason.RATE_LIMITED


def test_review_a_configured_cap_above_1024_is_honoured() -> None:
    """R7: the cap cannot be set above what login accepts, and the highest cap works."""
    with pytest.raises(ConfigurationError):
        PasswordPolicy(max_length=2048)
    service, _storage, mailer, _clock = _build(
        password_policy=PasswordPolicy(max_length=1024))
    _account_id, session = _password_step(service, mailer)
    long_password = ("correct cheval agrafe batterie " * 40)[:1024]
    assert len(long_password) == 1024
    out = service.set_password(session, long_password, long_password)
    assert isinstance(out, Ok)
    assert isinstance(service.login(NUMBER, long_password), Ok)


def test_review_link_lifetime_under_an_hour_still_sends_the_mail() -> None:
    service, _storage, mailer, _clock = _build(link_lifetime=timedelta(minutes=30))
    _account_id, session = _first_login(service)
    out = service.submit_email(session, "marie@example.com", "marie@example.com")
    assert isinstance(out, Ok)
    assert len(mailer.sent) == 1


class _BrokenMailer:
    """A mail port whose driver fails with an exception the shell does not expect."""

    def send(self, mail: Mail) -> None:
        raise RuntimeError("driver bug")


def test_review_a_failing_mail_port_never_fails_a_committed_change() -> None:
    service, storage, mailer, _clock = _build()
    account_id, session = _password_step(service, mailer)
    service.mailer = _BrokenMailer()
    out = service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD)
    account = storage.get(account_id)
    assert account is not None and account.stage is Stage.QUESTION_REQUIRED
    assert isinstance(out, Ok)
    statuses = {m.kind: m.status for m in storage.list_messages()}
    assert statuses["password_changed"] is OutboxStatus.PENDING


def test_review_ipv6_clients_share_a_budget_per_64_prefix() -> None:
    service, _storage, _mailer, _clock = _build()
    per_ip = service.settings.rate_limits.login_ip.count
    # Credential stuffing: one guess per member number, so the lockout never applies.
    results = [service.login(f"9{i:08d}", "pas le bon mot de passe",
                             ip=f"2001:db8:1:2::{i:x}") for i in range(per_ip + 1)]
    last = results[-1]
    assert isinstance(last, Refused) and last.reason is Reason.RATE_LIMITED


def test_review_adviser_link_must_be_a_web_url() -> None:
    service, _storage, _mailer, _clock = _build()
    account_id, _session = _first_login(service)
    out = service.staff.set_adviser(account_id, Adviser(name="Agence Centre",
                                                        more_info_url="javascript:alert(1)"))
    assert isinstance(out, Refused) and out.reason is Reason.INPUT_INVALID
