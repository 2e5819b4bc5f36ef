"""The pure core of the first-connection journey.

``step(account, event, now, env, entropy=..., origin=...)`` returns either
:class:`Accepted` (the new account, the effects to carry out, and the screen to show) or
:class:`Refused` (a typed reason). The flow reads no clock, draws no randomness and does
no I/O: the time, the random bytes (:class:`Entropy`) and the request's origin come in
as arguments. Argon2 and HMAC are called through ``env.crypto``; they are deterministic
given their inputs, so the flow stays a function of its arguments.

Every rule lives in this file. :data:`TABLE` says which events each stage accepts and
where each one can lead; ``docs/`` draws the state diagram from it. An event that does
not fit the stage is refused with :attr:`Reason.INVALID_STEP` and changes nothing.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from . import normalize
from .config import Crypto, LockoutPolicy, Settings
from .errors import BadToken, InvalidInput
from .model import (
    Account,
    Channel,
    Link,
    LinkPurpose,
    LinkStatus,
    Stage,
    Step,
    Throttle,
)
from .password_policy import AnswerRejection, PasswordContext, PasswordRejection, check_answer
from .tokens import code_digest, code_from_bytes, nonce_hash, normalize_code, verify_code

# --------------------------------------------------------------------------- reasons


class Reason(enum.Enum):
    """Why an event was refused. Each value has a member-facing text in both languages."""

    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"
    INITIAL_CREDENTIALS_EXPIRED = "initial_credentials_expired"
    INVALID_STEP = "invalid_step"
    INPUT_INVALID = "input_invalid"
    RATE_LIMITED = "rate_limited"
    SESSION_EXPIRED = "session_expired"
    EMAIL_INVALID = "email_invalid"
    EMAILS_DIFFER = "emails_differ"
    LINK_INVALID = "link_invalid"
    LINK_EXPIRED = "link_expired"
    LINK_USED = "link_used"
    LINK_SUPERSEDED = "link_superseded"
    CODE_INVALID = "code_invalid"
    CODE_ATTEMPTS_EXCEEDED = "code_attempts_exceeded"
    PASSWORDS_DIFFER = "passwords_differ"
    PASSWORD_EMPTY = "password_empty"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    PASSWORD_COMMON = "password_common"
    PASSWORD_CONTAINS_MEMBER_NUMBER = "password_contains_member_number"
    PASSWORD_CONTAINS_EMAIL = "password_contains_email"
    PASSWORD_CONTAINS_NAME = "password_contains_name"
    PASSWORD_CONTAINS_SITE_NAME = "password_contains_site_name"
    PASSWORD_SAME_AS_INITIAL = "password_same_as_initial"
    ANSWERS_DIFFER = "answers_differ"
    ANSWER_EMPTY = "answer_empty"
    ANSWER_TOO_LONG = "answer_too_long"
    ANSWER_TRIVIAL = "answer_trivial"
    ANSWER_SAME_AS_MEMBER_NUMBER = "answer_same_as_member_number"
    ANSWER_SAME_AS_EMAIL = "answer_same_as_email"
    ANSWER_SAME_AS_PASSWORD = "answer_same_as_password"
    QUESTION_UNKNOWN = "question_unknown"
    QUESTIONS_DISABLED = "questions_disabled"


_PASSWORD_REASONS: Mapping[PasswordRejection, Reason] = {
    PasswordRejection.EMPTY: Reason.PASSWORD_EMPTY,
    PasswordRejection.TOO_SHORT: Reason.PASSWORD_TOO_SHORT,
    PasswordRejection.TOO_LONG: Reason.PASSWORD_TOO_LONG,
    PasswordRejection.MISMATCH: Reason.PASSWORDS_DIFFER,
    PasswordRejection.COMMON: Reason.PASSWORD_COMMON,
    PasswordRejection.CONTAINS_MEMBER_NUMBER: Reason.PASSWORD_CONTAINS_MEMBER_NUMBER,
    PasswordRejection.CONTAINS_EMAIL: Reason.PASSWORD_CONTAINS_EMAIL,
    PasswordRejection.CONTAINS_NAME: Reason.PASSWORD_CONTAINS_NAME,
    PasswordRejection.CONTAINS_SITE_NAME: Reason.PASSWORD_CONTAINS_SITE_NAME,
    PasswordRejection.SAME_AS_INITIAL: Reason.PASSWORD_SAME_AS_INITIAL,
}

_ANSWER_REASONS: Mapping[AnswerRejection, Reason] = {
    AnswerRejection.EMPTY: Reason.ANSWER_EMPTY,
    AnswerRejection.TOO_LONG: Reason.ANSWER_TOO_LONG,
    AnswerRejection.MISMATCH: Reason.ANSWERS_DIFFER,
    AnswerRejection.TRIVIAL: Reason.ANSWER_TRIVIAL,
    AnswerRejection.SAME_AS_MEMBER_NUMBER: Reason.ANSWER_SAME_AS_MEMBER_NUMBER,
    AnswerRejection.SAME_AS_EMAIL: Reason.ANSWER_SAME_AS_EMAIL,
    AnswerRejection.SAME_AS_PASSWORD: Reason.ANSWER_SAME_AS_PASSWORD,
}

# --------------------------------------------------------------------------- events


@attrs.frozen
class Login:
    """The member typed their member number (already resolved) and a password."""

    password: str = attrs.field(repr=False)


@attrs.frozen
class SubmitEmail:
    """PREMIÈRE CONNEXION: the address and its confirmation."""

    email: str
    confirmation: str


@attrs.frozen
class DeclareNoEmail:
    """"Vous n'avez pas d'adresse email ?": ask staff to activate the account."""


@attrs.frozen
class ResendLink:
    """Send the validation link again to the pending address."""


@attrs.frozen
class ChangeEmail:
    """Go back to the email step to type another address."""


@attrs.frozen
class ConfirmLink:
    """The member confirmed an opened validation link (POST, never GET)."""

    nonce_hash: str = attrs.field(repr=False)


@attrs.frozen
class SubmitCode:
    """The short code from the validation mail, typed instead of clicking the link."""

    code: str = attrs.field(repr=False)


@attrs.frozen
class SetPassword:
    """"Choisissez votre nouveau mot de passe" and its confirmation."""

    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class SetSecretAnswer:
    """The secret question chosen from the catalogue, the answer and its confirmation."""

    question_id: str
    answer: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class StaffActivate:
    """Staff activate a member who has no email address."""

    staff_id: str


@attrs.frozen
class StaffReject:
    """Staff turn down a no-email activation request, with a reason for the member."""

    staff_id: str
    reason: str


Event = (
    Login
    | SubmitEmail
    | DeclareNoEmail
    | ResendLink
    | ChangeEmail
    | ConfirmLink
    | SubmitCode
    | SetPassword
    | SetSecretAnswer
    | StaffActivate
    | StaffReject
)

# --------------------------------------------------------------------------- effects


class Notice(enum.Enum):
    """The messages the journey sends to a member."""

    VALIDATION = "validation"
    PASSWORD_CHANGED = "password_changed"
    ACTIVATED = "activated"
    ACTIVATION_REJECTED = "activation_rejected"


@attrs.frozen
class SendNotice:
    """Queue a message to the member. Token and code are only ever in the message."""

    notice: Notice
    account_id: str
    channel: Channel
    at: datetime
    to: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    code: str | None = attrs.field(default=None, repr=False)
    ip: str | None = None
    detail: str | None = None


@attrs.frozen
class Audit:
    """Record a security-relevant event: who, what, when, from where, and the outcome."""

    action: str
    outcome: str
    at: datetime
    account_id: str | None
    actor: str
    ip: str | None = None
    detail: str | None = None


Effect = SendNotice | Audit

# --------------------------------------------------------------------------- inputs


@attrs.frozen
class Entropy:
    """Fresh random bytes drawn by the caller for one step: salt, link nonce, code."""

    salt: bytes = attrs.field(repr=False)
    nonce: bytes = attrs.field(repr=False)
    code: bytes = attrs.field(repr=False)

    @classmethod
    def draw(cls, token_bytes: Callable[[int], bytes]) -> Entropy:
        """Draw every field from a CSPRNG such as ``secrets.token_bytes``."""
        return cls(salt=token_bytes(16), nonce=token_bytes(32), code=token_bytes(8))


@attrs.frozen
class Origin:
    """Where an event comes from: the member's IP and user agent, or a staff id."""

    ip: str | None = None
    user_agent: str | None = None
    actor: str = "member"


