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
import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from . import normalize
from .config import Crypto, RecoveryPolicy, Settings
from .credentials import initial_password_from_bytes
from .errors import BadToken, InvalidInput
from .model import (
    Account,
    Adviser,
    Channel,
    Consent,
    Link,
    LinkPurpose,
    LinkStatus,
    RememberToken,
    Stage,
    Step,
)
from .password_policy import AnswerRejection, PasswordContext, PasswordRejection, check_answer
from .remember import SERIES_BYTES, secret_hash, series_bytes, series_id
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
    PASSWORD_TOO_GUESSABLE = "password_too_guessable"
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
    ANSWER_WRONG = "answer_wrong"
    EMAIL_UNCHANGED = "email_unchanged"
    RESET_NOT_AVAILABLE = "reset_not_available"


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
    PasswordRejection.TOO_GUESSABLE: Reason.PASSWORD_TOO_GUESSABLE,
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
    """The member typed their member number (already resolved) and a password.

    ``remember`` is "Se souvenir de moi": an active member then gets a remember-me token.
    """

    password: str = attrs.field(repr=False)
    remember: bool = False


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
    """The member confirmed an opened validation link (POST, never GET).

    ``same_session`` is true when the request carries the live session of the account the
    link belongs to. Only then does confirming open the password step at once: a link
    confirmed elsewhere (perhaps by whoever reads a mistyped address) verifies the address
    and nothing more, and the member goes on by logging in with the initial credentials.
    """

    nonce_hash: str = attrs.field(repr=False)
    same_session: bool = False


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


@attrs.frozen
class RememberLogin:
    """A remembered browser came back with its token (already parsed and hashed)."""

    series_id: str
    secret_hash: str = attrs.field(repr=False)


@attrs.frozen
class RevokeRemember:
    """Forget one remembered device, or all of them when ``series_id`` is None."""

    series_id: str | None = None


@attrs.frozen
class RequestReset:
    """"Mot de passe oublié ?": send a reset link to the verified address."""


@attrs.frozen
class CompleteReset:
    """The member confirmed an opened reset link (POST) with the answer and a new password."""

    nonce_hash: str = attrs.field(repr=False)
    answer: str | None = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class StaffAssistedReset:
    """Staff confirmed the member's identity; the member answers and picks a new password."""

    staff_id: str
    answer: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class ChangePassword:
    """A logged-in member changes their password, re-typing the current one."""

    current: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class RemindIdentifier:
    """"Identifiant oublié ?": mail the member number to this account's verified address."""


@attrs.frozen
class RequestEmailChange:
    """Change the address after onboarding: re-authenticate, then confirm by link."""

    password: str = attrs.field(repr=False)
    email: str
    confirmation: str


@attrs.frozen
class ConfirmEmailChange:
    """The member confirmed the link sent to the new address (POST).

    ``same_session`` as for :class:`ConfirmLink`: confirmed elsewhere, the new address is
    verified but is no recovery channel until the member next logs in.
    """

    nonce_hash: str = attrs.field(repr=False)
    same_session: bool = False


@attrs.frozen
class ConfirmNotMe:
    """"Ce n'était pas moi" (POST): lock the account, end every session, start recovery."""

    nonce_hash: str = attrs.field(repr=False)


@attrs.frozen
class UpdateProfile:
    """"Mon profil et mes informations": the whole editable part, as the form sends it."""

    channels: tuple[Channel, ...] = ()
    pets: bool | None = None
    interests: tuple[str, ...] = ()
    comments: str = ""
    source: str = "web"


@attrs.frozen
class SetAdviser:
    """The host records the member's adviser or agency (host data); None clears it."""

    adviser: Adviser | None


@attrs.frozen
class StaffUnlock:
    """Staff lift a lock (the failure counter is cleared by the service)."""

    staff_id: str


@attrs.frozen
class StaffDisable:
    """Staff disable the account: every session and remembered device ends."""

    staff_id: str


@attrs.frozen
class StaffEnable:
    """Staff enable a disabled account again."""

    staff_id: str


@attrs.frozen
class StaffReissue:
    """Staff issue new initial credentials; the old ones, every link and session die."""

    staff_id: str


@attrs.frozen
class StaffVerifyEmail:
    """Staff mark an address as verified (the pending one when ``email`` is None)."""

    staff_id: str
    email: str | None = None


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
    | RememberLogin
    | RevokeRemember
    | RequestReset
    | CompleteReset
    | StaffAssistedReset
    | ChangePassword
    | RemindIdentifier
    | RequestEmailChange
    | ConfirmEmailChange
    | ConfirmNotMe
    | UpdateProfile
    | SetAdviser
    | StaffUnlock
    | StaffDisable
    | StaffEnable
    | StaffReissue
    | StaffVerifyEmail
)

# --------------------------------------------------------------------------- effects


class Notice(enum.Enum):
    """The messages the journey sends to a member."""

    VALIDATION = "validation"
    PASSWORD_CHANGED = "password_changed"
    ACTIVATED = "activated"
    ACTIVATION_REJECTED = "activation_rejected"
    RESET = "reset"
    IDENTIFIER = "identifier"
    EMAIL_CHANGE = "email_change"
    EMAIL_CHANGE_NOTICE = "email_change_notice"
    REMEMBER_THEFT = "remember_theft"


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
    user_agent: str | None = None


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
    """Fresh random bytes drawn by the caller for one step: salt, nonce, code, series.

    ``nonce`` is a link's nonce or a remember-me secret; ``series`` a remember-me series.
    """

    salt: bytes = attrs.field(repr=False)
    nonce: bytes = attrs.field(repr=False)
    code: bytes = attrs.field(repr=False)
    series: bytes = attrs.field(default=b"", repr=False)
    extra: bytes = attrs.field(default=b"", repr=False)

    @classmethod
    def draw(cls, token_bytes: Callable[[int], bytes]) -> Entropy:
        """Draw every field from a CSPRNG such as ``secrets.token_bytes``."""
        return cls(salt=token_bytes(16), nonce=token_bytes(32), code=token_bytes(8),
                   series=token_bytes(SERIES_BYTES), extra=token_bytes(32))

    def second_nonce(self) -> bytes:
        """A second link nonce, for the steps that send two links at once."""
        if len(self.extra) < 16:
            raise ValueError("this event sends two links: draw the entropy with Entropy.draw")
        return self.extra


