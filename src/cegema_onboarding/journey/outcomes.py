"""What a step returns: :class:`Accepted` or :class:`Refused`, and the effects to carry out.

:class:`Reason` names every refusal (each has a member-facing text in both languages);
:class:`SendNotice` and :class:`Audit` are the two effects the shell carries out after
saving the account.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

import attrs

from ..model import Account, Channel, Step
from ..password_policy import AnswerRejection, PasswordRejection


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


PASSWORD_REASONS: Mapping[PasswordRejection, Reason] = {
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


ANSWER_REASONS: Mapping[AnswerRejection, Reason] = {
    AnswerRejection.EMPTY: Reason.ANSWER_EMPTY,
    AnswerRejection.TOO_LONG: Reason.ANSWER_TOO_LONG,
    AnswerRejection.MISMATCH: Reason.ANSWERS_DIFFER,
    AnswerRejection.TRIVIAL: Reason.ANSWER_TRIVIAL,
    AnswerRejection.SAME_AS_MEMBER_NUMBER: Reason.ANSWER_SAME_AS_MEMBER_NUMBER,
    AnswerRejection.SAME_AS_EMAIL: Reason.ANSWER_SAME_AS_EMAIL,
    AnswerRejection.SAME_AS_PASSWORD: Reason.ANSWER_SAME_AS_PASSWORD,
}


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
