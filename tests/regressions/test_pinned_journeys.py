"""Fixed replays of the journey state machine (tests/properties/test_journey_machine.py).

How to pin a failure the machine finds: copy the steps of hypothesis' "Falsifying example"
into a new test here, calling :func:`replay` with the same rule calls, and name the test
after what went wrong. The machine's model and invariants then check that exact sequence
on every run, however hypothesis explores next time.

The sequences below are the corners the machine reaches only now and then, pinned so that
every run covers them: the 24-hour edge after a resend, a code whose attempts ran out, more
links than the account's history keeps, a validation mail delivered after a newer one, and
the no-email path interleaved with a second member.
"""

from __future__ import annotations

from collections.abc import Callable

from cegema_onboarding.model import Stage

from ..properties.test_journey_machine import EMAILS, JourneyMachine, JourneyWithoutQuestions


def replay(steps: Callable[[JourneyMachine], None],
           machine_class: type[JourneyMachine] = JourneyMachine) -> JourneyMachine:
    """Run ``steps`` on a fresh machine, checking every invariant after each rule call."""
    machine = machine_class()
    checks = [machine.mail_is_read, machine.no_step_is_skipped,
              machine.links_never_work_twice, machine.no_effect_twice,
              machine.nothing_stored_in_clear, machine.resumes_where_it_stopped]

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

    steps(Checked())  # type: ignore[arg-type]
    machine.teardown()
    return machine


def test_a_resent_link_is_valid_at_exactly_24_hours_and_expired_a_second_later() -> None:
    def steps(m: JourneyMachine) -> None:
        a = m.first_member()
        m.login_initial(a, "lower", "printed")
        m.submit_email(a, False, EMAILS[0], EMAILS[1], "match")
        m.time_passes(61)
        m.resend(a, False)
        m.jump_to_link_edge(a, False)
        m.open_link(a, 0, False)
        m.jump_to_link_edge(a, True)
        m.confirm_link(a, 0, False)  # the resent link: expired
        m.confirm_link(a, 1, False)  # the first one: superseded
        m.progress(a)  # a fresh link, the address filled in
        m.progress(a)  # confirmed
    machine = replay(steps)
    assert machine.model[0].stage is Stage.PASSWORD_REQUIRED


def test_a_code_whose_attempts_ran_out_stays_dead_and_a_new_mail_helps() -> None:
    def steps(m: JourneyMachine) -> None:
        a = m.first_member()
        m.progress(a)
        m.progress(a)
        m.guess_codes(a)
        m.time_passes(61)
        m.resend(a, False)
        m.submit_code(a, False, "live", "dash")
    machine = replay(steps)
    assert machine.model[0].verified_by == "code"


def test_links_dropped_from_the_history_never_come_back() -> None:
    def steps(m: JourneyMachine) -> None:
        a = m.first_member()
        m.progress(a)
        m.progress(a)
        m.resend_many_times(a)
        for pick in range(12):
            m.confirm_link(a, pick, False)
    machine = replay(steps)
    assert machine.model[0].stage is Stage.PASSWORD_REQUIRED


def test_a_validation_mail_delivered_after_a_newer_one_carries_a_dead_link() -> None:
    def steps(m: JourneyMachine) -> None:
        a = m.first_member()
        m.progress(a)
        m.mailer_breaks(1)
        m.submit_email(a, False, EMAILS[4], EMAILS[4], "match")  # its mail fails
        m.change_email(a, False)
        m.submit_email(a, False, EMAILS[5], EMAILS[5], "match")  # delivered at once
        m.mailer_recovers_and_queue_drains()  # the older mail arrives last
        # pick 0 is the newest link, pick 1 the one before it.
        m.open_link(a, 1, False)  # the older link, received last: superseded
        m.confirm_link(a, 1, False)
        m.confirm_link(a, 0, False)  # the newer one works
    machine = replay(steps)
    assert [lk.successes for lk in machine.model[0].links] == [0, 1]


def test_no_email_path_interleaved_with_a_second_member() -> None:
    def steps(m: JourneyMachine) -> None:
        a = m.first_member()
        b = m.another_member()
        m.progress(a)
        m.declare_no_email(a, False)
        m.progress(b)
        m.staff_reject(a)
        m.declare_no_email(a, False)
        m.progress(b)
        m.staff_activate(a)
        m.login_initial(a, "fullwidth", "lookalike")
        m.progress(a)
        m.progress(b)
        m.set_password(b, True, "good")  # b's first session: still current
        m.progress(a)
    machine = replay(steps, JourneyWithoutQuestions)
    assert machine.model[0].stage is Stage.ACTIVE and machine.model[0].verified_by == "staff"
