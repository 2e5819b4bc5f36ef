"""Staff actions: activation queue, unlock, re-issue, disable, verify an address."""

from __future__ import annotations

import pytest

from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.errors import UnknownAccount
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import Channel, Session, Stage, Step
from cegema_onboarding.service import Ok, OnboardingService, Provisioned

from ..conftest import GOOD_PASSWORD, make_settings
from .test_recovery import ANSWER, NEW_PASSWORD, onboard


def build(**overrides: object) -> tuple[OnboardingService, MemoryStorage, MemoryMailer,
                                         MemoryNotifier, ManualClock]:
    storage, mailer, notifier, clock = (MemoryStorage(), MemoryMailer(), MemoryNotifier(),
                                        ManualClock())
    service = OnboardingService(storage, mailer, settings=make_settings(**overrides),
                                clock=clock, notifier=notifier)
    return service, storage, mailer, notifier, clock


def no_email_member(service: OnboardingService, number: str = "200000001",
                    phone: str | None = None) -> Provisioned:
    member = service.staff.provision(number, "Paul Durand", phone=phone,
                                     postal_address="1 rue de la Paix, Paris")
    out = service.login(number, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(service.declare_no_email(out.session), Ok)
    return member


def staff_actors(storage: MemoryStorage, account_id: str) -> set[str]:
    # "staff:system" provisioned the account; the actions under test name their agent.
    return {r.actor for r in storage.audit_records(account_id=account_id)
            if r.actor.startswith("staff:") and r.actor != "staff:system"}


@pytest.mark.parametrize(("phone", "channel"), [(None, Channel.POST),
                                                ("+33612345678", Channel.PHONE)])
def test_activation_notifies_through_a_channel_that_reaches_the_member(
        phone: str | None, channel: Channel) -> None:
    service, storage, _mailer, notifier, _clock = build()
    member = no_email_member(service, phone=phone)
    assert [a.account_id for a in service.staff.activation_queue()] == [member.account_id]
    assert isinstance(service.staff.activate(member.account_id, staff_id="agent7"), Ok)
    assert notifier.sent[-1][:3] == (channel, member.account_id, "activated")
    assert "Paul Durand" in notifier.sent[-1][3]
    assert staff_actors(storage, member.account_id) == {"staff:agent7"}


@pytest.mark.parametrize(("phone", "channel", "recipient"), [
    (None, Channel.POST, "1 rue de la Paix, Paris"),
    ("+33612345678", Channel.PHONE, "+33612345678"),
])
def test_staff_see_the_channel_the_recipient_and_the_time_before_they_activate(
        phone: str | None, channel: Channel, recipient: str) -> None:
    service, _storage, _mailer, notifier, clock = build()
    requested = clock.now()
    member = no_email_member(service, phone=phone)
    [request] = service.staff.activation_requests()
    assert (request.account_id, request.member_number, request.name) == (
        member.account_id, "200000001", "Paul Durand")
    assert (request.channel, request.recipient, request.requested_at) == (
        channel, recipient, requested)
    assert isinstance(service.staff.activate(member.account_id, staff_id="agent7"), Ok)
    # Said after the fact too, and it is the channel the notice really took.
    after = service.staff.activation_request(member.account_id)
    assert (after.channel, after.recipient) == (channel, recipient)
    assert notifier.sent[-1][0] is channel
    assert service.staff.activation_requests() == []
    with pytest.raises(UnknownAccount):
        service.staff.activation_request("f" * 32)


def test_the_waiting_screen_knows_how_the_member_will_be_told() -> None:
    service, _storage, _mailer, _notifier, _clock = build()
    member = service.staff.provision("200000002", "Paul Durand", phone="+33612345678")
    out = service.login("200000002", member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    before = service.resume(out.session)
    assert not isinstance(before, Refused) and before.notice_channel is None
    assert isinstance(service.declare_no_email(out.session), Ok)
    waiting = service.resume(out.session)
    assert not isinstance(waiting, Refused)
    assert (waiting.step, waiting.notice_channel) == (Step.AWAITING_ACTIVATION, Channel.PHONE)


def test_unlock_clears_the_failure_counter() -> None:
    service, storage, mailer, _notifier, _clock = build()
    member, _ = onboard(service, mailer)
    for _ in range(service.settings.lockout.free_attempts):
        service.login(member.member_number, "wrong password")
    locked = service.login(member.member_number, GOOD_PASSWORD)
    assert isinstance(locked, Refused) and locked.reason is Reason.LOCKED
    assert isinstance(service.staff.unlock(member.account_id, staff_id="agent7"), Ok)
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD), Ok)
    assert "staff:agent7" in staff_actors(storage, member.account_id)


