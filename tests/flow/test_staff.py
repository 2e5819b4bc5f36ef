"""What staff do to an account: activate or reject a no-email member, unlock, disable,
enable, re-issue credentials, vouch for an address. Every action names its agent."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.credentials import initial_password_from_bytes
from cegema_onboarding.flow import (
    Audit,
    Event,
    Notice,
    Reason,
    SendNotice,
    StaffActivate,
    StaffDisable,
    StaffEnable,
    StaffReissue,
    StaffReject,
    StaffUnlock,
    StaffVerifyEmail,
)
from cegema_onboarding.model import (
    Account,
    Channel,
    Link,
    LinkPurpose,
    LinkStatus,
    Profile,
    RememberToken,
    Stage,
    Step,
)
from cegema_onboarding.tokens import nonce_hash

from ..conftest import START
from .helpers import ENTROPY, ENV, IP, accept, active, new_account, refuse, wrong_type

DEVICE = RememberToken(series_id="c2VyaWVz", secret_hash="0" * 64, created_at=START,
                       expires_at=START + timedelta(days=1), last_used_at=START)
AT = timedelta(minutes=7)
NOW = START + AT


def staff_audit(action: str) -> Audit:
    return Audit(action, "ok", NOW, "acc-1", "staff:agent1", IP)


def link(purpose: LinkPurpose, address: str | None = "marie@example.com",
         status: LinkStatus = LinkStatus.LIVE, nonce: bytes | None = None) -> Link:
    return Link(purpose=purpose, nonce_hash=nonce_hash(nonce or purpose.value.encode() * 4),
                issued_at=START, expires_at=START + timedelta(days=1), address=address,
                status=status)


def awaiting(**kw: object) -> Account:
    return new_account(stage=Stage.AWAITING_ACTIVATION, activation_requested_at=START,
                       activation_rejection="ancien motif", **kw)


@pytest.mark.parametrize("event", [
    StaffActivate(""), StaffReject("x" * 65, "motif"), StaffUnlock(wrong_type(None)),
    StaffDisable("a\x00b"), StaffEnable(" "), StaffReissue(""), StaffVerifyEmail(""),
])
def test_every_staff_action_needs_a_valid_agent_id(event: Event) -> None:
    account = awaiting() if isinstance(event, StaffActivate | StaffReject) else active()
    out = refuse(account, event)
    assert (out.reason, out.field, out.account, out.effects) == (
        Reason.INPUT_INVALID, "staff_id", None, ())


def test_an_agent_id_of_64_characters_is_fine() -> None:
    out = accept(active(), StaffUnlock("a" * 64), at=AT)
    assert out.effects == (Audit("unlocked", "ok", NOW, "acc-1", "staff:" + "a" * 64, IP),)


# ---------------------------------------------------------------- activation


@pytest.mark.parametrize(("kw", "channel", "to"), [
    ({}, Channel.POST, None),
    ({"phone": "0601020304"}, Channel.PHONE, None),
    ({"email": "marie@example.com"}, Channel.EMAIL, "marie@example.com"),
    ({"email": "marie@example.com", "profile": Profile(channels=(Channel.SMS, Channel.POST))},
     Channel.POST, None),
    ({"phone": "06", "profile": Profile(channels=(Channel.SMS, Channel.POST))},
     Channel.SMS, None),
    ({"profile": Profile(channels=(Channel.EMAIL, Channel.PHONE))}, Channel.POST, None),
    ({"phone": "06", "email": "m@example.com", "profile": Profile(channels=(Channel.EMAIL,))},
     Channel.EMAIL, "m@example.com"),
    ({"phone": "06", "email": "m@example.com", "profile": Profile(channels=(Channel.PHONE,))},
     Channel.PHONE, None),
])
def test_activation_opens_the_password_step_and_tells_the_member_where_they_prefer(
        kw: dict[str, object], channel: Channel, to: str | None) -> None:
    account = awaiting(**kw)
    out = accept(account, StaffActivate("agent1"), at=AT)
    assert out.account == attrs.evolve(account, stage=Stage.PASSWORD_REQUIRED,
                                       activation_rejection=None)
    assert out.effects == (SendNotice(Notice.ACTIVATED, "acc-1", channel, NOW, to=to),
                           staff_audit("activation_approved"))
    assert out.step is Step.PASSWORD and out.grants_session is False


def test_a_rejection_goes_back_to_the_email_step_with_its_reason() -> None:
    account = awaiting(email="marie@example.com", phone="0601020304")
    out = accept(account, StaffReject("agent1", "  Pièce manquante  "), at=AT)
    assert out.account == attrs.evolve(account, stage=Stage.EMAIL_REQUIRED,
                                       activation_rejection="Pièce manquante")
    # No mail for a rejection: the member chose the no-email path.
    assert out.effects == (
        SendNotice(Notice.ACTIVATION_REJECTED, "acc-1", Channel.PHONE, NOW,
                   detail="Pièce manquante"),
        staff_audit("activation_rejected"),
    )
    assert out.step is Step.EMAIL


def test_a_rejection_skips_a_preferred_email() -> None:
    account = awaiting(email="marie@example.com",
                       profile=Profile(channels=(Channel.EMAIL, Channel.SMS)))
    notice = accept(account, StaffReject("agent1", "motif")).effects[0]
    assert isinstance(notice, SendNotice) and notice.channel is Channel.POST


@pytest.mark.parametrize("reason", ["", "x" * 501, "a\x00b", wrong_type(None)])
def test_a_rejection_needs_a_reason_that_can_be_shown(reason: str) -> None:
    out = refuse(awaiting(), StaffReject("agent1", reason))
    assert (out.reason, out.field, out.effects) == (Reason.INPUT_INVALID, "reason", ())


def test_a_reason_of_500_characters_is_fine() -> None:
    out = accept(awaiting(), StaffReject("agent1", "x" * 500))
    assert out.account.activation_rejection == "x" * 500


# ---------------------------------------------------------------- unlock, disable, enable


def test_unlocking_changes_nothing_on_the_account_not_even_a_not_me_lock() -> None:
    account = active(locked_at=START)
    out = accept(account, StaffUnlock("agent1"), at=AT)
    assert out.account == account
    assert out.effects == (staff_audit("unlocked"),) and out.step is Step.PROFILE


def test_disabling_ends_every_session_and_device() -> None:
    account = active(remember=(DEVICE,))
    out = accept(account, StaffDisable("agent1"), at=AT)
    assert out.account == attrs.evolve(account, disabled=True, session_epoch=4, remember=())
    assert out.effects == (staff_audit("disabled"),) and out.step is Step.PROFILE


def test_enabling_again() -> None:
    account = new_account(stage=Stage.EMAIL_REQUIRED, disabled=True)
    out = accept(account, StaffEnable("agent1"), at=AT)
    assert out.account == attrs.evolve(account, disabled=False)
    assert out.effects == (staff_audit("enabled"),) and out.step is Step.EMAIL


# ---------------------------------------------------------------- re-issued credentials


@pytest.mark.parametrize(("stage", "after", "step"), [
    (Stage.PROVISIONED, Stage.PROVISIONED, Step.EMAIL),
    (Stage.EMAIL_PENDING, Stage.EMAIL_PENDING, Step.EMAIL),
    (Stage.AWAITING_ACTIVATION, Stage.AWAITING_ACTIVATION, Step.AWAITING_ACTIVATION),
    (Stage.PASSWORD_REQUIRED, Stage.PASSWORD_REQUIRED, Step.PASSWORD),
    (Stage.QUESTION_REQUIRED, Stage.PASSWORD_REQUIRED, Step.PASSWORD),
    (Stage.ACTIVE, Stage.PASSWORD_REQUIRED, Step.PASSWORD),
])
def test_reissued_credentials_replace_everything_and_are_handed_to_staff(
        stage: Stage, after: Stage, step: Step) -> None:
    live = link(LinkPurpose.RESET_PASSWORD)
    used = link(LinkPurpose.VERIFY_EMAIL, status=LinkStatus.USED)
    not_me = link(LinkPurpose.NOT_ME, nonce=b"n" * 32)
    spent = link(LinkPurpose.NOT_ME, status=LinkStatus.USED, nonce=b"s" * 32)
    account = active(stage=stage, links=(used, live), not_me_links=(spent, not_me),
                     remember=(DEVICE,), locked_at=START)
    out = accept(account, StaffReissue("agent1"), at=AT)
    initial = initial_password_from_bytes(ENTROPY.nonce)
    assert out.secret == initial
    assert out.account == attrs.evolve(
        account, stage=after, initial_digest=ENV.crypto.pepper.digest(initial),
        initial_issued_at=NOW, password_hash=None, session_epoch=4, remember=(),
        locked_at=None, links=(used, attrs.evolve(live, status=LinkStatus.REVOKED)),
        not_me_links=(spent, attrs.evolve(not_me, status=LinkStatus.REVOKED)))
    assert out.effects == (staff_audit("credentials_reissued"),)
    assert out.step is step and out.grants_session is False


# ---------------------------------------------------------------- addresses vouched for


def test_staff_vouch_for_an_address_and_it_becomes_the_proven_one() -> None:
    verify = link(LinkPurpose.VERIFY_EMAIL, "typo@example.com")
    reset_old = link(LinkPurpose.RESET_PASSWORD, "old@example.com")
    change_same = link(LinkPurpose.CHANGE_EMAIL, "Marie@example.com", nonce=b"c" * 32)
    reset_same = link(LinkPurpose.RESET_PASSWORD, "Marie@example.com", nonce=b"r" * 32)
    account = new_account(stage=Stage.EMAIL_PENDING, pending_email="typo@example.com",
                          email="old@example.com", email_verified_at=START,
                          email_unproven=True, activation_rejection="motif",
                          links=(verify, reset_old, change_same, reset_same))
    out = accept(account, StaffVerifyEmail("agent1", "marie@example.com"), at=AT)
    assert out.account == attrs.evolve(
        account, stage=Stage.PASSWORD_REQUIRED, email="marie@example.com",
        email_verified_at=NOW, email_unproven=False, email_changed_at=NOW, pending_email=None,
        activation_rejection=None,
        links=(attrs.evolve(verify, status=LinkStatus.REVOKED),
               attrs.evolve(reset_old, status=LinkStatus.REVOKED),
               attrs.evolve(change_same, status=LinkStatus.REVOKED), reset_same))
    assert out.effects == (staff_audit("email_verified_by_staff"),)
    assert out.step is Step.PASSWORD


def test_without_an_address_staff_vouch_for_the_pending_one_and_its_link_dies() -> None:
    verify = link(LinkPurpose.VERIFY_EMAIL)
    account = new_account(stage=Stage.EMAIL_PENDING, pending_email="marie@example.com",
                          links=(verify,))
    out = accept(account, StaffVerifyEmail("agent1"))
    assert out.account.email == "marie@example.com" and out.account.pending_email is None
    # Even a link to the very address staff vouched for: nothing is left to confirm.
    assert out.account.links == (attrs.evolve(verify, status=LinkStatus.REVOKED),)


@pytest.mark.parametrize("stage", [Stage.QUESTION_REQUIRED, Stage.ACTIVE])
def test_vouching_keeps_an_onboarded_member_where_they_are(stage: Stage) -> None:
    out = accept(active(stage=stage), StaffVerifyEmail("agent1", "autre@example.org"))
    assert out.account.stage is stage and out.account.email == "autre@example.org"


@pytest.mark.parametrize("email", ["pas une adresse", None])
def test_what_is_no_address_is_refused_and_recorded(email: str | None) -> None:
    out = refuse(new_account(stage=Stage.EMAIL_REQUIRED), StaffVerifyEmail("agent1", email),
                 at=AT)
    assert (out.reason, out.field, out.account) == (Reason.EMAIL_INVALID, "email", None)
    assert out.effects == (attrs.evolve(staff_audit("email_verified_by_staff"),
                                        outcome="email_invalid"),)
