"""The pure core of the first-connection journey: the table, the gate, and ``step``.

``step(account, event, now, env, entropy=..., origin=...)`` returns either
:class:`Accepted` (the new account, the effects to carry out, and the screen to show) or
:class:`Refused` (a typed reason). The flow reads no clock, draws no randomness and does
no I/O: the time, the random bytes (:class:`Entropy`) and the request's origin come in
as arguments. Argon2 and HMAC are called through ``env.crypto``; they are deterministic
given their inputs, so the flow stays a function of its arguments.

An account carries several machines at once. Each is named here, with where it lives:

- **Stage** (``Account.stage``): the first-connection journey. :data:`TABLE` below says
  which events each stage accepts and where each can lead; ``docs/`` draws the state
  diagram from it. An event that does not fit the stage is refused with
  :attr:`Reason.INVALID_STEP` (or the precise reason of a dead link) and changes nothing.
- **Disabled** (``Account.disabled``): set and lifted by staff (``journey/staff.py``).
  The gate below lets through only staff and host events, and :class:`Login`, which says
  DISABLED only after the right password, so that it tells a stranger nothing.
- **The "ce n'était pas moi" lock** (``Account.locked_at``): set by :class:`ConfirmNotMe`
  (``journey/recovery.py``); lifted only by a new password (``journey/passwords.py``) or
  re-issued credentials, never by :class:`StaffUnlock`. It is not in the gate: it ends
  every session, and recovery must still reach the account. :class:`Login` and
  :class:`RememberLogin` (``journey/signin.py``) refuse it only after checking the
  secret, with the answer a wrong secret gets, so a thief learns nothing.
- **The life of a link** (``Account.links``, ``Account.not_me_links``): LIVE, then USED,
  SUPERSEDED, REVOKED or expired (``journey/links.py``).
- **The session epoch** (``Account.session_epoch``): bumped by every password change,
  "not me", disable, re-issue and remember-me theft; the shell ends older sessions.
- **Remember-me series** (``Account.remember``): issued at login, rotated on each use,
  all forgotten when a rotated secret comes back (``journey/signin.py``).
- **Throttles**: failed attempts per identifier (:mod:`.lockout`, reserved by the shell
  before any secret is checked: :func:`precheck`), rate limits per request
  (:mod:`.ratelimit`), wrong codes per link (``Link.code_failures``) and the resend
  cooldown (``journey/links.py``).

The handlers live in :mod:`cegema_onboarding.journey`; this module is their public entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import assert_never

from . import normalize
from .config import Settings
from .errors import InvalidInput
from .journey import account as account_life
from .journey import first_connection, recovery, signin, staff
from .journey.account import mask_email
from .journey.events import (
    ChangeEmail,
    ChangePassword,
    CompleteReset,
    ConfirmEmailChange,
    ConfirmLink,
    ConfirmNotMe,
    DeclareNoEmail,
    Event,
    Login,
    RememberLogin,
    RemindIdentifier,
    RequestEmailChange,
    RequestReset,
    ResendLink,
    RevokeRemember,
    SetAdviser,
    SetPassword,
    SetSecretAnswer,
    StaffActivate,
    StaffAssistedReset,
    StaffDisable,
    StaffEnable,
    StaffReissue,
    StaffReject,
    StaffUnlock,
    StaffVerifyEmail,
    SubmitCode,
    SubmitEmail,
    UpdateProfile,
)
from .journey.inputs import Ctx, Entropy, Env, Origin
from .journey.links import inspect_link, link_lifetime, live_link, recovery_address
from .journey.outcomes import (
    Accepted,
    Audit,
    Effect,
    Notice,
    Outcome,
    Reason,
    Refused,
    SendNotice,
)
from .journey.recovery import reset_checks_answer
from .journey.screens import next_step
from .journey.signin import INITIAL_CREDENTIAL_STAGES
from .model import Account, LinkPurpose, Stage

#: The public API of the flow; the handlers and their helpers live in ``journey/``.
__all__ = [
    "INITIAL_CREDENTIAL_STAGES", "TABLE", "Accepted", "Audit", "ChangeEmail", "ChangePassword",
    "CompleteReset", "ConfirmEmailChange", "ConfirmLink", "ConfirmNotMe", "DeclareNoEmail",
    "Effect", "Entropy", "Env", "Event", "Login", "Notice", "Origin", "Outcome", "Reason",
    "Refused", "RememberLogin", "RemindIdentifier", "RequestEmailChange", "RequestReset",
    "ResendLink", "RevokeRemember", "SendNotice", "SetAdviser", "SetPassword", "SetSecretAnswer",
    "StaffActivate", "StaffAssistedReset", "StaffDisable", "StaffEnable", "StaffReissue",
    "StaffReject", "StaffUnlock", "StaffVerifyEmail", "Stage", "SubmitCode", "SubmitEmail",
    "UpdateProfile", "inspect_link", "link_lifetime", "live_link", "login_unknown", "mask_email",
    "next_step", "precheck", "recovery_address", "reset_checks_answer", "step",
]

# --------------------------------------------------------------------------- the table

#: For each stage, the events it accepts and the stages each one can lead to. Every row
#: ends with the staff and host events, which every stage takes (a disabled account too).
#: Read a row to answer "what can an account at this stage do?".
TABLE: Mapping[Stage, Mapping[type, tuple[Stage, ...]]] = {
    Stage.PROVISIONED: {
        Login: (Stage.EMAIL_REQUIRED,),
        # staff and host, in every stage
        StaffUnlock: (Stage.PROVISIONED,),
        StaffDisable: (Stage.PROVISIONED,),
        StaffEnable: (Stage.PROVISIONED,),
        SetAdviser: (Stage.PROVISIONED,),
        StaffReissue: (Stage.PROVISIONED, Stage.PASSWORD_REQUIRED),
        StaffVerifyEmail: (Stage.PROVISIONED, Stage.PASSWORD_REQUIRED),
    },
    Stage.EMAIL_REQUIRED: {
        Login: (Stage.EMAIL_REQUIRED,),
        SubmitEmail: (Stage.EMAIL_PENDING,),
        DeclareNoEmail: (Stage.AWAITING_ACTIVATION,),
        # staff and host, in every stage
        StaffUnlock: (Stage.EMAIL_REQUIRED,),
        StaffDisable: (Stage.EMAIL_REQUIRED,),
        StaffEnable: (Stage.EMAIL_REQUIRED,),
        SetAdviser: (Stage.EMAIL_REQUIRED,),
        StaffReissue: (Stage.EMAIL_REQUIRED, Stage.PASSWORD_REQUIRED),
        StaffVerifyEmail: (Stage.EMAIL_REQUIRED, Stage.PASSWORD_REQUIRED),
    },
    Stage.EMAIL_PENDING: {
        Login: (Stage.EMAIL_PENDING,),
        SubmitEmail: (Stage.EMAIL_PENDING,),
        ResendLink: (Stage.EMAIL_PENDING,),
        ChangeEmail: (Stage.EMAIL_REQUIRED,),
        ConfirmLink: (Stage.PASSWORD_REQUIRED,),
        SubmitCode: (Stage.PASSWORD_REQUIRED,),
        DeclareNoEmail: (Stage.AWAITING_ACTIVATION,),
        # staff and host, in every stage
        StaffUnlock: (Stage.EMAIL_PENDING,),
        StaffDisable: (Stage.EMAIL_PENDING,),
        StaffEnable: (Stage.EMAIL_PENDING,),
        SetAdviser: (Stage.EMAIL_PENDING,),
        StaffReissue: (Stage.EMAIL_PENDING, Stage.PASSWORD_REQUIRED),
        StaffVerifyEmail: (Stage.EMAIL_PENDING, Stage.PASSWORD_REQUIRED),
    },
    Stage.AWAITING_ACTIVATION: {
        Login: (Stage.AWAITING_ACTIVATION,),
        SubmitEmail: (Stage.EMAIL_PENDING,),
        StaffActivate: (Stage.PASSWORD_REQUIRED,),
        StaffReject: (Stage.EMAIL_REQUIRED,),
        # staff and host, in every stage
        StaffUnlock: (Stage.AWAITING_ACTIVATION,),
        StaffDisable: (Stage.AWAITING_ACTIVATION,),
        StaffEnable: (Stage.AWAITING_ACTIVATION,),
        SetAdviser: (Stage.AWAITING_ACTIVATION,),
        StaffReissue: (Stage.AWAITING_ACTIVATION, Stage.PASSWORD_REQUIRED),
        StaffVerifyEmail: (Stage.AWAITING_ACTIVATION, Stage.PASSWORD_REQUIRED),
    },
    Stage.PASSWORD_REQUIRED: {
        Login: (Stage.PASSWORD_REQUIRED,),
        SetPassword: (Stage.QUESTION_REQUIRED, Stage.ACTIVE),
        # staff may have activated the member, so an address may be verified already
        RemindIdentifier: (Stage.PASSWORD_REQUIRED,),
        # staff and host, in every stage
        StaffUnlock: (Stage.PASSWORD_REQUIRED,),
        StaffDisable: (Stage.PASSWORD_REQUIRED,),
        StaffEnable: (Stage.PASSWORD_REQUIRED,),
        SetAdviser: (Stage.PASSWORD_REQUIRED,),
        StaffReissue: (Stage.PASSWORD_REQUIRED,),
        StaffVerifyEmail: (Stage.PASSWORD_REQUIRED,),
    },
    Stage.QUESTION_REQUIRED: {
        Login: (Stage.QUESTION_REQUIRED, Stage.ACTIVE),
        SetSecretAnswer: (Stage.ACTIVE,),
        # once a password is set: recovery, password, "not me", devices
        RequestReset: (Stage.QUESTION_REQUIRED,),
        CompleteReset: (Stage.QUESTION_REQUIRED,),
        StaffAssistedReset: (Stage.QUESTION_REQUIRED,),
        ChangePassword: (Stage.QUESTION_REQUIRED,),
        RemindIdentifier: (Stage.QUESTION_REQUIRED,),
        ConfirmNotMe: (Stage.QUESTION_REQUIRED,),
        RevokeRemember: (Stage.QUESTION_REQUIRED,),
        # staff and host, in every stage
        StaffUnlock: (Stage.QUESTION_REQUIRED,),
        StaffDisable: (Stage.QUESTION_REQUIRED,),
        StaffEnable: (Stage.QUESTION_REQUIRED,),
        SetAdviser: (Stage.QUESTION_REQUIRED,),
        StaffReissue: (Stage.QUESTION_REQUIRED, Stage.PASSWORD_REQUIRED),
        StaffVerifyEmail: (Stage.QUESTION_REQUIRED, Stage.PASSWORD_REQUIRED),
    },
    Stage.ACTIVE: {
        Login: (Stage.ACTIVE,),
        # once a password is set: recovery, password, "not me", devices
        RequestReset: (Stage.ACTIVE,),
        CompleteReset: (Stage.ACTIVE,),
        StaffAssistedReset: (Stage.ACTIVE,),
        ChangePassword: (Stage.ACTIVE,),
        RemindIdentifier: (Stage.ACTIVE,),
        ConfirmNotMe: (Stage.ACTIVE,),
        RevokeRemember: (Stage.ACTIVE,),
        # active only: remembered devices, change of address, profile
        RememberLogin: (Stage.ACTIVE,),
        RequestEmailChange: (Stage.ACTIVE,),
        ConfirmEmailChange: (Stage.ACTIVE,),
        UpdateProfile: (Stage.ACTIVE,),
        # staff and host, in every stage
        StaffUnlock: (Stage.ACTIVE,),
        StaffDisable: (Stage.ACTIVE,),
        StaffEnable: (Stage.ACTIVE,),
        SetAdviser: (Stage.ACTIVE,),
        StaffReissue: (Stage.ACTIVE, Stage.PASSWORD_REQUIRED),
        StaffVerifyEmail: (Stage.ACTIVE, Stage.PASSWORD_REQUIRED),
    },
}

#: Events a disabled account still takes: :class:`Login` (see the module docstring), and
#: the staff and host actions that end each row of :data:`TABLE`.
_WHEN_DISABLED: tuple[type, ...] = (
    Login, StaffUnlock, StaffDisable, StaffEnable, SetAdviser, StaffReissue, StaffVerifyEmail)

_LINK_EVENTS: Mapping[type, LinkPurpose] = {
    ConfirmLink: LinkPurpose.VERIFY_EMAIL,
    CompleteReset: LinkPurpose.RESET_PASSWORD,
    ConfirmEmailChange: LinkPurpose.CHANGE_EMAIL,
    ConfirmNotMe: LinkPurpose.NOT_ME,
}

# --------------------------------------------------------------------------- the gate


def _gate(account: Account, event: Event, now: datetime) -> Refused | None:
    """What every event meets before its handler: the table, then the disabled flag."""
    if type(event) not in TABLE[account.stage]:
        return _misfit(account, event, now)
    if account.disabled and not isinstance(event, _WHEN_DISABLED):
        return Refused(Reason.DISABLED)
    return None


def _misfit(account: Account, event: Event, now: datetime) -> Refused:
    # A re-clicked or outdated link deserves its precise reason, not "wrong step".
    purpose = _LINK_EVENTS.get(type(event))
    if purpose is not None:
        # Every event of _LINK_EVENTS has a nonce_hash: the default is never read, so a
        # mutant of it changes nothing (`no mutate`).
        token_hash = getattr(event, "nonce_hash", "")  # pragma: no mutate
        reason = inspect_link(account, purpose, token_hash, now)
        return Refused(reason or Reason.LINK_USED)
    return Refused(Reason.INVALID_STEP)


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
    refused = _gate(account, event, now)
    if refused is not None:
        return refused
    ctx = Ctx(now=now, env=env, entropy=entropy, origin=origin or Origin())
    outcome = _handle(account, event, ctx)
    if isinstance(outcome, Accepted):
        targets = TABLE[account.stage][type(event)]
        if outcome.account.stage not in targets:
            # A broken invariant, unreachable through the public API (tests/flow checks every
            # handler against TABLE): mutating the message's words changes nothing observable.
            raise AssertionError(
                f"{type(event).__name__} led {account.stage} "  # pragma: no mutate
                f"to {outcome.account.stage}, which TABLE does not allow"  # pragma: no mutate
            )
    return outcome


def precheck(account: Account, event: Event, now: datetime, settings: Settings) -> Refused | None:
    """The refusal an event gets before any secret is looked at, or ``None``.

    The shell counts an attempt against the lockout before checking a password or an
    answer; it asks this first, so that a refusal which checked no secret (a wrong step,
    a disabled account, a dead reset link, a policy that does not apply) counts nothing.
    :func:`step` gives the same refusal for the same inputs.
    """
    refused = _gate(account, event, now)
    if refused is not None:
        return refused
    if isinstance(event, CompleteReset):
        reason = inspect_link(account, LinkPurpose.RESET_PASSWORD, event.nonce_hash, now)
        return None if reason is None else Refused(reason)
    if isinstance(event, StaffAssistedReset):
        return recovery.staff_assisted_precheck(account, event, settings)
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


def _handle(account: Account, event: Event, ctx: Ctx) -> Outcome:
    # One case per event class; mypy proves none is missing (assert_never). The most
    # frequent events come first: each case is one isinstance check.
    match event:
        case Login():
            return signin.login(account, event, ctx)
        case RememberLogin():
            return signin.remember_login(account, event, ctx)
        case SubmitEmail():
            return first_connection.submit_email(account, event, ctx)
        case ConfirmLink():
            return first_connection.confirm_link(account, event, ctx)
        case SubmitCode():
            return first_connection.submit_code(account, event, ctx)
        case SetPassword():
            return first_connection.set_password(account, event, ctx)
        case SetSecretAnswer():
            return first_connection.set_answer(account, event, ctx)
        # `no mutate` on the handlers that read no field of their event (ResendLink, ChangeEmail,
        # DeclareNoEmail, RequestReset, RemindIdentifier): any event there changes nothing.
        case ResendLink():
            return first_connection.resend_link(account, event, ctx)  # pragma: no mutate
        case ChangeEmail():
            return first_connection.change_email(account, event, ctx)  # pragma: no mutate
        case DeclareNoEmail():
            return first_connection.declare_no_email(account, event, ctx)  # pragma: no mutate
        case UpdateProfile():
            return account_life.update_profile(account, event, ctx)
        case ChangePassword():
            return account_life.change_password(account, event, ctx)
        case RequestEmailChange():
            return account_life.request_email_change(account, event, ctx)
        case ConfirmEmailChange():
            return account_life.confirm_email_change(account, event, ctx)
        case SetAdviser():
            return account_life.set_adviser(account, event, ctx)
        case RevokeRemember():
            return signin.revoke_remember(account, event, ctx)
        case RequestReset():
            return recovery.request_reset(account, event, ctx)  # pragma: no mutate
        case CompleteReset():
            return recovery.complete_reset(account, event, ctx)
        case RemindIdentifier():
            return recovery.remind_identifier(account, event, ctx)  # pragma: no mutate
        case ConfirmNotMe():
            return recovery.confirm_not_me(account, event, ctx)
        case StaffAssistedReset():
            return recovery.staff_assisted_reset(account, event, ctx)
        case StaffActivate():
            return staff.staff_activate(account, event, ctx)
        case StaffReject():
            return staff.staff_reject(account, event, ctx)
        case StaffUnlock():
            return staff.staff_unlock(account, event, ctx)
        case StaffDisable():
            return staff.staff_disable(account, event, ctx)
        case StaffEnable():
            return staff.staff_enable(account, event, ctx)
        case StaffReissue():
            return staff.staff_reissue(account, event, ctx)
        case StaffVerifyEmail():
            return staff.staff_verify_email(account, event, ctx)
        # Unreachable: mypy proves every event class has its case above.
        case _:  # pragma: no mutate
            assert_never(event)  # pragma: no mutate