def test_reissue_kills_the_old_credentials_links_and_sessions() -> None:
    service, storage, mailer, _notifier, _clock = build()
    member, session = onboard(service, mailer)
    out = service.staff.reissue_credentials(member.account_id, staff_id="agent7")
    assert isinstance(out, Provisioned) and out.initial_password != member.initial_password
    assert out.initial_password not in repr(out)
    assert not service.check_session(session)
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD), Refused)
    assert isinstance(service.login(member.member_number, member.initial_password), Refused)
    ok = service.login(member.member_number, out.initial_password.lower())
    assert isinstance(ok, Ok) and ok.step is Step.PASSWORD and ok.session is not None
    # The answer set before is kept: a new password completes the journey.
    done = service.set_password(ok.session, NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(done, Ok) and done.step is Step.PROFILE
    records = storage.audit_records(account_id=member.account_id)
    assert any(r.action == "credentials_reissued" and r.actor == "staff:agent7" for r in records)
    assert all(out.initial_password not in repr(r) for r in records)


def test_disable_and_enable() -> None:
    service, storage, mailer, _notifier, _clock = build()
    member, session = onboard(service, mailer)
    assert isinstance(service.staff.disable(member.account_id, staff_id="agent7"), Ok)
    assert not service.check_session(session)
    out = service.login(member.member_number, GOOD_PASSWORD)
    assert isinstance(out, Refused) and out.reason is Reason.DISABLED
    # No reset link for a disabled account, and the answer does not tell.
    assert isinstance(service.forgot_password(member.member_number), Ok)
    assert service.deliver_due().sent == 0
    assert isinstance(service.staff.enable(member.account_id, staff_id="agent8"), Ok)
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD), Ok)
    assert staff_actors(storage, member.account_id) == {"staff:agent7", "staff:agent8"}


def test_staff_mark_an_address_verified() -> None:
    service, storage, _mailer, _notifier, _clock = build()
    member = no_email_member(service)
    out = service.staff.mark_email_verified(member.account_id, staff_id="agent7",
                                            email="Paul@Example.com")
    assert isinstance(out, Ok)
    account = storage.get(member.account_id)
    assert account is not None and account.email == "Paul@example.com"
    assert account.stage is Stage.PASSWORD_REQUIRED and account.email_verified_at is not None
    bad = service.staff.mark_email_verified(member.account_id, staff_id="agent7", email="nope")
    assert isinstance(bad, Refused) and bad.reason is Reason.EMAIL_INVALID


