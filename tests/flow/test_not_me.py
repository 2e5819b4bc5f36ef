""""Ce n'était pas moi": the links that report a change, and what confirming one does."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.flow import (
    ChangePassword,
    ConfirmNotMe,
    Notice,
    Reason,
    SendNotice,
    SetPassword,
    StaffDisable,
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
    link_code,
    link_token,
    new_account,
    refuse,
    wrong_type,
)

NOT_ME_LIFETIME = ENV.settings.not_me_link_lifetime
TICK = timedelta(microseconds=1)
NONCE = b"n" * 32
DEVICE = RememberToken(series_id="c2VyaWVz", secret_hash="0" * 64, created_at=START,
                       expires_at=START + timedelta(days=1), last_used_at=START)


def not_me(address: str | None = "marie@example.com", nonce: bytes = NONCE, *,
           issued: timedelta = timedelta(0), status: LinkStatus = LinkStatus.LIVE) -> Link:
    return Link(purpose=LinkPurpose.NOT_ME, nonce_hash=nonce_hash(nonce),
                issued_at=START + issued, expires_at=START + issued + NOT_ME_LIFETIME,
                address=address, status=status)


def journey_link(purpose: LinkPurpose, status: LinkStatus = LinkStatus.LIVE) -> Link:
    return Link(purpose=purpose, nonce_hash=nonce_hash(purpose.value.encode() * 4),
                issued_at=START, expires_at=START + timedelta(hours=1),
                address="marie@example.com", status=status)


CHANGE = ChangePassword(GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)


def confirm(nonce: bytes = NONCE) -> ConfirmNotMe:
    return ConfirmNotMe(nonce_hash(nonce))


# ---------------------------------------------------------------- confirming


def test_confirming_locks_ends_everything_and_sends_a_reset_to_the_current_address() -> None:
    live = journey_link(LinkPurpose.CHANGE_EMAIL)
    used = journey_link(LinkPurpose.VERIFY_EMAIL, LinkStatus.USED)
    other = not_me("old@example.org", b"m" * 32)
    spent = not_me("x@example.org", b"k" * 32, status=LinkStatus.SUPERSEDED)
    account = active(links=(used, live), not_me_links=(spent, other, not_me()),
                     remember=(DEVICE,))
    at = timedelta(hours=2)
    out = accept(account, confirm(), at=at)
    reset = Link(purpose=LinkPurpose.RESET_PASSWORD, nonce_hash=nonce_hash(ENTROPY.nonce),
                 issued_at=START + at, expires_at=START + at + ENV.settings.reset_link_lifetime,
                 address="marie@example.com",
                 code_digest=code_digest(ENV.crypto.pepper, "acc-1", link_code()))
    assert out.account == attrs.evolve(
        account, links=(used, attrs.evolve(live, status=LinkStatus.REVOKED), reset),
        not_me_links=(spent, attrs.evolve(other, status=LinkStatus.REVOKED),
                      attrs.evolve(not_me(), status=LinkStatus.USED)),
        locked_at=START + at, session_epoch=4, remember=())
    assert out.effects == (
        audit("not_me_locked", at=at),
        SendNotice(Notice.RESET, "acc-1", Channel.EMAIL, START + at, to="marie@example.com",
                   token=link_token(LinkPurpose.RESET_PASSWORD), code=link_code(), ip=IP,
                   user_agent=AGENT),
    )
    assert out.step is Step.LOGIN and out.grants_session is False and out.secret is None


def test_the_address_is_compared_by_its_key() -> None:
    out = accept(active(not_me_links=(not_me("Marie@example.com"),)), confirm())
    assert out.effects[0] == audit("not_me_locked")
    assert len(out.effects) == 2


@pytest.mark.parametrize("account", [
    active(email_verified_at=None),
    active(email_unproven=True),
    active(email=None),
], ids=["unverified", "unproven", "no address"])
def test_without_a_recovery_address_recovery_goes_through_staff(account: Account) -> None:
    account = attrs.evolve(account, not_me_links=(not_me(),))
    out = accept(account, confirm())
    assert out.effects == (audit("not_me_locked", detail="staff_recovery"),)
    assert out.account.locked_at == START and out.account.links == ()
    assert out.step is Step.LOGIN


def test_a_link_sent_to_another_address_leads_to_staff() -> None:
    out = accept(active(not_me_links=(not_me("old@example.org"),)), confirm())
    assert out.effects == (audit("not_me_locked", detail="staff_recovery"),)
    assert out.account.locked_at == START and out.account.session_epoch == 4


def test_a_link_with_no_address_leads_to_staff() -> None:
    out = accept(active(not_me_links=(not_me(None),)), confirm())
    assert out.effects == (audit("not_me_locked", detail="staff_recovery"),)


def test_a_link_older_than_the_last_change_of_address_leads_to_staff() -> None:
    changed = START + timedelta(minutes=1)
    before = active(not_me_links=(not_me(),), email_changed_at=changed)
    out = accept(before, confirm(), at=timedelta(hours=1))
    assert out.effects == (audit("not_me_locked", detail="staff_recovery",
                                 at=timedelta(hours=1)),)
    # Issued at the very moment of the change: it reports that change, recovery goes on.
    same = active(not_me_links=(not_me(issued=timedelta(minutes=1)),), email_changed_at=changed)
    assert len(accept(same, confirm(), at=timedelta(hours=1)).effects) == 2
    after = active(not_me_links=(not_me(),), email_changed_at=START - TICK)
    assert len(accept(after, confirm()).effects) == 2


# ---------------------------------------------------------------- dead links


def test_a_link_is_valid_until_its_expiry_inclusive() -> None:
    account = active(not_me_links=(not_me(),))
    assert accept(account, confirm(), at=NOT_ME_LIFETIME).account.locked_at is not None
    late = refuse(account, confirm(), at=NOT_ME_LIFETIME + TICK)
    assert late.reason is Reason.LINK_EXPIRED and late.account is None
    assert late.effects == (audit("not_me", "link_expired", at=NOT_ME_LIFETIME + TICK),)


@pytest.mark.parametrize(("status", "reason"), [
    (LinkStatus.USED, Reason.LINK_USED),
    (LinkStatus.SUPERSEDED, Reason.LINK_SUPERSEDED),
    (LinkStatus.REVOKED, Reason.LINK_INVALID),
])
def test_a_spent_link_is_refused_with_its_reason(status: LinkStatus, reason: Reason) -> None:
    out = refuse(active(not_me_links=(not_me(status=status),)), confirm())
    assert out.reason is reason and out.account is None
    assert out.effects == (audit("not_me", reason.value),)


def test_an_unknown_link_is_invalid() -> None:
    out = refuse(active(not_me_links=(not_me(),)), confirm(b"u" * 32))
    assert out.reason is Reason.LINK_INVALID
    assert out.effects == (audit("not_me", "link_invalid"),)


def test_a_journey_link_is_no_not_me_link() -> None:
    # Same nonce, other purpose: the "not me" links are looked up apart.
    link = attrs.evolve(journey_link(LinkPurpose.RESET_PASSWORD), nonce_hash=nonce_hash(NONCE))
    out = refuse(active(links=(link,)), confirm())
    assert out.reason is Reason.LINK_INVALID


def test_a_hash_of_the_wrong_type_is_invalid() -> None:
    out = refuse(active(not_me_links=(not_me(),)), ConfirmNotMe(wrong_type(b"x")))
    assert out.reason is Reason.LINK_INVALID


def test_outside_account_life_a_link_gets_its_own_reason_and_nothing_is_recorded() -> None:
    pending = new_account(stage=Stage.EMAIL_PENDING, not_me_links=(not_me(status=LinkStatus.USED),))
    out = refuse(pending, confirm())
    assert out.reason is Reason.LINK_USED and out.effects == () and out.account is None
    assert refuse(pending, confirm(b"u" * 32)).reason is Reason.LINK_INVALID
    # A live link at a stage that takes none: already spent, as far as the member can tell.
    live = attrs.evolve(pending, not_me_links=(not_me(),))
    assert refuse(live, confirm()).reason is Reason.LINK_USED
    assert precheck(live, confirm(), START, ENV.settings) == refuse(live, confirm())


def test_a_disabled_account_refuses_the_link() -> None:
    disabled = accept(active(not_me_links=(not_me(),)), StaffDisable("agent1")).account
    out = refuse(disabled, confirm())
    assert out.reason is Reason.DISABLED and out.effects == ()


# ---------------------------------------------------------------- issuing


def test_a_new_password_issues_a_not_me_link_to_the_address() -> None:
    out = accept(new_account(stage=Stage.PASSWORD_REQUIRED, email="marie@example.com"),
                 SetPassword(GOOD_PASSWORD, GOOD_PASSWORD), at=timedelta(hours=1))
    assert out.account.not_me_links == (Link(
        purpose=LinkPurpose.NOT_ME, nonce_hash=nonce_hash(ENTROPY.nonce),
        issued_at=START + timedelta(hours=1),
        expires_at=START + timedelta(hours=1) + NOT_ME_LIFETIME, address="marie@example.com"),)
    (notice,) = [e for e in out.effects if isinstance(e, SendNotice)]
    assert notice.token == link_token(LinkPurpose.NOT_ME)


def test_a_new_link_supersedes_only_the_live_one_to_the_same_address() -> None:
    same = not_me("MARIE@example.com", b"1" * 32)
    other = not_me("old@example.org", b"2" * 32)
    spent = not_me("marie@example.com", b"3" * 32, status=LinkStatus.USED)
    account = active(not_me_links=(spent, same, other))
    out = accept(account, CHANGE)
    assert out.account.not_me_links[:3] == (
        spent, attrs.evolve(same, status=LinkStatus.SUPERSEDED), other)
    assert out.account.not_me_links[3].nonce_hash == nonce_hash(ENTROPY.nonce)


def test_at_most_four_links_are_kept_and_the_oldest_spent_go_first() -> None:
    spent = tuple(not_me(f"s{i}@example.org", bytes([i]) * 32, status=LinkStatus.USED)
                  for i in range(3))
    live = tuple(not_me(f"l{i}@example.org", bytes([10 + i]) * 32) for i in range(2))
    out = accept(active(not_me_links=(spent[0], live[0], spent[1], live[1], spent[2])),
                 CHANGE)
    kept = out.account.not_me_links
    assert kept[:-1] == (live[0], live[1], spent[2])
    assert kept[-1].nonce_hash == nonce_hash(ENTROPY.nonce)


def test_four_links_are_kept_as_they_are() -> None:
    spent = tuple(not_me(f"s{i}@example.org", bytes([i]) * 32, status=LinkStatus.USED)
                  for i in range(3))
    out = accept(active(not_me_links=spent), CHANGE)
    assert out.account.not_me_links[:3] == spent and len(out.account.not_me_links) == 4


def test_live_links_are_never_trimmed() -> None:
    live = tuple(not_me(f"l{i}@example.org", bytes([10 + i]) * 32) for i in range(4))
    out = accept(active(not_me_links=live), CHANGE)
    assert out.account.not_me_links[:4] == live and len(out.account.not_me_links) == 5
