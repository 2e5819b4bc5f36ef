"""Recovery: a reset link to the proven address, the secret answer, staff-assisted resets,
and what every new password ends (sessions, devices, links, a "not me" lock)."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.config import RecoveryPolicy
from cegema_onboarding.flow import (
    CompleteReset,
    Env,
    Notice,
    Reason,
    RequestReset,
    SendNotice,
    StaffAssistedReset,
    precheck,
)
from cegema_onboarding.model import (
    Account,
    Channel,
    Link,
    LinkPurpose,
    LinkStatus,
    RememberToken,
    Stage,
    Step,
)
from cegema_onboarding.tokens import code_digest, nonce_hash

from ..conftest import START, make_settings
from .helpers import (
    AGENT,
    ANSWER,
    ENTROPY,
    ENV,
    IP,
    NEW_PASSWORD,
    accept,
    active,
    audit,
    link_code,
    link_token,
    refuse,
    wrong_type,
)

TICK = timedelta(microseconds=1)
RESET_LIFETIME = ENV.settings.reset_link_lifetime
COOLDOWN = ENV.settings.resend_cooldown
NONCE = b"r" * 32
LINK_ONLY = Env.from_settings(make_settings(recovery=RecoveryPolicy.LINK_ONLY))
STAFF = Env.from_settings(make_settings(staff_assisted_recovery=True))
NO_QUESTIONS = Env.from_settings(make_settings(secret_questions=False))
DEVICE = RememberToken(series_id="c2VyaWVz", secret_hash="0" * 64, created_at=START,
                       expires_at=START + timedelta(days=1), last_used_at=START)


def reset_link(nonce: bytes = NONCE, *, status: LinkStatus = LinkStatus.LIVE,
               issued: timedelta = timedelta(0)) -> Link:
    return Link(purpose=LinkPurpose.RESET_PASSWORD, nonce_hash=nonce_hash(nonce),
                issued_at=START + issued, expires_at=START + issued + RESET_LIFETIME,
                address="marie@example.com", status=status)


def complete(answer: str | None = ANSWER, password: str = NEW_PASSWORD,
             confirmation: str | None = None, nonce: bytes = NONCE) -> CompleteReset:
    return CompleteReset(nonce_hash(nonce), answer, password,
                         password if confirmation is None else confirmation)


def assisted(answer: str = ANSWER, password: str = NEW_PASSWORD,
             confirmation: str | None = None, staff_id: str = "agent1") -> StaffAssistedReset:
    return StaffAssistedReset(staff_id, answer, password,
                              password if confirmation is None else confirmation)


# ---------------------------------------------------------------- asking for a link


def test_a_reset_link_goes_to_the_proven_address() -> None:
    at = timedelta(minutes=3)
    out = accept(active(), RequestReset(), at=at)
    now = START + at
    assert out.account.links == (Link(
        purpose=LinkPurpose.RESET_PASSWORD, nonce_hash=nonce_hash(ENTROPY.nonce), issued_at=now,
        expires_at=now + RESET_LIFETIME, address="marie@example.com",
        code_digest=code_digest(ENV.crypto.pepper, "acc-1", link_code())),)
    assert out.effects == (
        SendNotice(Notice.RESET, "acc-1", Channel.EMAIL, now, to="marie@example.com",
                   token=link_token(LinkPurpose.RESET_PASSWORD), code=link_code(), ip=IP,
                   user_agent=AGENT),
        audit("reset_requested", at=at),
    )
    assert out.step is Step.LOGIN and out.grants_session is False


@pytest.mark.parametrize("account", [
    active(email=None), active(email_verified_at=None), active(email_unproven=True),
], ids=["no address", "unverified", "unproven"])
def test_no_reset_link_without_a_proven_address(account: Account) -> None:
    out = refuse(account, RequestReset())
    assert out.reason is Reason.RESET_NOT_AVAILABLE and out.account is None
    assert out.effects == (audit("reset_requested", "no_email"),)


def test_asking_again_cools_down() -> None:
    account = active(links=(reset_link(),))
    early = refuse(account, RequestReset(), at=COOLDOWN - TICK)
    assert early.reason is Reason.RATE_LIMITED
    assert early.effects == (audit("reset_requested", "cooling_down", at=COOLDOWN - TICK),)
    again = accept(account, RequestReset(), at=COOLDOWN)
    assert again.account.links[0].status is LinkStatus.SUPERSEDED


def test_a_spent_link_does_not_cool_down() -> None:
    account = active(links=(reset_link(status=LinkStatus.USED),))
    assert accept(account, RequestReset()).account.links[-1].status is LinkStatus.LIVE


# ---------------------------------------------------------------- completing


def test_completing_sets_the_password_and_ends_everything_else() -> None:
    other = attrs.evolve(reset_link(b"o" * 32), purpose=LinkPurpose.CHANGE_EMAIL)
    link = reset_link()
    account = active(links=(other, link), remember=(DEVICE,), locked_at=START,
                     initial_digest="t1$00")
    at = timedelta(minutes=10)
    out = accept(account, complete(), at=at)
    now = START + at
    pw_hash = ENV.crypto.hasher.hash(NEW_PASSWORD, ENTROPY.salt)
    not_me = Link(purpose=LinkPurpose.NOT_ME, nonce_hash=nonce_hash(ENTROPY.nonce),
                  issued_at=now, expires_at=now + ENV.settings.not_me_link_lifetime,
                  address="marie@example.com")
    assert out.account == attrs.evolve(
        account, links=(attrs.evolve(other, status=LinkStatus.REVOKED),
                        attrs.evolve(link, status=LinkStatus.USED)),
        password_hash=pw_hash, password_changed_at=now, initial_digest=None, session_epoch=4,
        remember=(), locked_at=None, not_me_links=(not_me,))
    assert out.effects == (
        SendNotice(Notice.PASSWORD_CHANGED, "acc-1", Channel.EMAIL, now, to="marie@example.com",
                   token=link_token(LinkPurpose.NOT_ME), ip=IP, user_agent=AGENT),
        audit("password_reset", at=at),
    )
    assert out.step is Step.LOGIN and out.grants_session is False


def test_a_reset_link_is_valid_until_its_expiry_inclusive() -> None:
    account = active(links=(reset_link(),))
    assert accept(account, complete(), at=RESET_LIFETIME).account.password_changed_at
    late = refuse(account, complete(), at=RESET_LIFETIME + TICK)
    assert late.reason is Reason.LINK_EXPIRED and late.account is None
    assert late.effects == (audit("reset", "link_expired", at=RESET_LIFETIME + TICK),)
    assert precheck(account, complete(), START + RESET_LIFETIME, ENV.settings) is None
    assert precheck(account, complete(), START + RESET_LIFETIME + TICK, ENV.settings) == \
        type(late)(Reason.LINK_EXPIRED)


@pytest.mark.parametrize(("status", "reason"), [
    (LinkStatus.USED, Reason.LINK_USED), (LinkStatus.SUPERSEDED, Reason.LINK_SUPERSEDED),
    (LinkStatus.REVOKED, Reason.LINK_INVALID),
])
def test_a_spent_reset_link_is_refused(status: LinkStatus, reason: Reason) -> None:
    account = active(links=(reset_link(status=status),))
    out = refuse(account, complete())
    assert out.reason is reason and out.effects == (audit("reset", reason.value),)
    checked = precheck(account, complete(), START, ENV.settings)
    assert checked is not None and checked.reason is reason and checked.effects == ()


def test_the_answer_is_checked_first() -> None:
    account = active(links=(reset_link(),))
    out = refuse(account, complete(answer="Dupuis", password="court"))
    assert (out.reason, out.field, out.account) == (Reason.ANSWER_WRONG, "answer", None)
    assert out.effects == (audit("secret_answer", "wrong_answer"),)
    assert out.secret_checked is False


def test_a_right_answer_then_a_bad_password_says_the_answer_was_checked() -> None:
    out = refuse(active(links=(reset_link(),)), complete(password="court"))
    assert out.reason is Reason.PASSWORD_TOO_SHORT and out.secret_checked is True


def test_the_answer_is_compared_in_its_folded_form() -> None:
    out = accept(active(links=(reset_link(),)), complete(answer="  LEFEVRE "))
    assert out.account.password_changed_at == START


@pytest.mark.parametrize("answer", [wrong_type(None), "x" * 257])
def test_an_answer_that_cannot_be_one_is_refused_as_input(answer: str) -> None:
    out = refuse(active(links=(reset_link(),)), complete(answer=answer))
    assert (out.reason, out.field, out.effects) == (Reason.INPUT_INVALID, "answer", ())


@pytest.mark.parametrize("answer", ["x" * 256, "!!!", ""])
def test_an_answer_at_the_limit_or_empty_is_wrong(answer: str) -> None:
    out = refuse(active(links=(reset_link(),)), complete(answer=answer))
    assert out.reason is Reason.ANSWER_WRONG


def test_an_empty_answer_never_matches_even_an_empty_hash() -> None:
    account = active(links=(reset_link(),), answer_hash=ENV.crypto.hasher.hash("", b"e" * 16))
    assert refuse(account, complete(answer="!!!")).reason is Reason.ANSWER_WRONG


def test_without_an_answer_on_file_a_reset_needing_one_is_not_available() -> None:
    out = refuse(active(links=(reset_link(),), answer_hash=None), complete())
    assert (out.reason, out.field) == (Reason.RESET_NOT_AVAILABLE, None)
    assert out.effects == (audit("secret_answer", "not_available"),)


def test_link_only_recovery_does_not_ask_for_the_answer() -> None:
    account = active(links=(reset_link(),), answer_hash=None)
    out = accept(account, complete(answer=None), env=LINK_ONLY)
    assert out.account.password_hash == ENV.crypto.hasher.hash(NEW_PASSWORD, ENTROPY.salt)
    bad = refuse(account, complete(answer=None, password="court"), env=LINK_ONLY)
    assert bad.reason is Reason.PASSWORD_TOO_SHORT and bad.secret_checked is False


def test_a_member_without_address_is_told_by_post() -> None:
    account = active(links=(reset_link(),), email=None, email_verified_at=None)
    out = accept(account, complete())
    assert out.effects[0] == SendNotice(Notice.PASSWORD_CHANGED, "acc-1", Channel.POST, START,
                                        ip=IP, user_agent=AGENT)
    assert out.account.not_me_links == ()


def test_an_empty_address_gets_post_and_its_not_me_link() -> None:
    out = accept(active(links=(reset_link(),), email=""), complete())
    notice = out.effects[0]
    assert isinstance(notice, SendNotice) and notice.channel is Channel.POST and notice.to == ""
    assert len(out.account.not_me_links) == 1


# ---------------------------------------------------------------- password rules


def test_password_refusals_name_every_rule_and_the_policy_bounds() -> None:
    out = refuse(active(links=(reset_link(),)), complete(password="court", confirmation="autre"))
    assert out.field == "password" and out.reason is Reason.PASSWORD_TOO_SHORT
    assert Reason.PASSWORDS_DIFFER in out.others
    assert out.params == (("min_length", 12), ("max_length", 1024))
    assert out.account is None and out.effects == ()


def test_a_confirmation_mismatch_alone_points_at_the_confirmation() -> None:
    out = refuse(active(links=(reset_link(),)), complete(confirmation="Une autre phrase 2027!"))
    assert (out.reason, out.field, out.others) == (Reason.PASSWORDS_DIFFER, "confirmation", ())


def test_a_password_that_cannot_be_checked_is_invalid_input() -> None:
    out = refuse(active(links=(reset_link(),)), complete(password=wrong_type(None)))
    assert (out.reason, out.field) == (Reason.INPUT_INVALID, "password")


def test_the_password_may_not_contain_the_members_name_or_address() -> None:
    account = active(links=(reset_link(),), email=None, email_verified_at=None,
                     pending_email="zorglub@example.com")
    out = refuse(account, complete(password="Le grand Zorglub de 1987"))
    assert out.reason is Reason.PASSWORD_CONTAINS_EMAIL
    out = refuse(active(links=(reset_link(),)), complete(password="Dupont et son chat 1987"))
    assert out.reason is Reason.PASSWORD_CONTAINS_NAME


def test_retyping_the_initial_password_says_so() -> None:
    initial = "ABCD2345EFGH6789"
    account = active(links=(reset_link(),), initial_digest=ENV.crypto.pepper.digest(initial))
    out = refuse(account, complete(password=initial))
    assert (out.reason, out.others) == (Reason.PASSWORD_SAME_AS_INITIAL, ())


# ---------------------------------------------------------------- staff-assisted reset


def no_address(**kw: object) -> Account:
    return active(email=None, email_verified_at=None, **kw)


def test_staff_reset_a_member_without_address_who_answers() -> None:
    account = no_address(remember=(DEVICE,))
    out = accept(account, assisted(), env=STAFF, at=timedelta(minutes=1))
    now = START + timedelta(minutes=1)
    assert out.account == attrs.evolve(
        account, password_hash=STAFF.crypto.hasher.hash(NEW_PASSWORD, ENTROPY.salt),
        password_changed_at=now, session_epoch=4, remember=())
    assert out.effects == (
        SendNotice(Notice.PASSWORD_CHANGED, "acc-1", Channel.POST, now, ip=IP,
                   user_agent=AGENT),
        audit("password_reset_staff", actor="staff:agent1", at=timedelta(minutes=1)),
    )
    assert out.step is Step.LOGIN and out.grants_session is False


@pytest.mark.parametrize(("env", "account", "event", "expected"), [
    (STAFF, no_address(), assisted(staff_id=""), (Reason.INPUT_INVALID, "staff_id")),
    (STAFF, no_address(), assisted(staff_id="x" * 65), (Reason.INPUT_INVALID, "staff_id")),
    (ENV, no_address(), assisted(), (Reason.RESET_NOT_AVAILABLE, None)),
    (STAFF, active(), assisted(), (Reason.RESET_NOT_AVAILABLE, None)),
])
def test_staff_resets_are_only_for_members_without_a_usable_address(
        env: Env, account: Account, event: StaffAssistedReset,
        expected: tuple[Reason, str | None]) -> None:
    out = refuse(account, event, env=env)
    assert (out.reason, out.field) == expected and out.effects == () and out.account is None
    assert precheck(account, event, START, env.settings) == out


def test_a_staff_reset_passes_precheck_when_it_may_go_on() -> None:
    assert precheck(no_address(), assisted(), START, STAFF.settings) is None
    assert accept(no_address(), assisted(staff_id="x" * 64), env=STAFF)


def test_a_staff_reset_needs_the_right_answer() -> None:
    out = refuse(no_address(), assisted(answer="Dupuis"), env=STAFF)
    assert out.reason is Reason.ANSWER_WRONG
    assert out.effects == (audit("secret_answer", "wrong_answer"),)


def test_a_staff_reset_with_a_bad_password_says_the_answer_was_checked() -> None:
    out = refuse(no_address(), assisted(password="court"), env=STAFF)
    assert out.reason is Reason.PASSWORD_TOO_SHORT and out.secret_checked is True


def test_a_reset_at_the_question_step_keeps_the_stage() -> None:
    account = active(stage=Stage.QUESTION_REQUIRED, links=(reset_link(),))
    assert accept(account, complete()).account.stage is Stage.QUESTION_REQUIRED


def test_with_questions_off_there_is_no_answer_to_give() -> None:
    account = active(links=(reset_link(),))
    out = accept(account, complete(answer=None), env=NO_QUESTIONS)
    assert out.account.password_changed_at == START