def onboarded_without_email(service: OnboardingService) -> tuple[Provisioned, Session]:
    """A no-email member, activated by staff, with a password and a secret answer."""
    member = no_email_member(service)
    assert isinstance(service.staff.activate(member.account_id, staff_id="agent7"), Ok)
    out = service.login(member.member_number, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    out = service.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    question = next(iter(service.settings.questions)).id
    assert isinstance(service.set_secret_answer(out.session, question, ANSWER, ANSWER), Ok)
    return member, out.session


def test_staff_assisted_reset_is_an_explicit_policy() -> None:
    service, _, mailer, _, _ = build()
    member, _ = onboarded_without_email(service)
    off = service.staff.staff_assisted_reset(member.account_id, ANSWER, NEW_PASSWORD, NEW_PASSWORD,
                                             staff_id="agent7")
    assert isinstance(off, Refused) and off.reason is Reason.RESET_NOT_AVAILABLE

    service, storage, mailer, _notifier, _clock = build(staff_assisted_recovery=True)
    # A member with a verified address recovers through the emailed link, never this way.
    with_email, _ = onboard(service, mailer)
    refused = service.staff.staff_assisted_reset(with_email.account_id, ANSWER, NEW_PASSWORD,
                                                 NEW_PASSWORD, staff_id="agent7")
    assert isinstance(refused, Refused) and refused.reason is Reason.RESET_NOT_AVAILABLE
    member, session = onboarded_without_email(service)
    wrong = service.staff.staff_assisted_reset(member.account_id, "Martin", NEW_PASSWORD,
                                               NEW_PASSWORD, staff_id="agent7")
    assert isinstance(wrong, Refused) and wrong.reason is Reason.ANSWER_WRONG
    assert storage.get_throttle(f"login:{member.member_number}").failures == 1
    out = service.staff.staff_assisted_reset(member.account_id, ANSWER, NEW_PASSWORD, NEW_PASSWORD,
                                             staff_id="agent7")
    assert isinstance(out, Ok) and out.session is None
    assert not service.check_session(session)
    assert isinstance(service.login(member.member_number, NEW_PASSWORD), Ok)
    records = storage.audit_records(account_id=member.account_id)
    assert any(r.action == "password_reset_staff" and r.actor == "staff:agent7"
               for r in records)


def test_staff_actions_on_unknown_accounts_raise_and_bad_staff_ids_are_refused() -> None:
    service, storage, mailer, _notifier, _clock = build()
    with pytest.raises(UnknownAccount):
        service.staff.unlock("no-such-account", staff_id="agent7")
    with pytest.raises(UnknownAccount):
        service.staff.reissue_credentials("no-such-account", staff_id="agent7")
    member, _ = onboard(service, mailer)
    for bad in ("", "a\x00b", "x" * 1000):
        out = service.staff.disable(member.account_id, staff_id=bad)
        assert isinstance(out, Refused) and out.reason is Reason.INPUT_INVALID
    account = storage.get(member.account_id)
    assert account is not None and not account.disabled


def test_activation_notice_follows_the_profile_preference_it_can_honour() -> None:
    import attrs

    from cegema_onboarding import flow
    from cegema_onboarding.model import Profile

    from ..flow.test_transitions import accept, new_account

    waiting = new_account(stage=Stage.AWAITING_ACTIVATION, phone="+33612345678",
                          profile=Profile(channels=(Channel.EMAIL, Channel.SMS)))
    (notice,) = [e for e in accept(waiting, flow.StaffActivate("agent7")).effects
                 if isinstance(e, flow.SendNotice)]
    # No address to honour EMAIL: the next preference that reaches the member wins.
    assert notice.channel is Channel.SMS
    with_mail = attrs.evolve(waiting, email="paul@example.com")
    (notice,) = [e for e in accept(with_mail, flow.StaffActivate("agent7")).effects
                 if isinstance(e, flow.SendNotice)]
    assert (notice.channel, notice.to) == (Channel.EMAIL, "paul@example.com")


# ---------------------------------------------------------------- the old home, for one release


def _warns_moved(name: str) -> pytest.WarningsRecorder:
    return pytest.warns(DeprecationWarning, match=rf"service\.staff\.{name}\(\)")


def test_service_provision_is_deprecated_and_still_provisions() -> None:
    service, storage, _mailer, _notifier, _clock = build()
    with _warns_moved("provision"):
        member = service.provision("200000009", "Paul Durand")
    assert isinstance(member, Provisioned)
    assert storage.get(member.account_id) is not None


def test_service_activation_queue_is_deprecated_and_still_lists() -> None:
    service, _storage, _mailer, _notifier, _clock = build()
    member = no_email_member(service)
    with _warns_moved("activation_queue"):
        queue = service.activation_queue()
    assert [a.account_id for a in queue] == [member.account_id]


def test_service_activate_is_deprecated_and_still_activates() -> None:
    service, storage, _mailer, _notifier, _clock = build()
    member = no_email_member(service)
    with _warns_moved("activate"):
        assert isinstance(service.activate(member.account_id, staff_id="agent7"), Ok)
    account = storage.get(member.account_id)
    assert account is not None and account.stage is Stage.PASSWORD_REQUIRED


def test_service_reject_is_deprecated_and_still_rejects() -> None:
    service, storage, _mailer, _notifier, _clock = build()
    member = no_email_member(service)
    with _warns_moved("reject"):
        assert isinstance(service.reject(member.account_id, "Inconnu", staff_id="agent7"), Ok)
    account = storage.get(member.account_id)
    assert account is not None and account.activation_rejection == "Inconnu"


def test_service_unlock_is_deprecated_and_still_unlocks() -> None:
    service, _storage, mailer, _notifier, _clock = build()
    member, _ = onboard(service, mailer)
    for _ in range(service.settings.lockout.free_attempts):
        service.login(member.member_number, "wrong password")
    with _warns_moved("unlock"):
        assert isinstance(service.unlock(member.account_id, staff_id="agent7"), Ok)
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD), Ok)


