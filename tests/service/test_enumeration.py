"""No stranger can tell whether a member exists: same result, same mail-port use, same work.

The decision (docs/account-life.md): forgotten password and forgotten identifier never
deliver inline. They queue the mail in the same commit for a known account and commit an
audit record for an unknown one, so the request touches the mail port in the same way (not
at all) whatever the case, and a failing mail server cannot change the answer either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from cegema_onboarding.adapters.memory import MemoryMailer, MemoryStorage
from cegema_onboarding.errors import InvalidInput, OnboardingError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import Channel, LinkPurpose, Session, Step
from cegema_onboarding.service import LinkCheck, Ok, OnboardingService

from ..conftest import GOOD_PASSWORD
from .test_recovery import make_service, onboard

Probe = Callable[[OnboardingService], object]


def observe(service: OnboardingService, storage: MemoryStorage, mailer: MemoryMailer,
            probe: Probe) -> tuple[object, int, int, int]:
    """What a stranger and the ports see of one request: result, mail, hashes, records."""
    hasher = service.env.crypto.hasher
    calls, attempts = hasher.calls, mailer.attempts
    audit = len(storage.audit_records(limit=100_000))
    result = probe(service)
    return (result, mailer.attempts - attempts, hasher.calls - calls,
            len(storage.audit_records(limit=100_000)) - audit)


@pytest.fixture(params=[False, True], ids=["mail_ok", "mail_down"])
def world(request: pytest.FixtureRequest) -> tuple[OnboardingService, MemoryStorage,
                                                    MemoryMailer]:
    service, storage, mailer, _clock = make_service()
    onboard(service, mailer, "100000001", "known@example.com")
    no_email = service.staff.provision("100000002", "Sans Email")
    out = service.login("100000002", no_email.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    service.declare_no_email(out.session)
    disabled, _ = onboard(service, mailer, "100000003", "off@example.com")
    service.staff.disable(disabled.account_id, staff_id="agent7")
    mailer.fail = request.param
    return service, storage, mailer


@pytest.mark.parametrize("number", ["100000001", "100000002", "100000003", "999999999",
                                    "ABC-DEF"])
def test_forgotten_password_looks_the_same_for_every_member_number(
        world: tuple[OnboardingService, MemoryStorage, MemoryMailer], number: str) -> None:
    service, storage, mailer = world
    result, mails, hashes, records = observe(
        service, storage, mailer, lambda s: s.forgot_password(number, ip="192.0.2.1"))
    assert result == Ok(Step.LOGIN, notice="notice.forgotten_password_sent")
    assert (mails, hashes, records) == (0, 0, 1)


@pytest.mark.parametrize("address", ["known@example.com", "KNOWN@example.com",
                                     "nobody@example.com", "off@example.com"])
def test_forgotten_identifier_looks_the_same_for_every_address(
        world: tuple[OnboardingService, MemoryStorage, MemoryMailer], address: str) -> None:
    service, storage, mailer = world
    result, mails, hashes, records = observe(
        service, storage, mailer, lambda s: s.forgot_identifier(address, ip="192.0.2.1"))
    assert result == Ok(Step.LOGIN, notice="notice.forgotten_identifier_sent")
    assert (mails, hashes, records) == (0, 0, 1)


@pytest.mark.parametrize("number", ["100000001", "100000002", "100000003", "999999999"])
@pytest.mark.parametrize("password", ["wrong password", "", "x" * 2000])
def test_login_looks_the_same_for_every_member_number(
        world: tuple[OnboardingService, MemoryStorage, MemoryMailer], number: str,
        password: str) -> None:
    service, storage, mailer = world
    result, mails, hashes, _records = observe(
        service, storage, mailer, lambda s: s.login(number, password, ip="192.0.2.1"))
    assert result == Refused(Reason.BAD_CREDENTIALS, field="password")
    assert mails == 0
    # Over-long or empty passwords are refused before any hashing, for everyone.
    assert hashes == (1 if password == "wrong password" else 0)


def test_known_mails_go_out_later_and_a_failure_is_retried(
        world: tuple[OnboardingService, MemoryStorage, MemoryMailer]) -> None:
    service, _storage, mailer = world
    service.forgot_password("100000001")
    service.forgot_identifier("known@example.com")
    report = service.deliver_due()
    if mailer.fail:
        assert report.retried == 2 and report.sent == 0
    else:
        assert report.sent == 2


# ---------------------------------------------------------------- bad input of any kind

BAD_STRINGS: list[object] = ["", " ", "x" * 1_000_000, "a\x00b", "\ud800", "\u202e100234567",
                             "１００２３４５６７\u200b", None, 42, b"bytes", ["list"], 3.5]


def session_for(service: OnboardingService, mailer: MemoryMailer) -> Session:
    _, session = onboard(service, mailer, "100000009", "bad@example.com")
    return session


@pytest.mark.parametrize("bad", BAD_STRINGS, ids=lambda v: f"{type(v).__name__}-{str(v)[:8]!r}")
def test_every_member_facing_call_refuses_bad_input_with_a_typed_answer(bad: object) -> None:
    service, _storage, mailer, _clock = make_service()
    session = session_for(service, mailer)
    hashes = service.env.crypto.hasher.calls
    calls: list[Callable[[], object]] = [
        lambda: service.login(bad, bad),  # type: ignore[arg-type]
        lambda: service.forgot_password(bad),  # type: ignore[arg-type]
        lambda: service.forgot_identifier(bad),  # type: ignore[arg-type]
        lambda: service.complete_reset(bad, bad, bad, answer=bad),  # type: ignore[arg-type]
        lambda: service.login_with_token(bad),  # type: ignore[arg-type]
        lambda: service.confirm_not_me(bad),  # type: ignore[arg-type]
        lambda: service.confirm_email_change(bad),  # type: ignore[arg-type]
        lambda: service.confirm_link(bad),  # type: ignore[arg-type]
        lambda: service.revoke_remembered(session, bad),  # type: ignore[arg-type]
        lambda: service.update_profile(session, interests=[bad]),  # type: ignore[list-item]
        lambda: service.update_profile(session, comments=bad),  # type: ignore[arg-type]
        lambda: service.update_profile(session, pets=bad),  # type: ignore[arg-type]
        lambda: service.request_email_change(session, GOOD_PASSWORD, bad, bad),  # type: ignore
        lambda: service.change_password(session, bad, bad, bad),  # type: ignore[arg-type]
        lambda: service.submit_code(session, bad),  # type: ignore[arg-type]
    ]
    for call in calls:
        try:
            result = call()
        except InvalidInput:
            continue
        assert isinstance(result, Refused | Ok), (call, result)
        if isinstance(result, Ok):
            # Only answers that never tell anything (forgot_*) or harmless no-ops succeed.
            assert result.notice in (None, "notice.forgotten_password_sent",
                                     "notice.forgotten_identifier_sent", "notice.profile_saved")
    if isinstance(bad, str) and len(bad) > 10_000:
        # Over-long input is refused before any hashing; the one slow hash allowed is the
        # email change re-authenticating with the real password.
        assert service.env.crypto.hasher.calls - hashes == 1
    check = service.open_link(bad, LinkPurpose.RESET_PASSWORD)  # type: ignore[arg-type]
    assert check == LinkCheck(False, Reason.LINK_INVALID)
    assert service.open_link("x", bad) == LinkCheck(False, Reason.LINK_INVALID)  # type: ignore


def test_staff_calls_raise_only_typed_errors() -> None:
    service, storage, _mailer, _clock = make_service()
    for bad in BAD_STRINGS:
        for call in (service.staff.unlock, service.staff.disable, service.staff.enable,
                     service.staff.reissue_credentials, service.staff.mark_email_verified):
            with contextlib.suppress(OnboardingError):
                call(bad, staff_id="agent7")  # type: ignore[operator]
    assert storage.audit_records() == []
    assert Channel.EMAIL.value == "email"
