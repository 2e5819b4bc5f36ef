"""The service end to end with the in-memory adapters: the guide's steps, and the outbox."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage

import pytest

from cegema_onboarding import texts
from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.config import Settings
from cegema_onboarding.errors import ConcurrentUpdate, SmtpError, StorageError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.mail import Mail
from cegema_onboarding.model import Account, Channel, Session, Stage, Step
from cegema_onboarding.ports import Changes, OutboxStatus
from cegema_onboarding.service import Ok, OnboardingService, Provisioned, Screen, describe

from ..conftest import (
    GOOD_PASSWORD,
    START,
    link_token,
    mail_code,
    make_settings,
    ok,
    refused,
    session_of,
)

IP = "172.17.0.14"
ADDRESS = "marie.dupont@example.com"


def screen(service: OnboardingService, session: Session) -> Screen:
    found = service.resume(session)
    assert isinstance(found, Screen), found
    return found


def pending(storage: MemoryStorage) -> list[object]:
    return list(storage.list_messages(OutboxStatus.PENDING, limit=1000))


def provision(service: OnboardingService) -> Provisioned:
    return service.staff.provision("100234567", "Marie Dupont")


def to_email_step(service: OnboardingService, member: Provisioned) -> Session:
    return session_of(service.login(member.member_number, member.initial_password, ip=IP))


def to_password_step(service: OnboardingService, mailer: MemoryMailer,
                     member: Provisioned) -> Session:
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS, ip=IP))
    return session_of(service.confirm_link(link_token(mailer), ip=IP, session=session))


# --------------------------------------------------------------------------- the guide


def test_the_guides_steps_one_to_eight(service: OnboardingService, mailer: MemoryMailer,
                                       clock: ManualClock, storage: MemoryStorage) -> None:
    member = provision(service)
    assert len(member.initial_password) == 16

    # 1. Initial login: number and the initial password typed in small letters, spaced.
    typed = " ".join(member.initial_password[i:i + 4].lower() for i in range(0, 16, 4))
    result = service.login(" 100234567 ", typed, ip=IP)
    assert ok(result).step is Step.EMAIL
    session = session_of(result)

    # 2. PREMIÈRE CONNEXION: the two entries must match.
    refused(service.submit_email(session, ADDRESS, "marie.dupond@example.com"),
            Reason.EMAILS_DIFFER)
    result = service.submit_email(session, ADDRESS, ADDRESS.upper(), ip=IP)

    # 4. Confirmation screen, in the guide's words.
    assert ok(result).step is Step.CHECK_MAILBOX
    assert result.notice is not None
    assert texts.text(result.notice, brand="CEGEMA").startswith(
        "Un lien de validation vient de vous être envoyé sur votre adresse e-mail")

    # 5. The validation mail.
    assert len(mailer.sent) == 1
    mail = mailer.sent[0]
    assert mail["Subject"] == "CEGEMA : Vérification de l'adresse mail"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"] and mail["Message-ID"]
    assert ADDRESS in str(mail["To"])
    body = text_part(mail)
    assert "Marie Dupont" in body and ADDRESS in body and "24" in body
    assert mail.get_body(preferencelist=("html",)) is not None

    # An interruption: the member comes back three hours later and resumes.
    clock.advance(hours=3)
    session = session_of(service.login("100234567", member.initial_password))
    assert screen(service, session).step is Step.CHECK_MAILBOX

    token = link_token(mailer)
    assert service.open_link(token).valid
    result = service.confirm_link(token, ip=IP, session=session)
    assert ok(result).step is Step.PASSWORD
    refused(service.confirm_link(token), Reason.LINK_USED)
    session = session_of(result)

    # 6. The new password and its confirmation.
    refused(service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD + "x"),
            Reason.PASSWORDS_DIFFER)
    result = service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP)
    assert ok(result).step is Step.QUESTION
    session = session_of(result)

    # 8. The password-changed mail, with the requester's IP.
    changed = mailer.sent[-1]
    assert changed["Subject"] == "CEGEMA : Votre mot de passe a été changé"
    assert "Marie Dupont" in text_part(changed)
    assert f"La demande a été faite depuis {IP}" in text_part(changed)

    # 7. The secret question.
    question = next(iter(service.settings.questions))
    assert ok(service.set_secret_answer(session, question.id, "Martin", "martin")).step \
        is Step.PROFILE

    # 9. Connected; the initial password is dead, the chosen one opens the profile.
    refused(service.login("100234567", member.initial_password), Reason.BAD_CREDENTIALS)
    assert ok(service.login("100234567", GOOD_PASSWORD)).step is Step.PROFILE
    account = storage.get(member.account_id)
    assert account is not None and account.stage is Stage.ACTIVE
    assert account.email == ADDRESS and account.initial_digest is None
    assert len(mailer.sent) == 2


def test_the_no_email_path_goes_through_staff(service: OnboardingService,
                                              notifier: MemoryNotifier,
                                              mailer: MemoryMailer) -> None:
    """3. "Vous n'avez pas d'adresse email ?": staff activate, the member sets a password."""
    member = provision(service)
    session = to_email_step(service, member)
    assert ok(service.declare_no_email(session)).step is Step.AWAITING_ACTIVATION
    assert [a.account_id for a in service.staff.activation_queue()] == [member.account_id]
    assert screen(service, session).step is Step.AWAITING_ACTIVATION
    # Nothing can be skipped while waiting.
    refused(service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD), Reason.INVALID_STEP)

    assert ok(service.staff.activate(member.account_id, staff_id="agent-7")).step is Step.PASSWORD
    assert service.staff.activation_queue() == []
    assert [(c, k) for c, _, k, _ in notifier.sent] == [(Channel.POST, "activated")]
    session = session_of(service.login("100234567", member.initial_password))
    assert screen(service, session).step is Step.PASSWORD
    session = session_of(service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP))
    # No address: the password-changed notice goes by post, and no mail is sent at all.
    assert [k for _, _, k, _ in notifier.sent] == ["activated", "password_changed"]
    assert mailer.sent == []
    assert screen(service, session).step is Step.QUESTION


def test_a_rejected_request_returns_to_the_email_step_with_the_reason(
        service: OnboardingService, notifier: MemoryNotifier) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.declare_no_email(session))
    assert ok(service.staff.reject(member.account_id, "Pièce d'identité illisible",
                                   staff_id="agent-7")).step is Step.EMAIL
    seen = screen(service, session)
    assert seen.step is Step.EMAIL and seen.rejection == "Pièce d'identité illisible"
    assert notifier.sent[-1][2] == "activation_rejected"
    assert "Pièce d'identité illisible" in notifier.sent[-1][3]


def test_after_24_hours_the_email_step_comes_back_with_the_address_filled_in(
        service: OnboardingService, clock: ManualClock, mailer: MemoryMailer) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    clock.advance(hours=24, seconds=1)
    session = session_of(service.login("100234567", member.initial_password))
    seen = screen(service, session)
    assert seen.step is Step.EMAIL and seen.prefill_email == ADDRESS
    refused(service.confirm_link(link_token(mailer)), Reason.LINK_EXPIRED)
    # Starting again sends a fresh link that works.
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    assert ok(service.confirm_link(link_token(mailer), session=session)).step is Step.PASSWORD


def test_resend_and_change_of_address_kill_the_older_links(
        service: OnboardingService, clock: ManualClock, mailer: MemoryMailer) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    first = link_token(mailer)
    refused(service.resend_link(session), Reason.RATE_LIMITED)
    clock.advance(seconds=61)
    ok(service.resend_link(session))
    second = link_token(mailer)
    assert first != second
    assert service.open_link(first).reason is Reason.LINK_SUPERSEDED
    assert ok(service.change_email(session)).step is Step.EMAIL
    assert service.open_link(second).reason is Reason.LINK_SUPERSEDED
    ok(service.submit_email(session, "m.dupont@example.org", "m.dupont@example.org"))
    assert mailer.sent[-1]["To"].addresses[0].addr_spec == "m.dupont@example.org"
    refused(service.confirm_link(first), Reason.LINK_SUPERSEDED)
    ok(service.confirm_link(link_token(mailer)))


def test_the_short_code_works_instead_of_the_link(service: OnboardingService,
                                                  mailer: MemoryMailer) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    code = mail_code(mailer)
    refused(service.submit_code(session, "0000-0000"), Reason.CODE_INVALID)
    assert ok(service.submit_code(session, code.lower())).step is Step.PASSWORD
    # The link in the same mail is spent with it.
    refused(service.confirm_link(link_token(mailer)), Reason.LINK_USED)


# --------------------------------------------------------------------------- the outbox


def test_a_failing_mail_port_leaves_the_message_queued_until_deliver_due(
        service: OnboardingService, mailer: MemoryMailer, clock: ManualClock,
        storage: MemoryStorage) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    mailer.fail = True
    # The member's action succeeds: the mail is queued, not lost.
    assert ok(service.submit_email(session, ADDRESS, ADDRESS)).step is Step.CHECK_MAILBOX
    assert mailer.sent == []
    [message] = storage.list_messages(limit=10)
    assert message.status is OutboxStatus.PENDING
    assert message.attempts == 1 and message.last_error == "MailError"
    assert message.next_attempt_at == clock.now() + timedelta(seconds=30)

    mailer.fail = False
    assert service.deliver_due().sent == 0, "not due before its retry time"
    clock.advance(seconds=30)
    report = service.deliver_due()
    assert (report.sent, report.retried, report.parked) == (1, 0, 0)
    assert len(mailer.sent) == 1
    assert mailer.sent[0]["Message-ID"] == message.message_id
    sent = storage.get_message(message.message_id)
    assert sent is not None and sent.status is OutboxStatus.SENT
    # Sent once: further rounds find nothing to do.
    clock.advance(hours=2)
    assert service.deliver_due().sent == 0
    assert len(mailer.sent) == 1
    # Clicked in another browser: the address is verified, the member logs in to go on.
    assert ok(service.confirm_link(link_token(mailer))).step is Step.LOGIN


def test_a_message_is_parked_after_eight_failed_attempts(
        service: OnboardingService, mailer: MemoryMailer, clock: ManualClock,
        storage: MemoryStorage) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    mailer.fail = True
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    parked = 0
    for _ in range(20):
        clock.advance(hours=1, seconds=1)
        parked += service.deliver_due().parked
    [message] = storage.list_messages(limit=10)
    assert message.status is OutboxStatus.PARKED
    assert message.attempts == 8 and mailer.attempts == 8
    assert parked == 1
    # A parked message is kept for staff to see, and nothing retries it by itself.
    mailer.fail = False
    clock.advance(days=1)
    assert service.deliver_due().sent == 0 and mailer.sent == []


def test_a_crash_between_commit_and_delivery_loses_nothing(
        storage: MemoryStorage, mailer: MemoryMailer, clock: ManualClock,
        settings: Settings) -> None:
    before = OnboardingService(storage, mailer, settings=settings, clock=clock,
                               deliver_inline=False)
    member = provision(before)
    session = to_email_step(before, member)
    ok(before.submit_email(session, ADDRESS, ADDRESS))
    assert mailer.sent == []
    # The process dies here. Another one, built on the same storage, delivers the mail.
    after = OnboardingService(storage, mailer, settings=settings, clock=clock)
    assert after.deliver_due().sent == 1
    assert after.deliver_due().sent == 0
    assert len(mailer.sent) == 1
    assert ok(after.confirm_link(link_token(mailer), session=session)).step is Step.PASSWORD


def test_a_relay_that_dies_mid_delivery_is_taken_over_after_its_lease(
        service: OnboardingService, storage: MemoryStorage, mailer: MemoryMailer,
        clock: ManualClock) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    mailer.fail = True
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    mailer.fail = False
    clock.advance(minutes=1)
    # A relay claims the message, then dies before sending it.
    [claimed] = storage.claim_due(clock.now())
    assert claimed.status is OutboxStatus.SENDING
    assert service.deliver_due().sent == 0, "the lease still holds"
    clock.advance(minutes=5)
    assert service.deliver_due().sent == 1
    assert len(mailer.sent) == 1


def test_the_outbox_payload_is_encrypted_and_dropped_after_sending(
        storage: MemoryStorage, mailer: MemoryMailer, clock: ManualClock,
        settings: Settings) -> None:
    service = OnboardingService(storage, mailer, settings=settings, clock=clock,
                                deliver_inline=False)
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    [queued] = storage.list_messages(limit=10)
    stored = queued.payload
    assert stored
    service.deliver_due()
    token, code = link_token(mailer), mail_code(mailer)
    for secret in (token, token.split(".")[0], code.replace("-", ""), "Marie Dupont",
                   "Subject", ADDRESS):
        assert secret.encode() not in stored
    assert "payload" not in repr(queued)
    sent = storage.get_message(queued.message_id)
    assert sent is not None and sent.payload == b""


def test_mail_headers_and_links_use_the_configured_base_url(
        storage: MemoryStorage, mailer: MemoryMailer, clock: ManualClock) -> None:
    settings = make_settings(base_url="https://adherents.cegema.example/portail")
    service = OnboardingService(storage, mailer, settings=settings, clock=clock)
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    mail: EmailMessage = mailer.sent[-1]
    assert str(mail["Message-ID"]).endswith("@adherents.cegema.example>")
    link = f"https://adherents.cegema.example/portail/premiere-connexion/valider?token=" \
           f"{link_token(mailer)}"
    assert link in text_part(mail)
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "https://adherents.cegema.example/portail/" in str(
        html.get_content())


# --------------------------------------------------------------------------- sessions


def test_sessions_end_when_the_password_changes(service: OnboardingService,
                                                mailer: MemoryMailer) -> None:
    member = provision(service)
    session = to_password_step(service, mailer, member)
    other = session_of(service.login("100234567", member.initial_password))
    assert service.check_session(other)
    fresh = session_of(service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD))
    for old in (session, other):
        assert not service.check_session(old)
        refused(service.resume(old), Reason.SESSION_EXPIRED)
        question = next(iter(service.settings.questions)).id
        refused(service.set_secret_answer(old, question, "Martin", "Martin"),
                Reason.SESSION_EXPIRED)
    assert service.check_session(fresh)
    assert screen(service, fresh).step is Step.QUESTION


def test_a_refusal_is_described_in_french_by_default(service: OnboardingService,
                                                     mailer: MemoryMailer) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    refusal = refused(service.submit_email(session, ADDRESS, "autre@example.com"),
                      Reason.EMAILS_DIFFER)
    french, english = describe(refusal), describe(refusal, "en")
    assert french and english and french != english


@pytest.mark.parametrize("questions", [True, False])
def test_the_journey_ends_where_the_host_says(questions: bool, storage: MemoryStorage,
                                              mailer: MemoryMailer,
                                              clock: ManualClock) -> None:
    service = OnboardingService(storage, mailer, clock=clock,
                                settings=make_settings(secret_questions=questions))
    member = provision(service)
    session = to_password_step(service, mailer, member)
    result = ok(service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD))
    assert result.step is (Step.QUESTION if questions else Step.PROFILE)
    account = storage.get(member.account_id)
    assert account is not None
    assert account.stage is (Stage.QUESTION_REQUIRED if questions else Stage.ACTIVE)
    assert clock.now() == START


# --------------------------------------------------------------------------- double clicks


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment from as many threads; their results, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class LockstepStorage(MemoryStorage):
    """Once armed, each racer's ``nth`` account load waits for the others' (``parties`` in
    all), so every racer works from the same version and all but one lose the
    compare-and-set."""

    def __init__(self) -> None:
        super().__init__()
        self._barrier: threading.Barrier | None = None
        self._nth = 1
        self._loads = threading.local()
        self.conflicts = 0

    def arm(self, parties: int, nth: int = 1) -> None:
        self._barrier, self._nth = threading.Barrier(parties), nth

    def get(self, account_id: str) -> Account | None:
        found = super().get(account_id)
        barrier = self._barrier
        if barrier is not None:
            loads = getattr(self._loads, "n", 0) + 1
            self._loads.n = loads
            if loads == self._nth:
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=5)
        return found

    def commit(self, changes: Changes) -> None:
        try:
            super().commit(changes)
        except ConcurrentUpdate:
            self.conflicts += 1
            raise


def test_racers_that_loaded_the_same_version_set_the_password_once(
        mailer: MemoryMailer, clock: ManualClock, settings: Settings) -> None:
    storage = LockstepStorage()
    service = OnboardingService(storage, mailer, settings=settings, clock=clock)
    member = provision(service)
    session = to_password_step(service, mailer, member)
    storage.arm(2)
    results = race(*[lambda: service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD)] * 2)
    assert storage.conflicts >= 1, "the race did not happen"
    assert sum(isinstance(r, Ok) for r in results) == 1, results
    assert sum("a été changé" in str(m["Subject"]) for m in mailer.sent) == 1


def test_racers_that_loaded_the_same_version_spend_a_link_once(
        mailer: MemoryMailer, clock: ManualClock, settings: Settings) -> None:
    storage = LockstepStorage()
    service = OnboardingService(storage, mailer, settings=settings, clock=clock)
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    token = link_token(mailer)
    storage.arm(2)  # the one load reads the token's account and serves the first try
    results = race(lambda: service.confirm_link(token), lambda: service.confirm_link(token))
    assert storage.conflicts >= 1, "the race did not happen"
    assert sum(isinstance(r, Ok) for r in results) == 1, results
    assert [r.reason for r in results if isinstance(r, Refused)] == [Reason.LINK_USED]


@pytest.mark.parametrize("attempt", range(5))
def test_a_double_click_on_save_sets_the_password_once(
        attempt: int, service: OnboardingService, mailer: MemoryMailer,
        storage: MemoryStorage) -> None:
    member = provision(service)
    session = to_password_step(service, mailer, member)
    results = race(*[lambda: service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD)] * 4)
    assert sum(isinstance(r, Ok) for r in results) == 1, results
    assert all(isinstance(r, Ok) or (isinstance(r, Refused) and r.reason in (
        Reason.SESSION_EXPIRED, Reason.INVALID_STEP)) for r in results), results
    changed = [m for m in storage.list_messages(limit=100) if m.kind == "password_changed"]
    assert len(changed) == 1
    assert sum("a été changé" in str(m["Subject"]) for m in mailer.sent) == 1


@pytest.mark.parametrize("attempt", range(5))
def test_the_link_and_the_code_used_at_once_verify_the_address_once(
        attempt: int, service: OnboardingService, mailer: MemoryMailer,
        storage: MemoryStorage) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    token, code = link_token(mailer), mail_code(mailer)
    results = race(lambda: service.confirm_link(token), lambda: service.submit_code(session, code),
                   lambda: service.confirm_link(token))
    assert sum(isinstance(r, Ok) for r in results) == 1, results
    verified = [r for r in storage.audit_records(account_id=member.account_id, limit=100)
                if r.action == "email_verified"]
    assert len(verified) == 1


def test_two_agents_activating_at_once_activate_once(service: OnboardingService,
                                                     notifier: MemoryNotifier) -> None:
    member = provision(service)
    session = to_email_step(service, member)
    ok(service.declare_no_email(session))
    results = race(lambda: service.staff.activate(member.account_id, staff_id="agent-7"),
                   lambda: service.staff.activate(member.account_id, staff_id="agent-9"),
                   lambda: service.staff.reject(member.account_id, "Doublon", staff_id="agent-3"))
    assert sum(isinstance(r, Ok) for r in results) == 1, results
    assert len(notifier.sent) == 1


class BrokenStorage(MemoryStorage):
    """A storage whose next commit fails, as a database that went away would."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    def commit(self, changes: Changes) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StorageError("database unavailable (simulated)")
        super().commit(changes)


