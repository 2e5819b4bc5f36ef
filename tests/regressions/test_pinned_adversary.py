"""Counter-examples the adversary machine (tests/properties/test_adversary_machine.py) shrank to.

Each was a way for whoever reads an address the member does not (or no longer) control to
get something of the account's. They stay pinned so the seam cannot reopen unnoticed.
"""

from __future__ import annotations

from cegema_onboarding.config import RecoveryPolicy

from ..properties.test_adversary_machine import TYPO, AdversaryMachine, replay


def test_a_mistyped_address_confirmed_by_its_owner_gets_no_member_number() -> None:
    # Found on the code before issue #12: the stranger confirms the link, then asks for
    # the member number at the address they own.
    def steps(m: AdversaryMachine) -> None:
        m.adversary_clicks(0, False)
        m.adversary_forgot_identifier(0)

    machine = replay(steps, typo=True)
    assert TYPO in machine.adversary_owns


def test_a_login_by_the_member_does_not_hand_the_mistyped_address_recovery() -> None:
    # Found on a first fix that let any later login prove the address: the member logs
    # in and sets a password without noticing the typo.
    def steps(m: AdversaryMachine) -> None:
        m.adversary_clicks(0, False)
        m.member_at_password_step()
        m.adversary_forgot_identifier(0)
        m.adversary_forgot_password()
        m.adversary_clicks(1, False)

    machine = replay(steps, typo=True)
    assert machine.password is not None


def test_not_me_from_an_address_the_member_left_sends_recovery_nowhere() -> None:
    def steps(m: AdversaryMachine) -> None:
        m.member_changes_password()
        m.member_moves_address(True)
        for _ in range(2):  # what the first round of clicks brings, the second clicks
            for pick in range(len(m.seen)):
                m.adversary_clicks(pick, False)
        m.adversary_forgot_password()
        m.staff_help()

    machine = replay(steps, policy=RecoveryPolicy.LINK_ONLY)
    assert len(machine.adversary_owns) == 2