@attrs.frozen
class Env:
    """The long-lived half of the flow's inputs: settings and keyed primitives."""

    settings: Settings
    crypto: Crypto

    @classmethod
    def from_settings(cls, settings: Settings) -> Env:
        """Build the environment, checking keys and parameters once."""
        return cls(settings=settings, crypto=Crypto.from_settings(settings))


# --------------------------------------------------------------------------- outcomes


@attrs.frozen
class Accepted:
    """The event was applied. Save ``account``, then carry out ``effects``."""

    account: Account
    effects: tuple[Effect, ...]
    step: Step
    grants_session: bool = False


@attrs.frozen
class Refused:
    """The event was refused.

    ``account`` is ``None`` when nothing changed at all. It is set only for bookkeeping
    that a refusal must still record (a wrong code counts against the link).
    ``others`` lists further reasons, for forms that show every problem at once.
    """

    reason: Reason
    field: str | None = None
    others: tuple[Reason, ...] = ()
    params: tuple[tuple[str, int | str], ...] = ()
    account: Account | None = None
    effects: tuple[Effect, ...] = ()


Outcome = Accepted | Refused

# --------------------------------------------------------------------------- the table

#: For each stage, the events it accepts and the stages each one can lead to.
TABLE: Mapping[Stage, Mapping[type, tuple[Stage, ...]]] = {
    Stage.PROVISIONED: {
        Login: (Stage.EMAIL_REQUIRED,),
    },
    Stage.EMAIL_REQUIRED: {
        Login: (Stage.EMAIL_REQUIRED,),
        SubmitEmail: (Stage.EMAIL_PENDING,),
        DeclareNoEmail: (Stage.AWAITING_ACTIVATION,),
    },
    Stage.EMAIL_PENDING: {
        Login: (Stage.EMAIL_PENDING,),
        SubmitEmail: (Stage.EMAIL_PENDING,),
        ResendLink: (Stage.EMAIL_PENDING,),
        ChangeEmail: (Stage.EMAIL_REQUIRED,),
        ConfirmLink: (Stage.PASSWORD_REQUIRED,),
        SubmitCode: (Stage.PASSWORD_REQUIRED,),
        DeclareNoEmail: (Stage.AWAITING_ACTIVATION,),
    },
    Stage.AWAITING_ACTIVATION: {
        Login: (Stage.AWAITING_ACTIVATION,),
        SubmitEmail: (Stage.EMAIL_PENDING,),
        StaffActivate: (Stage.PASSWORD_REQUIRED,),
        StaffReject: (Stage.EMAIL_REQUIRED,),
    },
    Stage.PASSWORD_REQUIRED: {
        Login: (Stage.PASSWORD_REQUIRED,),
        SetPassword: (Stage.QUESTION_REQUIRED, Stage.ACTIVE),
    },
    Stage.QUESTION_REQUIRED: {
        Login: (Stage.QUESTION_REQUIRED, Stage.ACTIVE),
        SetSecretAnswer: (Stage.ACTIVE,),
    },
    Stage.ACTIVE: {
        Login: (Stage.ACTIVE,),
    },
}

