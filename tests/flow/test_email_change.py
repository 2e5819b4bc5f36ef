"""Changing the address after onboarding: re-authenticate, confirm by link, tell the old one."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.flow import (
    ConfirmEmailChange,
    Notice,
    Reason,
    RequestEmailChange,
    SendNotice,
)
from cegema_onboarding.model import Channel, Link, LinkPurpose, LinkStatus, Step
from cegema_onboarding.tokens import code_digest, nonce_hash

from ..conftest import GOOD_PASSWORD, START
from .helpers import (
    AGENT,
    ENTROPY,
    ENV,
    IP,
    accept,
    active,
    audit,
    link_code,
    link_token,
    refuse,
    run,
    wrong_type,
)

NEW = "nouvelle@example.org"
TICK = timedelta(microseconds=1)
COOLDOWN = ENV.settings.resend_cooldown
NONCE = b"c" * 32


def request(email: str = NEW, confirmation: str | None = None,
            password: str = GOOD_PASSWORD) -> RequestEmailChange:
    return RequestEmailChange(password, email, email if confirmation is None else confirmation)


def change_link(address: str | None = NEW, nonce: bytes = NONCE, *,
                status: LinkStatus = LinkStatus.LIVE,
                purpose: LinkPurpose = LinkPurpose.CHANGE_EMAIL) -> Link:
    return Link(purpose=purpose, nonce_hash=nonce_hash(nonce), issued_at=START,
                expires_at=START + ENV.settings.link_lifetime, address=address, status=status)


# ---------------------------------------------------------------- asking


def test_a_request_sends_a_link_to_the_new_address_and_a_notice_to_the_old() -> None:
    at = timedelta(hours=1)
    out = accept(active(), request(), at=at)
    now = START + at
    link = Link(purpose=LinkPurpose.CHANGE_EMAIL, nonce_hash=nonce_hash(ENTROPY.nonce),
                issued_at=now, expires_at=now + ENV.settings.link_lifetime, address=NEW,
                code_digest=code_digest(ENV.crypto.pepper, "acc-1", link_code()))
    not_me = Link(purpose=LinkPurpose.NOT_ME, nonce_hash=nonce_hash(ENTROPY.extra),
                  issued_at=now, expires_at=now + ENV.settings.not_me_link_lifetime,
                  address="marie@example.com")
    assert out.account == attrs.evolve(active(), links=(link,), not_me_links=(not_me,))
    assert out.effects == (
        SendNotice(Notice.EMAIL_CHANGE, "acc-1", Channel.EMAIL, now, to=NEW,
                   token=link_token(LinkPurpose.CHANGE_EMAIL), code=link_code(), ip=IP,
                   user_agent=AGENT),
        SendNotice(Notice.EMAIL_CHANGE_NOTICE, "acc-1", Channel.EMAIL, now,
                   to="marie@example.com", detail="n***@example.org",
                   token=link_token(LinkPurpose.NOT_ME, ENTROPY.extra), ip=IP,
                   user_agent=AGENT),
        audit("email_change_requested", at=at),
    )
    assert out.step is Step.PROFILE and out.grants_session is False


def test_the_old_address_needs_a_second_nonce() -> None:
    fresh = attrs.evolve(ENTROPY, extra=b"x" * 15)
    with pytest.raises(ValueError, match="two links"):
        run(active(), request(), fresh=fresh)


def test_a_member_without_an_address_gets_the_link_only() -> None:
    out = accept(active(email=None, email_verified_at=None), request())
    assert [type(e).__name__ for e in out.effects] == ["SendNotice", "Audit"]
    assert out.account.not_me_links == ()


def test_proving_an_unproven_address_tells_no_one_else() -> None:
    account = active(email_unproven=True)
    out = accept(account, request("Marie@example.com"))
    (notice, record) = out.effects
    assert isinstance(notice, SendNotice) and notice.notice is Notice.EMAIL_CHANGE
    assert notice.to == "Marie@example.com"
    assert record == audit("email_change_requested")
    assert out.account.not_me_links == ()


def test_the_same_proven_address_is_refused() -> None:
    out = refuse(active(), request("MARIE@example.com"))
    assert out.reason is Reason.EMAIL_UNCHANGED and out.field == "email"
    assert out.secret_checked is True and out.effects == () and out.account is None


@pytest.mark.parametrize(("email", "confirmation", "reason", "field"), [
    ("pas une adresse", "pas une adresse", Reason.EMAIL_INVALID, "email"),
    (NEW, "pas une adresse", Reason.EMAILS_DIFFER, "confirmation"),
    (NEW, "autre@example.org", Reason.EMAILS_DIFFER, "confirmation"),
])
def test_address_mistakes_are_refused_after_the_password_was_checked(
        email: str, confirmation: str, reason: Reason, field: str) -> None:
    out = refuse(active(), request(email, confirmation))
    assert (out.reason, out.field, out.secret_checked) == (reason, field, True)
    assert out.effects == () and out.account is None


def test_the_confirmation_is_compared_by_key() -> None:
    out = accept(active(), request(NEW, "Nouvelle@example.org"))
    assert out.account.links[-1].address == NEW


def test_a_wrong_password_is_refused_and_recorded() -> None:
    out = refuse(active(), request(password="pas le bon mot de passe"))
    assert (out.reason, out.field, out.secret_checked) == (
        Reason.BAD_CREDENTIALS, "current_password", False)
    assert out.effects == (audit("reauthenticate", "bad_credentials"),)
    assert out.account is None


def test_a_member_without_password_cannot_reauthenticate() -> None:
    out = refuse(active(password_hash=None), request())
    assert out.reason is Reason.BAD_CREDENTIALS and out.field == "current_password"
    assert out.effects == (audit("reauthenticate", "bad_credentials"),)


@pytest.mark.parametrize("password", ["x" * 5000, wrong_type(None)])
def test_a_password_that_cannot_be_one_is_refused_before_hashing(password: str) -> None:
    out = refuse(active(), request(password=password))
    assert out.reason is Reason.BAD_CREDENTIALS and out.field == "current_password"
    assert out.effects == () and out.secret_checked is False


def test_asking_again_for_the_same_address_cools_down() -> None:
    account = accept(active(), request()).account
    early = refuse(account, request("Nouvelle@example.org"), at=COOLDOWN - TICK)
    assert early.reason is Reason.RATE_LIMITED and early.secret_checked is True
    assert early.effects == () and early.account is None
    # The screen says how long is left, in whole seconds rounded up.
    assert early.params == (("wait_seconds", 1),)
    assert refuse(account, request(), at=timedelta(seconds=15.5)).params == (
        ("wait_seconds", int(COOLDOWN.total_seconds()) - 15),)
    again = accept(account, request(), at=COOLDOWN)
    assert again.account.links[0].status is LinkStatus.SUPERSEDED


def test_another_address_may_be_asked_for_at_once() -> None:
    account = accept(active(), request()).account
    out = accept(account, request("troisieme@example.org"))
    assert [lk.status for lk in out.account.links] == [LinkStatus.SUPERSEDED, LinkStatus.LIVE]


# ---------------------------------------------------------------- confirming


def test_confirming_in_session_moves_and_proves_the_address() -> None:
    reset_old = change_link("marie@example.com", b"r" * 32, purpose=LinkPurpose.RESET_PASSWORD)
    no_address = change_link(None, b"v" * 32, purpose=LinkPurpose.VERIFY_EMAIL)
    used = change_link("marie@example.com", b"u" * 32, status=LinkStatus.USED)
    link = change_link()
    account = active(links=(used, reset_old, no_address, link))
    at = timedelta(hours=3)
    out = accept(account, ConfirmEmailChange(nonce_hash(NONCE), same_session=True), at=at)
    assert out.account == attrs.evolve(
        account, email=NEW, email_verified_at=START + at, email_unproven=False,
        email_changed_at=START + at, pending_email=None,
        links=(used, attrs.evolve(reset_old, status=LinkStatus.REVOKED),
               attrs.evolve(no_address, status=LinkStatus.REVOKED),
               attrs.evolve(link, status=LinkStatus.USED)))
    assert out.effects == (audit("email_changed", at=at),)
    assert out.step is Step.PROFILE and out.grants_session is False


def test_links_to_the_new_address_survive_the_move() -> None:
    keep = change_link("Nouvelle@example.org", b"k" * 32, purpose=LinkPurpose.RESET_PASSWORD)
    out = accept(active(links=(keep, change_link())),
                 ConfirmEmailChange(nonce_hash(NONCE), same_session=True))
    assert out.account.links[0] == keep


@pytest.mark.parametrize("same_session", [False, wrong_type(1)])
def test_confirming_outside_the_session_leaves_the_address_unproven(same_session: bool) -> None:
    out = accept(active(links=(change_link(),)),
                 ConfirmEmailChange(nonce_hash(NONCE), same_session=same_session))
    assert out.account.email == NEW and out.account.email_unproven is True
    assert out.effects == (audit("email_changed", detail="outside_session"),)


def test_reconfirming_the_same_address_in_session_proves_it_and_is_no_change() -> None:
    before = START - timedelta(days=1)
    account = active(email_unproven=True, email_changed_at=before,
                     links=(change_link("Marie@example.com"),))
    out = accept(account, ConfirmEmailChange(nonce_hash(NONCE), same_session=True))
    assert out.account.email == "Marie@example.com"
    assert out.account.email_unproven is False and out.account.email_changed_at == before
    assert out.account.email_verified_at == START


def test_reconfirming_outside_the_session_keeps_what_was_proven() -> None:
    proven = active(links=(change_link("marie@example.com"),))
    out = accept(proven, ConfirmEmailChange(nonce_hash(NONCE)))
    assert out.account.email_unproven is False and out.account.email_changed_at is None
    unproven = attrs.evolve(proven, email_unproven=True)
    assert accept(unproven, ConfirmEmailChange(nonce_hash(NONCE))).account.email_unproven


def test_the_not_me_links_outlive_the_move() -> None:
    not_me = change_link("marie@example.com", b"n" * 32, purpose=LinkPurpose.NOT_ME)
    out = accept(active(links=(change_link(),), not_me_links=(not_me,)),
                 ConfirmEmailChange(nonce_hash(NONCE), same_session=True))
    assert out.account.not_me_links == (not_me,)


def test_a_change_link_is_valid_until_its_expiry_inclusive() -> None:
    account = active(links=(change_link(),))
    lifetime = ENV.settings.link_lifetime
    assert accept(account, ConfirmEmailChange(nonce_hash(NONCE)), at=lifetime).account.email == NEW
    late = refuse(account, ConfirmEmailChange(nonce_hash(NONCE)), at=lifetime + TICK)
    assert late.reason is Reason.LINK_EXPIRED and late.account is None
    assert late.effects == (audit("email_change", "link_expired", at=lifetime + TICK),)


@pytest.mark.parametrize(("status", "reason"), [
    (LinkStatus.USED, Reason.LINK_USED),
    (LinkStatus.SUPERSEDED, Reason.LINK_SUPERSEDED),
    (LinkStatus.REVOKED, Reason.LINK_INVALID),
])
def test_a_spent_change_link_is_refused(status: LinkStatus, reason: Reason) -> None:
    out = refuse(active(links=(change_link(status=status),)), ConfirmEmailChange(nonce_hash(NONCE)))
    assert out.reason is reason
    assert out.effects == (audit("email_change", reason.value),)


def test_a_link_of_another_purpose_does_not_change_the_address() -> None:
    reset = change_link(purpose=LinkPurpose.RESET_PASSWORD)
    out = refuse(active(links=(reset,)), ConfirmEmailChange(nonce_hash(NONCE)))
    assert out.reason is Reason.LINK_INVALID
