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
import contextlib
import email
import email.policy
import hashlib
import json
import logging
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import attrs
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import codec, flow, lockout, mails, normalize, texts
from .config import Settings
from .credentials import new_initial_password
from .errors import (
    BadToken,
    ConcurrentUpdate,
    InvalidInput,
    MailError,
    OnboardingError,
    SmtpError,
    UnknownAccount,
)
from .flow import (
    Accepted,
    Audit,
    Entropy,
    Env,
    Notice,
    Origin,
    Reason,
    Refused,
    SendNotice,
)
from .hashing import ReplayHasher
from .lockout import Admission
from .model import Account, Adviser, Channel, LinkPurpose, Profile, Session, Stage, Step, Throttle
from .ports import (
    AuditRecord,
    Changes,
    Clock,
    Mailer,
    Notifier,
    OutboxMessage,
    OutboxStatus,
    Random,
    RateLimiter,
    Storage,
)
from .profile import completion
from .provisioning import build_account, provisioned_audit
from .questions import SecretQuestion
from .ratelimit import Action, MemoryRateLimiter, rate_keys

log = logging.getLogger("cegema_onboarding")

_MAX_RETRIES = 8
# Refusals that the flow only gives after the right password: not a failed attempt.
_RIGHT_PASSWORD = frozenset({Reason.DISABLED, Reason.INITIAL_CREDENTIALS_EXPIRED})
# How long a relay leaves a message that inline delivery took, before retrying it itself.
_INLINE_LEASE = timedelta(minutes=5)
# How long a member action waits for its turn (attempts of others still being checked, a
# record that keeps changing) before it is answered RATE_LIMITED, "try again", instead.
# Attempts are checked in milliseconds; only a crashed request or a storm outlasts it.
_PATIENCE = 10.0
# Polling the stored attempt counter while other attempts are checked, possibly by other
# processes: the first pause and the longest, in seconds (jittered).
_FIRST_PAUSE = 0.002
_LONGEST_PAUSE = 0.05
# Stand-in account records of enumeration-safe requests (Changes.decoys), picked per
# identifier: repeated requests for one unknown identifier write one row, as they would
# for a known account, and unrelated ones do not queue on a single row's lock.
_DECOY_SLOTS = 64


@attrs.frozen
class Ok:
    """The action succeeded. Show ``step``; keep ``session`` when one is granted.

    ``notice`` is a key of :mod:`cegema_onboarding.texts` for a confirmation message.
    ``remember_token`` is set after a login with "Se souvenir de moi" or by token: store
    it in a long-lived, HttpOnly, Secure cookie, replacing the previous one.
    """

    step: Step
    session: Session | None = None
    notice: str | None = None
    remember_token: str | None = attrs.field(default=None, repr=False)


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
class RememberedDevice:
    """One remembered browser, as the member's device list shows it."""

    series_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent_hint: str | None