#: Stages in which the initial password printed on the contract still opens a session.
INITIAL_CREDENTIAL_STAGES = frozenset(
    {
        Stage.PROVISIONED,
        Stage.EMAIL_REQUIRED,
        Stage.EMAIL_PENDING,
        Stage.AWAITING_ACTIVATION,
        Stage.PASSWORD_REQUIRED,
    }
)

_STAFF_EVENTS = (StaffActivate, StaffReject)

# --------------------------------------------------------------------------- queries


def next_step(account: Account, now: datetime, settings: Settings) -> Step:
    """The screen an account resumes at, at its next login."""
    stage = account.stage
    if stage in (Stage.PROVISIONED, Stage.EMAIL_REQUIRED):
        return Step.EMAIL
    if stage is Stage.EMAIL_PENDING:
        live = _live_link(account, LinkPurpose.VERIFY_EMAIL)
        if live is not None and now <= live.expires_at:
            return Step.CHECK_MAILBOX
        # After the link's lifetime the member starts again, the address filled in.
        return Step.EMAIL
    if stage is Stage.AWAITING_ACTIVATION:
        return Step.AWAITING_ACTIVATION
    if stage is Stage.PASSWORD_REQUIRED:
        return Step.PASSWORD
    if stage is Stage.QUESTION_REQUIRED and settings.secret_questions:
        return Step.QUESTION
    return Step.PROFILE


