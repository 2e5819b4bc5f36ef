"""Host settings, with secure defaults, and the keys derived from them."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlsplit

import attrs

from .credentials import Pepper
from .errors import ConfigurationError
from .hashing import PRODUCTION_PARAMS, Argon2Params, PasswordHasher
from .mail.settings import MailSettings
from .model import LinkPurpose
from .password_policy import PasswordPolicy
from .profile import ProfileWeights
from .questions import DEFAULT_QUESTIONS, QuestionCatalog
from .ratelimit import RateLimits
from .remember import RememberCodec
from .tokens import LinkSigner

DEFAULT_LINK_PATHS: Mapping[LinkPurpose, str] = {
    LinkPurpose.VERIFY_EMAIL: "/premiere-connexion/valider",
    LinkPurpose.RESET_PASSWORD: "/mot-de-passe/reinitialiser",
    LinkPurpose.NOT_ME: "/securite/ce-n-etait-pas-moi",
    LinkPurpose.CHANGE_EMAIL: "/profil/email/valider",
}


class RecoveryPolicy(enum.Enum):
    """What proves a forgotten-password request (see docs/account-life.md).

    ``LINK_AND_ANSWER`` (the default when secret questions are on): the emailed link and
    the secret answer. ``LINK_ONLY``: the emailed link alone, for hosts that turn secret
    questions off (ASVS L1).
    """

    LINK_AND_ANSWER = "link_and_answer"
    LINK_ONLY = "link_only"


@attrs.frozen
class LockoutPolicy:
    """Growing delays after repeated failures, and a hard stop well under 100 (NIST).

    The first ``free_attempts`` failures cost nothing. After that each attempt must wait
    ``base_delay * 2 ** (failures - free_attempts)``, capped at ``max_delay``. At
    ``hard_limit`` consecutive failures the identifier is locked until staff unlock it
    or the member recovers the account.
    """

    free_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)
    hard_limit: int = 30

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.free_attempts <= self.hard_limit < 100:
            raise ConfigurationError("lockout needs 1 <= free_attempts <= hard_limit < 100")
        if self.base_delay <= timedelta(0) or self.max_delay < self.base_delay:
            raise ConfigurationError("lockout delays must be positive and base <= max")


def _check_base_url(_: object, __: object, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
        raise ConfigurationError("base_url must be an absolute http(s) URL without a query")


def _is_loopback(host: str | None) -> bool:
    """Whether a URL's host is this machine: localhost (RFC 6761) or a loopback address."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_plain_http(settings: Settings) -> None:
    # Links in mails carry live tokens; over plain http anyone on the way reads them. The
    # demo and a development server on this machine are the exceptions that need no flag.
    parts = urlsplit(settings.base_url)
    if (parts.scheme == "http" and not settings.allow_insecure_http
            and not _is_loopback(parts.hostname)):
        raise ConfigurationError(
            "base_url is a plain http:// URL of another machine: the links in mails would "
            "carry their tokens in clear. Serve the portal over https and write "
            "base_url='https://...'; only for a test server that cannot have https, set "
            "allow_insecure_http=True", setting="base_url")


def _check_keys(_: object, __: object, value: tuple[str, ...]) -> None:
    # A bare string would be read as a list of one-character keys.
    if isinstance(value, str | bytes) or not isinstance(value, tuple | list):
        raise ConfigurationError(
            "secret_keys is a list of keys, newest first, not one string: "
            "write secret_keys=(key,)")
    if not value or any(not isinstance(k, str) or len(k) < 32 for k in value):
        raise ConfigurationError("secret_keys needs at least one key of 32 characters or more")


def _pairs(value: object) -> object:
    """Pairs given as lists (from JSON, a settings file) as tuples; anything else as given,
    for :func:`_check_pepper_keys` to refuse with the fix."""
    if isinstance(value, tuple | list) and all(
            isinstance(e, tuple | list) and not isinstance(e, str) for e in value):
        return tuple(tuple(e) for e in value)
    return value


def _check_pepper_keys(settings: Settings, _: object, value: tuple[tuple[str, str], ...]
                       ) -> None:
    # Checked here, when the host builds its settings, not at the first request: the
    # messages describe the expected shape and never echo a key.
    shape = ('pepper_keys is a list of (key id, key) pairs, newest first: '
             'write pepper_keys=(("p1", key),)')
    if isinstance(value, str | bytes) or not isinstance(value, tuple | list):
        raise ConfigurationError(shape)
    for entry in value:
        if (isinstance(entry, str | bytes) or not isinstance(entry, tuple | list)
                or len(entry) != 2 or not all(isinstance(v, str) for v in entry)):
            raise ConfigurationError(shape)
    # The pepper's own rules (at least one key, key ids, key length, no duplicate id).
    Pepper([(key_id, key.encode()) for key_id, key in value])
    if {key for _, key in value} & set(settings.secret_keys):
        raise ConfigurationError(
            "a pepper key is also in secret_keys: each use needs its own key "
            "(generate one with secrets.token_urlsafe(48))")