@attrs.frozen
class ProfileView:
    """"Mon profil et mes informations": what the page shows, with the completion meter."""

    name: str
    member_number: str
    email: str | None
    phone: str | None
    postal_address: str | None
    profile: Profile
    completion: int
    #: The remembered browsers, most recently used first (as :meth:`remembered_devices`).
    devices: tuple[RememberedDevice, ...] = ()
    #: The member's screen (as :meth:`resume`): the profile once onboarding is done.
    step: Step = Step.PROFILE
    #: The address was confirmed outside the member's session: it gets no recovery mail
    #: until the member confirms it again from here (:meth:`OnboardingService.request_email_change`
    #: with the same address, then the link opened in this session).
    email_unproven: bool = False


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
        rate_limiter: RateLimiter | None = None,
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
        self.rate_limiter: RateLimiter = rate_limiter or MemoryRateLimiter()
        self._sealer = _Sealer(settings.secret_keys)
        self._local = threading.local()
        # The stand-ins for an account in enumeration-safe paths (see _stand_in), built
        # on first use: slot number -> (account, its stored JSON).
        self._decoys: dict[int, tuple[Account, str]] = {}
        self._decoy_key = hashlib.sha256(
            b"cegema_onboarding decoy slots\0" + settings.secret_keys[0].encode()).digest()
        self._mail_domain = urlsplit(settings.base_url).hostname or "localhost"

    # ------------------------------------------------------------------ member actions

    def login(self, member_number: str, password: str, *, ip: str | None = None,
              user_agent: str | None = None, remember: bool = False) -> Result:
        """Log in with the member number and the initial or chosen password.

        Unknown member numbers, wrong passwords and malformed input all get the same
        :attr:`Reason.BAD_CREDENTIALS` after the same slow-hash work. With ``remember``
        an active member also gets :attr:`Ok.remember_token`.
        """
        origin = Origin(ip=ip, user_agent=user_agent)
        limited = self._limit(Action.LOGIN, ip)
        if limited is not None:
            return limited
        try:
            number = normalize.normalize_member_number(member_number)
        except InvalidInput:
            now = self.clock.now()
            unknown = flow.login_unknown(password if isinstance(password, str) else "",
                                         self.env, now, origin)
            # Saved like any other failed login: audited, and returned without effects.
            return self._save(None, unknown, now)
        reserved = self._reserve(lockout.attempt_key(number))
        if isinstance(reserved, Refused):
            self._commit_audit_only(Audit("login", reserved.reason.value, self.clock.now(),
                                          None, "member", ip))
            return reserved
        try:
            result, right, resolved = self._check_login(
                number, password, remember is True, origin, reserved)
        except BaseException:
            # Counted, then not checked to the end: a failure, as a crash would leave it.
            with contextlib.suppress(OnboardingError):
                self._resolve(reserved, failed=True)
            raise
        if not resolved:
            self._resolve(reserved, failed=not right)
        return result

    def _check_login(self, number: str, password: str, remember: bool, origin: Origin,
                     reserved: Throttle) -> tuple[Result, bool, bool]:
        """Check a counted login and save its outcome, retrying lost races.

        Returns the result, whether the password was right, and whether the counted
        attempt was resolved in the outcome's own commit (then the caller has nothing
        left to do). A commit that loses a race (another login added its remembered
        browser, another attempt moved the counter) reads the account again and applies
        the flow again: the same entropy, and a hasher that answers the checks it has
        already made, so a retry costs no second Argon2id computation and yields the same
        outcome on an unchanged account.
        """
        env = self._replaying()
        entropy = self._entropy()
        event = flow.Login(password, remember=remember)
        at = reserved.in_flight_at or self.clock.now()
        # The counter as reserved: resolving the attempt rides on the outcome's commit,
        # one write fewer, as long as nobody else moved the counter since.
        ride: Throttle | None = reserved
        deadline = time.monotonic() + _PATIENCE
        while True:
            now = self.clock.now()
            account = self.storage.find_by_member_number(number)
            if account is None:
                outcome: Accepted | Refused = flow.login_unknown(password, env, now, origin)
            else:
                outcome = flow.step(account, event, now, env, entropy=entropy, origin=origin)
            right = isinstance(outcome, Accepted) or outcome.reason in _RIGHT_PASSWORD
            throttles = () if ride is None else (
                (lockout.resolve(ride, failed=not right, reserved_at=at), ride.version),)
            try:
                return self._save(account, outcome, now, throttles=throttles), right, bool(
                    throttles)
            except ConcurrentUpdate:
                # Resolve apart from now on: the counter is the likely mover, and it is
                # written by every concurrent attempt.
                ride = None
            if time.monotonic() >= deadline:
                self._commit_audit_only(Audit("login", "busy", self.clock.now(), None,
                                              origin.actor, origin.ip))
                return Refused(Reason.RATE_LIMITED), right, False

    def resume(self, session: Session) -> Screen | Refused:
        """The screen a logged-in member is at: where they stopped, at any later visit."""
        account = self.storage.get(session.account_id)
        if account is None or account.session_epoch != session.epoch or account.disabled:
            return Refused(Reason.SESSION_EXPIRED)
        now = self.clock.now()
        step = flow.next_step(account, now, self.settings)
        live = flow.live_link(account, LinkPurpose.VERIFY_EMAIL)
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
        limited = self._limit(Action.LINK, ip, _account_key(session))
        if limited is not None:
            return limited
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
        limited = self._limit(Action.LINK, ip, _account_key(session))
        if limited is not None:
            return limited
        return self._apply(session, flow.ResendLink(), ip, notice="notice.link_sent")

    def change_email(self, session: Session, *, ip: str | None = None) -> Result:
        """Go back to the email step; the pending link stops working."""
        return self._apply(session, flow.ChangeEmail(), ip)

    def submit_code(self, session: Session, code: str, *, ip: str | None = None) -> Result:
        """Validate the address with the short code from the mail instead of the link."""
        limited = self._limit(Action.CODE, ip)
        if limited is not None:
            return limited
        return self._apply(session, flow.SubmitCode(code), ip)

    def open_link(self, token: str,
                  purpose: LinkPurpose = LinkPurpose.VERIFY_EMAIL) -> LinkCheck:
        """GET on a link of any purpose: say whether it is usable, without spending it."""
        if not isinstance(purpose, LinkPurpose):
            return LinkCheck(False, Reason.LINK_INVALID)
        parsed = self._parse(token, purpose)
        if parsed is None:
            return LinkCheck(False, Reason.LINK_INVALID)
        account, token_hash = parsed
        reason = flow.inspect_link(account, purpose, token_hash, self.clock.now())
        return LinkCheck(reason is None, reason)

    def reset_question(self, token: str) -> SecretQuestion | None:
        """The member's own secret question, for the form behind a live reset link.

        ``None`` for a dead or forged link, or when the member has no question: the
        question is only ever shown to whoever holds a live reset link.
        """
        parsed = self._parse(token, LinkPurpose.RESET_PASSWORD)
        if parsed is None:
            return None
        account, token_hash = parsed
        if flow.inspect_link(account, LinkPurpose.RESET_PASSWORD, token_hash,
                             self.clock.now()) is not None or account.question_id is None:
            return None
        return self.settings.questions.get(account.question_id)

    def confirm_link(self, token: str, *, ip: str | None = None,
                     session: Session | None = None) -> Result:
        """POST on a validation link: spend it and verify the address.

        Pass the browser's ``session`` when it has one. When it is the live session of the
        link's account, the result opens the password step at once. Otherwise the address
        is verified and the result is :attr:`Step.LOGIN` with no session: whoever reads a
        mistyped address can verify it, never take the account over, and the member goes
        on by logging in with the initial credentials. Such an address gets no recovery
        mail until the member confirms it from their own session
        (:attr:`ProfileView.email_unproven`).
        """
        parsed = self._parse(token, LinkPurpose.VERIFY_EMAIL)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        same = (isinstance(session, Session) and session.account_id == account.account_id
                and session.epoch == account.session_epoch)
        notice = None if same else "notice.email_verified_login"
        return self._run(account.account_id, None, flow.ConfirmLink(token_hash, same),
                         Origin(ip=ip), notice, loaded=account)[0]

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
        normalize.check_text(staff_id, "staff_id", 64)
        if postal_address is not None:
            postal_address = normalize.check_text(postal_address, "postal_address", 500,
                                                  allow_newlines=True)
        if phone is not None:
            phone = normalize.check_text(phone, "phone", 32)
        initial = new_initial_password()
        now = self.clock.now()
        account = build_account(
            account_id=uuid.UUID(bytes=self.random.token_bytes(16), version=4).hex,
            member_number=number, name=clean_name, now=now,
            initial_digest=self.env.crypto.pepper.digest(initial), email=prefill,
            postal_address=postal_address, phone=phone, lang=lang)
        audit = provisioned_audit(account, now, staff_id)
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

    # ------------------------------------------------------------------ remember me

    def login_with_token(self, token: str, *, ip: str | None = None,
                         user_agent: str | None = None) -> Result:
        """A remembered browser: log in with its token and hand back the rotated one.

        Any problem (malformed, expired, revoked, stolen) is :attr:`Reason.SESSION_EXPIRED`:
        the browser should drop the cookie and show the login form.
        """
        limited = self._limit(Action.REMEMBER, ip)
        if limited is not None:
            return limited
        claims = self.env.crypto.remember.parse(token)
        if claims is None:
            return Refused(Reason.SESSION_EXPIRED)
        result = self._apply_to(claims.account_id, None,
                                flow.RememberLogin(claims.series_id, claims.secret_hash),
                                Origin(ip=ip, user_agent=user_agent))
        if isinstance(result, Refused) and result.reason is Reason.INVALID_STEP:
            return Refused(Reason.SESSION_EXPIRED)
        return result

    def remembered_devices(self, session: Session) -> Sequence[RememberedDevice] | Refused:
        """The member's remembered browsers, most recently used first."""
        account = self._session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        return _devices(account)

    def revoke_remembered(self, session: Session, series_id: str | None = None, *,
                          ip: str | None = None) -> Result:
        """Forget one remembered browser, or every one when ``series_id`` is None."""
        return self._apply(session, flow.RevokeRemember(series_id), ip)

    # ------------------------------------------------------------------ recovery

    def forgot_password(self, member_number: str, *, ip: str | None = None,
                        user_agent: str | None = None) -> Result:
        """"Mot de passe oublié ?": queue a reset link when the member can receive one.

        The answer is the same :class:`Ok` whether or not the member exists, has an email
        or was just sent a link; the mail is only queued here (never delivered inline), so
        the request does the same work and touches the mail port the same way (not at
        all) in every case. :meth:`deliver_due` sends it.
        """
        try:
            number = normalize.normalize_member_number(member_number)
        except InvalidInput as exc:
            return Refused(Reason.INPUT_INVALID, field=exc.field)
        limited = self._limit(Action.FORGOT_PASSWORD, ip, number)
        if limited is not None:
            return limited
        origin = Origin(ip=ip, user_agent=user_agent)
        self._blind(lambda now: [(self.storage.find_by_member_number(number),
                                  flow.RequestReset())],
                    origin, "reset_requested", number)
        return Ok(Step.LOGIN, notice="notice.forgotten_password_sent")

    def forgot_identifier(self, email_: str, *, ip: str | None = None,
                          user_agent: str | None = None) -> Result:
        """"Identifiant oublié ?": mail each account at this verified address its number.

        One mail per account (a family may share an address): each greets its own member
        and names one number. Same answer, same work, no inline delivery, known or not.
        """
        try:
            key = normalize.email_key(normalize.normalize_email(email_))
        except InvalidInput:
            return Refused(Reason.EMAIL_INVALID, field="email")
        limited = self._limit(Action.FORGOT_IDENTIFIER, ip, key)
        if limited is not None:
            return limited
        origin = Origin(ip=ip, user_agent=user_agent)
        cap = self.settings.identifier_max_accounts

        def targets(now: datetime) -> list[tuple[Account | None, flow.Event]]:
            found = list(self.storage.find_by_email(key))[:cap]
            return ([(a, flow.RemindIdentifier()) for a in found]
                    or [(None, flow.RemindIdentifier())])

        self._blind(targets, origin, "identifier_reminded", key)
        return Ok(Step.LOGIN, notice="notice.forgotten_identifier_sent")

    def complete_reset(self, token: str, password: str, confirmation: str, *,
                       answer: str | None = None, ip: str | None = None,
                       user_agent: str | None = None) -> Result:
        """POST on a reset link: check the answer (by policy), set the new password.

        Every session and remembered device ends, the password-changed mail goes out
        with a "this wasn't me" link, and the member is NOT logged in: they log in next.
        Wrong answers count towards the lockout of the member number.
        """
        limited = self._limit(Action.RECOVERY, ip)
        if limited is not None:
            return limited
        parsed = self._parse(token, LinkPurpose.RESET_PASSWORD)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        event = flow.CompleteReset(token_hash, answer, password, confirmation)
        origin = Origin(ip=ip, user_agent=user_agent)
        return self._guarded(account, event, origin, "notice.password_reset_done",
                             reserve=flow.reset_checks_answer(self.settings),
                             key=lockout.reset_attempt_key(account.account_id))

    def change_password(self, session: Session, current: str, password: str,
                        confirmation: str, *, ip: str | None = None,
                        user_agent: str | None = None) -> Result:
        """A logged-in member changes their password (re-typing the current one)."""
        account = self._session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        return self._guarded(account, flow.ChangePassword(current, password, confirmation),
                             Origin(ip=ip, user_agent=user_agent), "notice.password_changed",
                             session=session)

    def confirm_not_me(self, token: str, *, ip: str | None = None,
                       user_agent: str | None = None) -> Result:
        """POST on "Ce n'était pas moi": lock, end every session, send a reset link."""
        parsed = self._parse(token, LinkPurpose.NOT_ME)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        return self._apply_to(account.account_id, None, flow.ConfirmNotMe(token_hash),
                              Origin(ip=ip, user_agent=user_agent), "notice.not_me_done")

    # ------------------------------------------------------------------ email and profile

    def request_email_change(self, session: Session, password: str, email_: str,
                             confirmation: str, *, ip: str | None = None,
                             user_agent: str | None = None) -> Result:
        """Change the address: re-authenticate; a link goes to the new one, a notice to
        the old one. The address only changes when the link is confirmed."""
        account = self._session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        if self.settings.check_deliverability and isinstance(email_, str):
            try:
                normalize.normalize_email(email_, check_deliverability=True)
            except InvalidInput:
                return Refused(Reason.EMAIL_INVALID, field="email")
        limited = self._limit(Action.LINK, ip, account.account_id)
        if limited is not None:
            return limited
        return self._guarded(account, flow.RequestEmailChange(password, email_, confirmation),
                             Origin(ip=ip, user_agent=user_agent), "notice.email_change_sent",
                             session=session)

    def confirm_email_change(self, token: str, *, ip: str | None = None,
                             session: Session | None = None) -> Result:
        """POST on the link sent to the new address: the address changes now.

        Pass the browser's ``session`` when it has one, as for :meth:`confirm_link`.
        Confirmed outside the member's live session, the new address is verified but
        gets no recovery mail (reset link, member number) until it is confirmed from the
        member's session: whoever reads a mistyped address cannot recover the account
        through it. Requesting a change to the same, unproven address is how the member
        proves it.
        """
        parsed = self._parse(token, LinkPurpose.CHANGE_EMAIL)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        same = (isinstance(session, Session) and session.account_id == account.account_id
                and session.epoch == account.session_epoch)
        return self._apply_to(account.account_id, None,
                              flow.ConfirmEmailChange(token_hash, same),
                              Origin(ip=ip), "notice.email_changed")

    def profile(self, session: Session) -> ProfileView | Refused:
        """"Mon profil et mes informations", with "Profil complété à N%"."""
        account = self._session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        return ProfileView(
            name=account.name, member_number=account.member_number, email=account.email,
            phone=account.phone, postal_address=account.postal_address,
            profile=account.profile,
            completion=completion(account, self.settings.profile_weights),
            devices=_devices(account),
            step=flow.next_step(account, self.clock.now(), self.settings),
            email_unproven=account.email_unproven,
        )

    def update_profile(self, session: Session, *, channels: Sequence[Channel] = (),
                       pets: bool | None = None, interests: Sequence[str] = (),
                       comments: str = "", source: str = "web",
                       ip: str | None = None) -> Result:
        """Save the profile form; consent changes are recorded with time and source."""
        event = flow.UpdateProfile(
            channels=tuple(channels) if isinstance(channels, list | tuple | frozenset)
            else channels,  # type: ignore[arg-type]
            pets=pets,
            interests=tuple(interests) if isinstance(interests, list | tuple)
            else interests,  # type: ignore[arg-type]
            comments=comments, source=source)
        return self._apply(session, event, ip, notice="notice.profile_saved")

    def set_adviser(self, account_id: str, adviser: Adviser | None, *,
                    actor: str = "host") -> Result:
        """Record the member's adviser or agency (host data, shown on the profile)."""
        self._require(account_id)
        return self._apply_to(account_id, None, flow.SetAdviser(adviser),
                              Origin(actor=f"host:{actor}"[:80]))

    # ------------------------------------------------------------------ more staff actions

    def unlock(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff clear the failure counters of a member number.

        A "this wasn't me" lock stays: the password may be a thief's, so it is lifted by
        a reset through the emailed link or by :meth:`reissue_credentials`.
        """
        account = self._require(account_id)
        result = self._staff(account_id, flow.StaffUnlock(staff_id), staff_id, ip)
        if isinstance(result, Ok):
            self._clear(lockout.attempt_key(account.member_number))
            self._clear(lockout.reset_attempt_key(account.account_id))
        return result

    def disable(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff disable an account; its sessions and remembered browsers end."""
        self._require(account_id)
        return self._staff(account_id, flow.StaffDisable(staff_id), staff_id, ip)

    def enable(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff enable a disabled account again."""
        self._require(account_id)
        return self._staff(account_id, flow.StaffEnable(staff_id), staff_id, ip)

    def mark_email_verified(self, account_id: str, *, staff_id: str,
                            email: str | None = None, ip: str | None = None) -> Result:
        """Staff vouch for an address (the pending one when ``email`` is None)."""
        self._require(account_id)
        return self._staff(account_id, flow.StaffVerifyEmail(staff_id, email), staff_id, ip)

    def reissue_credentials(self, account_id: str, *, staff_id: str,
                            ip: str | None = None) -> Provisioned | Refused:
        """New initial credentials, in clear this one time, for printing.

        The old ones, every link, session and remembered browser die; a member who had
        set a password continues at the password step.
        """
        account = self._require(account_id)
        result, outcome = self._run(account_id, None, flow.StaffReissue(staff_id),
                                    Origin(ip=ip, actor=f"staff:{staff_id}"))
        if isinstance(result, Refused):
            return result
        assert isinstance(outcome, Accepted) and outcome.secret is not None
        self._clear(lockout.attempt_key(account.member_number))
        return Provisioned(account_id, account.member_number, outcome.secret)

    def staff_assisted_reset(self, account_id: str, answer: str, password: str,
                             confirmation: str, *, staff_id: str,
                             ip: str | None = None) -> Result:
        """For members with no email (explicit policy): staff confirmed who is calling;
        the member gives the secret answer and a new password. Wrong answers count."""
        account = self._require(account_id)
        event = flow.StaffAssistedReset(staff_id, answer, password, confirmation)
        return self._guarded(account, event, Origin(ip=ip, actor=f"staff:{staff_id}"),
                             "notice.password_reset_done", reserve=True)

    # ------------------------------------------------------------------ delivery

    def deliver_due(self, *, limit: int = 50) -> DeliveryReport:
        """Deliver every queued message that is due. Call it from a worker or a timer."""
        now = self.clock.now()
        report = DeliveryReport()
        for message in self.storage.claim_due(now, limit=limit):
            report = self._deliver(message, report)
        return report

    def _deliver_new(self, messages: Sequence[OutboxMessage]) -> None:
        # These rows were committed already claimed (SENDING, with a lease), so no claim
        # round trip is needed; if this process dies now, the lease runs out and a relay
        # delivers them. This thread also still holds the rendered messages: hand them
        # over rather than decrypt and parse the stored payload again.
        report = DeliveryReport()
        rendered = self._rendered()
        for message in messages:
            if message.status is OutboxStatus.SENDING:
                report = self._deliver(message, report, rendered.pop(message.message_id, None))
        rendered.clear()

    def _rendered(self) -> dict[str, EmailMessage]:
        found: dict[str, EmailMessage] | None = getattr(self._local, "rendered", None)
        if found is None:
            found = self._local.rendered = {}
        return found

    def _deliver(self, message: OutboxMessage, report: DeliveryReport,
                 built: EmailMessage | None = None) -> DeliveryReport:
        try:
            if message.channel is Channel.EMAIL and built is not None:
                self.mailer.send(built)
            elif message.channel is Channel.EMAIL:
                payload = self._sealer.open(message.payload)
                parsed = email.message_from_bytes(payload, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                self.mailer.send(parsed)
            else:
                payload = self._sealer.open(message.payload)
                if self.notifier is None:
                    raise MailError(f"no notifier for the {message.channel.value} channel")
                account = self.storage.get(message.account_id)
                if account is None:
                    raise MailError("account vanished")
                data = json.loads(payload)
                self.notifier.notify(message.channel, account, message.kind, data["text"])
        except Exception as exc:
            # Whatever a port raises, a committed change must not turn into an error:
            # the message waits for a retry. Only the error's class is recorded, or an
            # SMTP error's short reason, which the adapter keeps free of secrets.
            attempts = message.attempts + 1
            error = type(exc).__name__
            if isinstance(exc, SmtpError):
                error = f"{error}: {exc.reason}"[:200]
            # A permanent refusal (5xx) will not get better with retries.
            permanent = isinstance(exc, InvalidToken) or (
                isinstance(exc, SmtpError) and exc.permanent)
            if attempts >= _MAX_RETRIES or permanent:
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
        return self._run(account_id, session, event, origin, notice)[0]

    def _run(self, account_id: str, session: Session | None, event: flow.Event,
             origin: Origin, notice: str | None = None, *, loaded: Account | None = None
             ) -> tuple[Result, Accepted | Refused | None]:
        for _ in range(5):
            # An account the caller has just read serves the first try; the version check
            # of the commit catches a change in between, and the retry reads afresh.
            account, loaded = loaded, None
            if account is None:
                account = self.storage.get(account_id) if isinstance(account_id, str) else None
            if account is None or (session is not None
                                   and account.session_epoch != session.epoch):
                return Refused(Reason.SESSION_EXPIRED), None
            now = self.clock.now()
            outcome = flow.step(account, event, now, self.env, entropy=self._entropy(),
                                origin=origin)
            try:
                return self._save(account, outcome, now, notice), outcome
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("the account kept changing; try again")

    def _changes(self, account: Account | None, outcome: Accepted | Refused,
                 now: datetime, *, inline: bool = False) -> Changes:
        """The write for an outcome; ``inline`` when its messages are delivered right after."""
        new = outcome.account
        target = new or account
        outbox: list[OutboxMessage] = []
        audit: list[AuditRecord] = []
        for effect in outcome.effects:
            if isinstance(effect, SendNotice):
                assert target is not None
                outbox.append(self._render(target, effect, now, inline=inline))
            else:
                audit.append(_record(effect))
        saves: tuple[tuple[Account, int | None], ...] = ()
        if new is not None and account is not None and new != account:
            saves = ((new, account.version),)
        return Changes(accounts=saves, outbox=tuple(outbox), audit=tuple(audit))

    def _save(self, account: Account | None, outcome: Accepted | Refused, now: datetime,
              notice: str | None = None, *, deliver: bool = True,
              throttles: tuple[tuple[Throttle, int], ...] = ()) -> Result:
        inline = self.deliver_inline and deliver
        try:
            changes = self._changes(account, outcome, now, inline=inline)
            if throttles:
                changes = attrs.evolve(changes, throttles=changes.throttles + throttles)
            if changes.accounts or changes.throttles or changes.outbox or changes.audit:
                self.storage.commit(changes)
            if changes.outbox and inline:
                self._deliver_new(changes.outbox)
        finally:
            # Rendered messages are only kept for the delivery that follows their commit.
            self._rendered().clear()
        if isinstance(outcome, Refused):
            # Bookkeeping and audit are internal: the caller only sees the reason.
            return attrs.evolve(outcome, account=None, effects=(), secret_checked=False)
        new = outcome.account
        session = Session(new.account_id, new.session_epoch) if outcome.grants_session else None
        return Ok(outcome.step, session, notice, remember_token=outcome.secret)

    def _render(self, account: Account, effect: SendNotice, now: datetime, *,
                inline: bool = False) -> OutboxMessage:
        message_uid = uuid.UUID(bytes=self.random.token_bytes(16), version=4).hex
        message_id = mails.make_message_id(message_uid, self._mail_domain)
        if effect.channel is Channel.EMAIL:
            assert effect.to is not None
            built = self._render_mail(account, effect, now, message_id)
            payload = built.as_bytes()
            if inline:
                self._rendered()[message_id] = built
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
            # Delivered right after the commit: stored already claimed, under a lease.
            status=OutboxStatus.SENDING if inline else OutboxStatus.PENDING,
            next_attempt_at=now + _INLINE_LEASE if inline else None,
        )

    def _render_mail(self, account: Account, effect: SendNotice, now: datetime,
                     message_id: str) -> EmailMessage:
        ms = self.settings.mail
        assert effect.to is not None
        if effect.notice is Notice.VALIDATION:
            assert effect.token is not None and effect.code is not None
            hours = _hours(self.settings.link_lifetime)
            return mails.validation_mail(
                ms, to=effect.to, name=account.name, address=effect.to,
                link_url=self.settings.link_url(LinkPurpose.VERIFY_EMAIL, effect.token),
                code=effect.code, valid_hours=hours, lang=account.lang, sent_at=now,
                message_id=message_id)
        if effect.notice is Notice.PASSWORD_CHANGED:
            not_me = (None if effect.token is None
                      else self.settings.link_url(LinkPurpose.NOT_ME, effect.token))
            return mails.password_changed_mail(
                ms, to=effect.to, name=account.name, ip=effect.ip,
                changed_at=effect.at, not_me_url=not_me, lang=account.lang, sent_at=now,
                message_id=message_id)
        if effect.notice is Notice.RESET:
            assert effect.token is not None
            return mails.reset_link_mail(
                ms, to=effect.to, name=account.name,
                link_url=self.settings.link_url(LinkPurpose.RESET_PASSWORD, effect.token),
                code=None, valid_hours=_hours(self.settings.reset_link_lifetime),
                lang=account.lang, sent_at=now, message_id=message_id)
        if effect.notice is Notice.IDENTIFIER:
            return mails.identifier_reminder_mail(
                ms, to=effect.to, name=account.name, member_number=account.member_number,
                lang=account.lang, sent_at=now, message_id=message_id)
        if effect.notice is Notice.EMAIL_CHANGE:
            assert effect.token is not None
            return mails.validation_mail(
                ms, to=effect.to, name=account.name, address=effect.to,
                link_url=self.settings.link_url(LinkPurpose.CHANGE_EMAIL, effect.token),
                code=None, valid_hours=_hours(self.settings.link_lifetime),
                lang=account.lang, sent_at=now, message_id=message_id)
        if effect.notice is Notice.EMAIL_CHANGE_NOTICE:
            not_me_url = (None if effect.token is None
                          else self.settings.link_url(LinkPurpose.NOT_ME, effect.token))
            return mails.email_change_notice_mail(
                ms, to=effect.to, name=account.name, new_address_hint=effect.detail or "",
                not_me_url=not_me_url, lang=account.lang, sent_at=now, message_id=message_id)
        if effect.notice is Notice.ACTIVATED:
            return mails.activation_mail(ms, to=effect.to, name=account.name, lang=account.lang,
                                         sent_at=now, message_id=message_id)
        if effect.notice is Notice.REMEMBER_THEFT:
            return mails.remember_theft_mail(ms, to=effect.to, name=account.name,
                                             lang=account.lang, sent_at=now,
                                             message_id=message_id)
        raise ValueError(f"no mail template for {effect.notice}")

    def _session_account(self, session: Session) -> Account | None:
        account = self.storage.get(session.account_id)
        if account is None or account.session_epoch != session.epoch or account.disabled:
            return None
        return account

    def _require(self, account_id: str) -> Account:
        account = self.storage.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise UnknownAccount("no account has this id")
        return account

    def _staff(self, account_id: str, event: flow.Event, staff_id: str,
               ip: str | None) -> Result:
        return self._apply_to(account_id, None, event,
                              Origin(ip=ip, actor=f"staff:{str(staff_id)[:64]}"))

    def _limit(self, action: Action, ip: str | None,
               identifier: str | None = None) -> Refused | None:
        now = self.clock.now()
        ip_ = ip if isinstance(ip, str) else None
        for key, limit in rate_keys(action, self.settings, ip=ip_, identifier=identifier):
            if not self.rate_limiter.hit(key, limit.count, limit.window, now):
                return Refused(Reason.RATE_LIMITED)
        return None

    def _guarded(self, account: Account, event: flow.Event, origin: Origin,
                 notice: str | None, *, session: Session | None = None,
                 reserve: bool = True, key: str | None = None) -> Result:
        """Apply an event that checks a password or answer, under a lockout counter.

        The counter is the member number's login counter unless ``key`` names another:
        a reset counts its wrong answers apart, so that a stranger's wrong logins cannot
        lock the member out of recovering the account.
        """
        login_key = lockout.attempt_key(account.member_number)
        key = key or login_key
        if flow.precheck(account, event, self.clock.now(), self.settings) is not None:
            # Refused before any secret is looked at: run it to record it, count nothing.
            return self._run(account.account_id, session, event, origin, notice)[0]
        reserved: Throttle | None = None
        if reserve:
            counted = self._reserve(key)
            if isinstance(counted, Refused):
                action = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
                self._commit_audit_only(Audit(action, counted.reason.value,
                                              self.clock.now(), account.account_id,
                                              origin.actor, origin.ip))
                return counted
            reserved = counted
        try:
            result, outcome = self._run(account.account_id, session, event, origin, notice)
        except BaseException:
            if reserved is not None:
                with contextlib.suppress(OnboardingError):
                    self._resolve(reserved, failed=True)
            raise
        right = isinstance(outcome, Accepted) or (isinstance(outcome, Refused)
                                                  and outcome.secret_checked)
        if reserved is not None:
            self._resolve(reserved, failed=not right)
        elif right:
            self._clear(key)
        if isinstance(outcome, Accepted) and key != login_key:
            # A completed recovery reopens the login too.
            self._clear(login_key)
        return result

    def _blind(self, targets: Callable[[datetime], list[tuple[Account | None, flow.Event]]],
               origin: Origin, action: str, identifier: str) -> None:
        """Run an enumeration-safe request: one commit, no inline delivery, known or not.

        Whatever the case (known account that gets its mail, known account that gets
        none: no address, a link sent moments ago; unknown identifier), each target
        commits the same records: one account record written, one outbox row, one audit
        record. When there is no real account change or no real mail, a stand-in
        (:meth:`_stand_in`) takes their place, made by the same code at the same cost,
        and stored where nothing reads it as a member or a mail.
        """
        try:
            self._blind_commit(targets, origin, action, identifier)
        finally:
            self._rendered().clear()

    def _blind_commit(self, targets: Callable[[datetime], list[tuple[Account | None,
                                                                      flow.Event]]],
                      origin: Origin, action: str, identifier: str) -> None:
        deadline = time.monotonic() + _PATIENCE
        while True:
            now = self.clock.now()
            accounts: list[tuple[Account, int | None]] = []
            decoys: list[Account] = []
            outbox: list[OutboxMessage] = []
            audit: list[AuditRecord] = []
            for index, (account, event) in enumerate(targets(now)):
                if account is None:
                    # A member found is decoded from the row read; nobody found, nothing
                    # to decode: decode the stand-in's record instead, the same work.
                    codec.from_data(Account, json.loads(self._decoy_slot(identifier,
                                                                         index)[1]))
                    changes = Changes(audit=(AuditRecord(
                        now, action, "unknown_account", origin.actor, None, origin.ip),))
                else:
                    outcome = flow.step(account, event, now, self.env,
                                        entropy=self._entropy(), origin=origin)
                    changes = self._changes(account, outcome, now)
                    if not changes.audit:
                        # One record per target whatever happened.
                        reason = outcome.reason.value if isinstance(outcome, Refused) else "ok"
                        changes = attrs.evolve(changes, audit=(AuditRecord(
                            now, action, reason, origin.actor, account.account_id,
                            origin.ip),))
                # What the request does not write itself, a stand-in writes in its place:
                # one account record and one outbox row per target, in every case.
                if changes.outbox:
                    # A reminder: its mail, and no account change. The stand-in's record
                    # alone (no second mail rendered: an unknown address renders one).
                    stand_in: Account | None = (None if changes.accounts
                                                else self._decoy(identifier, index))
                else:
                    stand_in, message = self._stand_in(event, now, origin, identifier, index)
                    changes = attrs.evolve(changes, outbox=(message,))
                    if changes.accounts:
                        stand_in = None
                accounts.extend(changes.accounts)
                decoys.extend(() if stand_in is None else (stand_in,))
                outbox.extend(changes.outbox)
                audit.extend(changes.audit)
            try:
                self.storage.commit(Changes(accounts=tuple(accounts), outbox=tuple(outbox),
                                            audit=tuple(audit), decoys=tuple(decoys)))
            except ConcurrentUpdate:
                if time.monotonic() < deadline:
                    continue
                # The answer is the same whether or not anything was queued: the member
                # may ask again; nothing tells a stranger this happened.
                log.warning("%s: the account kept changing; nothing was queued", action)
            return

    def _decoy(self, identifier: str, index: int = 0) -> Account:
        """The stand-in account for the ``index``-th target of requests for ``identifier``."""
        return self._decoy_slot(identifier, index)[0]

    def _decoy_slot(self, identifier: str, index: int) -> tuple[Account, str]:
        digest = hashlib.blake2b(f"{index}:{identifier}".encode(), key=self._decoy_key,
                                 digest_size=8).digest()
        slot = int.from_bytes(digest, "big") % _DECOY_SLOTS
        found = self._decoys.get(slot)
        if found is None:
            # Two threads may build one slot at once: both build the same kind of record.
            found = self._decoys[slot] = self._build_decoy(slot)
        return found

    def _build_decoy(self, slot: int) -> tuple[Account, str]:
        """A stand-in account: active, a verified address, a member's history of links.

        The flow treats it as a member it sends a mail to. Its links, those of reset
        requests on past days, give its record the size of a member's at steady state
        (``link_history`` links), so that writing and decoding it costs what a member's
        record costs. Its address is in a reserved domain no mail reaches.
        """
        now = self.clock.now()
        decoy = Account(account_id=f"decoy-{slot:02d}", member_number=f"decoy-{slot:02d}",
                        name="Adhérent", created_at=now - timedelta(days=365),
                        stage=Stage.ACTIVE, email="decoy@example.invalid",
                        email_verified_at=now - timedelta(days=365))
        history = self.settings.link_history
        for day in range(history, 0, -1):
            outcome = flow.step(decoy, flow.RequestReset(), now - timedelta(days=day),
                                self.env, entropy=self._entropy())
            if not isinstance(outcome, Accepted):
                break
            decoy = outcome.account
        data = codec.to_data(decoy)
        data.pop("version", None)
        return decoy, json.dumps(data, separators=(",", ":"))

    def _stand_in(self, event: flow.Event, now: datetime, origin: Origin, identifier: str,
                  index: int) -> tuple[Account, OutboxMessage]:
        """The records a request that sends nothing writes instead: account and mail.

        The flow runs the event on a stand-in account, which gets its mail (signed link
        and all, rendered and sealed) like a member: the same work as a real request.
        The account goes to :attr:`Changes.decoys`; the message is stored DISCARDED, a
        state no relay ever claims and no mail listing shows.
        """
        decoy = self._decoy(identifier, index)
        outcome = flow.step(decoy, event, now, self.env, entropy=self._entropy(),
                            origin=origin)
        changes = (self._changes(decoy, outcome, now) if isinstance(outcome, Accepted)
                   else Changes())
        written = changes.accounts[0][0] if changes.accounts else decoy
        if changes.outbox:
            message = changes.outbox[0]
        else:
            # Not expected (the stand-in is built to be mailed); a member action must not
            # fail for it, so the notice is rendered directly.
            notice = Notice.RESET if isinstance(event, flow.RequestReset) else Notice.IDENTIFIER
            token = self.env.crypto.signer.issue(decoy.account_id,
                                                 LinkPurpose.RESET_PASSWORD.value,
                                                 self._entropy().nonce)
            message = self._render(decoy, SendNotice(
                notice, decoy.account_id, Channel.EMAIL, now, to=decoy.email,
                token=token if notice is Notice.RESET else None, ip=origin.ip), now)
        return written, attrs.evolve(message, status=OutboxStatus.DISCARDED,
                                     next_attempt_at=None)

    def _reserve(self, key: str) -> Refused | Throttle:
        """Count an attempt in flight before checking it: the stored counter, or a refusal.

        :attr:`Reason.LOCKED` when the confirmed failures refuse it. When only attempts
        still being checked stand in the way, it waits for their outcome (polling the
        stored counter: they may be another process's), so that a right password is never
        refused because other attempts raced it; :attr:`Reason.RATE_LIMITED` ("try again")
        only if they have not ended within :data:`_PATIENCE`.
        """
        policy = self.settings.lockout
        deadline = time.monotonic() + _PATIENCE
        pause = _FIRST_PAUSE
        while True:
            current = self.storage.get_throttle(key)
            admitted = lockout.admit(current, self.clock.now(), policy)
            if admitted is Admission.LOCKED:
                return Refused(Reason.LOCKED)
            if isinstance(admitted, Throttle):
                try:
                    # Not flushed on its own: see Changes.durable.
                    self.storage.commit(Changes(throttles=((admitted, current.version),),
                                                durable=False))
                except ConcurrentUpdate:
                    # Another attempt moved the counter: read it again at once.
                    if time.monotonic() < deadline:
                        continue
                    return Refused(Reason.RATE_LIMITED)
                return attrs.evolve(admitted, version=current.version + 1)
            if time.monotonic() >= deadline:
                return Refused(Reason.RATE_LIMITED)
            # Jittered, so that the waiting attempts do not all read at the same instant.
            time.sleep(pause * (0.5 + secrets.randbelow(1024) / 2048))
            pause = min(pause * 2, _LONGEST_PAUSE)

    def _resolve(self, reserved: Throttle, *, failed: bool) -> None:
        """End an attempt counted by :meth:`_reserve`: a confirmed failure, or cleared."""
        at = reserved.in_flight_at or self.clock.now()
        deadline = time.monotonic() + _PATIENCE
        while True:
            current = self.storage.get_throttle(reserved.key)
            resolved = lockout.resolve(current, failed=failed, reserved_at=at)
            try:
                self.storage.commit(Changes(throttles=((resolved, current.version),)))
            except ConcurrentUpdate:
                if time.monotonic() < deadline:
                    continue
                # Left in flight: once its lease is over it counts as a failure.
                log.warning("an attempt counter kept changing; an attempt stays in flight")
            return

    def _clear(self, key: str) -> None:
        """Wipe a counter (staff unlock, new credentials, completed recovery)."""
        deadline = time.monotonic() + _PATIENCE
        while True:
            current = self.storage.get_throttle(key)
            if current.failures == 0 and current.in_flight == 0:
                return
            try:
                self.storage.commit(Changes(throttles=((lockout.clear_attempts(current),
                                                        current.version),)))
            except ConcurrentUpdate:
                if time.monotonic() < deadline:
                    continue
                log.warning("an attempt counter kept changing; it was not cleared")
            return

    def _replaying(self) -> Env:
        """The environment of one request that may retry: see :class:`ReplayHasher`."""
        crypto = self.env.crypto
        return attrs.evolve(self.env, crypto=attrs.evolve(
            crypto, hasher=ReplayHasher(crypto.hasher)))

    def _commit_audit_only(self, effect: Audit) -> None:
        self.storage.commit(Changes(audit=(_record(effect),)))


def _devices(account: Account) -> tuple[RememberedDevice, ...]:
    devices = [RememberedDevice(t.series_id, t.created_at, t.last_used_at, t.expires_at,
                                t.user_agent_hint) for t in account.remember]
    return tuple(sorted(devices, key=lambda d: d.last_used_at, reverse=True))


def _record(effect: Audit) -> AuditRecord:
    return AuditRecord(effect.at, effect.action, effect.outcome, effect.actor,
                       effect.account_id, effect.ip, effect.detail)


def _account_key(session: object) -> str | None:
    # Link requests are limited per account as well as per IP.
    return f"account:{session.account_id}" if isinstance(session, Session) else None


def _hours(lifetime: timedelta) -> int:
    # A mail says "valid for N hours": round up, never promise less than an hour.
    return max(1, math.ceil(lifetime.total_seconds() / 3600))


def _backoff(attempts: int) -> timedelta:
    # 30 s, 1 min, 2 min ... capped at one hour.
    return min(timedelta(seconds=30) * (1 << min(attempts - 1, 16)), timedelta(hours=1))