def test_service_disable_and_enable_are_deprecated_and_still_work() -> None:
    service, _storage, mailer, _notifier, _clock = build()
    member, _ = onboard(service, mailer)
    with _warns_moved("disable"):
        assert isinstance(service.disable(member.account_id, staff_id="agent7"), Ok)
    out = service.login(member.member_number, GOOD_PASSWORD)
    assert isinstance(out, Refused) and out.reason is Reason.DISABLED
    with _warns_moved("enable"):
        assert isinstance(service.enable(member.account_id, staff_id="agent7"), Ok)
    assert isinstance(service.login(member.member_number, GOOD_PASSWORD), Ok)


def test_service_mark_email_verified_is_deprecated_and_still_verifies() -> None:
    service, storage, _mailer, _notifier, _clock = build()
    member = no_email_member(service)
    with _warns_moved("mark_email_verified"):
        out = service.mark_email_verified(member.account_id, staff_id="agent7",
                                          email="paul@example.com")
    assert isinstance(out, Ok)
    account = storage.get(member.account_id)
    assert account is not None and account.email_verified_at is not None


def test_service_reissue_credentials_is_deprecated_and_still_reissues() -> None:
    service, _storage, mailer, _notifier, _clock = build()
    member, _ = onboard(service, mailer)
    with _warns_moved("reissue_credentials"):
        out = service.reissue_credentials(member.account_id, staff_id="agent7")
    assert isinstance(out, Provisioned) and out.initial_password != member.initial_password
    assert isinstance(service.login(member.member_number, out.initial_password), Ok)


def test_service_staff_assisted_reset_is_deprecated_and_still_resets() -> None:
    service, _storage, _mailer, _notifier, _clock = build(staff_assisted_recovery=True)
    member, _ = onboarded_without_email(service)
    with _warns_moved("staff_assisted_reset"):
        out = service.staff_assisted_reset(member.account_id, ANSWER, NEW_PASSWORD,
                                           NEW_PASSWORD, staff_id="agent7")
    assert isinstance(out, Ok)
    assert isinstance(service.login(member.member_number, NEW_PASSWORD), Ok)


def test_service_set_adviser_is_deprecated_and_still_records_it() -> None:
    from cegema_onboarding.model import Adviser

    service, storage, mailer, _notifier, _clock = build()
    member, _ = onboard(service, mailer)
    adviser = Adviser(name="Claire Martin")
    with _warns_moved("set_adviser"):
        assert isinstance(service.set_adviser(member.account_id, adviser), Ok)
    account = storage.get(member.account_id)
    assert account is not None and account.profile.adviser == adviser
