"""The imperative shell: load, call the flow, save atomically, deliver through the outbox.

A host builds one :class:`OnboardingService` from its ports and settings and calls one
method per member or staff action. Each method returns a typed result (:class:`Ok`,
:class:`~cegema_onboarding.flow.Refused`, ...) that a web layer renders; member input
never makes it raise.

Messages are rendered and queued in the same commit as the change that causes them, then
delivered. A mail port that fails leaves the message queued for :meth:`deliver_due`; a
crash between the commit and the delivery loses nothing, and a change that did not commit
sends nothing.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import attrs
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import flow, mails, normalize, texts
from .config import Settings
from .credentials import new_initial_password
from .errors import BadToken, ConcurrentUpdate, InvalidInput, MailError
from .flow import Accepted, Audit, Entropy, Env, Notice, Origin, Reason, Refused, SendNotice
from .model import Account, Channel, LinkPurpose, Session, Stage, Step
from .ports import (
    AuditRecord,
    Changes,
    Clock,
    Mailer,
    Notifier,
    OutboxMessage,
    Random,
    Storage,
)

log = logging.getLogger("cegema_onboarding")

_MAX_RETRIES = 8


@attrs.frozen
class Ok:
    """The action succeeded. Show ``step``; keep ``session`` when one is granted.

    ``notice`` is a key of :mod:`cegema_onboarding.texts` for a confirmation message.
    """

    step: Step
    session: Session | None = None
    notice: str | None = None


Result = Ok | Refused


@attrs.frozen
class Screen:
    """What the member's current screen needs: the step and its data."""

    step: Step
    name: str
    email: str | None = None
    prefill_email: str | None = None
    rejection: str | None = None
    link_expires_at: datetime | None = None


@attrs.frozen
class LinkCheck:
    """What opening a link (GET) found. Opening never spends it."""

    valid: bool
    reason: Reason | None = None


@attrs.frozen
class Provisioned:
    """A new account and its initial password, in clear this one time, for the contract."""

    account_id: str
    member_number: str
    initial_password: str = attrs.field(repr=False)


@attrs.frozen
class DeliveryReport:
    """What one delivery round did."""

    sent: int = 0
    retried: int = 0
    parked: int = 0


def describe(refused: Refused, lang: str | None = None) -> str:
    """The member-facing text of a refusal, French by default."""
    return texts.text(f"reason.{refused.reason.value}", lang, **dict(refused.params))


class _Sealer:
    """Encrypts outbox payloads: they hold live tokens until they are sent."""

    def __init__(self, keys: Sequence[str]) -> None:
        fernets = []
        for key in keys:
            raw = HKDF(hashes.SHA256(), 32, salt=None,
                       info=b"cegema_onboarding outbox").derive(key.encode())
            fernets.append(Fernet(base64.urlsafe_b64encode(raw)))
        self._fernet = MultiFernet(fernets)

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, data: bytes) -> bytes:
        return self._fernet.decrypt(data)