def inspect_link(
    account: Account, purpose: LinkPurpose, token_hash: str, now: datetime
) -> Reason | None:
    """What spending this link would say, without spending it (for GET requests).

    Returns ``None`` when the link is live and unexpired.
    """
    link = _find_link(account, purpose, token_hash)
    if link is None:
        return Reason.LINK_INVALID
    if link.status is LinkStatus.USED:
        return Reason.LINK_USED
    if link.status is LinkStatus.SUPERSEDED:
        return Reason.LINK_SUPERSEDED
    if link.status is LinkStatus.REVOKED:
        return Reason.LINK_INVALID
    if now > link.expires_at:
        return Reason.LINK_EXPIRED
    return None


def lockout_wait(throttle: Throttle, now: datetime, policy: LockoutPolicy) -> timedelta | None:
    """How long the identifier must wait before its next attempt; ``None`` when free.

    Past the hard limit the wait is unbounded, returned as ``timedelta.max``.
    """
    if throttle.failures >= policy.hard_limit:
        return timedelta.max
    if throttle.failures < policy.free_attempts or throttle.last_failure_at is None:
        return None
    exponent = throttle.failures - policy.free_attempts
    # Capping the exponent keeps the multiplication small; the max_delay cap applies anyway.
    delay = min(policy.base_delay * (2 ** min(exponent, 30)), policy.max_delay)
    ready_at = throttle.last_failure_at + delay
    return None if now >= ready_at else ready_at - now


def reserve_attempt(throttle: Throttle, now: datetime, policy: LockoutPolicy) -> Throttle | Refused:
    """Count an attempt as a failure *before* checking it, or refuse it as locked.

    Storing the reserved count with compare-and-set before any hash is computed is what
    keeps the count exact under concurrent attempts: a racing request either sees the
    new count or loses the race and reloads. A success clears it afterwards.
    """
    if lockout_wait(throttle, now, policy) is not None:
        return Refused(Reason.LOCKED)
    return attrs.evolve(throttle, failures=throttle.failures + 1, last_failure_at=now)


def clear_attempts(throttle: Throttle) -> Throttle:
    """The throttle after a successful attempt."""
    return attrs.evolve(throttle, failures=0, last_failure_at=None)


# --------------------------------------------------------------------------- step


def step(
    account: Account,
    event: Event,
    now: datetime,
    env: Env,
    *,
    entropy: Entropy | None = None,
    origin: Origin | None = None,
) -> Outcome:
    """Apply ``event`` to ``account`` at time ``now``.

    ``entropy`` is needed by events that create a hash, a link or a code; pass
    ``Entropy.draw(secrets.token_bytes)``. Returns :class:`Accepted` or :class:`Refused`;
    never raises for member input.
    """
    origin = origin or Origin()
    targets = TABLE[account.stage].get(type(event))
    if targets is None:
        return _misfit(account, event, now)
    if account.disabled and not isinstance(event, Login):
        return Refused(Reason.DISABLED)
    ctx = _Ctx(now=now, env=env, entropy=entropy, origin=origin)
    handler = _HANDLERS[type(event)]
    outcome = handler(account, event, ctx)
    if isinstance(outcome, Accepted) and outcome.account.stage not in targets:
        raise AssertionError(
            f"{type(event).__name__} led {account.stage} to {outcome.account.stage}, "
            "which TABLE does not allow"
        )
    return outcome


def login_unknown(password: str, env: Env, now: datetime, origin: Origin | None = None) -> Refused:
    """A login for a member number that has no account.

    It does the same slow-hash work as a real login, so that neither the answer nor the
    time it takes tells a stranger whether the member number exists.
    """
    origin = origin or Origin()
    try:
        pw = normalize.normalize_password(password)
    except InvalidInput:
        return Refused(Reason.BAD_CREDENTIALS, field="password")
    env.crypto.hasher.dummy_verify(pw)
    audit = Audit("login", "unknown_account", now, None, origin.actor, origin.ip)
    return Refused(Reason.BAD_CREDENTIALS, field="password", effects=(audit,))


# --------------------------------------------------------------------------- handlers


