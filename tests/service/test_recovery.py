"""Forgotten password and identifier, "this wasn't me", password and email changes."""

from __future__ import annotations

import re
from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.config import RecoveryPolicy, Settings
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import LinkPurpose, Session, Step
from cegema_onboarding.ports import Changes
from cegema_onboarding.service import Ok, OnboardingService, Provisioned

from ..conftest import GOOD_PASSWORD, START, make_settings

NEW_PASSWORD = "Une toute autre phrase 2026"
ANSWER = "Lefèvre"
IP = "203.0.113.7"


def links(mailer: MemoryMailer, path: str) -> list[str]:
    """Every token of links to ``path`` in the sent mails, oldest first."""
    found = []
    for message in mailer.sent:
        found += re.findall(re.escape(path) + r"\?token=([A-Za-z0-9_.\-]+)", text_part(message))
    return found


def onboard(service: OnboardingService, mailer: MemoryMailer, number: str = "100234567",
            email: str = "marie@example.com", *, answer: bool = True
            ) -> tuple[Provisioned, Session]:
    """A member through the whole journey; returns them and a live session."""
    member = service.staff.provision(number, "Marie Dupont")
    out = service.login(number, member.initial_password, ip=IP)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(service.submit_email(out.session, email, email, ip=IP), Ok)
    token = links(mailer, "/premiere-connexion/valider")[-1]
    out = service.confirm_link(token, ip=IP, session=out.session)
    assert isinstance(out, Ok) and out.session is not None
    out = service.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP)
    assert isinstance(out, Ok) and out.session is not None
    session = out.session
    if answer and service.settings.secret_questions:
        qid = next(iter(service.settings.questions)).id
        out = service.set_secret_answer(session, qid, ANSWER, ANSWER, ip=IP)
        assert isinstance(out, Ok) and out.step is Step.PROFILE
    return member, session


def make_service(**overrides: object) -> tuple[OnboardingService, MemoryStorage, MemoryMailer,
                                                ManualClock]:
    storage, mailer, clock = MemoryStorage(), MemoryMailer(), ManualClock()
    service = OnboardingService(storage, mailer, settings=make_settings(**overrides),
                                clock=clock, notifier=MemoryNotifier())
    return service, storage, mailer, clock


def reset_token(service: OnboardingService, mailer: MemoryMailer, number: str) -> str:
    assert isinstance(service.forgot_password(number, ip=IP), Ok)
    service.deliver_due()
    return links(mailer, "/mot-de-passe/reinitialiser")[-1]


# ---------------------------------------------------------------- forgotten password


def test_reset_with_link_and_answer_ends_sessions_and_notifies() -> None:
    service, _storage, mailer, clock = make_service()
    member, session = onboard(service, mailer)
    clock.advance(minutes=5)
    token = reset_token(service, mailer, member.member_number)
    assert mailer.sent[-1]["Subject"] == "CEGEMA : Réinitialisation de votre mot de passe"
    # Opening the link (GET) does not spend it, however often.
    for _ in range(3):
        assert service.open_link(token, LinkPurpose.RESET_PASSWORD).valid
    out = service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer="  LEFEVRE ",
                                 ip="198.51.100.9")
    assert isinstance(out, Ok)
    # Not logged in afterwards: no session, the login screen.
    assert out.session is None and out.step is Step.LOGIN
    assert out.notice == "notice.password_reset_done"
    assert not service.check_session(session)
    changed = mailer.sent[-1]
    assert changed["Subject"] == "CEGEMA : Votre mot de passe a été changé"
    body = text_part(changed)
    assert "198.51.100.9" in body and "/securite/ce-n-etait-pas-moi?token=" in body
    # Single use.
    again = service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER)
    assert isinstance(again, Refused) and again.reason is Reason.LINK_USED
    assert isinstance(service.login(member.member_number, NEW_PASSWORD), Ok)
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD), Refused)