def _clean_ip(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _clean_agent(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value[:300] if ch.isprintable())
    return cleaned.strip() or None


@attrs.frozen
class Origin:
    """Where an event comes from: the member's IP and user agent, or a staff id.

    Both come from the request, so both are cleaned on the way in: ``ip`` is kept only
    when it parses as one IP address (a host behind a proxy splits ``X-Forwarded-For``
    first), and ``user_agent`` loses control characters and is cut to 300 characters.
    Anything else becomes ``None`` rather than reach an audit record or a mail.
    """

    ip: str | None = attrs.field(default=None, converter=_clean_ip)
    user_agent: str | None = attrs.field(default=None, converter=_clean_agent)
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
    """The event was applied. Save ``account``, then carry out ``effects``.

    ``secret`` is handed to the caller once and never stored: a remember-me token, or
    re-issued initial credentials for staff to print.
    """

    account: Account
    effects: tuple[Effect, ...]
    step: Step
    grants_session: bool = False
    secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Refused:
    """The event was refused.

    ``account`` is ``None`` when nothing changed at all. It is set only for bookkeeping
    that a refusal must still record (a wrong code counts against the link).
    ``others`` lists further reasons, for forms that show every problem at once.
    ``secret_checked`` says the password or answer was proven right before the refusal,
    so the failure counter reserved for the attempt may be cleared.
    """

    reason: Reason
    field: str | None = None
    others: tuple[Reason, ...] = ()
    params: tuple[tuple[str, int | str], ...] = ()
    account: Account | None = None
    effects: tuple[Effect, ...] = ()
    secret_checked: bool = False


Outcome = Accepted | Refused

# --------------------------------------------------------------------------- the table

_JOURNEY: dict[Stage, dict[type, tuple[Stage, ...]]] = {
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

#: Account life after the password is set: each keeps the account where it is.
_AFTER_PASSWORD_EVENTS: tuple[type, ...] = (
    RequestReset, CompleteReset, StaffAssistedReset, ChangePassword, RemindIdentifier,
    ConfirmNotMe, RevokeRemember)
_ACTIVE_ONLY_EVENTS: tuple[type, ...] = (
    RememberLogin, RequestEmailChange, ConfirmEmailChange, UpdateProfile)
#: Staff and host actions that every stage accepts, even on a disabled account.
_ADMIN_EVENTS: tuple[type, ...] = (
    StaffUnlock, StaffDisable, StaffEnable, SetAdviser, StaffReissue, StaffVerifyEmail)
_TO_PASSWORD_STEP: tuple[type, ...] = (StaffReissue, StaffVerifyEmail)


def _build_table() -> dict[Stage, dict[type, tuple[Stage, ...]]]:
    table = {stage: dict(row) for stage, row in _JOURNEY.items()}
    for stage in (Stage.QUESTION_REQUIRED, Stage.ACTIVE):
        for event in _AFTER_PASSWORD_EVENTS:
            table[stage][event] = (stage,)
    for event in _ACTIVE_ONLY_EVENTS:
        table[Stage.ACTIVE][event] = (Stage.ACTIVE,)
    # Staff may activate a member, so an address is verified at the password step too.
    table[Stage.PASSWORD_REQUIRED][RemindIdentifier] = (Stage.PASSWORD_REQUIRED,)
    for stage, row in table.items():
        for event in _ADMIN_EVENTS:
            row[event] = (stage,)
        for event in _TO_PASSWORD_STEP:
            row[event] = tuple(dict.fromkeys((stage, Stage.PASSWORD_REQUIRED)))
    return table


#: For each stage, the events it accepts and the stages each one can lead to.
TABLE: Mapping[Stage, Mapping[type, tuple[Stage, ...]]] = _build_table()

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

# --------------------------------------------------------------------------- queries


def next_step(account: Account, now: datetime, settings: Settings) -> Step:
    """The screen an account resumes at, at its next login."""
    stage = account.stage
    if stage in (Stage.PROVISIONED, Stage.EMAIL_REQUIRED):
        return Step.EMAIL
    if stage is Stage.EMAIL_PENDING:
        live = live_link(account, LinkPurpose.VERIFY_EMAIL)
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
    if account.disabled and not isinstance(event, (Login, *_ADMIN_EVENTS)):
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


def precheck(account: Account, event: Event, now: datetime, settings: Settings) -> Refused | None:
    """The refusal an event gets before any secret is looked at, or ``None``.

    The shell counts an attempt against the lockout before checking a password or an
    answer; it asks this first, so that a refusal which checked no secret (a wrong step,
    a disabled account, a dead reset link, a policy that does not apply) counts nothing.
    :func:`step` gives the same refusal for the same inputs.
    """
    if type(event) not in TABLE[account.stage]:
        return _misfit(account, event, now)
    if account.disabled and not isinstance(event, (Login, *_ADMIN_EVENTS)):
        return Refused(Reason.DISABLED)
    if isinstance(event, CompleteReset):
        reason = inspect_link(account, LinkPurpose.RESET_PASSWORD, event.nonce_hash, now)
        return None if reason is None else Refused(reason)
    if isinstance(event, StaffAssistedReset):
        return _staff_assisted_precheck(account, event, settings)
    return None


def _staff_assisted_precheck(account: Account, event: StaffAssistedReset,
                             settings: Settings) -> Refused | None:
    if not _staff_ok(event.staff_id):
        return Refused(Reason.INPUT_INVALID, field="staff_id")
    if not settings.staff_assisted_recovery:
        return Refused(Reason.RESET_NOT_AVAILABLE)
    if recovery_address(account) is not None:
        # The answer with staff is the path of members with no usable address only: a
        # member with a verified, proven address recovers through the emailed link.
        return Refused(Reason.RESET_NOT_AVAILABLE)
    return None


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


_LINK_EVENTS: Mapping[type, LinkPurpose] = {
    ConfirmLink: LinkPurpose.VERIFY_EMAIL,
    CompleteReset: LinkPurpose.RESET_PASSWORD,
    ConfirmEmailChange: LinkPurpose.CHANGE_EMAIL,
    ConfirmNotMe: LinkPurpose.NOT_ME,
}


def _misfit(account: Account, event: Event, now: datetime) -> Refused:
    # A re-clicked or outdated link deserves its precise reason, not "wrong step".
    purpose = _LINK_EVENTS.get(type(event))
    if purpose is not None:
        token_hash = getattr(event, "nonce_hash", "")
        reason = inspect_link(account, purpose, token_hash, now)
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
    if account.locked_at is not None:
        # "Ce n'était pas moi" locked it: only recovery or staff open it again. Right and
        # wrong passwords get the same generic answer, so a thief learns nothing.
        return Refused(Reason.BAD_CREDENTIALS, field="password",
                       effects=(ctx.audit(account, "login", "hard_locked" if ok
                                          else "bad_credentials"),))
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
    token = None
    if event.remember is True and new.stage is Stage.ACTIVE:
        new, token = _remember(new, ctx)
    return Accepted(new, (ctx.audit(account, "login", detail="remember" if token else None),),
                    next_step(new, ctx.now, ctx.settings), grants_session=True, secret=token)


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
        # Validation is the costly part of this step: the same text need not be validated
        # twice.
        confirmation = (address if event.confirmation == event.email
                        else normalize.normalize_email(event.confirmation))
    except InvalidInput:
        return Refused(Reason.EMAILS_DIFFER, field="confirmation")
    if not hmac.compare_digest(normalize.email_key(address).encode(),
                               normalize.email_key(confirmation).encode()):
        return Refused(Reason.EMAILS_DIFFER, field="confirmation")
    live = live_link(account, LinkPurpose.VERIFY_EMAIL)
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
    live = live_link(account, LinkPurpose.VERIFY_EMAIL)
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
    return _email_verified(account, link, ctx, "link", event.same_session is True)


def _submit_code(account: Account, event: SubmitCode, ctx: _Ctx) -> Outcome:
    live = live_link(account, LinkPurpose.VERIFY_EMAIL)
    if live is None or live.code_digest is None:
        return Refused(Reason.LINK_INVALID, field="code")
    if ctx.now > live.expires_at:
        return Refused(Reason.LINK_EXPIRED, field="code")
    if live.code_failures >= ctx.settings.code_max_attempts:
        return Refused(Reason.CODE_ATTEMPTS_EXCEEDED, field="code")
    try:
        code = normalize_code(event.code)
    except BadToken:
        # Malformed input is not a guess at the code: refuse it without counting.
        return Refused(Reason.CODE_INVALID, field="code")
    if verify_code(ctx.crypto.pepper, account.account_id, code, live.code_digest):
        # The code is typed into the member's own logged-in session.
        return _email_verified(account, live, ctx, "code", True)
    failures = live.code_failures + 1
    counted = _replace_link(account, live, attrs.evolve(live, code_failures=failures))
    reason = (Reason.CODE_ATTEMPTS_EXCEEDED if failures >= ctx.settings.code_max_attempts
              else Reason.CODE_INVALID)
    return Refused(reason, field="code", account=counted,
                   effects=(ctx.audit(account, "code", "wrong_code"),))


def _email_verified(account: Account, link: Link, ctx: _Ctx, how: str,
                    in_session: bool) -> Accepted:
    assert link.address is not None
    spent = _replace_link(account, link, attrs.evolve(link, status=LinkStatus.USED))
    new = _move_address(spent, link.address, ctx, proven=in_session)
    new = attrs.evolve(new, stage=Stage.PASSWORD_REQUIRED)
    audit = ctx.audit(account, "email_verified",
                      detail=how if in_session else f"{how}_outside_session")
    if in_session:
        return Accepted(new, (audit,), Step.PASSWORD, grants_session=True)
    return Accepted(new, (audit,), Step.LOGIN)


def _set_password(account: Account, event: SetPassword, ctx: _Ctx) -> Outcome:
    pw = _check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return pw
    # A member sent back here by re-issued credentials keeps the answer already set.
    target = (Stage.QUESTION_REQUIRED
              if ctx.settings.secret_questions and account.answer_hash is None else Stage.ACTIVE)
    new, effects = _new_password(attrs.evolve(account, stage=target), pw, ctx, "password_set")
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
    channel = _notice_channel(account)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.ACTIVATED, account.account_id, channel, ctx.now,
                   to=account.email if channel is Channel.EMAIL else None),
        _staff_audit(account, ctx, event.staff_id, "activation_approved"),
    )
    return Accepted(new, effects, Step.PASSWORD)