@attrs.frozen
class _Ctx:
    now: datetime
    env: Env
    entropy: Entropy | None
    origin: Origin

    @property
    def settings(self) -> Settings:
        return self.env.settings

    @property
    def crypto(self) -> Crypto:
        return self.env.crypto

    def fresh(self) -> Entropy:
        if self.entropy is None:
            raise ValueError("this event needs fresh entropy: pass entropy=Entropy.draw(...)")
        return self.entropy

    def audit(self, account: Account | None, action: str, outcome: str = "ok",
              detail: str | None = None) -> Audit:
        return Audit(
            action=action,
            outcome=outcome,
            at=self.now,
            account_id=None if account is None else account.account_id,
            actor=self.origin.actor,
            ip=self.origin.ip,
            detail=detail,
        )


def _misfit(account: Account, event: Event, now: datetime) -> Refused:
    # A re-clicked or outdated link deserves its precise reason, not "wrong step".
    if isinstance(event, ConfirmLink):
        reason = inspect_link(account, LinkPurpose.VERIFY_EMAIL, event.nonce_hash, now)
        return Refused(reason or Reason.LINK_USED)
    return Refused(Reason.INVALID_STEP)


def _login(account: Account, event: Login, ctx: _Ctx) -> Outcome:
    crypto = ctx.crypto
    try:
        pw = normalize.normalize_password(event.password)
    except InvalidInput:
        # Refused before any hashing, identically for every account and for none.
        return Refused(Reason.BAD_CREDENTIALS, field="password")
    new = account
    if account.stage in INITIAL_CREDENTIAL_STAGES:
        # One Argon2 computation on every login keeps known, unknown and
        # not-yet-onboarded accounts indistinguishable by work done.
        crypto.hasher.dummy_verify(pw)
        ok = _initial_matches(account, pw, crypto)
        if ok and account.initial_digest and crypto.pepper.needs_update(account.initial_digest):
            new = attrs.evolve(new, initial_digest=crypto.pepper.digest(
                normalize.normalize_initial_password(pw)))
    else:
        ok = account.password_hash is not None and crypto.hasher.verify(pw, account.password_hash)
        if ok and account.password_hash and crypto.hasher.needs_rehash(account.password_hash):
            new = attrs.evolve(new, password_hash=crypto.hasher.hash(pw, ctx.fresh().salt))
    if not ok:
        return Refused(Reason.BAD_CREDENTIALS, field="password",
                       effects=(ctx.audit(account, "login", "bad_credentials"),))
    if account.disabled:
        return Refused(Reason.DISABLED, effects=(ctx.audit(account, "login", "disabled"),))
    if account.stage in INITIAL_CREDENTIAL_STAGES and _initial_expired(account, ctx):
        return Refused(Reason.INITIAL_CREDENTIALS_EXPIRED,
                       effects=(ctx.audit(account, "login", "initial_expired"),))
    if new.stage is Stage.PROVISIONED:
        new = attrs.evolve(new, stage=Stage.EMAIL_REQUIRED)
    elif new.stage is Stage.QUESTION_REQUIRED and not ctx.settings.secret_questions:
        # The host turned questions off after this member set a password.
        new = attrs.evolve(new, stage=Stage.ACTIVE)
    return Accepted(new, (ctx.audit(account, "login"),), next_step(new, ctx.now, ctx.settings),
                    grants_session=True)


def _initial_matches(account: Account, pw: str, crypto: Crypto) -> bool:
    try:
        typed = normalize.normalize_initial_password(pw)
    except InvalidInput:
        typed = ""
    # Always compute the HMAC so a malformed entry costs what a wrong one does.
    stored = account.initial_digest or ""
    return crypto.pepper.verify(typed, stored) and bool(typed) and bool(stored)


def _initial_expired(account: Account, ctx: _Ctx) -> bool:
    lifetime = ctx.settings.initial_password_lifetime
    if lifetime is None or account.initial_issued_at is None:
        return False
    return ctx.now > account.initial_issued_at + lifetime


