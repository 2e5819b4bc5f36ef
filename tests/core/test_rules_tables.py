"""The lockout and rate-limit rules the service reads as data, and that it reads them."""

from __future__ import annotations

import inspect
import typing

import pytest

from cegema_onboarding import flow, lockout, ratelimit
from cegema_onboarding.flow import Accepted, Reason, Refused
from cegema_onboarding.lockout import CLEARS, COUNTED_BY, NOT_FAILURES, Counter
from cegema_onboarding.model import Account, Stage, Step
from cegema_onboarding.ratelimit import REQUESTS, Action, Guard, Per
from cegema_onboarding.service import OnboardingService

from ..conftest import START, make_settings


def account() -> Account:
    return Account(account_id="a1", member_number="100234567", name="Marie Dupont",
                   created_at=START, stage=Stage.ACTIVE)


# ---------------------------------------------------------------- lockout


def test_every_event_that_checks_a_secret_has_a_counter() -> None:
    assert {
        flow.Login: Counter.LOGIN,
        flow.ChangePassword: Counter.LOGIN,
        flow.RequestEmailChange: Counter.LOGIN,
        flow.StaffAssistedReset: Counter.LOGIN,
        flow.CompleteReset: Counter.RESET,
    } == COUNTED_BY
    events = set(typing.get_args(flow.Event))
    assert set(COUNTED_BY) <= events
    assert set(NOT_FAILURES) <= set(COUNTED_BY)


def test_counter_keys_are_the_login_and_reset_keys() -> None:
    member = account()
    assert lockout.counter_key(Counter.LOGIN, member) == "login:100234567"
    assert lockout.counter_key(Counter.RESET, member) == "reset:a1"
    assert lockout.attempt_key("100234567") == "login:100234567"
    assert lockout.reset_attempt_key("a1") == "reset:a1"


def test_only_refusals_given_after_the_right_password_are_not_failures() -> None:
    login = flow.Login("pw")
    assert NOT_FAILURES[flow.Login] == {Reason.DISABLED, Reason.INITIAL_CREDENTIALS_EXPIRED}
    assert not lockout.failed(login, Refused(Reason.DISABLED))
    assert not lockout.failed(login, Refused(Reason.INITIAL_CREDENTIALS_EXPIRED))
    assert lockout.failed(login, Refused(Reason.BAD_CREDENTIALS))
    assert lockout.failed(login, Refused(Reason.LOCKED))
    # Elsewhere a refusal proves the secret only when it says so itself.
    change = flow.ChangePassword("old", "new", "new")
    assert lockout.failed(change, Refused(Reason.DISABLED))
    assert lockout.failed(change, Refused(Reason.BAD_CREDENTIALS))
    assert not lockout.failed(change, Refused(Reason.PASSWORDS_DIFFER, secret_checked=True))


def test_an_accepted_attempt_is_never_a_failure() -> None:
    accepted = Accepted(account(), (), Step.PROFILE)
    for event_type in COUNTED_BY:
        event = typing.cast(flow.Event, object.__new__(event_type))
        assert not lockout.failed(event, accepted)


def test_which_success_clears_which_counter() -> None:
    assert {
        flow.CompleteReset: {Counter.LOGIN},
        flow.StaffUnlock: {Counter.LOGIN, Counter.RESET},
        flow.StaffReissue: {Counter.LOGIN},
    } == CLEARS


def test_the_tables_cannot_be_changed_at_run_time() -> None:
    for table in (COUNTED_BY, NOT_FAILURES, CLEARS, REQUESTS):
        with pytest.raises(TypeError):
            table[flow.Login] = None  # type: ignore[index]


# ---------------------------------------------------------------- rate limits


def test_the_nine_limited_requests_and_their_counters() -> None:
    assert {
        "login": Guard(Action.LOGIN),
        "submit_email": Guard(Action.LINK, Per.SESSION),
        "resend_link": Guard(Action.LINK, Per.SESSION),
        "submit_code": Guard(Action.CODE),
        "login_with_token": Guard(Action.REMEMBER),
        "forgot_password": Guard(Action.FORGOT_PASSWORD, Per.MEMBER_NUMBER),
        "forgot_identifier": Guard(Action.FORGOT_IDENTIFIER, Per.EMAIL),
        "complete_reset": Guard(Action.RECOVERY),
        "request_email_change": Guard(Action.LINK, Per.ACCOUNT),
    } == REQUESTS


def test_every_limited_request_is_a_service_method_that_reads_the_table() -> None:
    for name in REQUESTS:
        method = getattr(OnboardingService, name)
        assert f'limit("{name}"' in inspect.getsource(method), name


def test_request_keys_name_the_identifier_the_table_says() -> None:
    settings = make_settings()
    ip = "192.0.2.1"
    login = ratelimit.request_keys("login", settings, ip=ip, identifier="ignored")
    assert [k for k, _ in login] == ["rl:login:ip:192.0.2.1"]
    session = ratelimit.request_keys("submit_email", settings, ip=ip, identifier="a1")
    assert [k for k, _ in session] == ["rl:link:ip:192.0.2.1", "rl:link:id:account:a1"]
    change = ratelimit.request_keys("request_email_change", settings, identifier="a1")
    assert [k for k, _ in change] == ["rl:link:id:a1"]
    forgot = ratelimit.request_keys("forgot_password", settings, identifier="100234567")
    assert forgot == (("rl:forgot_password:id:100234567",
                       settings.rate_limits.forgot_identifier),)
    assert ratelimit.request_keys("resend_link", settings) == ()


def test_client_key_groups_an_ipv6_client_by_its_64() -> None:
    assert ratelimit.client_key("2001:db8::1") == ratelimit.client_key("2001:db8::ffff")
    assert ratelimit.client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert ratelimit.client_key("not an address") == "not an address"