def _staff_reject(account: Account, event: StaffReject, ctx: _Ctx) -> Outcome:
    try:
        reason = normalize.check_text(event.reason, "reason", 500).strip()
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="reason")
    new = attrs.evolve(account, stage=Stage.EMAIL_REQUIRED, activation_rejection=reason)
    # No mail template for a rejection: the member chose the no-email path anyway.
    channel = _notice_channel(account, allow_email=False)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.ACTIVATION_REJECTED, account.account_id, channel, ctx.now,
                   detail=reason),
        _staff_audit(account, ctx, event.staff_id, "activation_rejected"),
    )
    return Accepted(new, effects, Step.EMAIL)


def _staff_audit(account: Account, ctx: _Ctx, staff_id: str, action: str) -> Audit:
    return Audit(action, "ok", ctx.now, account.account_id, f"staff:{staff_id}", ctx.origin.ip)


def _offline_channel(account: Account) -> Channel:
    # A no-email member is reached by phone when one is known, else by post.
    return Channel.PHONE if account.phone else Channel.POST



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
        expires_at=ctx.now + link_lifetime(purpose, ctx.settings),
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


def recovery_address(account: Account) -> str | None:
    """The address recovery may write to: verified, and proven to be the member's.

    A reset link, the member number and a "ce n'était pas moi" recovery only ever go
    here. ``None`` when the member has no such address.
    """
    if account.email is None or account.email_verified_at is None or account.email_unproven:
        return None
    return account.email