def _submit_email(account: Account, event: SubmitEmail, ctx: _Ctx) -> Outcome:
    try:
        address = normalize.normalize_email(event.email)
    except InvalidInput:
        return Refused(Reason.EMAIL_INVALID, field="email")
    try:
        confirmation = normalize.normalize_email(event.confirmation)
    except InvalidInput:
        return Refused(Reason.EMAILS_DIFFER, field="confirmation")
    if not hmac.compare_digest(normalize.email_key(address).encode(),
                               normalize.email_key(confirmation).encode()):
        return Refused(Reason.EMAILS_DIFFER, field="confirmation")
    live = _live_link(account, LinkPurpose.VERIFY_EMAIL)
    same_address = (live is not None and live.address is not None
                    and normalize.email_key(live.address) == normalize.email_key(address))
    if same_address and live is not None and _cooling_down(live, ctx):
        return Refused(Reason.RATE_LIMITED)
    new, token, code = _issue_link(account, LinkPurpose.VERIFY_EMAIL, address, ctx)
    new = attrs.evolve(new, stage=Stage.EMAIL_PENDING, pending_email=address,
                       activation_requested_at=None, activation_rejection=None)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.VALIDATION, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip),
        ctx.audit(account, "email_submitted"),
    )
    return Accepted(new, effects, Step.CHECK_MAILBOX)


def _resend(account: Account, event: ResendLink, ctx: _Ctx) -> Outcome:
    address = account.pending_email
    if address is None:
        return Refused(Reason.INVALID_STEP)
    live = _live_link(account, LinkPurpose.VERIFY_EMAIL)
    if live is not None and _cooling_down(live, ctx):
        return Refused(Reason.RATE_LIMITED)
    new, token, code = _issue_link(account, LinkPurpose.VERIFY_EMAIL, address, ctx)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.VALIDATION, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip),
        ctx.audit(account, "link_resent"),
    )
    return Accepted(new, effects, Step.CHECK_MAILBOX)


def _change_email(account: Account, event: ChangeEmail, ctx: _Ctx) -> Outcome:
    new = _retire_links(account, LinkPurpose.VERIFY_EMAIL, LinkStatus.SUPERSEDED)
    new = attrs.evolve(new, stage=Stage.EMAIL_REQUIRED)
    return Accepted(new, (ctx.audit(account, "email_change_started"),), Step.EMAIL)


def _declare_no_email(account: Account, event: DeclareNoEmail, ctx: _Ctx) -> Outcome:
    new = _retire_links(account, LinkPurpose.VERIFY_EMAIL, LinkStatus.REVOKED)
    new = attrs.evolve(new, stage=Stage.AWAITING_ACTIVATION, activation_requested_at=ctx.now,
                       activation_rejection=None)
    return Accepted(new, (ctx.audit(account, "activation_requested"),), Step.AWAITING_ACTIVATION)


def _confirm_link(account: Account, event: ConfirmLink, ctx: _Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.VERIFY_EMAIL, event.nonce_hash, ctx.now)
    if reason is not None:
        return Refused(reason, effects=(ctx.audit(account, "link_confirm", reason.value),))
    link = _find_link(account, LinkPurpose.VERIFY_EMAIL, event.nonce_hash)
    assert link is not None
    return _email_verified(account, link, ctx, "link")


def _submit_code(account: Account, event: SubmitCode, ctx: _Ctx) -> Outcome:
    live = _live_link(account, LinkPurpose.VERIFY_EMAIL)
    if live is None or live.code_digest is None:
        return Refused(Reason.LINK_INVALID, field="code")
    if ctx.now > live.expires_at:
        return Refused(Reason.LINK_EXPIRED, field="code")
    if live.code_failures >= ctx.settings.code_max_attempts:
        return Refused(Reason.CODE_ATTEMPTS_EXCEEDED, field="code")
    try:
        code = normalize_code(event.code)
    except BadToken:
        code = ""
    if code and verify_code(ctx.crypto.pepper, account.account_id, code, live.code_digest):
        return _email_verified(account, live, ctx, "code")
    failures = live.code_failures + 1
    counted = _replace_link(account, live, attrs.evolve(live, code_failures=failures))
    reason = (Reason.CODE_ATTEMPTS_EXCEEDED if failures >= ctx.settings.code_max_attempts
              else Reason.CODE_INVALID)
    return Refused(reason, field="code", account=counted,
                   effects=(ctx.audit(account, "code", "wrong_code"),))


def _email_verified(account: Account, link: Link, ctx: _Ctx, how: str) -> Accepted:
    spent = _replace_link(account, link, attrs.evolve(link, status=LinkStatus.USED))
    new = attrs.evolve(spent, stage=Stage.PASSWORD_REQUIRED, email=link.address,
                       email_verified_at=ctx.now, pending_email=None)
    return Accepted(new, (ctx.audit(account, "email_verified", detail=how),), Step.PASSWORD,
                    grants_session=True)


