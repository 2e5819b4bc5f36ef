"""A logged-in member changes their password; a member asks for their member number."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.flow import ChangePassword, Notice, Reason, RemindIdentifier, SendNotice
from cegema_onboarding.model import Account, Channel, Link, LinkPurpose, RememberToken, Stage, Step
from cegema_onboarding.tokens import nonce_hash

from ..conftest import GOOD_PASSWORD, START
from .helpers import (
    AGENT,
    ENTROPY,
    ENV,
    IP,
    NEW_PASSWORD,
    accept,
    active,
    audit,
    link_token,
    new_account,
    refuse,
    wrong_type,
)

DEVICE = RememberToken(series_id="c2VyaWVz", secret_hash="0" * 64, created_at=START,
                       expires_at=START + timedelta(days=1), last_used_at=START)


def change(current: str = GOOD_PASSWORD, password: str = NEW_PASSWORD,
           confirmation: str | None = None) -> ChangePassword:
    return ChangePassword(current, password, password if confirmation is None else confirmation)


def test_a_change_keeps_this_session_and_ends_the_others() -> None:
    account = active(remember=(DEVICE,))
    at = timedelta(hours=5)
    out = accept(account, change(), at=at)
    now = START + at
    not_me = Link(purpose=LinkPurpose.NOT_ME, nonce_hash=nonce_hash(ENTROPY.nonce),
                  issued_at=now, expires_at=now + ENV.settings.not_me_link_lifetime,
                  address="marie@example.com")
    assert out.account == attrs.evolve(
        account, password_hash=ENV.crypto.hasher.hash(NEW_PASSWORD, ENTROPY.salt),
        password_changed_at=now, session_epoch=4, remember=(), not_me_links=(not_me,))
    assert out.effects == (
        SendNotice(Notice.PASSWORD_CHANGED, "acc-1", Channel.EMAIL, now, to="marie@example.com",
                   token=link_token(LinkPurpose.NOT_ME), ip=IP, user_agent=AGENT),
        audit("password_changed", at=at),
    )
    assert out.step is Step.PROFILE and out.grants_session is True and out.secret is None


def test_a_change_at_the_question_step_resumes_there() -> None:
    out = accept(active(stage=Stage.QUESTION_REQUIRED), change())
    assert out.step is Step.QUESTION and out.account.stage is Stage.QUESTION_REQUIRED


def test_a_wrong_current_password_is_refused_and_recorded() -> None:
    out = refuse(active(), change(current="pas le bon mot de passe"))
    assert (out.reason, out.field, out.account, out.secret_checked) == (
        Reason.BAD_CREDENTIALS, "current_password", None, False)
    assert out.effects == (audit("reauthenticate", "bad_credentials"),)


def test_a_current_password_that_cannot_be_one_is_refused_unrecorded() -> None:
    out = refuse(active(), change(current=wrong_type(None)))
    assert (out.reason, out.field, out.effects) == (Reason.BAD_CREDENTIALS, "current_password", ())


def test_a_bad_new_password_says_the_current_one_was_checked() -> None:
    out = refuse(active(), change(password="court"))
    assert (out.reason, out.field, out.secret_checked) == (
        Reason.PASSWORD_TOO_SHORT, "password", True)
    assert out.account is None and out.effects == ()


# ---------------------------------------------------------------- member number reminder


def test_the_member_number_goes_to_the_proven_address_and_nothing_changes() -> None:
    account = active()
    out = accept(account, RemindIdentifier(), at=timedelta(minutes=1))
    assert out.account == account
    assert out.effects == (
        SendNotice(Notice.IDENTIFIER, "acc-1", Channel.EMAIL, START + timedelta(minutes=1),
                   to="marie@example.com", ip=IP, user_agent=AGENT),
        audit("identifier_reminded", at=timedelta(minutes=1)),
    )
    assert out.step is Step.LOGIN and out.grants_session is False


def test_a_member_activated_by_staff_may_be_reminded_at_the_password_step() -> None:
    account = new_account(stage=Stage.PASSWORD_REQUIRED, email="marie@example.com",
                          email_verified_at=START)
    assert accept(account, RemindIdentifier()).effects[0] == SendNotice(
        Notice.IDENTIFIER, "acc-1", Channel.EMAIL, START, to="marie@example.com", ip=IP,
        user_agent=AGENT)


@pytest.mark.parametrize("account", [
    active(email=None), active(email_verified_at=None), active(email_unproven=True),
], ids=["no address", "unverified", "unproven"])
def test_no_reminder_without_a_proven_address(account: Account) -> None:
    out = refuse(account, RemindIdentifier())
    assert (out.reason, out.effects, out.account) == (Reason.INVALID_STEP, (), None)
