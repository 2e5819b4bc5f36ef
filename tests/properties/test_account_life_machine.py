"""A hypothesis state machine over the account's whole life after the first connection.

Every member starts onboarded through the service (active, verified email, secret answer),
plus one member without email activated by staff. Rules then interleave logins (with and
without "Se souvenir de moi"), remembered-browser logins (current, stolen and revoked
tokens), forgotten password and identifier (known and unknown), resets with right and wrong
answers and dead links, password and email changes, "Ce n'était pas moi", staff unlock,
disable, enable, re-issue and assisted reset, device revocation, and clock jumps past the
1 h reset link, the 7 day "not me" link and the 30 day remember-me lifetimes. A small model
predicts each result; after every rule these invariants are checked:

1. **A member can always get back in by a legitimate path.** Checked on the pure flow
   (``flow.step`` on the stored account, nothing committed). Staff re-issue (after enable
   when disabled) must be accepted and its new initial password must open a session.
   Self-service paths must be open exactly when the model says so: the current password
   (or re-issued initial password) opens a session; a forgot-password request a minute
   later issues a link to the verified address whose completion (with the answer) is
   accepted and whose new password opens a session. When neither is open, the member must
   be disabled, or have the login blocked (counter at the hard limit, "not me" lock,
   expired initial password) and recovery blocked too (reset counter at the hard limit,
   no email, re-issued credentials not yet replaced): staff is then the way back.
2. **No path gives access without the required proofs.** Every call goes through one
   wrapper that knows which proof the rule presented; an ``Ok`` with a session (or a
   remember-me token) from any other call, or with a proof the model says is not genuine,
   fails.
3. **Every password change produces exactly one notification.** Password-changed mails
   (by subject) and post notices per member equal the model's count of successful
   password changes, exactly.
4. **Revoked tokens never work again.** Rules replay dead tokens and links; the invariant
   also checks a bounded sample of every dead link (GET) and dead remember-me token (pure
   flow) the model knows.

Also: nothing is stored in clear (accounts, audit, outbox payloads are scanned for every
secret used). ``AccountLifeLinkOnly`` runs the same machine with secret questions off
(recovery by the link alone). Shrunk failures and product bugs are pinned in
``tests/regressions/test_pinned_account_life.py``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cegema_onboarding import codec, flow, lockout
from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.config import LockoutPolicy, Settings
from cegema_onboarding.flow import Accepted, Entropy, Reason, Refused
from cegema_onboarding.model import Account, LinkPurpose, Session, Stage, Step
from cegema_onboarding.ports import OutboxStatus
from cegema_onboarding.ratelimit import Limit, RateLimits
from cegema_onboarding.service import Ok, OnboardingService
from cegema_onboarding.tokens import nonce_hash

from ..conftest import START, make_settings
from .test_journey_machine import CountingRandom, FlakyMailer, note, tamper, token_nonce

LIVE, USED, SUPERSEDED, REVOKED = "live", "used", "superseded", "revoked"
PASSWORD_SUBJECT = "CEGEMA : Votre mot de passe a été changé"
HARD_LIMIT = 6
MAX_DEVICES = 3
_BIG = Limit(1_000_000, timedelta(minutes=1))
NAMES = ("Marie Dupont", "Jean Lefèvre", "Aïcha Benali")
ANSWERS = ("Zénobie Quartz", "Ophélie Kerbrat", "Ursule Vandamme")
ADDRESSES = ("marie.dupont@example.com", "jean.lefevre@example.net",
             "famille.benali@example.org", "boite.neuve@example.com",
             "autre.boite@example.org")
_TOKEN = re.compile(r"token=([A-Za-z0-9_.\-]+)")


@attrs.define
class LinkM:
    """One emailed link (reset, email change, "not me") the model knows of."""

    purpose: LinkPurpose
    issued_at: datetime
    message_id: str
    address: str | None = None
    status: str = LIVE
    token: str | None = None


@attrs.define
class SeriesM:
    """One remembered browser: every token it was handed, the newest last."""

    series_id: str
    tokens: list[str]
    expires_at: datetime
    last_used_at: datetime
    alive: bool = True


@attrs.define
class MemberM:
    """What the model expects of one member."""

    key: int
    account_id: str
    number: str
    answer: str
    email: str | None
    password: str | None
    initial: str | None = None
    initial_at: datetime | None = None
    stage: Stage = Stage.ACTIVE
    epoch: int = 0
    disabled: bool = False
    hard_locked: bool = False
    session: Session | None = None
    old_sessions: list[Session] = attrs.Factory(list)
    password_changes: int = 0
    login_failures: int = 0
    reset_failures: int = 0
    links: list[LinkM] = attrs.Factory(list)
    series: list[SeriesM] = attrs.Factory(list)
    #: The address was confirmed outside the member's session (the machine confirms
    #: changes of address with no session): it gets no recovery mail.
    unproven: bool = False
    email_changed_at: datetime | None = None

    @property
    def recovery_email(self) -> str | None:
        return None if self.unproven else self.email

    def live(self, purpose: LinkPurpose, address: str | None = None) -> LinkM | None:
        for link in reversed(self.links):
            if link.purpose is purpose and link.status == LIVE and (
                    address is None or link.address == address):
                return link
        return None

    def retire(self, purpose: LinkPurpose | None, status: str) -> None:
        for link in self.links:
            if link.status == LIVE and (purpose is None or link.purpose is purpose):
                link.status = status


class AccountLifeMachine(RuleBasedStateMachine):
    """The account's life after onboarding; a model predicts every result."""

    #: Secret questions on: recovery is link and answer, plus staff-assisted recovery.
    QUESTIONS = True

    def __init__(self) -> None:
        super().__init__()
        # Rate limits and lockout delays have their own tests; here they would hide the
        # rules. free_attempts == hard_limit: no delays, a hard lock at the sixth failure.
        self.settings: Settings = make_settings(
            secret_questions=self.QUESTIONS,
            staff_assisted_recovery=self.QUESTIONS,
            lockout=LockoutPolicy(free_attempts=HARD_LIMIT, hard_limit=HARD_LIMIT),
            remember_max_devices=MAX_DEVICES,
            rate_limits=RateLimits(_BIG, _BIG, _BIG, _BIG, _BIG, _BIG, _BIG, _BIG))
        self.clock = ManualClock(START)
        self.storage = MemoryStorage()
        self.mailer = FlakyMailer()
        # Under the service's parking limit (8 attempts): every message must go out.
        self.failure_budget = 6
        self.notifier = MemoryNotifier()
        self.random = CountingRandom(b"account-life")
        self.service = OnboardingService(self.storage, self.mailer, settings=self.settings,
                                         clock=self.clock, random=self.random,
                                         notifier=self.notifier, deliver_inline=True)
        self.model: list[MemberM] = []
        self.by_message: dict[str, LinkM] = {}
        self.seen_mails = 0
        self.secrets: set[str] = set()
        self.password_seq = 0
        self.question = next(iter(self.settings.questions)).id

    # ------------------------------------------------------------------ helpers

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def _account(self, m: MemberM) -> Account:
        account = self.storage.get(m.account_id)
        assert account is not None
        return account

    def _new_password(self) -> str:
        self.password_seq += 1
        password = f"Tournesol violet au jardin {self.password_seq:03d}"
        self.secrets.add(password)
        return password

    def _outbox(self) -> dict[str, tuple[str, str]]:
        return {msg.message_id: (msg.account_id, msg.kind)
                for msg in self.storage.list_messages(limit=100_000)}

    def _queued(self, before: dict[str, tuple[str, str]], m: MemberM, kind: str) -> list[str]:
        return [mid for mid, (acc, k) in self._outbox().items()
                if mid not in before and acc == m.account_id and k == kind]

    def _collect_mail(self) -> None:
        """Read newly delivered mail: the member now holds each link's token."""
        for message in self.mailer.sent[self.seen_mails:]:
            link = self.by_message.get(str(message["Message-ID"]))
            if link is None:
                continue
            match = _TOKEN.search(text_part(message))
            assert match is not None, "no link in the mail"
            link.token = match.group(1)
            self.secrets.update({link.token, token_nonce(link.token)})
            if link.address is not None:
                assert link.address in str(message["To"]).casefold()
        self.seen_mails = len(self.mailer.sent)

    def _track(self, m: MemberM, mid: str, purpose: LinkPurpose, address: str | None) -> LinkM:
        link = LinkM(purpose, self.now, mid, address)
        m.links.append(link)
        self.by_message[mid] = link
        return link

    def _password_changed(self, m: MemberM, before: dict[str, tuple[str, str]],
                          password: str | None) -> None:
        """What every password change does, in the model."""
        m.password = password
        m.initial = None
        m.password_changes += 1
        m.epoch += 1
        m.hard_locked = False
        m.retire(LinkPurpose.RESET_PASSWORD, REVOKED)
        m.retire(LinkPurpose.CHANGE_EMAIL, REVOKED)
        for s in m.series:
            s.alive = False
        notices = self._queued(before, m, "password_changed")
        assert len(notices) == 1, f"one password change, {len(notices)} notices"
        if m.email is not None:
            old = m.live(LinkPurpose.NOT_ME, m.email)
            if old is not None:
                old.status = SUPERSEDED
            self._track(m, notices[0], LinkPurpose.NOT_ME, m.email)

    def _end_sessions(self, m: MemberM) -> None:
        m.epoch += 1

    def _grant(self, m: MemberM, session: Session) -> None:
        assert session.account_id == m.account_id
        assert session.epoch == m.epoch, (session.epoch, m.epoch)
        if m.session is not None:
            m.old_sessions = [*m.old_sessions, m.session][-4:]
        m.session = session

    def _call(self, proof: str | None, fn: Callable[..., object], *args: object,
              **kwargs: object) -> object:
        """Every service call: only a genuine proof may yield a session or a token.

        ``proof`` names what the caller presented and the model judged genuine:
        "password", "initial", "remember" or "own_link"; None for anything else.
        """
        result = fn(*args, **kwargs)
        if isinstance(result, Ok):
            note(f"ok: {fn.__name__}")
            if result.session is not None:
                assert proof in ("password", "initial", "remember", "own_link"), (
                    f"{fn.__name__} gave a session without a proof")
            if result.remember_token is not None:
                assert proof in ("password", "remember")
                self.secrets.add(result.remember_token)
        elif isinstance(result, Refused):
            note(f"refused: {fn.__name__}: {result.reason.value}")
        return result

    @staticmethod
    def _refused(result: object, *reasons: Reason) -> None:
        assert isinstance(result, Refused), f"expected a refusal {reasons}, got {result!r}"
        assert not reasons or result.reason in reasons, (result.reason, reasons)

    @staticmethod
    def _ok(result: object, step: Step | None = None, *, session: bool = False) -> Ok:
        assert isinstance(result, Ok), f"expected Ok, got {result!r}"
        assert step is None or result.step is step, (result.step, step)
        assert (result.session is not None) is session, result
        return result

    def _live_session(self, m: MemberM) -> bool:
        return (m.session is not None and m.session.epoch == m.epoch and not m.disabled)

    # ------------------------------------------------------------------ onboarding

    def _onboard(self, key: int, email: str | None) -> MemberM:
        number = f"CG{key + 1:07d}"
        provisioned = self.service.staff.provision(number, NAMES[key])
        password = self._new_password()
        m = MemberM(key, provisioned.account_id, number, ANSWERS[key], email, password)
        self.secrets.update({provisioned.initial_password, ANSWERS[key]})
        login = self.service.login(number, provisioned.initial_password)
        assert isinstance(login, Ok) and login.session is not None
        session = login.session
        if email is not None:
            sent = len(self.mailer.sent)
            self._ok(self.service.submit_email(session, email, email))
            token = _TOKEN.search(text_part(self.mailer.sent[sent]))
            assert token is not None
            self.secrets.add(token.group(1))
            ok = self._ok(self.service.confirm_link(token.group(1), session=session),
                          Step.PASSWORD, session=True)
            assert ok.session is not None
            session = ok.session
        else:
            self._ok(self.service.declare_no_email(session))
            self._ok(self.service.staff.activate(m.account_id, staff_id="agent-7"), Step.PASSWORD)
        before = self._outbox()
        ok = self._ok(self.service.set_password(session, password, password),
                      Step.QUESTION if self.QUESTIONS else Step.PROFILE, session=True)
        self._password_changed(m, before, password)
        assert ok.session is not None
        if self.QUESTIONS:
            self._ok(self.service.set_secret_answer(ok.session, self.question, m.answer,
                                                    m.answer))
        m.epoch = ok.session.epoch
        self._grant(m, ok.session)
        self.model.append(m)
        self._collect_mail()
        return m

    @initialize(no_email=st.booleans(), second=st.booleans())
    def onboard(self, no_email: bool, second: bool) -> None:
        self._onboard(0, ADDRESSES[0])
        if second:
            self._onboard(1, ADDRESSES[1])
        if no_email:
            self._onboard(2, None)

    def _pick(self, i: int) -> MemberM:
        return self.model[i % len(self.model)]

    # ------------------------------------------------------------------ login

    def _initial_expired(self, m: MemberM) -> bool:
        lifetime = self.settings.initial_password_lifetime
        return (lifetime is not None and m.initial_at is not None
                and self.now > m.initial_at + lifetime)

    def _credential(self, m: MemberM) -> tuple[str | None, str]:
        if m.stage is Stage.PASSWORD_REQUIRED:
            return m.initial, "initial"
        return m.password, "password"

    @rule(i=st.integers(0, 2), right=st.booleans(), remember=st.booleans())
    def login(self, i: int, right: bool, remember: bool) -> None:
        m = self._pick(i)
        credential, kind = self._credential(m)
        assert credential is not None
        typed = credential if right else "Pas le bon mot de passe 999"
        locked = m.login_failures >= HARD_LIMIT
        expired = kind == "initial" and self._initial_expired(m)
        genuine = right and not m.hard_locked and not locked and not expired
        result = self._call(kind if genuine else None, self.service.login, m.number, typed,
                            remember=remember)
        if locked:
            self._refused(result, Reason.LOCKED)
            return
        m.login_failures += 1
        if m.hard_locked or not right:
            self._refused(result, Reason.BAD_CREDENTIALS)
        elif m.disabled:
            # The right password: not a failed attempt, even though the account is closed.
            self._refused(result, Reason.DISABLED)
            m.login_failures = 0
        elif expired:
            self._refused(result, Reason.INITIAL_CREDENTIALS_EXPIRED)
            m.login_failures = 0
        else:
            step = Step.PASSWORD if kind == "initial" else Step.PROFILE
            ok = self._ok(result, step, session=True)
            assert ok.session is not None
            self._grant(m, ok.session)
            m.login_failures = 0
            if remember and m.stage is Stage.ACTIVE:
                assert ok.remember_token is not None
                claims = self.service.env.crypto.remember.parse(ok.remember_token)
                assert claims is not None
                new = SeriesM(claims.series_id, [ok.remember_token],
                              self.now + self.settings.remember_lifetime, self.now)
                # The least recently used devices beyond the cap are forgotten.
                alive = sorted((s for s in m.series if self._series_alive(m, s)),
                               key=lambda s: s.last_used_at)
                kept = [*alive, new][-MAX_DEVICES:]
                for s in alive:
                    if s not in kept:
                        note("remembered device dropped by the cap")
                        s.alive = False
                m.series = [*(s for s in m.series if not s.alive), *kept]
            else:
                assert ok.remember_token is None

    @rule(i=st.integers(0, 2))
    def hammer_login(self, i: int) -> None:
        """Wrong passwords up to the hard limit and one more."""
        for _ in range(HARD_LIMIT + 1 - self._pick(i).login_failures):
            self.login(i, False, False)

    # ------------------------------------------------------------------ remember me

    def _series_alive(self, m: MemberM, s: SeriesM) -> bool:
        if s.alive and self.now > s.expires_at:
            s.alive = False
        return s.alive

    @rule(i=st.integers(0, 2), pick=st.integers(0, 20),
          which=st.sampled_from(("current", "current", "stolen", "dead", "forged")))
    def login_with_token(self, i: int, pick: int, which: str) -> None:
        m = self._pick(i)
        if which in ("dead", "forged"):
            dead = [t for s in m.series if not self._series_alive(m, s) for t in s.tokens]
            if which == "forged":
                dead = [tamper(t) for s in m.series for t in s.tokens]
            if not dead:
                return
            epoch = m.epoch
            result = self._call(None, self.service.login_with_token, dead[pick % len(dead)])
            self._refused(result)
            assert self._account(m).session_epoch == epoch
            return
        alive = [s for s in m.series if self._series_alive(m, s)]
        if not alive:
            return
        s = alive[pick % len(alive)]
        if which == "current":
            genuine = not m.disabled and m.stage is Stage.ACTIVE
            result = self._call("remember" if genuine else None, self.service.login_with_token,
                                s.tokens[-1])
            ok = self._ok(result, Step.PROFILE, session=True)
            assert ok.session is not None and ok.remember_token is not None
            assert ok.remember_token != s.tokens[-1], "the token was not rotated"
            self._grant(m, ok.session)
            s.tokens.append(ok.remember_token)
            s.last_used_at = self.now
            m.series.remove(s)
            m.series.append(s)
            return
        if len(s.tokens) < 2:
            return
        old_index = pick % (len(s.tokens) - 1)
        result = self._call(None, self.service.login_with_token, s.tokens[old_index])
        self._refused(result, Reason.SESSION_EXPIRED)
        grace = (old_index == len(s.tokens) - 2
                 and self.now - s.last_used_at <= timedelta(seconds=10))
        if not grace:
            # A copied token came back: every remembered device is forgotten (whoever
            # copied one cookie may hold the others) and the sessions end.
            for other in m.series:
                other.alive = False
            self._end_sessions(m)

    @rule(i=st.integers(0, 2), pick=st.integers(0, 20), every=st.booleans())
    def revoke_remembered(self, i: int, pick: int, every: bool) -> None:
        m = self._pick(i)
        if m.session is None:
            return
        alive = [s for s in m.series if self._series_alive(m, s)]
        target = None if every or not alive else alive[pick % len(alive)]
        result = self._call(None, self.service.revoke_remembered, m.session,
                            None if target is None else target.series_id)
        if not self._live_session(m):
            self._refused(result, Reason.SESSION_EXPIRED, Reason.DISABLED)
            return
        if m.stage is not Stage.ACTIVE:
            self._refused(result, Reason.INVALID_STEP)
            return
        self._ok(result)
        for s in m.series:
            if target is None or s is target:
                s.alive = False

    # ------------------------------------------------------------------ recovery

    def _reset_possible(self, m: MemberM) -> bool:
        return m.recovery_email is not None and m.stage is Stage.ACTIVE and not m.disabled

    @rule(i=st.integers(0, 2), known=st.booleans())
    def forgot_password(self, i: int, known: bool) -> None:
        m = self._pick(i)
        before = self._outbox()
        result = self._call(None, self.service.forgot_password,
                            m.number if known else "ZZ9999999")
        self._ok(result, Step.LOGIN)
        new = self._queued(before, m, "reset")
        live = m.live(LinkPurpose.RESET_PASSWORD)
        cooling = live is not None and self.now < live.issued_at + self.settings.resend_cooldown
        if known and self._reset_possible(m) and not cooling:
            assert len(new) == 1, "no reset link queued"
            if live is not None:
                live.status = SUPERSEDED
            self._track(m, new[0], LinkPurpose.RESET_PASSWORD, m.email)
        else:
            assert not new, "a reset link went out where none should"
        others = [mid for mid, (_, k) in self._outbox().items()
                  if mid not in before and k == "reset" and mid not in new]
        assert not others, "a reset request mailed another member"

    @rule(n=st.integers(1, 3))
    def mailer_breaks(self, n: int) -> None:
        """The mail server refuses the next few messages (inline or from the queue)."""
        n = min(n, self.failure_budget)
        self.failure_budget -= n
        self.mailer.fail_next += n

    @rule()
    def deliver_due(self) -> None:
        self.service.deliver_due(limit=1000)
        self._collect_mail()

    def _link_usable(self, m: MemberM, link: LinkM) -> bool:
        lifetime = flow.link_lifetime(link.purpose, self.settings)
        return link.status == LIVE and self.now <= link.issued_at + lifetime

    def _known(self, m: MemberM, purpose: LinkPurpose) -> list[LinkM]:
        self._collect_mail()  # the member reads their mail before clicking
        return [lk for lk in m.links if lk.purpose is purpose and lk.token is not None]

    @rule(i=st.integers(0, 2), pick=st.integers(0, 20), right=st.booleans())
    def complete_reset(self, i: int, pick: int, right: bool) -> None:
        m = self._pick(i)
        known = self._known(m, LinkPurpose.RESET_PASSWORD)
        if not known:
            return
        link = known[-1 - pick % len(known)]
        assert link.token is not None
        password = self._new_password()
        before = self._outbox()
        result = self._call(None, self.service.complete_reset, link.token, password, password,
                            answer=m.answer if right else "Mauvaise réponse")
        # A dead link, a wrong stage or a disabled account is refused before any answer is
        # looked at, and counts nothing.
        if m.stage is not Stage.ACTIVE or not self._link_usable(m, link):
            self._refused(result, Reason.LINK_USED, Reason.LINK_SUPERSEDED, Reason.LINK_INVALID,
                          Reason.LINK_EXPIRED, Reason.DISABLED, Reason.INVALID_STEP)
            return
        if m.disabled:
            self._refused(result, Reason.DISABLED)
            return
        if not self.QUESTIONS:
            # Link alone: no answer is checked, so nothing is counted.
            right = True
        elif m.reset_failures >= HARD_LIMIT:
            self._refused(result, Reason.LOCKED)
            return
        else:
            m.reset_failures += 1
        if not right:
            self._refused(result, Reason.ANSWER_WRONG)
        else:
            self._ok(result, Step.LOGIN, session=False)
            link.status = USED
            m.reset_failures = m.login_failures = 0
            self._password_changed(m, before, password)

    @rule(i=st.integers(0, 2), right=st.booleans())
    def staff_assisted_reset(self, i: int, right: bool) -> None:
        m = self._pick(i)
        password = self._new_password()
        before = self._outbox()
        result = self._call(None, self.service.staff.staff_assisted_reset, m.account_id,
                            m.answer if right else "Mauvaise réponse", password, password,
                            staff_id="agent-7")
        # Refusals that look at no answer come first and count nothing.
        if m.stage is not Stage.ACTIVE:
            self._refused(result, Reason.INVALID_STEP)
            return
        if m.disabled:
            self._refused(result, Reason.DISABLED)
            return
        if m.recovery_email is not None or not self.QUESTIONS:
            self._refused(result, Reason.RESET_NOT_AVAILABLE)
            return
        if m.login_failures >= HARD_LIMIT:
            self._refused(result, Reason.LOCKED)
            return
        m.login_failures += 1
        if not right:
            self._refused(result, Reason.ANSWER_WRONG)
        else:
            self._ok(result, Step.LOGIN, session=False)
            m.login_failures = 0
            self._password_changed(m, before, password)

    @rule(i=st.integers(0, 2), known=st.booleans())
    def forgot_identifier(self, i: int, known: bool) -> None:
        m = self._pick(i)
        address = (m.email or ADDRESSES[4]) if known else "inconnu@example.com"
        before = self._outbox()
        self._ok(self._call(None, self.service.forgot_identifier, address), Step.LOGIN)
        for other in self.model:
            new = self._queued(before, other, "identifier")
            expected = (other.recovery_email == address and not other.disabled
                        and other.stage in (Stage.PASSWORD_REQUIRED, Stage.ACTIVE))
            assert len(new) == int(expected), (other.key, new, expected)

    # ------------------------------------------------------------------ changes

    @rule(i=st.integers(0, 2), right=st.booleans())
    def change_password(self, i: int, right: bool) -> None:
        m = self._pick(i)
        if m.session is None:
            return
        password = self._new_password()
        current = m.password if right and m.password else "Pas le bon mot de passe 999"
        before = self._outbox()
        genuine = right and m.password is not None
        result = self._call("password" if genuine else None, self.service.change_password,
                            m.session, current, password, password)
        if not self._live_session(m):
            self._refused(result, Reason.SESSION_EXPIRED)
            return
        # At the wrong step nothing is checked, so nothing is counted.
        if m.stage is not Stage.ACTIVE:
            self._refused(result, Reason.INVALID_STEP)
            return
        if m.login_failures >= HARD_LIMIT:
            self._refused(result, Reason.LOCKED)
            return
        m.login_failures += 1
        if not genuine:
            self._refused(result, Reason.BAD_CREDENTIALS)
        else:
            ok = self._ok(result, Step.PROFILE, session=True)
            m.login_failures = 0
            self._password_changed(m, before, password)
            assert ok.session is not None
            self._grant(m, ok.session)

    @rule(i=st.integers(0, 2), right=st.booleans(), address=st.sampled_from(ADDRESSES[2:]))
    def request_email_change(self, i: int, right: bool, address: str) -> None:
        m = self._pick(i)
        if m.session is None:
            return
        before = self._outbox()
        typed = m.password if right and m.password else "Pas le bon mot de passe 999"
        result = self._call(None, self.service.request_email_change, m.session, typed,
                            address, address)
        if not self._live_session(m):
            self._refused(result, Reason.SESSION_EXPIRED)
            return
        live = m.live(LinkPurpose.CHANGE_EMAIL)
        # At the wrong step nothing is checked, so nothing is counted.
        if m.stage is not Stage.ACTIVE:
            self._refused(result, Reason.INVALID_STEP)
            return
        if m.login_failures >= HARD_LIMIT:
            self._refused(result, Reason.LOCKED)
            return
        m.login_failures += 1
        if not right or m.password is None:
            self._refused(result, Reason.BAD_CREDENTIALS)
            return
        m.login_failures = 0
        if m.email == address and not m.unproven:
            self._refused(result, Reason.EMAIL_UNCHANGED)
        elif (live is not None and live.address == address
              and self.now < live.issued_at + self.settings.resend_cooldown):
            self._refused(result, Reason.RATE_LIMITED)
        else:
            self._ok(result, Step.PROFILE)
            if live is not None:
                live.status = SUPERSEDED
            [link] = self._queued(before, m, "email_change")
            self._track(m, link, LinkPurpose.CHANGE_EMAIL, address)
            notices = self._queued(before, m, "email_change_notice")
            # The same (unproven) address again is no change to report.
            assert len(notices) == int(m.email is not None and m.email != address)
            if m.email is not None and m.email != address:
                old = m.live(LinkPurpose.NOT_ME, m.email)
                if old is not None:
                    old.status = SUPERSEDED
                self._track(m, notices[0], LinkPurpose.NOT_ME, m.email)

    @rule(i=st.integers(0, 2), pick=st.integers(0, 20))
    def confirm_email_change(self, i: int, pick: int) -> None:
        m = self._pick(i)
        known = self._known(m, LinkPurpose.CHANGE_EMAIL)
        if not known:
            return
        link = known[-1 - pick % len(known)]
        result = self._call(None, self.service.confirm_email_change, link.token)
        if m.stage is not Stage.ACTIVE or m.disabled or not self._link_usable(m, link):
            self._refused(result)
            return
        self._ok(result, Step.PROFILE)
        link.status = USED
        if link.address != m.email:
            m.email_changed_at = self.now
        m.email = link.address
        # Confirmed with no session: not a recovery channel until the member logs in.
        m.unproven = True
        # Every link sent to another address dies with the change.
        for other in m.links:
            if (other.status == LIVE and other.purpose is not LinkPurpose.NOT_ME
                    and other.address != link.address):
                other.status = REVOKED

    @rule(i=st.integers(0, 2), pick=st.integers(0, 20))
    def confirm_not_me(self, i: int, pick: int) -> None:
        m = self._pick(i)
        known = self._known(m, LinkPurpose.NOT_ME)
        if not known:
            return
        link = known[-1 - pick % len(known)]
        before = self._outbox()
        result = self._call(None, self.service.confirm_not_me, link.token)
        if m.stage is not Stage.ACTIVE or m.disabled or not self._link_usable(m, link):
            self._refused(result)
            return
        self._ok(result, Step.LOGIN)
        m.retire(LinkPurpose.RESET_PASSWORD, REVOKED)
        m.retire(LinkPurpose.CHANGE_EMAIL, REVOKED)
        m.retire(LinkPurpose.NOT_ME, REVOKED)
        current = (m.recovery_email is not None and link.address == m.recovery_email
                   and (m.email_changed_at is None or link.issued_at >= m.email_changed_at))
        link.status = USED
        m.hard_locked = True
        self._end_sessions(m)
        for s in m.series:
            s.alive = False
        # The account never moves back to the link's address; recovery starts at the
        # current proven address only for a link sent there after its last change.
        if current:
            [reset] = self._queued(before, m, "reset")
            self._track(m, reset, LinkPurpose.RESET_PASSWORD, m.email)
        else:
            note("not me from a left address: staff recovery")
            assert self._queued(before, m, "reset") == []

    # ------------------------------------------------------------------ staff

    @rule(i=st.integers(0, 2))
    def staff_unlock(self, i: int) -> None:
        m = self._pick(i)
        self._ok(self._call(None, self.service.staff.unlock, m.account_id, staff_id="agent-7"))
        m.login_failures = m.reset_failures = 0

    @rule(i=st.integers(0, 2))
    def staff_disable(self, i: int) -> None:
        m = self._pick(i)
        self._ok(self._call(None, self.service.staff.disable, m.account_id, staff_id="agent-7"))
        m.disabled = True
        self._end_sessions(m)
        for s in m.series:
            s.alive = False

    @rule(i=st.integers(0, 2))
    def staff_enable(self, i: int) -> None:
        m = self._pick(i)
        self._ok(self._call(None, self.service.staff.enable, m.account_id, staff_id="agent-7"))
        m.disabled = False

    @rule(i=st.integers(0, 2), then_set=st.booleans())
    def staff_reissue(self, i: int, then_set: bool) -> None:
        m = self._pick(i)
        provisioned = self._call(None, self.service.staff.reissue_credentials, m.account_id,
                                 staff_id="agent-7")
        assert not isinstance(provisioned, Refused), provisioned
        initial = provisioned.initial_password  # type: ignore[attr-defined]
        self.secrets.add(initial)
        m.stage = Stage.PASSWORD_REQUIRED
        m.initial, m.initial_at, m.password = initial, self.now, None
        self._end_sessions(m)
        m.hard_locked = False
        m.login_failures = 0
        m.retire(None, REVOKED)
        for s in m.series:
            s.alive = False
        if then_set:
            self.login(i, True, False)
            self.set_password(i)

    @rule(i=st.integers(0, 2))
    def set_password(self, i: int) -> None:
        m = self._pick(i)
        if m.session is None:
            return
        password = self._new_password()
        before = self._outbox()
        genuine = self._live_session(m) and m.stage is Stage.PASSWORD_REQUIRED
        result = self._call("initial" if genuine else None, self.service.set_password,
                            m.session, password, password)
        if not self._live_session(m):
            self._refused(result, Reason.SESSION_EXPIRED)
        elif m.stage is not Stage.PASSWORD_REQUIRED:
            self._refused(result, Reason.INVALID_STEP)
        else:
            # The secret answer was kept: straight back to active.
            ok = self._ok(result, Step.PROFILE, session=True)
            m.stage = Stage.ACTIVE
            self._password_changed(m, before, password)
            assert ok.session is not None
            self._grant(m, ok.session)

    # ------------------------------------------------------------------ the usual paths

    # The rules above are mostly detours (locks, staff, dead links); these walk the
    # ordinary paths end to end so that runs reach deep states.

    @rule(i=st.integers(0, 2), wrong_first=st.booleans())
    def recover_by_mail(self, i: int, wrong_first: bool) -> None:
        """Forgot password, read the mail, reset with the answer, log in."""
        self.staff_enable(i)
        self.clock.advance(self.settings.resend_cooldown)
        self.forgot_password(i, True)
        self.deliver_due()
        if wrong_first:
            self.complete_reset(i, 0, False)
        self.complete_reset(i, 0, True)
        self.login(i, True, False)

    @rule(i=st.integers(0, 2), visits=st.integers(1, 3),
          pause=st.sampled_from((5, 10, 11, 3600)))
    def remembered_visits(self, i: int, visits: int, pause: int) -> None:
        """Log in with "Se souvenir de moi", come back a few times, then a copy is replayed."""
        m = self._pick(i)
        self.login(i, True, True)
        for _ in range(visits):
            self.clock.advance(seconds=pause)
            self.login_with_token(i, len(m.series) - 1, "current")
        self.clock.advance(seconds=pause)
        self.login_with_token(i, 0, "stolen")
        self.login_with_token(i, 0, "dead")

    @rule(i=st.integers(0, 2), address=st.sampled_from(ADDRESSES[2:]), not_me=st.booleans())
    def move_address(self, i: int, address: str, not_me: bool) -> None:
        """Change the address through the link; maybe the old address says "not me"."""
        self.login(i, True, False)
        self.request_email_change(i, True, address)
        self.confirm_email_change(i, 0)
        if not_me:
            self.confirm_not_me(i, 0)
            self.deliver_due()
            self.complete_reset(i, 0, True)

    # ------------------------------------------------------------------ clock

    @rule(seconds=st.sampled_from((1, 9, 11, 59, 61, 600, 3600, 3601)))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule(days=st.sampled_from((1, 7, 8, 30, 31)))
    def days_pass(self, days: int) -> None:
        self.clock.advance(days=days, seconds=1)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def model_matches_storage(self) -> None:
        self._collect_mail()
        for m in self.model:
            account = self._account(m)
            assert account.stage is m.stage, (m.key, account.stage, m.stage)
            assert account.session_epoch == m.epoch, (m.key, account.session_epoch, m.epoch)
            assert account.disabled is m.disabled
            assert (account.locked_at is not None) is m.hard_locked
            assert account.email == m.email
            stored = [t.series_id for t in account.remember if self.now <= t.expires_at]
            assert stored == [s.series_id for s in m.series if self._series_alive(m, s)]
            for session in (m.session, *m.old_sessions):
                if session is not None:
                    live = session.epoch == m.epoch and not m.disabled
                    assert self.service.check_session(session) is live

    def _pure(self, account: Account, event: flow.Event,
              at: datetime | None = None) -> flow.Outcome:
        """The flow's answer on the stored account; nothing is committed."""
        entropy = Entropy.draw(self.random.token_bytes)
        return flow.step(account, event, at or self.now, self.service.env, entropy=entropy)

    def _opens_session(self, account: Account, password: str) -> bool:
        outcome = self._pure(account, flow.Login(password))
        return isinstance(outcome, Accepted) and outcome.grants_session

    def _counter(self, key: str) -> int:
        return self.storage.get_throttle(key).failures

    @invariant()
    def always_a_way_back_in(self) -> None:
        for m in self.model:
            account = self._account(m)
            # Staff: (enable, then) re-issue is accepted and the new initial password works.
            staffed = account
            if staffed.disabled:
                enabled = self._pure(staffed, flow.StaffEnable("agent-7"))
                assert isinstance(enabled, Accepted)
                staffed = enabled.account
            reissued = self._pure(staffed, flow.StaffReissue("agent-7"))
            assert isinstance(reissued, Accepted) and reissued.secret is not None
            assert self._opens_session(reissued.account, reissued.secret), "staff path broken"
            # Self-service: exactly the paths the model says are open, work.
            login_locked = self._counter(lockout.attempt_key(m.number)) >= HARD_LIMIT
            reset_locked = self._counter(lockout.reset_attempt_key(m.account_id)) >= HARD_LIMIT
            assert login_locked is (m.login_failures >= HARD_LIMIT)
            assert reset_locked is (m.reset_failures >= HARD_LIMIT)
            credential, kind = self._credential(m)
            expired = kind == "initial" and self._initial_expired(m)
            expect_password = not (m.disabled or login_locked or m.hard_locked or expired)
            expect_reset = not (m.disabled or reset_locked or m.recovery_email is None
                                or m.stage is not Stage.ACTIVE)
            assert credential is not None
            by_password = not login_locked and self._opens_session(account, credential)
            by_reset = not reset_locked and self._reset_works(account, m)
            assert by_password is expect_password, (m.key, by_password, expect_password)
            assert by_reset is expect_reset, (m.key, by_reset, expect_reset)
            if not (by_password or by_reset):
                # Only these leave the member to staff (whose path is checked above).
                note("way back in: staff only")
                assert m.disabled or login_locked or m.hard_locked or expired
                assert m.disabled or reset_locked or m.recovery_email is None \
                    or m.stage is not Stage.ACTIVE

    def _reset_works(self, account: Account, m: MemberM) -> bool:
        # A minute later, past any resend cooldown: no guessing, just patience.
        at = self.now + self.settings.resend_cooldown
        requested = self._pure(account, flow.RequestReset(), at)
        if not isinstance(requested, Accepted):
            return False
        notices = [e for e in requested.effects if isinstance(e, flow.SendNotice)]
        assert len(notices) == 1 and notices[0].token is not None
        assert notices[0].to == account.email, "the reset link goes elsewhere"
        claims = self.service.env.crypto.signer.parse(notices[0].token, "reset_password")
        password = "Un hibou gris dans le grenier 77"
        done = self._pure(requested.account, flow.CompleteReset(
            claims.nonce_hash, m.answer, password, password), at)
        return isinstance(done, Accepted) and self._opens_session(done.account, password)

    @invariant()
    def one_notice_per_password_change(self) -> None:
        outbox = self._outbox()
        mails = {m.account_id: 0 for m in self.model}
        # Not yet delivered (the mail server refused it): counted once, sent later.
        for msg in self.storage.list_messages(limit=100_000):
            if msg.kind == "password_changed" and msg.status is not OutboxStatus.SENT:
                mails[msg.account_id] += 1
        for message in self.mailer.sent:
            account_id, kind = outbox.get(str(message["Message-ID"]), ("", ""))
            if str(message["Subject"]) == PASSWORD_SUBJECT:
                assert kind == "password_changed"
                mails[account_id] += 1
        for _, account_id, kind, _ in self.notifier.sent:
            if kind == "password_changed":
                mails[account_id] += 1
        for m in self.model:
            assert mails[m.account_id] == m.password_changes, (
                m.key, mails[m.account_id], m.password_changes)

    @invariant()
    def dead_tokens_stay_dead(self) -> None:
        for m in self.model:
            account = self._account(m)
            dead = [lk for lk in m.links if lk.token is not None and not self._link_usable(m, lk)]
            for link in dead[-4:]:
                check = self.service.open_link(link.token or "", link.purpose)
                assert not check.valid, f"a {link.status} {link.purpose.value} link works"
            if account.disabled or account.stage is not Stage.ACTIVE:
                continue
            for s in m.series:
                for token in s.tokens[-2:] if not self._series_alive(m, s) else ():
                    claims = self.service.env.crypto.remember.parse(token)
                    assert claims is not None
                    outcome = self._pure(account, flow.RememberLogin(claims.series_id,
                                                                     claims.secret_hash))
                    assert isinstance(outcome, Refused), "a revoked remember-me token works"

    @invariant()
    def nothing_stored_in_clear(self) -> None:
        dumps: list[str] = []
        for m in self.model:
            account = self._account(m)
            dumps.append(repr(account))
            dumps.append(json.dumps(codec.to_data(account), ensure_ascii=False))
        dumps.extend(repr(r) for r in self.storage.audit_records(limit=100_000))
        messages = self.storage.list_messages(limit=100_000)
        dumps.extend(repr(msg) for msg in messages)
        text = "\n".join(dumps).casefold()
        for secret in self.secrets:
            assert secret.casefold() not in text, "a secret is stored in clear"
            assert not any(secret.encode() in msg.payload for msg in messages)


    def teardown(self) -> None:
        # Once the mail server is back, everything queued goes out, and the counts of
        # password-changed notices are exact.
        self.mailer.fail_next = 0
        for _ in range(12):
            self.clock.advance(hours=1, seconds=1)
            self.service.deliver_due(limit=1000)
        waiting = [msg for msg in self.storage.list_messages(limit=100_000)
                   if msg.status is not OutboxStatus.SENT]
        assert not waiting, f"messages left behind: {waiting}"
        sent = Counter(str(msg["Message-ID"]) for msg in self.mailer.sent)
        assert all(n == 1 for n in sent.values()), "a mail was sent twice"
        self.one_notice_per_password_change()