@attrs.frozen
class Settings:
    """Everything a host configures. Only the keys and the base URL have no default.

    ``secret_keys`` sign links (newest first; older ones still verify, for rotation).
    ``pepper_keys`` key the hash of initial passwords and codes: keep them outside the
    database, in the host's secret store. ``base_url`` is where links point: it is never
    taken from a request's Host header. It must be https, except on this machine
    (localhost, 127.0.0.1, ::1) or with ``allow_insecure_http=True``.
    """

    secret_keys: tuple[str, ...] = attrs.field(validator=_check_keys, repr=False)
    pepper_keys: tuple[tuple[str, str], ...] = attrs.field(
        converter=_pairs, validator=_check_pepper_keys, repr=False)
    base_url: str = attrs.field(validator=_check_base_url)
    #: Accept a plain ``http://`` base URL of another machine (links then travel in clear):
    #: for a test server without https only, never in production.
    allow_insecure_http: bool = attrs.field(default=False, kw_only=True)
    link_paths: Mapping[LinkPurpose, str] = DEFAULT_LINK_PATHS
    link_lifetime: timedelta = timedelta(hours=24)
    initial_password_lifetime: timedelta | None = timedelta(days=180)
    secret_questions: bool = True
    questions: QuestionCatalog = attrs.field(factory=lambda: QuestionCatalog(DEFAULT_QUESTIONS))
    password_policy: PasswordPolicy = attrs.field(factory=PasswordPolicy)
    argon2: Argon2Params = PRODUCTION_PARAMS
    lockout: LockoutPolicy = attrs.field(factory=LockoutPolicy)
    resend_cooldown: timedelta = timedelta(seconds=60)
    code_max_attempts: int = 5
    link_history: int = 8
    default_lang: str = "fr"
    check_deliverability: bool = False
    mail: MailSettings = attrs.field(factory=MailSettings)
    recovery: RecoveryPolicy | None = None
    staff_assisted_recovery: bool = False
    reset_link_lifetime: timedelta = timedelta(hours=1)
    not_me_link_lifetime: timedelta = timedelta(days=7)
    remember_lifetime: timedelta = timedelta(days=30)
    remember_max_devices: int = 10
    identifier_max_accounts: int = 10
    consent_history: int = 50
    profile_weights: ProfileWeights = attrs.field(factory=ProfileWeights)
    rate_limits: RateLimits = attrs.field(factory=RateLimits)

    @property
    def recovery_policy(self) -> RecoveryPolicy:
        """The recovery policy in force: the chosen one, else the default for the host."""
        if self.recovery is not None:
            return self.recovery
        return RecoveryPolicy.LINK_AND_ANSWER if self.secret_questions else (
            RecoveryPolicy.LINK_ONLY)

    def __attrs_post_init__(self) -> None:
        _check_plain_http(self)
        if self.recovery is RecoveryPolicy.LINK_AND_ANSWER and not self.secret_questions:
            raise ConfigurationError("recovery LINK_AND_ANSWER needs secret_questions on")
        if self.staff_assisted_recovery and not self.secret_questions:
            raise ConfigurationError("staff_assisted_recovery needs secret_questions on")
        for name in ("reset_link_lifetime", "not_me_link_lifetime", "remember_lifetime"):
            if getattr(self, name) <= timedelta(0):
                raise ConfigurationError(f"{name} must be positive")
        if not 1 <= self.remember_max_devices <= 100:
            raise ConfigurationError("remember_max_devices must be between 1 and 100")
        if not 1 <= self.identifier_max_accounts <= 100:
            raise ConfigurationError("identifier_max_accounts must be between 1 and 100")
        if not 2 <= self.consent_history <= 1000:
            raise ConfigurationError("consent_history must be between 2 and 1000")
        if self.link_lifetime <= timedelta(0):
            raise ConfigurationError("link_lifetime must be positive")
        if not 1 <= self.code_max_attempts <= 10:
            raise ConfigurationError("code_max_attempts must be between 1 and 10")
        if self.link_history < 2:
            raise ConfigurationError("link_history must keep at least 2 links")
        missing = set(LinkPurpose) - set(self.link_paths)
        if missing:
            raise ConfigurationError(f"link_paths lacks {sorted(p.value for p in missing)}")
        if self.secret_questions and len(self.questions) == 0:
            raise ConfigurationError("secret_questions is on but the catalogue is empty")

    def link_url(self, purpose: LinkPurpose, token: str) -> str:
        """The absolute URL of a link, built from the configured base URL only."""
        return f"{self.base_url.rstrip('/')}{self.link_paths[purpose]}?token={token}"


@attrs.frozen
class Crypto:
    """The keyed and slow primitives the flow calls, built once from the settings."""

    hasher: PasswordHasher
    pepper: Pepper
    signer: LinkSigner
    remember: RememberCodec

    @classmethod
    def from_settings(cls, settings: Settings) -> Crypto:
        """Build the primitives; raises ConfigurationError on weak keys or parameters."""
        return cls(
            hasher=PasswordHasher(settings.argon2),
            pepper=Pepper([(kid, key.encode()) for kid, key in settings.pepper_keys]),
            signer=LinkSigner(list(settings.secret_keys)),
            remember=RememberCodec(settings.secret_keys),
        )