def _move_address(account: Account, address: str, ctx: _Ctx, *, proven: bool) -> Account:
    """Make ``address`` the verified one: every change of address, by member or staff.

    Every live link or code sent to another address dies with the change (a reset link
    at the old address must not outlive it). "Ce n'était pas moi" links stay: they exist
    to report changes, and :func:`_confirm_not_me` knows which ones predate this one.
    """
    key = normalize.email_key(address)
    changed = account.email is None or normalize.email_key(account.email) != key
    links = tuple(
        attrs.evolve(lk, status=LinkStatus.REVOKED)
        if lk.status is LinkStatus.LIVE
        and (lk.address is None or normalize.email_key(lk.address) != key) else lk
        for lk in account.links
    )
    # Re-confirming the same address keeps a proof already made.
    unproven = not proven and (changed or account.email_unproven)
    return attrs.evolve(
        account, links=links, email=address, email_verified_at=ctx.now, pending_email=None,
        email_unproven=unproven,
        email_changed_at=ctx.now if changed else account.email_changed_at)


def _replace_link(account: Account, old: Link, new: Link) -> Account:
    return attrs.evolve(account, links=tuple(new if lk is old else lk for lk in account.links))


def live_link(account: Account, purpose: LinkPurpose) -> Link | None:
    """The newest link of ``purpose`` that can still be spent, expired or not."""
    for link in reversed(account.links):
        if link.purpose is purpose and link.status is LinkStatus.LIVE:
            return link
    return None


def _find_link(account: Account, purpose: LinkPurpose, token_hash: str) -> Link | None:
    found = None
    if not isinstance(token_hash, str):
        return None
    # "Ce n'était pas moi" lives apart: it must outlive the changes it reports.
    candidates = account.links if purpose is not LinkPurpose.NOT_ME else account.not_me_links
    # Compare against every stored hash so the time taken does not depend on the match.
    for link in candidates:
        if hmac.compare_digest(link.nonce_hash.encode(), token_hash.encode()) and (
            link.purpose is purpose
        ):
            found = link
    return found


def _cooling_down(link: Link, ctx: _Ctx) -> bool:
    return ctx.now < link.issued_at + ctx.settings.resend_cooldown


def link_lifetime(purpose: LinkPurpose, settings: Settings) -> timedelta:
    """How long a link of this purpose stays valid."""
    if purpose is LinkPurpose.RESET_PASSWORD:
        return settings.reset_link_lifetime
    if purpose is LinkPurpose.NOT_ME:
        return settings.not_me_link_lifetime
    return settings.link_lifetime


# --------------------------------------------------------------------------- account life

_ROTATION_GRACE = timedelta(seconds=10)
_MAX_INTERESTS = 20
_MAX_INTEREST = 60
_MAX_COMMENTS = 2000
_MAX_SOURCE = 64
_MAX_ADVISER_FIELD = 500
_MAX_NOT_ME = 4
_WEB_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


def mask_email(address: str) -> str:
    """An address with most of its local part hidden, for notices sent elsewhere."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def _ua_hint(user_agent: str | None) -> str | None:
    if not isinstance(user_agent, str):
        return None
    # A hint for the member's device list, not an identifier: short and printable.
    cleaned = "".join(ch for ch in user_agent[:200] if ch.isprintable())
    return cleaned[:80] or None


def _staff_ok(staff_id: object) -> bool:
    try:
        normalize.check_text(staff_id, "staff_id", 64)
    except InvalidInput:
        return False
    return True


def _notice_channel(account: Account, *, allow_email: bool = True) -> Channel:
    """The channel the member's profile prefers among those that can reach them."""
    reachable = {
        Channel.EMAIL: allow_email and account.email is not None,
        Channel.SMS: bool(account.phone),
        Channel.PHONE: bool(account.phone),
        Channel.POST: True,
    }
    for channel in account.profile.channels:
        if reachable.get(channel):
            return channel
    if allow_email and account.email is not None:
        return Channel.EMAIL
    return _offline_channel(account)


def _remember(account: Account, ctx: _Ctx) -> tuple[Account, str]:
    fresh = ctx.fresh()
    if len(fresh.series) != SERIES_BYTES:
        raise ValueError("remember-me needs Entropy.series: use Entropy.draw(...)")
    token = ctx.crypto.remember.issue(account.account_id, fresh.series, fresh.nonce)
    record = RememberToken(
        series_id=series_id(fresh.series),
        secret_hash=secret_hash(fresh.nonce),
        created_at=ctx.now,
        expires_at=ctx.now + ctx.settings.remember_lifetime,
        last_used_at=ctx.now,
        user_agent_hint=_ua_hint(ctx.origin.user_agent),
    )
    kept = tuple(t for t in account.remember if ctx.now <= t.expires_at)
    # Bounded: the least recently used device is forgotten first.
    kept = tuple(sorted(kept, key=lambda t: t.last_used_at))
    kept = (*kept, record)[-ctx.settings.remember_max_devices:]
    return attrs.evolve(account, remember=kept), token


def _remember_login(account: Account, event: RememberLogin, ctx: _Ctx) -> Outcome:
    found = None
    for t in account.remember:
        if isinstance(event.series_id, str) and hmac.compare_digest(
                t.series_id.encode(), event.series_id.encode()[:64]):
            found = t
    if found is None:
        return Refused(Reason.SESSION_EXPIRED,
                       effects=(ctx.audit(account, "remember_login", "unknown_series"),))
    others = tuple(t for t in account.remember if t is not found)
    if ctx.now > found.expires_at:
        return Refused(Reason.SESSION_EXPIRED, account=attrs.evolve(account, remember=others),
                       effects=(ctx.audit(account, "remember_login", "expired"),))
    presented = event.secret_hash.encode() if isinstance(event.secret_hash, str) else b""
    if not hmac.compare_digest(found.secret_hash.encode(), presented):
        if (found.previous_hash is not None
                and hmac.compare_digest(found.previous_hash.encode(), presented)
                and ctx.now - found.last_used_at <= _ROTATION_GRACE):
            # Two requests of one browser raced on one rotation: refuse, but no alarm.
            return Refused(Reason.SESSION_EXPIRED,
                           effects=(ctx.audit(account, "remember_login", "rotation_race"),))
        # An already-rotated secret came back: someone copied the token. Whoever could
        # copy one cookie may have copied the member's others too, so every remembered
        # device is forgotten (the scheme's own advice), with the sessions they opened,
        # and the member is told.
        revoked = attrs.evolve(account, remember=(), session_epoch=account.session_epoch + 1)
        return Refused(Reason.SESSION_EXPIRED, account=revoked,
                       effects=(ctx.audit(account, "remember_theft", "all_series_revoked"),
                                _theft_notice(account, ctx)))
    if account.locked_at is not None:
        return Refused(Reason.LOCKED, effects=(ctx.audit(account, "remember_login", "locked"),))
    fresh = ctx.fresh()
    raw_series = series_bytes(found.series_id)
    if raw_series is None:
        return Refused(Reason.SESSION_EXPIRED)
    token = ctx.crypto.remember.issue(account.account_id, raw_series, fresh.nonce)
    rotated = attrs.evolve(found, secret_hash=secret_hash(fresh.nonce),
                           previous_hash=found.secret_hash, last_used_at=ctx.now,
                           user_agent_hint=_ua_hint(ctx.origin.user_agent)
                           or found.user_agent_hint)
    new = attrs.evolve(account, remember=(*others, rotated))
    return Accepted(new, (ctx.audit(account, "remember_login"),),
                    next_step(new, ctx.now, ctx.settings), grants_session=True, secret=token)