def test_reset_question_is_shown_only_behind_a_live_reset_link() -> None:
    service, _storage, mailer, clock = make_service()
    member, _ = onboard(service, mailer)
    account = _storage.get(member.account_id)
    assert account is not None and account.question_id is not None
    first = reset_token(service, mailer, member.member_number)
    question = service.reset_question(first)
    assert question is not None and question.id == account.question_id
    # A forged, a superseded and a spent link show nothing.
    assert service.reset_question(first[:-2] + "xx") is None
    clock.advance(minutes=2)
    second = reset_token(service, mailer, member.member_number)
    assert service.reset_question(first) is None
    assert isinstance(service.complete_reset(second, NEW_PASSWORD, NEW_PASSWORD,
                                             answer=ANSWER), Ok)
    assert service.reset_question(second) is None


def test_wrong_answers_count_towards_the_lockout() -> None:
    service, storage, mailer, _clock = make_service()
    member, _ = onboard(service, mailer)
    token = reset_token(service, mailer, member.member_number)
    policy = service.settings.lockout
    reasons = [service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer="Martin")
               for _ in range(policy.free_attempts + 1)]
    assert [r.reason for r in reasons if isinstance(r, Refused)] == (
        [Reason.ANSWER_WRONG] * policy.free_attempts + [Reason.LOCKED])
    key = f"reset:{member.account_id}"
    assert storage.get_throttle(key).failures == policy.free_attempts
    # The reset keeps its own counter: wrong logins by a stranger who knows the member
    # number cannot lock the member out of recovery, nor wrong answers out of login.
    assert storage.get_throttle(f"login:{member.member_number}").failures == 0
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD), Ok)


def test_a_hard_locked_login_does_not_block_recovery() -> None:
    service, storage, mailer, _clock = make_service()
    member, _ = onboard(service, mailer)
    token = reset_token(service, mailer, member.member_number)
    # A stranger who knows the member number ran the login into its hard limit.
    login = storage.get_throttle(f"login:{member.member_number}")
    storage.commit(Changes(throttles=((attrs.evolve(
        login, failures=service.settings.lockout.hard_limit, last_failure_at=START),
        login.version),)))
    assert service.login(member.member_number, GOOD_PASSWORD) == Refused(Reason.LOCKED)
    assert isinstance(service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD,
                                             answer=ANSWER), Ok)
    # A completed recovery reopens the login as well.
    assert isinstance(service.login(member.member_number, NEW_PASSWORD), Ok)


def test_right_answer_with_a_weak_password_clears_the_count_but_wrong_one_does_not() -> None:
    service, storage, mailer, _clock = make_service()
    member, _ = onboard(service, mailer)
    token = reset_token(service, mailer, member.member_number)
    key = f"reset:{member.account_id}"
    service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer="Martin")
    weak = service.complete_reset(token, "court", "court", answer="Martin")
    assert isinstance(weak, Refused) and weak.reason is Reason.ANSWER_WRONG
    assert storage.get_throttle(key).failures == 2
    weak = service.complete_reset(token, "court", "court", answer=ANSWER)
    assert isinstance(weak, Refused) and weak.reason is Reason.PASSWORD_TOO_SHORT
    assert storage.get_throttle(key).failures == 0


def test_reset_link_expires_after_its_configured_lifetime() -> None:
    service, _storage, mailer, clock = make_service(reset_link_lifetime=timedelta(hours=1))
    member, _ = onboard(service, mailer)
    token = reset_token(service, mailer, member.member_number)
    assert "n'est valable qu'une heure" in text_part(mailer.sent[-1])
    clock.advance(hours=1, seconds=1)
    out = service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER)
    assert isinstance(out, Refused) and out.reason is Reason.LINK_EXPIRED