class OnboardingService:
    """One object per host: the ports, the settings, and a method per action."""

    def __init__(
        self,
        storage: Storage,
        mailer: Mailer,
        *,
        settings: Settings,
        clock: Clock | None = None,
        random: Random | None = None,
        notifier: Notifier | None = None,
        deliver_inline: bool = True,
    ) -> None:
        from .adapters.memory import SystemClock, SystemRandom

        self.storage = storage
        self.mailer = mailer
        self.settings = settings
        self.env = Env.from_settings(settings)
        self.clock: Clock = clock or SystemClock()
        self.random: Random = random or SystemRandom()
        self.notifier = notifier
        self.deliver_inline = deliver_inline
        self._sealer = _Sealer(settings.secret_keys)
        self._mail_domain = urlsplit(settings.base_url).hostname or "localhost"

    # ------------------------------------------------------------------ member actions

    def login(self, member_number: str, password: str, *, ip: str | None = None,
              user_agent: str | None = None) -> Result:
        """Log in with the member number and the initial or chosen password.

        Unknown member numbers, wrong passwords and malformed input all get the same
        :attr:`Reason.BAD_CREDENTIALS` after the same slow-hash work.
        """
        origin = Origin(ip=ip, user_agent=user_agent)
        try:
            number = normalize.normalize_member_number(member_number)
        except InvalidInput:
            return flow.login_unknown(password if isinstance(password, str) else "",
                                      self.env, self.clock.now(), origin)
        key = f"login:{number}"
        reserved = self._reserve(key)
        if isinstance(reserved, Refused):
            self._commit_audit_only(Audit("login", "locked", self.clock.now(), None,
                                          "member", ip))
            return reserved
        for _ in range(3):
            now = self.clock.now()
            account = self.storage.find_by_member_number(number)
            if account is None:
                outcome: Accepted | Refused = flow.login_unknown(password, self.env, now, origin)
            else:
                outcome = flow.step(account, flow.Login(password), now, self.env,
                                    entropy=self._entropy(), origin=origin)
            try:
                result = self._save(account, outcome, now)
            except ConcurrentUpdate:
                continue
            if isinstance(outcome, Accepted):
                self._clear(key)
            return result
        raise ConcurrentUpdate("the account kept changing during login")

    def resume(self, session: Session) -> Screen | Refused:
        """The screen a logged-in member is at: where they stopped, at any later visit."""
        account = self.storage.get(session.account_id)
        if account is None or account.session_epoch != session.epoch or account.disabled:
            return Refused(Reason.SESSION_EXPIRED)
        now = self.clock.now()
        step = flow.next_step(account, now, self.settings)
        live = flow._live_link(account, LinkPurpose.VERIFY_EMAIL)
        return Screen(
            step=step,
            name=account.name,
            email=account.email,
            prefill_email=account.pending_email,
            rejection=account.activation_rejection,
            link_expires_at=live.expires_at if live is not None else None,
        )

    def check_session(self, session: Session) -> bool:
        """Whether a session is still valid (a password change ends the others)."""
        return not isinstance(self.resume(session), Refused)

    def submit_email(self, session: Session, email_: str, confirmation: str, *,
                     ip: str | None = None) -> Result:
        """PREMIÈRE CONNEXION: send a validation link to the typed address."""
        if self.settings.check_deliverability:
            try:
                normalize.normalize_email(email_, check_deliverability=True)
            except InvalidInput:
                return Refused(Reason.EMAIL_INVALID, field="email")
        return self._apply(session, flow.SubmitEmail(email_, confirmation), ip,
                           notice="notice.link_sent")

    def declare_no_email(self, session: Session, *, ip: str | None = None) -> Result:
        """"Vous n'avez pas d'adresse email ?": join the staff activation queue."""
        return self._apply(session, flow.DeclareNoEmail(), ip)

    def resend_link(self, session: Session, *, ip: str | None = None) -> Result:
        """Send the validation link again; the previous one stops working."""
        return self._apply(session, flow.ResendLink(), ip, notice="notice.link_sent")

    def change_email(self, session: Session, *, ip: str | None = None) -> Result:
        """Go back to the email step; the pending link stops working."""
        return self._apply(session, flow.ChangeEmail(), ip)

    def submit_code(self, session: Session, code: str, *, ip: str | None = None) -> Result:
        """Validate the address with the short code from the mail instead of the link."""
        return self._apply(session, flow.SubmitCode(code), ip)

    def open_link(self, token: str) -> LinkCheck:
        """GET on a validation link: say whether it is usable, without spending it."""
        parsed = self._parse(token, LinkPurpose.VERIFY_EMAIL)
        if parsed is None:
            return LinkCheck(False, Reason.LINK_INVALID)
        account, token_hash = parsed
        reason = flow.inspect_link(account, LinkPurpose.VERIFY_EMAIL, token_hash,
                                   self.clock.now())
        return LinkCheck(reason is None, reason)

    def confirm_link(self, token: str, *, ip: str | None = None) -> Result:
        """POST on a validation link: spend it, verify the address, open the password step."""
        parsed = self._parse(token, LinkPurpose.VERIFY_EMAIL)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        return self._apply_to(account.account_id, None, flow.ConfirmLink(token_hash),
                              Origin(ip=ip))

    def set_password(self, session: Session, password: str, confirmation: str, *,
                     ip: str | None = None) -> Result:
        """Set the member's own password. Ends other sessions and sends the notice."""
        return self._apply(session, flow.SetPassword(password, confirmation), ip,
                           notice="notice.password_changed")

    def set_secret_answer(self, session: Session, question_id: str, answer: str,
                          confirmation: str, *, ip: str | None = None) -> Result:
        """Choose the secret question and its answer."""
        return self._apply(session, flow.SetSecretAnswer(question_id, answer, confirmation), ip)

    # ------------------------------------------------------------------ staff actions

    def provision(self, member_number: str, name: str, *, email: str | None = None,
                  postal_address: str | None = None, phone: str | None = None,
                  lang: str = "fr", staff_id: str = "system") -> Provisioned:
        """Create one account and its initial password, to print on the contract.

        Raises :class:`~cegema_onboarding.errors.InvalidInput` for bad data and
        :class:`~cegema_onboarding.errors.DuplicateAccount` for a known member number.
        """
        number = normalize.normalize_member_number(member_number)
        clean_name = normalize.normalize_name(name)
        prefill = normalize.normalize_email(email) if email else None
        initial = new_initial_password()
        now = self.clock.now()
        account = Account(
            account_id=uuid.UUID(bytes=self.random.token_bytes(16), version=4).hex,
            member_number=number,
            name=clean_name,
            created_at=now,
            lang=texts.resolve_lang(lang),
            pending_email=prefill,
            initial_digest=self.env.crypto.pepper.digest(initial),
            initial_issued_at=now,
            postal_address=postal_address,
            phone=phone,
        )
        audit = AuditRecord(now, "provisioned", "ok", f"staff:{staff_id}", account.account_id)
        self.storage.commit(Changes(accounts=((account, None),), audit=(audit,)))
        return Provisioned(account.account_id, number, initial)

    def activation_queue(self, *, limit: int = 100, offset: int = 0) -> Sequence[Account]:
        """Members who asked to be activated without an email address, oldest first."""
        return self.storage.list_by_stage(Stage.AWAITING_ACTIVATION, limit=limit, offset=offset)

    def activate(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff activate a no-email member: they continue at the password step."""
        return self._apply_to(account_id, None, flow.StaffActivate(staff_id),
                              Origin(ip=ip, actor=f"staff:{staff_id}"))

    def reject(self, account_id: str, reason: str, *, staff_id: str,
               ip: str | None = None) -> Result:
        """Staff turn down a no-email request; the member sees ``reason`` at the email step."""
        return self._apply_to(account_id, None, flow.StaffReject(staff_id, reason),
                              Origin(ip=ip, actor=f"staff:{staff_id}"))

    # ------------------------------------------------------------------ delivery

    def deliver_due(self, *, limit: int = 50) -> DeliveryReport:
        """Deliver every queued message that is due. Call it from a worker or a timer."""
        now = self.clock.now()
        report = DeliveryReport()
        for message in self.storage.claim_due(now, limit=limit):
            report = self._deliver(message, report)
        return report

    def _deliver_new(self, ids: Sequence[str]) -> None:
        now = self.clock.now()
        report = DeliveryReport()
        for message_id in ids:
            message = self.storage.claim(message_id, now)
            if message is not None:
                report = self._deliver(message, report)

    def _deliver(self, message: OutboxMessage, report: DeliveryReport) -> DeliveryReport:
        try:
            payload = self._sealer.open(message.payload)
            if message.channel is Channel.EMAIL:
                parsed = email.message_from_bytes(payload, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                self.mailer.send(parsed)
            else:
                if self.notifier is None:
                    raise MailError(f"no notifier for the {message.channel.value} channel")
                account = self.storage.get(message.account_id)
                if account is None:
                    raise MailError("account vanished")
                data = json.loads(payload)
                self.notifier.notify(message.channel, account, message.kind, data["text"])
        except (MailError, OSError, InvalidToken, ValueError) as exc:
            attempts = message.attempts + 1
            error = type(exc).__name__
            if attempts >= _MAX_RETRIES or isinstance(exc, InvalidToken):
                self.storage.mark_failed(message.message_id, error, None)
                log.warning("outbox message %s parked after %d attempts (%s)",
                            message.message_id, attempts, error)
                return attrs.evolve(report, parked=report.parked + 1)
            retry_at = self.clock.now() + _backoff(attempts)
            self.storage.mark_failed(message.message_id, error, retry_at)
            log.info("outbox message %s will be retried (%s)", message.message_id, error)
            return attrs.evolve(report, retried=report.retried + 1)
        self.storage.mark_sent(message.message_id, self.clock.now())
        return attrs.evolve(report, sent=report.sent + 1)

    # ------------------------------------------------------------------ internals

    def _entropy(self) -> Entropy:
        return Entropy.draw(self.random.token_bytes)

    def _parse(self, token: str, purpose: LinkPurpose) -> tuple[Account, str] | None:
        try:
            claims = self.env.crypto.signer.parse(token, purpose.value)
        except BadToken:
            return None
        account = self.storage.get(claims.account_id)
        if account is None:
            return None
        return account, claims.nonce_hash

    def _apply(self, session: Session, event: flow.Event, ip: str | None,
               notice: str | None = None) -> Result:
        return self._apply_to(session.account_id, session, event, Origin(ip=ip), notice)

    def _apply_to(self, account_id: str, session: Session | None, event: flow.Event,
                  origin: Origin, notice: str | None = None) -> Result:
        for _ in range(5):
            account = self.storage.get(account_id)
            if account is None or (session is not None
                                   and account.session_epoch != session.epoch):
                return Refused(Reason.SESSION_EXPIRED)
            now = self.clock.now()
            outcome = flow.step(account, event, now, self.env, entropy=self._entropy(),
                                origin=origin)
            try:
                return self._save(account, outcome, now, notice)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("the account kept changing; try again")

    def _save(self, account: Account | None, outcome: Accepted | Refused, now: datetime,
              notice: str | None = None) -> Result:
        if isinstance(outcome, Accepted):
            new: Account | None = outcome.account
        else:
            new = outcome.account
        target = new or account
        outbox: list[OutboxMessage] = []
        audit: list[AuditRecord] = []
        for effect in outcome.effects:
            if isinstance(effect, SendNotice):
                assert target is not None
                outbox.append(self._render(target, effect, now))
            else:
                audit.append(AuditRecord(effect.at, effect.action, effect.outcome, effect.actor,
                                         effect.account_id, effect.ip, effect.detail))
        saves: tuple[tuple[Account, int | None], ...] = ()
        if new is not None and account is not None and new != account:
            saves = ((new, account.version),)
        if saves or outbox or audit:
            self.storage.commit(Changes(accounts=saves, outbox=tuple(outbox), audit=tuple(audit)))
        if outbox and self.deliver_inline:
            self._deliver_new([m.message_id for m in outbox])
        if isinstance(outcome, Refused):
            # Bookkeeping and audit are internal: the caller only sees the reason.
            return attrs.evolve(outcome, account=None, effects=())
        assert new is not None
        session = Session(new.account_id, new.session_epoch) if outcome.grants_session else None
        return Ok(outcome.step, session, notice)

    def _render(self, account: Account, effect: SendNotice, now: datetime) -> OutboxMessage:
        message_uid = uuid.UUID(bytes=self.random.token_bytes(16), version=4).hex
        message_id = mails.make_message_id(message_uid, self._mail_domain)
        if effect.channel is Channel.EMAIL:
            assert effect.to is not None
            payload = self._render_mail(account, effect, now, message_id).as_bytes()
        else:
            text = texts.text(f"offline.{effect.notice.value}", account.lang,
                              name=account.name, brand=self.settings.mail.brand,
                              detail=effect.detail or "")
            payload = json.dumps({"text": text}).encode()
        return OutboxMessage(
            message_id=message_id,
            account_id=account.account_id,
            channel=effect.channel,
            kind=effect.notice.value,
            created_at=now,
            payload=self._sealer.seal(payload),
            recipient=effect.to,
        )

    def _render_mail(self, account: Account, effect: SendNotice, now: datetime,
                     message_id: str) -> EmailMessage:
        ms = self.settings.mail
        assert effect.to is not None
        if effect.notice is Notice.VALIDATION:
            assert effect.token is not None and effect.code is not None
            hours = int(self.settings.link_lifetime.total_seconds() // 3600)
            return mails.validation_mail(
                ms, to=effect.to, name=account.name, address=effect.to,
                link_url=self.settings.link_url(LinkPurpose.VERIFY_EMAIL, effect.token),
                code=effect.code, valid_hours=hours, lang=account.lang, sent_at=now,
                message_id=message_id)
        if effect.notice is Notice.PASSWORD_CHANGED:
            return mails.password_changed_mail(
                ms, to=effect.to, name=account.name, ip=effect.ip or "inconnue",
                changed_at=effect.at, not_me_url=None, lang=account.lang, sent_at=now,
                message_id=message_id)
        if effect.notice is Notice.ACTIVATED:
            return mails.activation_mail(ms, to=effect.to, name=account.name, lang=account.lang,
                                         sent_at=now, message_id=message_id)
        raise ValueError(f"no mail template for {effect.notice}")

    def _reserve(self, key: str) -> Refused | None:
        for _ in range(200):
            current = self.storage.get_throttle(key)
            reserved = flow.reserve_attempt(current, self.clock.now(), self.settings.lockout)
            if isinstance(reserved, Refused):
                return reserved
            try:
                self.storage.commit(Changes(throttles=((reserved, current.version),)))
            except ConcurrentUpdate:
                continue
            return None
        raise ConcurrentUpdate("the attempt counter kept changing")

    def _clear(self, key: str) -> None:
        for _ in range(200):
            current = self.storage.get_throttle(key)
            if current.failures == 0:
                return
            try:
                self.storage.commit(Changes(throttles=((flow.clear_attempts(current),
                                                        current.version),)))
            except ConcurrentUpdate:
                continue
            return

    def _commit_audit_only(self, effect: Audit) -> None:
        self.storage.commit(Changes(audit=(AuditRecord(
            effect.at, effect.action, effect.outcome, effect.actor, effect.account_id,
            effect.ip, effect.detail),)))


def _backoff(attempts: int) -> timedelta:
    # 30 s, 1 min, 2 min ... capped at one hour.
    return min(timedelta(seconds=30) * (1 << min(attempts - 1, 16)), timedelta(hours=1))
