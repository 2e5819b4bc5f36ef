"""The library's one error tree.

Every exception the library raises on purpose derives from :class:`OnboardingError`.
Messages never contain a secret (password, answer, token, code or initial credential).
"""

from __future__ import annotations


class OnboardingError(Exception):
    """Base class of every error raised by cegema_onboarding."""


class ConfigurationError(OnboardingError):
    """The host's settings are unsafe or inconsistent."""


class SettingsConflict(ConfigurationError):
    """Settings that contradict each other or are only half given, refused at start-up.

    ``names`` are the variables involved and ``fix`` says what to change; neither ever
    holds a value, which may be a key.
    """

    def __init__(self, names: tuple[str, ...], fix: str) -> None:
        self.names = names
        self.fix = fix
        super().__init__(f"{', '.join(names)}: {fix}")


class InvalidInput(OnboardingError):
    """Input was rejected before any work was done on it.

    ``field`` names the input, ``reason`` is a short machine-readable code such as
    ``"empty"``, ``"too_long"``, ``"nul_byte"`` or ``"malformed"``. The offending value is
    never included, because it may be a secret.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid {field}: {reason}")
        self.field = field
        self.reason = reason


class BadToken(OnboardingError):
    """A link token or code is not valid. Deliberately says nothing about why."""

    def __init__(self) -> None:
        super().__init__("invalid or expired token")


class StorageError(OnboardingError):
    """A storage adapter failed."""


class ConcurrentUpdate(StorageError):
    """A compare-and-set lost a race: the record changed since it was loaded."""


class DuplicateAccount(StorageError):
    """An account with this member number (or email) already exists."""


class UnknownAccount(StorageError):
    """No account has this identifier. Only raised to staff-facing callers."""


class SealError(OnboardingError):
    """A sealed outbox payload cannot be opened: altered, or sealed under a retired key."""


class MailError(OnboardingError):
    """A mail adapter could not deliver a message. The message stays in the outbox."""


class SmtpError(MailError):
    """The SMTP server was unreachable or refused a message.

    ``reason`` is short and holds no secret; ``code`` is the server's reply code when it
    gave one, and ``permanent`` is true for 5xx replies.
    """

    def __init__(self, reason: str, *, code: int | None = None, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.permanent = permanent


class ProvisioningError(OnboardingError):
    """A bulk import cannot start or go on: unreadable file, missing columns, existing output."""