def test_a_newer_reset_link_or_an_email_change_kills_the_older_one() -> None:
    service, _storage, mailer, clock = make_service()
    member, session = onboard(service, mailer)
    first = reset_token(service, mailer, member.member_number)
    clock.advance(minutes=2)
    second = reset_token(service, mailer, member.member_number)
    assert first != second
    out = service.complete_reset(first, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER)
    assert isinstance(out, Refused) and out.reason is Reason.LINK_SUPERSEDED
    assert isinstance(service.request_email_change(session, GOOD_PASSWORD, "m2@example.org",
                                                   "m2@example.org"), Ok)
    service.deliver_due()
    confirm = links(mailer, "/profil/email/valider")[-1]
    assert isinstance(service.confirm_email_change(confirm), Ok)
    out = service.complete_reset(second, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER)
    assert isinstance(out, Refused) and out.reason is Reason.LINK_INVALID


def test_link_alone_when_questions_are_off() -> None:
    service, _storage, mailer, _clock = make_service(secret_questions=False)
    assert service.settings.recovery_policy is RecoveryPolicy.LINK_ONLY
    member, _ = onboard(service, mailer)
    token = reset_token(service, mailer, member.member_number)
    out = service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(out, Ok)
    assert isinstance(service.login(member.member_number, NEW_PASSWORD), Ok)


def test_link_and_answer_cannot_be_chosen_without_questions() -> None:
    with pytest.raises(ConfigurationError):
        make_settings(secret_questions=False, recovery=RecoveryPolicy.LINK_AND_ANSWER)
    with pytest.raises(ConfigurationError):
        make_settings(secret_questions=False, staff_assisted_recovery=True)


def test_member_without_answer_cannot_reset_by_link_and_answer() -> None:
    service, _storage, mailer, _clock = make_service()
    member, _ = onboard(service, mailer, answer=False)
    token = reset_token(service, mailer, member.member_number)
    out = service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER)
    assert isinstance(out, Refused) and out.reason is Reason.RESET_NOT_AVAILABLE


def test_reset_request_is_rate_limited_per_member_number_whatever_the_ip() -> None:
    service, _storage, mailer, clock = make_service()
    member, _ = onboard(service, mailer)
    limit = service.settings.rate_limits.forgot_identifier.count
    results = [service.forgot_password(member.member_number.lower(), ip=f"192.0.2.{i}")
               for i in range(limit + 1)]
    assert all(isinstance(r, Ok) for r in results[:limit])
    last = results[-1]
    assert isinstance(last, Refused) and last.reason is Reason.RATE_LIMITED
    clock.advance(minutes=5)
    assert isinstance(service.forgot_password(member.member_number, ip="192.0.2.99"), Ok)


def test_reset_clears_a_not_me_lock_and_the_failure_count() -> None:
    service, storage, mailer, _clock = make_service()
    member, _ = onboard(service, mailer)
    service.login(member.member_number, "wrong password here")
    token = reset_token(service, mailer, member.member_number)
    assert isinstance(service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER),
                      Ok)
    assert storage.get_throttle(f"login:{member.member_number}").failures == 0


# ---------------------------------------------------------------- "this wasn't me"


