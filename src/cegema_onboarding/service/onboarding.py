"""The service: one object per host, one method per member action.

A host builds one :class:`OnboardingService` from its ports and settings and calls one
method per member action; staff actions are on :attr:`OnboardingService.staff`. Each
method returns a typed result (:class:`~.results.Ok`,
:class:`~cegema_onboarding.flow.Refused`, ...) that a web layer renders; member input
never makes it raise. Each member action reads the same way: spend its rate limit
(:data:`cegema_onboarding.ratelimit.REQUESTS`), build the flow's event, run it in the
unit of work (under a lockout counter when it checks a secret).

Messages are rendered and queued in the same commit as the change that causes them, then
delivered. A mail port that fails leaves the message queued for :meth:`deliver_due`; a
crash between the commit and the delivery loses nothing, and a change that did not commit
sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from .. import flow, normalize
from ..adapters.system import SystemClock, SystemRandom
from ..config import Settings
from ..errors import InvalidInput
from ..flow import Env, Origin, Reason, Refused
from ..journey.screens import notice_channel
from ..model import Account, Channel, LinkPurpose, Session, Step
from ..ports import (
    Clock,
    HeldConnection,
    Mailer,
    Notifier,
    Observer,
    Random,
    RateLimiter,
    Storage,
)
from ..profile import completion, missing
from ..ratelimit import MemoryRateLimiter
from ._moved import StaffShims
from .decoys import Decoys
from .guards import Guards
from .outbox import Outbox
from .recovery import RecoveryActions
from .results import (
    DeliveryReport,
    LinkCheck,
    ProfileView,
    RememberedDevice,
    Result,
    Screen,
    devices_of,
    profile_view,
)
from .staff import StaffDesk
from .unit import UnitOfWork

__all__ = ["OnboardingService"]


class OnboardingService(RecoveryActions, StaffShims):
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
        self.storage = storage
        # Decided once: a runtime Protocol check costs more than a whole held() block.
        self._held = storage.held if isinstance(storage, HeldConnection) else None
        self.settings = settings
        self.env = Env.from_settings(settings)
        self.clock: Clock = clock or SystemClock()
        self.random: Random = random or SystemRandom()
        self.notifier = notifier
        self.deliver_inline = deliver_inline
        self.rate_limiter: RateLimiter = rate_limiter or MemoryRateLimiter()
        #: Queue, delivery and backoff of the messages: all a relay needs.
        self.outbox = Outbox(storage, mailer, settings=settings, clock=self.clock,
                             random=self.random, notifier=notifier)
        self._unit = UnitOfWork(storage, self.outbox, settings=settings, env=self.env,
                                clock=self.clock, random=self.random,
                                deliver_inline=deliver_inline)
        self._guards = Guards(self._unit, self.rate_limiter, settings)
        self._decoys = Decoys(self._unit, settings.secret_keys[0])
        #: The staff actions: activation queue, unlock, disable, new credentials ...
        self.staff = StaffDesk(self._unit, self._guards)

    @property
    def observer(self) -> Observer | None:
        """Told of what is committed and delivered (see :class:`Observer`), or None."""
        return self._unit.observer

    @observer.setter
    def observer(self, observer: Observer | None) -> None:
        # One observer for the member and staff actions and for the outbox's deliveries.
        self._unit.observer = observer
        self.outbox.observer = observer

    @property
    def mailer(self) -> Mailer:
        """The mail port (the outbox's): replacing it takes effect at once."""
        return self.outbox.mailer

    @mailer.setter
    def mailer(self, mailer: Mailer) -> None:
        self.outbox.mailer = mailer

    def request(self) -> AbstractContextManager[None]:
        """Around one member request: its storage calls share one database connection.

        With ``SqlStorage`` on PostgreSQL (and a ``SqlRateLimiter`` on the same engine),
        one checkout per request instead of one per call; elsewhere it does nothing. The
        Flask extension uses it around every request.
        """
        if self._held is not None:
            return self._held()
        return nullcontext()

    # ------------------------------------------------------------------ first connection

    def login(self, member_number: str, password: str, *, ip: str | None = None,
              user_agent: str | None = None, remember: bool = False) -> Result:
        """Log in with the member number and the initial or chosen password.

        Unknown member numbers, wrong passwords and malformed input all get the same
        :attr:`Reason.BAD_CREDENTIALS` after the same slow-hash work. With ``remember``
        an active member also gets :attr:`Ok.remember_token`.
        """
        origin = Origin(ip=ip, user_agent=user_agent)
        if (limited := self._guards.limit("login", ip)) is not None:
            return limited
        try:
            number = normalize.normalize_member_number(member_number)
        except InvalidInput:
            now = self.clock.now()
            unknown = flow.login_unknown(password if isinstance(password, str) else "",
                                         self.env, now, origin)
            # Saved like any other failed login: audited, and returned without effects.
            return self._unit.save(None, unknown, now)
        return self._guards.login(number, password, remember is True, origin)

    def resume(self, session: Session) -> Screen | Refused:
        """The screen a logged-in member is at: where they stopped, at any later visit."""
        account = self._unit.session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        step = flow.next_step(account, self.clock.now(), self.settings)
        live = flow.live_link(account, LinkPurpose.VERIFY_EMAIL)
        return Screen(
            step=step,
            name=account.name,
            email=account.email,
            prefill_email=account.pending_email,
            rejection=account.activation_rejection,
            link_expires_at=live.expires_at if live is not None else None,
            notice_channel=(notice_channel(account)
                            if step is Step.AWAITING_ACTIVATION else None),
        )

    def check_session(self, session: Session) -> bool:
        """Whether a session is still valid (a password change ends the others)."""
        return not isinstance(self.resume(session), Refused)

    def submit_email(self, session: Session, email_: str, confirmation: str, *,
                     ip: str | None = None) -> Result:
        """PREMIÈRE CONNEXION: send a validation link to the typed address."""
        if (limited := self._guards.limit("submit_email", ip, _account_id(session))) is not None:
            return limited
        if self.settings.check_deliverability:
            try:
                normalize.normalize_email(email_, check_deliverability=True)
            except InvalidInput:
                return Refused(Reason.EMAIL_INVALID, field="email")
        return self._unit.apply(session, flow.SubmitEmail(email_, confirmation), ip,
                                notice="notice.link_sent")

    def declare_no_email(self, session: Session, *, ip: str | None = None) -> Result:
        """"Vous n'avez pas d'adresse email ?": join the staff activation queue."""
        return self._unit.apply(session, flow.DeclareNoEmail(), ip)

    def resend_link(self, session: Session, *, ip: str | None = None) -> Result:
        """Send the validation link again; the previous one stops working."""
        if (limited := self._guards.limit("resend_link", ip, _account_id(session))) is not None:
            return limited
        return self._unit.apply(session, flow.ResendLink(), ip, notice="notice.link_sent")

    def change_email(self, session: Session, *, ip: str | None = None) -> Result:
        """Go back to the email step; the pending link stops working."""
        return self._unit.apply(session, flow.ChangeEmail(), ip)

    def submit_code(self, session: Session, code: str, *, ip: str | None = None) -> Result:
        """Validate the address with the short code from the mail instead of the link."""
        if (limited := self._guards.limit("submit_code", ip)) is not None:
            return limited
        return self._unit.apply(session, flow.SubmitCode(code), ip)

    def open_link(self, token: str,
                  purpose: LinkPurpose = LinkPurpose.VERIFY_EMAIL) -> LinkCheck:
        """GET on a link of any purpose: say whether it is usable, without spending it."""
        if not isinstance(purpose, LinkPurpose):
            return LinkCheck(False, Reason.LINK_INVALID)
        parsed = self._unit.parse(token, purpose)
        if parsed is None:
            return LinkCheck(False, Reason.LINK_INVALID)
        account, token_hash = parsed
        reason = flow.inspect_link(account, purpose, token_hash, self.clock.now())
        return LinkCheck(reason is None, reason)

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
        parsed = self._unit.parse(token, LinkPurpose.VERIFY_EMAIL)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        same = _same_session(session, account)
        notice = None if same else "notice.email_verified_login"
        return self._unit.run(account.account_id, None, flow.ConfirmLink(token_hash, same),
                              Origin(ip=ip), notice, loaded=account)[0]

    def set_password(self, session: Session, password: str, confirmation: str, *,
                     ip: str | None = None) -> Result:
        """Set the member's own password. Ends other sessions and sends the notice."""
        return self._unit.apply(session, flow.SetPassword(password, confirmation), ip,
                                notice="notice.password_changed")

    def set_secret_answer(self, session: Session, question_id: str, answer: str,
                          confirmation: str, *, ip: str | None = None) -> Result:
        """Choose the secret question and its answer."""
        return self._unit.apply(session, flow.SetSecretAnswer(question_id, answer,
                                                              confirmation), ip)

    # ------------------------------------------------------------------ remember me

    def login_with_token(self, token: str, *, ip: str | None = None,
                         user_agent: str | None = None) -> Result:
        """A remembered browser: log in with its token and hand back the rotated one.

        Any problem (malformed, expired, revoked, stolen) is :attr:`Reason.SESSION_EXPIRED`:
        the browser should drop the cookie and show the login form.
        """
        if (limited := self._guards.limit("login_with_token", ip)) is not None:
            return limited
        claims = self.env.crypto.remember.parse(token)
        if claims is None:
            return Refused(Reason.SESSION_EXPIRED)
        result = self._unit.apply_to(claims.account_id, None,
                                     flow.RememberLogin(claims.series_id, claims.secret_hash),
                                     Origin(ip=ip, user_agent=user_agent))
        if isinstance(result, Refused) and result.reason is Reason.INVALID_STEP:
            return Refused(Reason.SESSION_EXPIRED)
        return result

    def remembered_devices(self, session: Session) -> Sequence[RememberedDevice] | Refused:
        """The member's remembered browsers, most recently used first."""
        account = self._unit.session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        return devices_of(account)

    def revoke_remembered(self, session: Session, series_id: str | None = None, *,
                          ip: str | None = None) -> Result:
        """Forget one remembered browser, or every one when ``series_id`` is None."""
        return self._unit.apply(session, flow.RevokeRemember(series_id), ip)

    def change_password(self, session: Session, current: str, password: str,
                        confirmation: str, *, ip: str | None = None,
                        user_agent: str | None = None) -> Result:
        """A logged-in member changes their password (re-typing the current one)."""
        account = self._unit.session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        return self._guards.guarded(
            account, flow.ChangePassword(current, password, confirmation),
            Origin(ip=ip, user_agent=user_agent), "notice.password_changed", session=session)

    # ------------------------------------------------------------------ email and profile

    def request_email_change(self, session: Session, password: str, email_: str,
                             confirmation: str, *, ip: str | None = None,
                             user_agent: str | None = None) -> Result:
        """Change the address: re-authenticate; a link goes to the new one, a notice to
        the old one. The address only changes when the link is confirmed."""
        account = self._unit.session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        if self.settings.check_deliverability and isinstance(email_, str):
            try:
                normalize.normalize_email(email_, check_deliverability=True)
            except InvalidInput:
                return Refused(Reason.EMAIL_INVALID, field="email")
        if (limited := self._guards.limit("request_email_change", ip,
                                          account.account_id)) is not None:
            return limited
        return self._guards.guarded(
            account, flow.RequestEmailChange(password, email_, confirmation),
            Origin(ip=ip, user_agent=user_agent), "notice.email_change_sent", session=session)

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
        parsed = self._unit.parse(token, LinkPurpose.CHANGE_EMAIL)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        return self._unit.apply_to(account.account_id, None,
                                   flow.ConfirmEmailChange(token_hash,
                                                           _same_session(session, account)),
                                   Origin(ip=ip), "notice.email_changed")

    def profile(self, session: Session) -> ProfileView | Refused:
        """"Mon profil et mes informations", with "Profil complété à N%"."""
        account = self._unit.session_account(session)
        if account is None:
            return Refused(Reason.SESSION_EXPIRED)
        weights = self.settings.profile_weights
        return profile_view(account, completion(account, weights),
                            flow.next_step(account, self.clock.now(), self.settings),
                            missing(account, weights))

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
        return self._unit.apply(session, event, ip, notice="notice.profile_saved")

    # ------------------------------------------------------------------ delivery

    def deliver_due(self, *, limit: int = 50) -> DeliveryReport:
        """Deliver every queued message that is due. Call it from a worker or a timer."""
        return self.outbox.deliver_due(limit=limit)


def _account_id(session: object) -> str | None:
    # Link requests are limited per account as well as per IP.
    return session.account_id if isinstance(session, Session) else None


def _same_session(session: object, account: Account) -> bool:
    # The link is opened in the live session of its own account.
    return (isinstance(session, Session) and session.account_id == account.account_id
            and session.epoch == account.session_epoch)
