"""Logging in: initial credentials or password, the refusals and their order, rehashing,
where the member resumes, and the login of a member number that has no account."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.flow import (
    ChangePassword,
    Env,
    Login,
    Origin,
    Reason,
    Refused,
    login_unknown,
    precheck,
)
from cegema_onboarding.hashing import Argon2Params
from cegema_onboarding.model import Link, LinkPurpose, Stage, Step

from ..conftest import GOOD_PASSWORD, PEPPER, START, make_settings
from .helpers import (
    ENTROPY,
    ENV,
    INITIAL,
    IP,
    accept,
    active,
    audit,
    new_account,
    refuse,
    wrong_type,
)

TICK = timedelta(microseconds=1)
INITIAL_LIFETIME = ENV.settings.initial_password_lifetime
NO_QUESTIONS = Env.from_settings(make_settings(secret_questions=False))
STRONGER = Env.from_settings(make_settings(
    argon2=Argon2Params(memory_kib=128, iterations=2, lanes=1, allow_weak=True)))
NEW_PEPPER = Env.from_settings(make_settings(
    pepper_keys=(("t2", "another-pepper-key-0123456789-abcdefghijkl"), ("t1", PEPPER))))
FIRST_STAGES = [Stage.PROVISIONED, Stage.EMAIL_REQUIRED, Stage.EMAIL_PENDING,
                Stage.AWAITING_ACTIVATION, Stage.PASSWORD_REQUIRED]


# ---------------------------------------------------------------- initial credentials


@pytest.mark.parametrize(("stage", "resumes"), [
    (Stage.PROVISIONED, Step.EMAIL), (Stage.EMAIL_REQUIRED, Step.EMAIL),
    (Stage.EMAIL_PENDING, Step.EMAIL), (Stage.AWAITING_ACTIVATION, Step.AWAITING_ACTIVATION),
    (Stage.PASSWORD_REQUIRED, Step.PASSWORD),
])
def test_the_initial_password_opens_every_first_stage(stage: Stage, resumes: Step) -> None:
    account = new_account(stage=stage)
    out = accept(account, Login(INITIAL, remember=True), at=timedelta(days=1))
    expected = Stage.EMAIL_REQUIRED if stage is Stage.PROVISIONED else stage
    assert out.account == attrs.evolve(account, stage=expected)
    assert out.step is resumes and out.grants_session is True and out.secret is None
    assert out.effects == (audit("login", at=timedelta(days=1)),)


def test_the_initial_password_no_longer_opens_an_onboarded_account() -> None:
    account = active(initial_digest=ENV.crypto.pepper.digest(INITIAL))
    out = refuse(account, Login(INITIAL))
    assert out.reason is Reason.BAD_CREDENTIALS and out.field == "password"
    assert out.effects == (audit("login", "bad_credentials"),) and out.account is None


def test_the_password_does_not_open_a_first_stage() -> None:
    account = new_account(stage=Stage.PASSWORD_REQUIRED, password_hash=active().password_hash)
    assert refuse(account, Login(GOOD_PASSWORD)).reason is Reason.BAD_CREDENTIALS


def test_no_initial_digest_opens_nothing() -> None:
    out = refuse(new_account(initial_digest=None), Login(INITIAL))
    assert out.effects == (audit("login", "bad_credentials"),)


def test_a_malformed_initial_password_is_a_wrong_one() -> None:
    out = refuse(new_account(), Login("Ω" * 10))
    assert out.reason is Reason.BAD_CREDENTIALS
    assert out.effects == (audit("login", "bad_credentials"),)


def test_initial_credentials_expire_after_their_lifetime() -> None:
    assert INITIAL_LIFETIME is not None
    account = new_account(stage=Stage.EMAIL_REQUIRED)
    assert accept(account, Login(INITIAL), at=INITIAL_LIFETIME).grants_session
    late = refuse(account, Login(INITIAL), at=INITIAL_LIFETIME + TICK)
    assert late.reason is Reason.INITIAL_CREDENTIALS_EXPIRED and late.field is None
    assert late.effects == (audit("login", "initial_expired", at=INITIAL_LIFETIME + TICK),)
    assert late.account is None


def test_initial_credentials_without_an_issue_date_or_lifetime_never_expire() -> None:
    never = Env.from_settings(make_settings(initial_password_lifetime=None))
    long_after = timedelta(days=3650)
    assert accept(new_account(), Login(INITIAL), at=long_after, env=never).grants_session
    undated = new_account(initial_issued_at=None)
    assert accept(undated, Login(INITIAL), at=long_after).grants_session


def test_an_expired_initial_password_that_is_wrong_is_just_wrong() -> None:
    out = refuse(new_account(), Login("ZZZZ2345EFGH6789"), at=timedelta(days=400))
    assert out.reason is Reason.BAD_CREDENTIALS


def test_an_old_pepper_key_is_replaced_at_a_successful_login() -> None:
    account = new_account(stage=Stage.EMAIL_REQUIRED)
    out = accept(account, Login(INITIAL.lower()), env=NEW_PEPPER)
    assert out.account.initial_digest == NEW_PEPPER.crypto.pepper.digest(INITIAL)
    assert out.account.initial_digest != account.initial_digest
    current = accept(account, Login(INITIAL))
    assert current.account.initial_digest == account.initial_digest


def test_an_old_pepper_key_stays_after_a_failed_login() -> None:
    out = refuse(new_account(), Login("ZZZZ2345EFGH6789"), env=NEW_PEPPER)
    assert out.account is None


# ---------------------------------------------------------------- password


def test_the_password_opens_an_active_account_at_its_profile() -> None:
    account = active()
    out = accept(account, Login(GOOD_PASSWORD))
    assert out.account == account
    assert out.step is Step.PROFILE and out.grants_session is True
    assert out.effects == (audit("login"),)


def test_a_wrong_password_is_refused_and_recorded() -> None:
    out = refuse(active(), Login("pas le bon mot de passe"))
    assert (out.reason, out.field, out.account) == (Reason.BAD_CREDENTIALS, "password", None)
    assert out.effects == (audit("login", "bad_credentials"),)
    assert out.secret_checked is False


def test_an_account_without_password_hash_refuses_every_password() -> None:
    out = refuse(active(password_hash=None), Login(GOOD_PASSWORD))
    assert out.effects == (audit("login", "bad_credentials"),)


@pytest.mark.parametrize("password", ["x" * 5000, "", wrong_type(None)])
def test_what_cannot_be_a_password_is_refused_before_any_hashing(password: str) -> None:
    out = refuse(active(), Login(password))
    assert (out.reason, out.field, out.effects, out.account) == (
        Reason.BAD_CREDENTIALS, "password", (), None)


def test_new_hash_parameters_rehash_at_a_successful_login() -> None:
    out = accept(active(), Login(GOOD_PASSWORD), env=STRONGER)
    assert out.account.password_hash == STRONGER.crypto.hasher.hash(GOOD_PASSWORD, ENTROPY.salt)
    assert out.account == attrs.evolve(active(), password_hash=out.account.password_hash)


def test_current_parameters_keep_the_hash() -> None:
    account = active(password_hash=ENV.crypto.hasher.hash(GOOD_PASSWORD, ENTROPY.salt))
    assert accept(account, Login(GOOD_PASSWORD), fresh=None).account == account


def test_questions_turned_off_let_a_member_at_the_question_step_in() -> None:
    account = active(stage=Stage.QUESTION_REQUIRED, answer_hash=None)
    out = accept(account, Login(GOOD_PASSWORD), env=NO_QUESTIONS)
    assert out.account == attrs.evolve(account, stage=Stage.ACTIVE)
    assert out.step is Step.PROFILE
    kept = accept(account, Login(GOOD_PASSWORD))
    assert kept.account == account and kept.step is Step.QUESTION


# ---------------------------------------------------------------- locks and refusals


def test_a_not_me_lock_answers_right_and_wrong_passwords_alike() -> None:
    account = active(locked_at=START)
    right = refuse(account, Login(GOOD_PASSWORD), env=STRONGER)
    wrong = refuse(account, Login("pas le bon mot de passe"))
    assert (right.reason, right.field, right.account) == (Reason.BAD_CREDENTIALS, "password", None)
    assert (wrong.reason, wrong.field, wrong.account) == (Reason.BAD_CREDENTIALS, "password", None)
    assert right.effects == (audit("login", "hard_locked"),)
    assert wrong.effects == (audit("login", "bad_credentials"),)


def test_a_disabled_account_is_told_only_after_the_right_password() -> None:
    account = active(disabled=True)
    out = refuse(account, Login(GOOD_PASSWORD))
    assert (out.reason, out.field, out.account) == (Reason.DISABLED, None, None)
    assert out.effects == (audit("login", "disabled"),)
    assert refuse(account, Login("pas le bon")).reason is Reason.BAD_CREDENTIALS


def test_a_disabled_account_with_expired_credentials_is_told_it_is_disabled() -> None:
    late = timedelta(days=400)
    out = refuse(new_account(disabled=True), Login(INITIAL), at=late)
    assert out.reason is Reason.DISABLED


def test_precheck_lets_logins_through_even_on_disabled_accounts() -> None:
    for account in (active(), active(disabled=True), new_account()):
        assert precheck(account, Login("x"), START, ENV.settings) is None


def test_precheck_refuses_member_events_on_disabled_accounts_as_step_does() -> None:
    event = ChangePassword(GOOD_PASSWORD, "x", "x")
    out = precheck(active(disabled=True), event, START, ENV.settings)
    assert out == Refused(Reason.DISABLED) == refuse(active(disabled=True), event)
    assert precheck(active(), event, START, ENV.settings) is None
    assert precheck(new_account(), event, START, ENV.settings) == Refused(Reason.INVALID_STEP)


# ---------------------------------------------------------------- where the member resumes


def pending_link(expires: timedelta) -> Link:
    return Link(purpose=LinkPurpose.VERIFY_EMAIL, nonce_hash="0" * 64, issued_at=START,
                expires_at=START + expires, address="marie@example.com")


def test_a_pending_address_resumes_at_the_mailbox_until_the_link_expires() -> None:
    account = new_account(stage=Stage.EMAIL_PENDING, links=(pending_link(timedelta(hours=1)),))
    assert accept(account, Login(INITIAL), at=timedelta(hours=1)).step is Step.CHECK_MAILBOX
    assert accept(account, Login(INITIAL), at=timedelta(hours=1) + TICK).step is Step.EMAIL


# ---------------------------------------------------------------- unknown member numbers


def test_an_unknown_member_number_is_refused_like_a_wrong_password() -> None:
    origin = Origin(ip=IP, actor="member")
    out = login_unknown(GOOD_PASSWORD, ENV, START, origin)
    assert (out.reason, out.field, out.account) == (Reason.BAD_CREDENTIALS, "password", None)
    assert out.effects == (audit("login", "unknown_account", account_id=None),)


def test_an_unknown_member_number_without_origin_is_recorded_without_ip() -> None:
    out = login_unknown(GOOD_PASSWORD, ENV, START)
    assert out.effects == (audit("login", "unknown_account", account_id=None, ip=None),)


@pytest.mark.parametrize("password", ["x" * 5000, wrong_type(3)])
def test_an_unknown_member_number_with_no_password_is_refused_unrecorded(
        password: str) -> None:
    out = login_unknown(password, ENV, START, Origin(ip=IP))
    assert (out.reason, out.field, out.effects) == (Reason.BAD_CREDENTIALS, "password", ())