_FAST = settings(max_examples=80, stateful_step_count=30, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


class AccountLifeLinkOnly(AccountLifeMachine):
    """Secret questions off: recovery by the emailed link alone, no staff-assisted reset."""

    QUESTIONS = False


class SlowAccountLife(AccountLifeMachine):
    """The same machine, many more runs."""


class SlowAccountLifeLinkOnly(AccountLifeLinkOnly):
    """The link-only machine, many more runs."""


AccountLifeMachine.TestCase.settings = _FAST
AccountLifeLinkOnly.TestCase.settings = settings(_FAST, max_examples=40)
SlowAccountLife.TestCase.settings = settings(_FAST, max_examples=300, stateful_step_count=50)
SlowAccountLifeLinkOnly.TestCase.settings = settings(_FAST, max_examples=150,
                                                     stateful_step_count=50)

TestAccountLife = AccountLifeMachine.TestCase
TestAccountLifeLinkOnly = AccountLifeLinkOnly.TestCase
TestSlowAccountLife = pytest.mark.slow(SlowAccountLife.TestCase)
TestSlowAccountLifeLinkOnly = pytest.mark.slow(SlowAccountLifeLinkOnly.TestCase)


def test_nonce_hash_matches_links() -> None:
    """The model's helper reads the same nonce the flow hashes."""
    signer = flow.Env.from_settings(make_settings()).crypto.signer
    token = signer.issue("acc", LinkPurpose.RESET_PASSWORD.value, b"\x02" * 32)
    assert signer.parse(token, "reset_password").nonce_hash == nonce_hash(b"\x02" * 32)