def test_not_me_locks_revokes_and_starts_recovery() -> None:
    service, storage, mailer, _clock = make_service()
    member, _ = onboard(service, mailer)
    remembered = service.login(member.member_number, GOOD_PASSWORD, remember=True)
    assert isinstance(remembered, Ok) and remembered.remember_token
    (not_me,) = links(mailer, "/securite/ce-n-etait-pas-moi")
    assert service.open_link(not_me, LinkPurpose.NOT_ME).valid
    assert service.open_link(not_me, LinkPurpose.NOT_ME).valid
    before = len(mailer.sent)
    out = service.confirm_not_me(not_me, ip="198.51.100.1", user_agent="Firefox")
    assert isinstance(out, Ok) and out.notice == "notice.not_me_done" and out.session is None
    assert remembered.session is not None and not service.check_session(remembered.session)
    gone = service.login_with_token(remembered.remember_token)
    assert isinstance(gone, Refused)
    # Locked, with the generic answer: the thief learns nothing about the password.
    locked = service.login(member.member_number, GOOD_PASSWORD)
    assert locked == service.login(member.member_number, "wrong password 123")
    assert isinstance(locked, Refused) and locked.reason is Reason.BAD_CREDENTIALS
    # Recovery has started: a reset link went to the verified address.
    assert len(mailer.sent) == before + 1
    assert mailer.sent[-1]["Subject"] == "CEGEMA : Réinitialisation de votre mot de passe"
    again = service.confirm_not_me(not_me)
    assert isinstance(again, Refused) and again.reason is Reason.LINK_USED
    token = links(mailer, "/mot-de-passe/reinitialiser")[-1]
    assert isinstance(service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER),
                      Ok)
    assert isinstance(service.login(member.member_number, NEW_PASSWORD), Ok)
    actions = [r.action for r in storage.audit_records(account_id=member.account_id)]
    assert "not_me_locked" in actions and "password_reset" in actions