def _set_password(account: Account, event: SetPassword, ctx: _Ctx) -> Outcome:
    policy = ctx.settings.password_policy
    context = PasswordContext(
        member_number=account.member_number,
        email=account.email or account.pending_email or "",
        names=tuple(account.name.split()),  # type: ignore[arg-type]
    )
    try:
        rejections = policy.check(event.password, event.confirmation, context)
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="password")
    if not rejections and account.initial_digest is not None:
        pw = normalize.normalize_password(event.password)
        if _initial_matches(account, pw, ctx.crypto):
            rejections = (PasswordRejection.SAME_AS_INITIAL,)
    if rejections:
        reasons = tuple(_PASSWORD_REASONS[r] for r in rejections)
        field = "confirmation" if reasons[0] is Reason.PASSWORDS_DIFFER else "password"
        return Refused(reasons[0], field=field, others=reasons[1:],
                       params=(("min_length", policy.min_length),
                               ("max_length", policy.max_length)))
    pw = normalize.normalize_password(event.password)
    pw_hash = ctx.crypto.hasher.hash(pw, ctx.fresh().salt)
    new = _retire_all_links(account)
    target = Stage.QUESTION_REQUIRED if ctx.settings.secret_questions else Stage.ACTIVE
    new = attrs.evolve(new, password_hash=pw_hash, password_changed_at=ctx.now,
                       initial_digest=None, session_epoch=account.session_epoch + 1, stage=target)
    channel = Channel.EMAIL if account.email else Channel.POST
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.PASSWORD_CHANGED, account.account_id, channel, ctx.now,
                   to=account.email, ip=ctx.origin.ip),
        ctx.audit(account, "password_set"),
    )
    return Accepted(new, effects, next_step(new, ctx.now, ctx.settings), grants_session=True)


def _set_answer(account: Account, event: SetSecretAnswer, ctx: _Ctx) -> Outcome:
    settings = ctx.settings
    if not settings.secret_questions:
        return Refused(Reason.QUESTIONS_DISABLED)
    if not isinstance(event.question_id, str) or event.question_id not in settings.questions:
        return Refused(Reason.QUESTION_UNKNOWN, field="question")
    try:
        rejections = check_answer(event.answer, event.confirmation,
                                  member_number=account.member_number,
                                  email=account.email or "")
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="answer")
    answer = ""
    if not rejections:
        answer = normalize.normalize_answer(event.answer)
        if account.password_hash is not None and _same_as_password(event.answer, answer,
                                                                    account.password_hash, ctx):
            rejections = (AnswerRejection.SAME_AS_PASSWORD,)
    if rejections:
        reasons = tuple(_ANSWER_REASONS[r] for r in rejections)
        field = "confirmation" if reasons[0] is Reason.ANSWERS_DIFFER else "answer"
        return Refused(reasons[0], field=field, others=reasons[1:])
    new = attrs.evolve(account, question_id=event.question_id, stage=Stage.ACTIVE,
                       answer_hash=ctx.crypto.hasher.hash(answer, ctx.fresh().salt))
    return Accepted(new, (ctx.audit(account, "secret_answer_set"),), Step.PROFILE)


def _same_as_password(raw: str, normalized: str, password_hash: str, ctx: _Ctx) -> bool:
    hasher = ctx.crypto.hasher
    # Both forms are tried: the member may have typed the answer exactly as the password.
    as_typed = hasher.verify(normalize.normalize_password(raw), password_hash)
    return hasher.verify(normalized, password_hash) or as_typed


def _staff_activate(account: Account, event: StaffActivate, ctx: _Ctx) -> Outcome:
    new = attrs.evolve(account, stage=Stage.PASSWORD_REQUIRED, activation_rejection=None)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.ACTIVATED, account.account_id, _offline_channel(account), ctx.now),
        _staff_audit(account, ctx, event.staff_id, "activation_approved"),
    )
    return Accepted(new, effects, Step.PASSWORD)