def _theft_notice(account: Account, ctx: _Ctx) -> SendNotice:
    # Informational only (no link): it may go to the verified address even if unproven.
    if account.email is not None and account.email_verified_at is not None:
        return SendNotice(Notice.REMEMBER_THEFT, account.account_id, Channel.EMAIL, ctx.now,
                          to=account.email, ip=ctx.origin.ip,
                          user_agent=ctx.origin.user_agent)
    return SendNotice(Notice.REMEMBER_THEFT, account.account_id, _offline_channel(account),
                      ctx.now, ip=ctx.origin.ip)


def _revoke_remember(account: Account, event: RevokeRemember, ctx: _Ctx) -> Outcome:
    if event.series_id is None:
        kept: tuple[RememberToken, ...] = ()
    elif isinstance(event.series_id, str):
        kept = tuple(t for t in account.remember if t.series_id != event.series_id)
    else:
        return Refused(Reason.INPUT_INVALID, field="series_id")
    new = attrs.evolve(account, remember=kept)
    detail = "all" if event.series_id is None else "one"
    return Accepted(new, (ctx.audit(account, "remember_revoked", detail=detail),),
                    next_step(new, ctx.now, ctx.settings))


def _check_new_password(account: Account, password: str, confirmation: str,
                        ctx: _Ctx) -> str | Refused:
    """The normalised new password, or the refusal naming every rule it breaks."""
    policy = ctx.settings.password_policy
    context = PasswordContext(
        member_number=account.member_number,
        email=account.email or account.pending_email or "",
        names=tuple(account.name.split()),
    )
    try:
        rejections = policy.check(password, confirmation, context)
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="password")
    # Retyping the initial password is the more telling reason than its guessability.
    if (rejections in ((), (PasswordRejection.TOO_GUESSABLE,))
            and account.initial_digest is not None
            and _initial_matches(account, normalize.normalize_password(password), ctx.crypto)):
        rejections = (PasswordRejection.SAME_AS_INITIAL,)
    if rejections:
        reasons = tuple(_PASSWORD_REASONS[r] for r in rejections)
        field = "confirmation" if reasons[0] is Reason.PASSWORDS_DIFFER else "password"
        return Refused(reasons[0], field=field, others=reasons[1:],
                       params=(("min_length", policy.min_length),
                               ("max_length", policy.max_length)))
    return normalize.normalize_password(password)


def _new_password(account: Account, pw: str, ctx: _Ctx, action: str,
                  actor: str | None = None) -> tuple[Account, tuple[Effect, ...]]:
    """Every password change: hash, end sessions, devices, links and locks; notify."""
    fresh = ctx.fresh()
    pw_hash = ctx.crypto.hasher.hash(pw, fresh.salt)
    new = _retire_all_links(account)
    new = attrs.evolve(new, password_hash=pw_hash, password_changed_at=ctx.now,
                       initial_digest=None, session_epoch=account.session_epoch + 1,
                       remember=(), locked_at=None)
    channel = Channel.EMAIL if account.email else Channel.POST
    token = None
    if account.email is not None:
        new, token = _issue_not_me(new, account.email, fresh.nonce, ctx)
    audit = ctx.audit(account, action)
    if actor is not None:
        audit = attrs.evolve(audit, actor=actor)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.PASSWORD_CHANGED, account.account_id, channel, ctx.now,
                   to=account.email, token=token, ip=ctx.origin.ip,
                   user_agent=ctx.origin.user_agent),
        audit,
    )
    return new, effects


def _check_secret_answer(account: Account, answer: object, ctx: _Ctx) -> Refused | None:
    """None when ``answer`` is the member's; else the refusal, after the same hash work."""
    hasher = ctx.crypto.hasher
    if not isinstance(answer, str) or len(answer) > normalize.MAX_ANSWER:
        return Refused(Reason.INPUT_INVALID, field="answer")
    try:
        typed = normalize.normalize_answer(answer)
    except InvalidInput:
        typed = ""
    if not ctx.settings.secret_questions or account.answer_hash is None:
        hasher.dummy_verify(typed)
        return Refused(Reason.RESET_NOT_AVAILABLE,
                       effects=(ctx.audit(account, "secret_answer", "not_available"),))
    ok = hasher.verify(typed, account.answer_hash) and bool(typed)
    if not ok:
        return Refused(Reason.ANSWER_WRONG, field="answer",
                       effects=(ctx.audit(account, "secret_answer", "wrong_answer"),))
    return None


def _request_reset(account: Account, event: RequestReset, ctx: _Ctx) -> Outcome:
    address = recovery_address(account)
    if address is None:
        return Refused(Reason.RESET_NOT_AVAILABLE,
                       effects=(ctx.audit(account, "reset_requested", "no_email"),))
    live = live_link(account, LinkPurpose.RESET_PASSWORD)
    if live is not None and _cooling_down(live, ctx):
        return Refused(Reason.RATE_LIMITED,
                       effects=(ctx.audit(account, "reset_requested", "cooling_down"),))
    new, token, code = _issue_link(account, LinkPurpose.RESET_PASSWORD, address, ctx)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.RESET, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
        ctx.audit(account, "reset_requested"),
    )
    return Accepted(new, effects, Step.LOGIN)