def test_not_me_link_lasts_seven_days_and_dies_with_the_next_password_change() -> None:
    service, _storage, mailer, clock = make_service()
    member, _session = onboard(service, mailer)
    (first,) = links(mailer, "/securite/ce-n-etait-pas-moi")
    clock.advance(days=7)
    assert service.open_link(first, LinkPurpose.NOT_ME).valid
    clock.advance(seconds=1)
    assert service.open_link(first, LinkPurpose.NOT_ME).reason is Reason.LINK_EXPIRED
    out = service.login(member.member_number, GOOD_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    changed = service.change_password(out.session, GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(changed, Ok) and changed.session is not None
    second = links(mailer, "/securite/ce-n-etait-pas-moi")[-1]
    changed = service.change_password(changed.session, NEW_PASSWORD, GOOD_PASSWORD + "!",
                                      GOOD_PASSWORD + "!")
    assert isinstance(changed, Ok)
    assert service.open_link(second, LinkPurpose.NOT_ME).reason is Reason.LINK_SUPERSEDED


# ---------------------------------------------------------------- forgotten identifier


def test_forgotten_identifier_sends_one_mail_per_account_at_the_address() -> None:
    service, _storage, mailer, _clock = make_service()
    onboard(service, mailer, "100000001", "famille@example.com")
    onboard(service, mailer, "100000002", "Famille@Example.com")
    before = len(mailer.sent)
    out = service.forgot_identifier(" FAMILLE@example.com ", ip=IP)
    assert isinstance(out, Ok) and out.notice == "notice.forgotten_identifier_sent"
    assert len(mailer.sent) == before
    assert service.deliver_due().sent == 2
    bodies = [text_part(m) for m in mailer.sent[before:]]
    assert sorted(re.findall(r"1000000\d\d", " ".join(bodies))) == ["100000001", "100000002"]
    assert all(len(re.findall(r"1000000\d\d", b)) == 1 for b in bodies)


# ---------------------------------------------------------------- password and email change


def test_change_password_needs_the_current_one_and_counts_failures() -> None:
    service, storage, mailer, _clock = make_service()
    member, session = onboard(service, mailer)
    out = service.change_password(session, "not my password", NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(out, Refused) and out.reason is Reason.BAD_CREDENTIALS
    assert out.field == "current_password"
    assert storage.get_throttle(f"login:{member.member_number}").failures == 1
    out = service.change_password(session, GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    assert not service.check_session(session) and service.check_session(out.session)
    assert storage.get_throttle(f"login:{member.member_number}").failures == 0


def test_email_change_needs_reauthentication_and_confirmation() -> None:
    service, storage, mailer, _clock = make_service()
    member, session = onboard(service, mailer)
    bad = service.request_email_change(session, "wrong", "new@example.org", "new@example.org")
    assert isinstance(bad, Refused) and bad.reason is Reason.BAD_CREDENTIALS
    same = service.request_email_change(session, GOOD_PASSWORD, "MARIE@example.com",
                                        "marie@example.com")
    assert isinstance(same, Refused) and same.reason is Reason.EMAIL_UNCHANGED
    before = len(mailer.sent)
    out = service.request_email_change(session, GOOD_PASSWORD, "new@example.org",
                                       "new@example.org", ip=IP)
    assert isinstance(out, Ok) and out.notice == "notice.email_change_sent"
    sent = mailer.sent[before:]
    assert sorted(m["To"].addresses[0].addr_spec for m in sent) == [
        "marie@example.com", "new@example.org"]
    notice = next(m for m in sent if m["To"].addresses[0].addr_spec == "marie@example.com")
    assert "n***@example.org" in text_part(notice)
    assert "new@example.org" not in text_part(notice)
    account = storage.get(member.account_id)
    assert account is not None and account.email == "marie@example.com"
    token = links(mailer, "/profil/email/valider")[-1]
    assert service.open_link(token, LinkPurpose.CHANGE_EMAIL).valid
    assert isinstance(service.confirm_email_change(token), Ok)
    account = storage.get(member.account_id)
    assert account is not None and account.email == "new@example.org"
    again = service.confirm_email_change(token)
    assert isinstance(again, Refused) and again.reason is Reason.LINK_USED


def test_not_me_from_the_old_address_locks_and_leaves_recovery_to_staff() -> None:
    """An intruder moved the address; the notice to the old one locks the account.

    It no longer moves the account back to the old address, nor sends recovery there:
    that address may be the compromised one the member left (tests/service/test_takeover_seams.py).
    """
    service, storage, mailer, _clock = make_service()
    member, session = onboard(service, mailer)
    before = len(mailer.sent)
    assert isinstance(service.request_email_change(session, GOOD_PASSWORD, "evil@example.org",
                                                   "evil@example.org"), Ok)
    notice = next(m for m in mailer.sent[before:]
                  if m["To"].addresses[0].addr_spec == "marie@example.com")
    (not_me,) = re.findall(r"/securite/ce-n-etait-pas-moi\?token=([A-Za-z0-9_.\-]+)",
                           text_part(notice))
    assert isinstance(service.confirm_email_change(links(mailer, "/profil/email/valider")[-1]),
                      Ok)
    sent = len(mailer.sent)
    out = service.confirm_not_me(not_me, ip=IP)
    assert isinstance(out, Ok) and out.session is None
    assert out.notice == "notice.not_me_done"
    account = storage.get(member.account_id)
    assert account is not None and account.email == "evil@example.org"
    assert account.locked_at is not None and not service.check_session(session)
    assert mailer.sent[sent:] == []
    records = [(r.action, r.detail) for r in storage.audit_records(account_id=member.account_id)]
    assert ("not_me_locked", "staff_recovery") in records


def test_settings_validate_the_new_lifetimes() -> None:
    for name in ("reset_link_lifetime", "not_me_link_lifetime", "remember_lifetime"):
        with pytest.raises(ConfigurationError):
            make_settings(**{name: timedelta(0)})
    assert isinstance(make_settings(), Settings)
    assert attrs.evolve(make_settings(), recovery=RecoveryPolicy.LINK_ONLY).recovery_policy \
        is RecoveryPolicy.LINK_ONLY


def test_terminal_demo_ends_with_a_forgotten_password_recovery() -> None:
    import io

    from cegema_onboarding.cli import run_demo

    out = io.StringIO()
    assert run_demo(out) == 0
    text = out.getvalue()
    tail = text[text.index("Mot de passe oublié ?"):]
    assert "Réinitialisation de votre mot de passe" in tail
    assert "Votre mot de passe a été réinitialisé" in tail
    assert "ce-n-etait-pas-moi?token=" in tail
