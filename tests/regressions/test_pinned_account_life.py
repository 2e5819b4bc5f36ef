"""Fixed replays of the account-life machine (tests/properties/test_account_life_machine.py).

The passing sequences pin corners the machine reaches only now and then: a copied
remember-me token, "this wasn't me" from an address the account has left, recovery after
re-issued credentials, and the lifetimes of reset, "not me" and remember-me tokens.

The strict xfails are product bugs the machine's model exposed (its model follows the
product as it is, with a comment at each spot); each says what should happen instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from cegema_onboarding import lockout
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import LinkPurpose, Stage
from cegema_onboarding.service import Ok

from ..properties.test_account_life_machine import ADDRESSES, HARD_LIMIT, AccountLifeMachine


def replay(steps: Callable[[AccountLifeMachine], None], *, no_email: bool = False,
           second: bool = False) -> AccountLifeMachine:
    """Run ``steps`` on a fresh machine, checking every invariant after each rule call."""
    machine = AccountLifeMachine()
    checks = [machine.model_matches_storage, machine.always_a_way_back_in,
              machine.one_notice_per_password_change, machine.dead_tokens_stay_dead,
              machine.nothing_stored_in_clear]

    class Checked:
        def __getattr__(self, name: str) -> object:
            attribute = getattr(machine, name)
            if not callable(attribute):
                return attribute

            def call(*args: object) -> object:
                result = attribute(*args)
                for check in checks:
                    check()
                return result
            return call

    checked = cast(AccountLifeMachine, Checked())
    checked.onboard(no_email, second)
    steps(checked)
    machine.teardown()
    return machine


def test_a_copied_remember_token_ends_the_series_and_every_session() -> None:
    def steps(m: AccountLifeMachine) -> None:
        m.remembered_visits(0, 2, 11)
        m.login_with_token(0, 0, "dead")

    machine = replay(steps)
    member = machine.model[0]
    assert member.series and not any(s.alive for s in member.series)
    assert member.session is not None and not machine.service.check_session(member.session)


def test_a_token_replayed_within_the_rotation_grace_is_refused_quietly() -> None:
    def steps(m: AccountLifeMachine) -> None:
        m.remembered_visits(0, 1, 5)

    machine = replay(steps)
    assert any(s.alive for s in machine.model[0].series), "two racing tabs are not a theft"


def test_not_me_from_the_old_address_locks_and_leaves_recovery_to_staff() -> None:
    # Once: the not-me link at the old address gave it back and mailed it a reset link,
    # which hands the account to whoever reads an address the member left (issue #12).
    def steps(m: AccountLifeMachine) -> None:
        m.move_address(0, ADDRESSES[3], True)
        m.login(0, True, False)

    machine = replay(steps)
    member = machine.model[0]
    assert member.email == ADDRESSES[3] and member.hard_locked
    assert member.password_changes == 1
    account = machine.service.storage.get(member.account_id)
    assert account is not None and account.email == ADDRESSES[3]
    assert account.locked_at is not None


def test_recovery_after_re_issued_credentials_and_a_new_password() -> None:
    def steps(m: AccountLifeMachine) -> None:
        m.staff_reissue(0, True)
        m.recover_by_mail(0, True)
        m.staff_reissue(1, False)
        m.staff_assisted_reset(1, True)  # at the password step: refused
        m.login(1, True, False)
        m.set_password(1)
        m.staff_assisted_reset(1, True)

    machine = replay(steps, no_email=True)
    assert [m.stage for m in machine.model] == [Stage.ACTIVE, Stage.ACTIVE]
    assert machine.model[1].password_changes == 3


def test_token_lifetimes_end_exactly_where_promised() -> None:
    def steps(m: AccountLifeMachine) -> None:
        m.login(0, True, True)
        m.forgot_password(0, True)
        m.deliver_due()
        m.time_passes(3601)  # past the reset link's hour
        m.complete_reset(0, 0, True)
        m.change_password(0, True)  # a "not me" link, valid 7 days
        m.days_pass(7)  # seven days and one second
        m.confirm_not_me(0, 0)
        m.login(0, True, True)
        m.days_pass(30)  # past the remembered browser's 30 days
        m.login_with_token(0, 0, "dead")

    machine = replay(steps)
    member = machine.model[0]
    assert not member.hard_locked
    assert {lk.status for lk in member.links if lk.purpose is LinkPurpose.RESET_PASSWORD} \
        == {"revoked"}, "the expired link was never used"
    assert not any(s.alive for s in member.series)


# ---------------------------------------------------------------------------- product bugs


def test_a_dead_reset_link_changes_nothing() -> None:
    machine = replay(lambda m: m.recover_by_mail(0, False))
    service, member = machine.service, machine.model[0]
    used = member.links[-2]
    assert used.purpose is LinkPurpose.RESET_PASSWORD and used.token is not None
    for _ in range(HARD_LIMIT):
        out = service.complete_reset(used.token, "Encore une autre phrase 31",
                                     "Encore une autre phrase 31", answer=member.answer)
        assert isinstance(out, Refused) and out.reason is Reason.LINK_USED, out
    # The member now asks for a fresh link and answers right: recovery must work.
    machine.clock.advance(machine.settings.resend_cooldown)
    machine.forgot_password(0, True)
    machine.deliver_due()
    live = member.live(LinkPurpose.RESET_PASSWORD)
    assert live is not None and live.token is not None
    out = service.complete_reset(live.token, "Encore une autre phrase 32",
                                 "Encore une autre phrase 32", answer=member.answer)
    key = lockout.reset_attempt_key(member.account_id)
    assert isinstance(out, Ok), (out, machine.storage.get_throttle(key).failures)


def test_staff_assisted_reset_refused_for_a_member_with_email_counts_nothing() -> None:
    machine = replay(lambda m: None)
    service, member = machine.service, machine.model[0]
    for _ in range(HARD_LIMIT):
        out = service.staff.staff_assisted_reset(member.account_id, member.answer,
                                                 "Encore une autre phrase 31",
                                                 "Encore une autre phrase 31", staff_id="agent-7")
        assert isinstance(out, Refused) and out.reason in (Reason.RESET_NOT_AVAILABLE,
                                                           Reason.LOCKED), out
    assert member.password is not None
    assert isinstance(service.login(member.number, member.password), Ok), "login locked"


def test_change_password_refused_at_the_password_step_counts_nothing() -> None:
    def steps(m: AccountLifeMachine) -> None:
        m.staff_reissue(0, False)
        m.login(0, True, False)

    machine = replay(steps)
    service, member = machine.service, machine.model[0]
    assert member.session is not None and member.initial is not None
    for _ in range(HARD_LIMIT):
        out = service.change_password(member.session, member.initial,
                                      "Encore une autre phrase 31", "Encore une autre phrase 31")
        assert isinstance(out, Refused) and out.reason in (Reason.INVALID_STEP,
                                                           Reason.LOCKED), out
    assert isinstance(service.login(member.number, member.initial), Ok), "login locked"