def _complete_reset(account: Account, event: CompleteReset, ctx: _Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.RESET_PASSWORD, event.nonce_hash, ctx.now)
    if reason is not None:
        return Refused(reason, effects=(ctx.audit(account, "reset", reason.value),))
    checked = False
    if ctx.settings.recovery_policy is RecoveryPolicy.LINK_AND_ANSWER:
        # The answer first: a password-rule refusal must not hide a wrong answer's count.
        refused = _check_secret_answer(account, event.answer, ctx)
        if refused is not None:
            return refused
        checked = True
    pw = _check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return attrs.evolve(pw, secret_checked=checked)
    link = _find_link(account, LinkPurpose.RESET_PASSWORD, event.nonce_hash)
    assert link is not None
    spent = _replace_link(account, link, attrs.evolve(link, status=LinkStatus.USED))
    new, effects = _new_password(spent, pw, ctx, "password_reset")
    # Not logged in afterwards: the member logs in with the new password.
    return Accepted(new, effects, Step.LOGIN)


def _staff_assisted_reset(account: Account, event: StaffAssistedReset, ctx: _Ctx) -> Outcome:
    refused = _staff_assisted_precheck(account, event, ctx.settings)
    if refused is not None:
        return refused
    refused = _check_secret_answer(account, event.answer, ctx)
    if refused is not None:
        return refused
    pw = _check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return attrs.evolve(pw, secret_checked=True)
    new, effects = _new_password(account, pw, ctx, "password_reset_staff",
                                 actor=f"staff:{event.staff_id}")
    return Accepted(new, effects, Step.LOGIN)


def _verify_current(account: Account, password: object, ctx: _Ctx) -> Refused | None:
    """Re-authentication: None when ``password`` is the member's current one."""
    try:
        pw = normalize.normalize_password(password)  # type: ignore[arg-type]
    except InvalidInput:
        return Refused(Reason.BAD_CREDENTIALS, field="current_password")
    if account.password_hash is None or not ctx.crypto.hasher.verify(pw, account.password_hash):
        return Refused(Reason.BAD_CREDENTIALS, field="current_password",
                       effects=(ctx.audit(account, "reauthenticate", "bad_credentials"),))
    return None


def _change_password(account: Account, event: ChangePassword, ctx: _Ctx) -> Outcome:
    refused = _verify_current(account, event.current, ctx)
    if refused is not None:
        return refused
    pw = _check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return attrs.evolve(pw, secret_checked=True)
    new, effects = _new_password(account, pw, ctx, "password_changed")
    return Accepted(new, effects, next_step(new, ctx.now, ctx.settings), grants_session=True)


def _remind_identifier(account: Account, event: RemindIdentifier, ctx: _Ctx) -> Outcome:
    address = recovery_address(account)
    if address is None:
        return Refused(Reason.INVALID_STEP)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.IDENTIFIER, account.account_id, Channel.EMAIL, ctx.now,
                   to=address, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
        ctx.audit(account, "identifier_reminded"),
    )
    return Accepted(account, effects, Step.LOGIN)