def test_a_change_that_did_not_commit_sends_nothing(mailer: MemoryMailer, clock: ManualClock,
                                                    settings: Settings) -> None:
    storage = BrokenStorage()
    service = OnboardingService(storage, mailer, settings=settings, clock=clock)
    member = provision(service)
    session = to_email_step(service, member)
    before = storage.get(member.account_id)
    storage.fail_next = True
    with pytest.raises(StorageError):
        service.submit_email(session, ADDRESS, ADDRESS)
    assert storage.get(member.account_id) == before
    assert storage.list_messages(limit=10) == [] and mailer.sent == []
    # Once the database is back, the member simply tries again.
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    assert len(mailer.sent) == 1


class _RefusingMailer:
    """A mail port whose server refuses for good (5xx) or for now (4xx)."""

    def __init__(self, permanent: bool) -> None:
        self.permanent = permanent
        self.attempts = 0

    def send(self, mail: Mail) -> None:
        self.attempts += 1
        code = 550 if self.permanent else 451
        raise SmtpError(f"recipient refused ({code})", code=code, permanent=self.permanent)


@pytest.mark.parametrize("permanent", [True, False])
def test_a_permanent_smtp_refusal_is_parked_at_once_with_its_reason(
        permanent: bool, storage: MemoryStorage, clock: ManualClock,
        settings: Settings) -> None:
    mailer = _RefusingMailer(permanent)
    service = OnboardingService(storage, mailer, settings=settings, clock=clock)
    session = to_email_step(service, provision(service))
    ok(service.submit_email(session, ADDRESS, ADDRESS))
    [message] = storage.list_messages(limit=10)
    assert message.last_error is not None and "recipient refused" in message.last_error
    if permanent:
        assert message.status is OutboxStatus.PARKED and mailer.attempts == 1
    else:
        assert message.status is OutboxStatus.PENDING and message.next_attempt_at is not None


# --------------------------------------------------------------------------- durability


class _Recording(MemoryStorage):
    """Memory storage that remembers, per commit, what it held and whether it was durable."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[tuple[str, bool]] = []

    def commit(self, changes: Changes) -> None:
        shape = "".join(letter for letter, part in (
            ("A", changes.accounts), ("T", changes.throttles), ("O", changes.outbox),
            ("U", changes.audit)) if part)
        self.commits.append((shape, changes.durable))
        super().commit(changes)


@pytest.mark.parametrize("right", [True, False])
def test_only_the_counted_attempt_skips_the_flush(right: bool) -> None:
    storage = _Recording()
    service = OnboardingService(storage, MemoryMailer(), settings=make_settings(),
                                clock=ManualClock(START))
    member = provision(service)
    storage.commits.clear()
    password = member.initial_password if right else "not the password at all"
    service.login(member.member_number, password, ip=IP)
    # The counted attempt alone may wait for the next flush; the outcome (account saved
    # with the counter cleared, or the failure confirmed on the counter with its audit
    # record) is flushed, which makes the attempt durable too.
    assert storage.commits[0] == ("T", False)
    assert storage.commits[1:] == ([("ATU", True)] if right else [("TU", True)])
