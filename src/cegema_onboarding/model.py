"""The values the flow works on: accounts, links, throttles, and the steps a member sees.

These are plain ``attrs`` frozen values. Storage adapters persist them field by field;
nothing here does I/O.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class Stage(enum.Enum):
    """Where an account stands in the first-connection journey."""

    PROVISIONED = "provisioned"
    EMAIL_REQUIRED = "email_required"
    EMAIL_PENDING = "email_pending"
    AWAITING_ACTIVATION = "awaiting_activation"
    PASSWORD_REQUIRED = "password_required"
    QUESTION_REQUIRED = "question_required"
    ACTIVE = "active"


class Step(enum.Enum):
    """The screen a member is shown next. Derived from the stage, never stored."""

    EMAIL = "email"
    CHECK_MAILBOX = "check_mailbox"
    AWAITING_ACTIVATION = "awaiting_activation"
    PASSWORD = "password"
    QUESTION = "question"
    PROFILE = "profile"
    LOGIN = "login"


class LinkPurpose(enum.Enum):
    """What a signed link is for. A token for one purpose is refused for any other."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    NOT_ME = "not_me"
    CHANGE_EMAIL = "change_email"


class LinkStatus(enum.Enum):
    """The life of one link. Only ``LIVE`` links can be spent."""

    LIVE = "live"
    USED = "used"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class Channel(enum.Enum):
    """How a notice reaches a member."""

    EMAIL = "email"
    POST = "post"
    SMS = "sms"
    PHONE = "phone"


@attrs.frozen
class Link:
    """One link sent to a member. Only hashes of its token and code are kept."""

    purpose: LinkPurpose
    nonce_hash: str = attrs.field(repr=False)
    issued_at: datetime
    expires_at: datetime
    address: str | None = None
    code_digest: str | None = attrs.field(default=None, repr=False)
    code_failures: int = 0
    status: LinkStatus = LinkStatus.LIVE


@attrs.frozen
class RememberToken:
    """One remembered device ("Se souvenir de moi"): a series and the hash of its secret.

    The secret is rotated on each use; ``previous_hash`` keeps the one it replaced so that
    a browser's parallel requests racing on one rotation are not mistaken for theft.
    """

    series_id: str
    secret_hash: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime
    user_agent_hint: str | None = None
    previous_hash: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Consent:
    """One grant or withdrawal of consent to be contacted through a channel."""

    channel: Channel
    granted: bool
    at: datetime
    source: str


@attrs.frozen
class Adviser:
    """The member's adviser or agency: host data the library only keeps a place for."""

    name: str = ""
    address: str = ""
    orias: str = ""
    more_info_url: str = ""


@attrs.frozen
class Profile:
    """"Mon profil et mes informations": preferences, pets, interests, comments, consents.

    ``pets`` is ``None`` until the member answers. ``consents`` is the bounded history of
    grants and withdrawals, oldest first.
    """

    channels: tuple[Channel, ...] = ()
    pets: bool | None = None
    interests: tuple[str, ...] = ()
    comments: str = ""
    consents: tuple[Consent, ...] = ()
    adviser: Adviser | None = None


@attrs.frozen
class Account:
    """One member's account, as stored.

    ``version`` belongs to storage: the flow never changes it, and storage refuses a save
    whose expected version is not the stored one (compare-and-set).
    """

    account_id: str
    member_number: str
    name: str
    created_at: datetime
    stage: Stage = Stage.PROVISIONED
    lang: str = "fr"
    email: str | None = None
    email_verified_at: datetime | None = None
    #: True while the verified address was confirmed only from its own mailbox, outside the
    #: member's session: whoever reads a mistyped address can do that. Such an address gets
    #: no recovery mail (reset link, member number) until it is confirmed again from the
    #: member's own session (a change of address to the same one), or staff vouch for it.
    #: A login alone is no proof: the member may never have noticed the typo.
    email_unproven: bool = False
    #: When the verified address last changed (member or staff): "ce n'était pas moi" links
    #: issued before it never send recovery anywhere.
    email_changed_at: datetime | None = None
    pending_email: str | None = None
    initial_digest: str | None = attrs.field(default=None, repr=False)
    initial_issued_at: datetime | None = None
    password_hash: str | None = attrs.field(default=None, repr=False)
    password_changed_at: datetime | None = None
    question_id: str | None = None
    answer_hash: str | None = attrs.field(default=None, repr=False)
    links: tuple[Link, ...] = ()
    disabled: bool = False
    session_epoch: int = 0
    activation_requested_at: datetime | None = None
    activation_rejection: str | None = None
    postal_address: str | None = None
    phone: str | None = None
    locked_at: datetime | None = None
    #: "Ce n'était pas moi" links, at most one live per address they were sent to. They
    #: are kept apart from ``links`` because they must outlive the changes they report.
    not_me_links: tuple[Link, ...] = attrs.field(default=(), repr=False)
    remember: tuple[RememberToken, ...] = attrs.field(default=(), repr=False)
    profile: Profile = attrs.field(factory=Profile)
    version: int = 0


@attrs.frozen
class Throttle:
    """Failed-attempt counter for one normalised identifier, known or not.

    It is keyed by identifier rather than stored on the account so that unknown member
    numbers are throttled exactly like known ones and nothing tells them apart.
    """

    key: str
    #: Attempts checked and found wrong since the last right one.
    failures: int = 0
    last_failure_at: datetime | None = None
    version: int = 0
    #: Attempts counted but still being checked, and when the newest was counted: they
    #: hold their place under the policy until they turn out right or wrong (see
    #: :mod:`cegema_onboarding.lockout`).
    in_flight: int = 0
    in_flight_at: datetime | None = None


@attrs.frozen
class Session:
    """What a web layer keeps in its session after a successful login.

    ``epoch`` is compared with the account's: a password change raises the account's
    epoch and so ends every other session.
    """

    account_id: str
    epoch: int


@attrs.frozen
class AuditRecord:
    """One audited event: who, what, when, from which IP, and how it ended. No secrets."""

    at: datetime
    action: str
    outcome: str
    actor: str
    account_id: str | None = None
    ip: str | None = None
    detail: str | None = None