def _request_email_change(account: Account, event: RequestEmailChange, ctx: _Ctx) -> Outcome:
    refused = _verify_current(account, event.password, ctx)
    if refused is not None:
        return refused
    try:
        address = normalize.normalize_email(event.email)
    except InvalidInput:
        return Refused(Reason.EMAIL_INVALID, field="email", secret_checked=True)
    try:
        confirmation = normalize.normalize_email(event.confirmation)
    except InvalidInput:
        return Refused(Reason.EMAILS_DIFFER, field="confirmation", secret_checked=True)
    key = normalize.email_key(address)
    if not hmac.compare_digest(key.encode(), normalize.email_key(confirmation).encode()):
        return Refused(Reason.EMAILS_DIFFER, field="confirmation", secret_checked=True)
    same = account.email is not None and normalize.email_key(account.email) == key
    if same and not account.email_unproven:
        return Refused(Reason.EMAIL_UNCHANGED, field="email", secret_checked=True)
    live = live_link(account, LinkPurpose.CHANGE_EMAIL)
    if (live is not None and live.address is not None
            and normalize.email_key(live.address) == key and _cooling_down(live, ctx)):
        return Refused(Reason.RATE_LIMITED, secret_checked=True)
    new, token, code = _issue_link(account, LinkPurpose.CHANGE_EMAIL, address, ctx)
    effects: list[Effect] = [
        SendNotice(Notice.EMAIL_CHANGE, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
    ]
    if account.email is not None and not same:
        # The old address hears of it, with the new one masked and a "this wasn't me"
        # link that outlives whatever an intruder does next with the account. (The same
        # address again is the member proving an unproven one: nothing to report.)
        new, not_me = _issue_not_me(new, account.email, ctx.fresh().second_nonce(), ctx)
        effects.append(SendNotice(Notice.EMAIL_CHANGE_NOTICE, account.account_id, Channel.EMAIL,
                                  ctx.now, to=account.email, detail=mask_email(address),
                                  token=not_me, ip=ctx.origin.ip,
                                  user_agent=ctx.origin.user_agent))
    effects.append(ctx.audit(account, "email_change_requested"))
    return Accepted(new, tuple(effects), Step.PROFILE)


def _confirm_email_change(account: Account, event: ConfirmEmailChange, ctx: _Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.CHANGE_EMAIL, event.nonce_hash, ctx.now)
    if reason is not None:
        return Refused(reason, effects=(ctx.audit(account, "email_change", reason.value),))
    link = _find_link(account, LinkPurpose.CHANGE_EMAIL, event.nonce_hash)
    assert link is not None and link.address is not None
    new = _replace_link(account, link, attrs.evolve(link, status=LinkStatus.USED))
    # A reset link sent to the old address dies with the change (see _move_address).
    new = _move_address(new, link.address, ctx, proven=event.same_session is True)
    detail = None if event.same_session is True else "outside_session"
    return Accepted(new, (ctx.audit(account, "email_changed", detail=detail),), Step.PROFILE)


def _confirm_not_me(account: Account, event: ConfirmNotMe, ctx: _Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.NOT_ME, event.nonce_hash, ctx.now)
    link = _find_link(account, LinkPurpose.NOT_ME, event.nonce_hash)
    if reason is not None or link is None:
        reason = reason or Reason.LINK_INVALID
        return Refused(reason, effects=(ctx.audit(account, "not_me", reason.value),))
    # Whatever else happens: locked, every session, device and link ended.
    new = _retire_all_links(account)
    spent = tuple(attrs.evolve(lk, status=LinkStatus.USED if lk is link else LinkStatus.REVOKED)
                  if lk.status is LinkStatus.LIVE else lk for lk in account.not_me_links)
    new = attrs.evolve(new, not_me_links=spent, locked_at=ctx.now,
                       session_epoch=account.session_epoch + 1, remember=())
    address = recovery_address(account)
    current = (address is not None and link.address is not None
               and normalize.email_key(link.address) == normalize.email_key(address)
               and (account.email_changed_at is None
                    or link.issued_at >= account.email_changed_at))
    if not current:
        # The link predates a change of address (by the member or by staff), or the
        # account has no proven address. Whoever clicks may be reading an address the
        # member left because it was compromised: the account never moves back to it and
        # no recovery goes anywhere. The member recovers through staff (re-issued
        # credentials), who check who they are talking to.
        return Accepted(new, (ctx.audit(account, "not_me_locked", detail="staff_recovery"),),
                        Step.LOGIN)
    # The link went to the address the account still has: recovery starts there at once.
    assert address is not None
    new, token, code = _issue_link(new, LinkPurpose.RESET_PASSWORD, address, ctx)
    effects: tuple[Effect, ...] = (
        ctx.audit(account, "not_me_locked"),
        SendNotice(Notice.RESET, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
    )
    return Accepted(new, effects, Step.LOGIN)


def _issue_not_me(account: Account, address: str, nonce: bytes,
                  ctx: _Ctx) -> tuple[Account, str]:
    """A "this wasn't me" link to ``address``; it supersedes only the one sent there."""
    token = ctx.crypto.signer.issue(account.account_id, LinkPurpose.NOT_ME.value, nonce)
    link = Link(purpose=LinkPurpose.NOT_ME, nonce_hash=nonce_hash(nonce), issued_at=ctx.now,
                expires_at=ctx.now + ctx.settings.not_me_link_lifetime, address=address)
    key = normalize.email_key(address)
    kept = tuple(
        attrs.evolve(lk, status=LinkStatus.SUPERSEDED)
        if lk.status is LinkStatus.LIVE and lk.address is not None
        and normalize.email_key(lk.address) == key else lk
        for lk in account.not_me_links
    )
    # Bounded: live links to other addresses stay, the oldest spent ones go first.
    return attrs.evolve(account, not_me_links=_trim((*kept, link), _MAX_NOT_ME)), token


def _retire_not_me(account: Account, status: LinkStatus) -> tuple[Link, ...]:
    return tuple(attrs.evolve(lk, status=status) if lk.status is LinkStatus.LIVE else lk
                 for lk in account.not_me_links)


def _clean_interests(raw: object) -> tuple[str, ...] | None:
    if not isinstance(raw, tuple | list) or len(raw) > _MAX_INTERESTS:
        return None
    seen: dict[str, str] = {}
    for item in raw:
        try:
            value = " ".join(normalize.check_text(item, "interest", _MAX_INTEREST).split())
        except InvalidInput:
            return None
        if value:
            seen.setdefault(value.casefold(), value)
    return tuple(seen.values())


def _clean_comments(raw: object) -> str | None:
    if not isinstance(raw, str) or len(raw) > _MAX_COMMENTS:
        return None
    # Line breaks and tabs are fine in a comment; other control characters are not.
    if any(not ch.isprintable() and ch not in "\n\t" for ch in raw):
        return None
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in raw):
        return None
    return raw.strip()


def _update_profile(account: Account, event: UpdateProfile, ctx: _Ctx) -> Outcome:
    channels = event.channels
    if not isinstance(channels, tuple | list | frozenset) or not all(
            isinstance(c, Channel) for c in channels):
        return Refused(Reason.INPUT_INVALID, field="channels")
    ordered = tuple(dict.fromkeys(channels))
    if event.pets is not None and not isinstance(event.pets, bool):
        return Refused(Reason.INPUT_INVALID, field="pets")
    interests = _clean_interests(event.interests)
    if interests is None:
        return Refused(Reason.INPUT_INVALID, field="interests")
    comments = _clean_comments(event.comments)
    if comments is None:
        return Refused(Reason.INPUT_INVALID, field="comments")
    try:
        source = normalize.check_text(event.source, "source", _MAX_SOURCE).strip()
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="source")
    old = account.profile
    consents = list(old.consents)
    for channel in Channel:
        before, after = channel in old.channels, channel in ordered
        if before != after:
            consents.append(Consent(channel, after, ctx.now, source))
    profile = attrs.evolve(old, channels=ordered, pets=event.pets, interests=interests,
                           comments=comments,
                           consents=tuple(consents[-ctx.settings.consent_history:]))
    new = attrs.evolve(account, profile=profile)
    return Accepted(new, (ctx.audit(account, "profile_updated"),), Step.PROFILE)


def _set_adviser(account: Account, event: SetAdviser, ctx: _Ctx) -> Outcome:
    adviser = event.adviser
    if adviser is not None:
        if not isinstance(adviser, Adviser):
            return Refused(Reason.INPUT_INVALID, field="adviser")
        for name in ("name", "address", "orias", "more_info_url"):
            value = getattr(adviser, name)
            if not isinstance(value, str) or len(value) > _MAX_ADVISER_FIELD or "\x00" in value:
                return Refused(Reason.INPUT_INVALID, field=f"adviser.{name}")
        # The link is rendered in an href: anything but http(s) (javascript:, data:...)
        # would be stored script.
        url = adviser.more_info_url.strip()
        if url and not _WEB_URL.fullmatch(url):
            return Refused(Reason.INPUT_INVALID, field="adviser.more_info_url")
    new = attrs.evolve(account, profile=attrs.evolve(account.profile, adviser=adviser))
    return Accepted(new, (ctx.audit(account, "adviser_set"),),
                    next_step(new, ctx.now, ctx.settings))