def _staff_reject(account: Account, event: StaffReject, ctx: _Ctx) -> Outcome:
    try:
        reason = normalize.check_text(event.reason, "reason", 500).strip()
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="reason")
    new = attrs.evolve(account, stage=Stage.EMAIL_REQUIRED, activation_rejection=reason)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.ACTIVATION_REJECTED, account.account_id, _offline_channel(account),
                   ctx.now, detail=reason),
        _staff_audit(account, ctx, event.staff_id, "activation_rejected"),
    )
    return Accepted(new, effects, Step.EMAIL)


def _staff_audit(account: Account, ctx: _Ctx, staff_id: str, action: str) -> Audit:
    return Audit(action, "ok", ctx.now, account.account_id, f"staff:{staff_id}", ctx.origin.ip)


def _offline_channel(account: Account) -> Channel:
    # A no-email member is reached by phone when one is known, else by post.
    return Channel.PHONE if account.phone else Channel.POST


_HANDLERS: Mapping[type, Callable[[Account, object, _Ctx], Outcome]] = {
    Login: _login,  # type: ignore[dict-item]
    SubmitEmail: _submit_email,  # type: ignore[dict-item]
    DeclareNoEmail: _declare_no_email,  # type: ignore[dict-item]
    ResendLink: _resend,  # type: ignore[dict-item]
    ChangeEmail: _change_email,  # type: ignore[dict-item]
    ConfirmLink: _confirm_link,  # type: ignore[dict-item]
    SubmitCode: _submit_code,  # type: ignore[dict-item]
    SetPassword: _set_password,  # type: ignore[dict-item]
    SetSecretAnswer: _set_answer,  # type: ignore[dict-item]
    StaffActivate: _staff_activate,  # type: ignore[dict-item]
    StaffReject: _staff_reject,  # type: ignore[dict-item]
}

# --------------------------------------------------------------------------- links


def _issue_link(account: Account, purpose: LinkPurpose, address: str | None,
                ctx: _Ctx) -> tuple[Account, str, str]:
    fresh = ctx.fresh()
    crypto = ctx.crypto
    token = crypto.signer.issue(account.account_id, purpose.value, fresh.nonce)
    code = code_from_bytes(fresh.code)
    link = Link(
        purpose=purpose,
        nonce_hash=nonce_hash(fresh.nonce),
        issued_at=ctx.now,
        expires_at=ctx.now + ctx.settings.link_lifetime,
        address=address,
        code_digest=code_digest(crypto.pepper, account.account_id, code),
    )
    retired = _retire_links(account, purpose, LinkStatus.SUPERSEDED)
    links = _trim((*retired.links, link), ctx.settings.link_history)
    return attrs.evolve(retired, links=links), token, code


def _trim(links: tuple[Link, ...], keep: int) -> tuple[Link, ...]:
    if len(links) <= keep:
        return links
    # Live links are never dropped; the oldest spent ones go first.
    spent = [lk for lk in links if lk.status is not LinkStatus.LIVE]
    drop = {id(lk) for lk in spent[: len(links) - keep]}
    return tuple(lk for lk in links if id(lk) not in drop)


def _retire_links(account: Account, purpose: LinkPurpose, status: LinkStatus) -> Account:
    links = tuple(
        attrs.evolve(lk, status=status)
        if lk.purpose is purpose and lk.status is LinkStatus.LIVE else lk
        for lk in account.links
    )
    return attrs.evolve(account, links=links)


def _retire_all_links(account: Account) -> Account:
    links = tuple(
        attrs.evolve(lk, status=LinkStatus.REVOKED) if lk.status is LinkStatus.LIVE else lk
        for lk in account.links
    )
    return attrs.evolve(account, links=links)


def _replace_link(account: Account, old: Link, new: Link) -> Account:
    return attrs.evolve(account, links=tuple(new if lk is old else lk for lk in account.links))


def _live_link(account: Account, purpose: LinkPurpose) -> Link | None:
    for link in reversed(account.links):
        if link.purpose is purpose and link.status is LinkStatus.LIVE:
            return link
    return None


def _find_link(account: Account, purpose: LinkPurpose, token_hash: str) -> Link | None:
    found = None
    # Compare against every stored hash so the time taken does not depend on the match.
    for link in account.links:
        if hmac.compare_digest(link.nonce_hash.encode(), token_hash.encode()) and (
            link.purpose is purpose
        ):
            found = link
    return found


def _cooling_down(link: Link, ctx: _Ctx) -> bool:
    return ctx.now < link.issued_at + ctx.settings.resend_cooldown