def _staff_event(handler: Callable[[Account, Event, _Ctx], Outcome]
                 ) -> Callable[[Account, Event, _Ctx], Outcome]:
    def checked(account: Account, event: Event, ctx: _Ctx) -> Outcome:
        if not _staff_ok(getattr(event, "staff_id", None)):
            return Refused(Reason.INPUT_INVALID, field="staff_id")
        return handler(account, event, ctx)
    return checked


def _staff_unlock(account: Account, event: StaffUnlock, ctx: _Ctx) -> Outcome:
    # Unlocking clears the failure counters (in the shell) and nothing else: a "this
    # wasn't me" lock means the password may be a thief's, so only a reset or re-issued
    # credentials lift it.
    return Accepted(account, (_staff_audit(account, ctx, event.staff_id, "unlocked"),),
                    next_step(account, ctx.now, ctx.settings))


def _staff_disable(account: Account, event: StaffDisable, ctx: _Ctx) -> Outcome:
    new = attrs.evolve(account, disabled=True, session_epoch=account.session_epoch + 1,
                       remember=())
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "disabled"),),
                    next_step(new, ctx.now, ctx.settings))


def _staff_enable(account: Account, event: StaffEnable, ctx: _Ctx) -> Outcome:
    new = attrs.evolve(account, disabled=False)
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "enabled"),),
                    next_step(new, ctx.now, ctx.settings))


def _staff_reissue(account: Account, event: StaffReissue, ctx: _Ctx) -> Outcome:
    initial = initial_password_from_bytes(ctx.fresh().nonce)
    stage = account.stage
    if stage in (Stage.PASSWORD_REQUIRED, Stage.QUESTION_REQUIRED, Stage.ACTIVE):
        # The email (or staff activation) is already proven: straight to a new password.
        stage = Stage.PASSWORD_REQUIRED
    new = _retire_all_links(account)
    new = attrs.evolve(
        new, stage=stage, initial_digest=ctx.crypto.pepper.digest(initial),
        initial_issued_at=ctx.now, password_hash=None, session_epoch=account.session_epoch + 1,
        remember=(), locked_at=None, not_me_links=_retire_not_me(new, LinkStatus.REVOKED))
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "credentials_reissued"),),
                    next_step(new, ctx.now, ctx.settings), secret=initial)


def _staff_verify_email(account: Account, event: StaffVerifyEmail, ctx: _Ctx) -> Outcome:
    raw = event.email if event.email is not None else account.pending_email
    try:
        address = normalize.normalize_email(raw)  # type: ignore[arg-type]
    except InvalidInput:
        audit = attrs.evolve(_staff_audit(account, ctx, event.staff_id,
                                          "email_verified_by_staff"), outcome="email_invalid")
        return Refused(Reason.EMAIL_INVALID, field="email", effects=(audit,))
    new = _retire_links(account, LinkPurpose.VERIFY_EMAIL, LinkStatus.REVOKED)
    new = _retire_links(new, LinkPurpose.CHANGE_EMAIL, LinkStatus.REVOKED)
    stage = account.stage
    if stage not in (Stage.PASSWORD_REQUIRED, Stage.QUESTION_REQUIRED, Stage.ACTIVE):
        stage = Stage.PASSWORD_REQUIRED
    # Staff vouch for the address; links sent to any other one die (a reset link at the
    # old address among them).
    new = _move_address(new, address, ctx, proven=True)
    new = attrs.evolve(new, stage=stage, activation_rejection=None)
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "email_verified_by_staff"),),
                    next_step(new, ctx.now, ctx.settings))


_HANDLERS: dict[type, Callable[[Account, object, _Ctx], Outcome]] = {
    Login: _login,  # type: ignore[dict-item]
    SubmitEmail: _submit_email,  # type: ignore[dict-item]
    DeclareNoEmail: _declare_no_email,  # type: ignore[dict-item]
    ResendLink: _resend,  # type: ignore[dict-item]
    ChangeEmail: _change_email,  # type: ignore[dict-item]
    ConfirmLink: _confirm_link,  # type: ignore[dict-item]
    SubmitCode: _submit_code,  # type: ignore[dict-item]
    SetPassword: _set_password,  # type: ignore[dict-item]
    SetSecretAnswer: _set_answer,  # type: ignore[dict-item]
    StaffActivate: _staff_event(_staff_activate),  # type: ignore[arg-type, dict-item]
    StaffReject: _staff_event(_staff_reject),  # type: ignore[arg-type, dict-item]
    RememberLogin: _remember_login,  # type: ignore[dict-item]
    RevokeRemember: _revoke_remember,  # type: ignore[dict-item]
    RequestReset: _request_reset,  # type: ignore[dict-item]
    CompleteReset: _complete_reset,  # type: ignore[dict-item]
    StaffAssistedReset: _staff_assisted_reset,  # type: ignore[dict-item]
    ChangePassword: _change_password,  # type: ignore[dict-item]
    RemindIdentifier: _remind_identifier,  # type: ignore[dict-item]
    RequestEmailChange: _request_email_change,  # type: ignore[dict-item]
    ConfirmEmailChange: _confirm_email_change,  # type: ignore[dict-item]
    ConfirmNotMe: _confirm_not_me,  # type: ignore[dict-item]
    UpdateProfile: _update_profile,  # type: ignore[dict-item]
    SetAdviser: _set_adviser,  # type: ignore[dict-item]
    StaffUnlock: _staff_event(_staff_unlock),  # type: ignore[arg-type, dict-item]
    StaffDisable: _staff_event(_staff_disable),  # type: ignore[arg-type, dict-item]
    StaffEnable: _staff_event(_staff_enable),  # type: ignore[arg-type, dict-item]
    StaffReissue: _staff_event(_staff_reissue),  # type: ignore[arg-type, dict-item]
    StaffVerifyEmail: _staff_event(_staff_verify_email),  # type: ignore[arg-type, dict-item]
}


def reset_checks_answer(settings: Settings) -> bool:
    """Whether completing a reset checks the secret answer (and so counts failures)."""
    return settings.recovery_policy is RecoveryPolicy.LINK_AND_ANSWER
