"""The library's one error tree.

Every exception the library raises on purpose derives from :class:`OnboardingError`.
Messages never contain a secret (password, answer, token, code or initial credential).
"""

from __future__ import annotations


class OnboardingError(Exception):
    """Base class of every error raised by cegema_onboarding."""


class ConfigurationError(OnboardingError):
    """The host's settings are unsafe or inconsistent.

    ``setting`` names the setting at fault when one is (``"base_url"``, ``"database
    URL"``); the message says how to fix it and never quotes a key or a password.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


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


def _restore(cls: type[BaseException], args: tuple[object, ...],
             state: dict[str, object]) -> BaseException:
    """Rebuild an error with keyword-only context after pickling (worker processes)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class _DiagnosedStorageError(StorageError):
    """A storage failure whose cause is known: the message ends with ``fix``."""

    def __init__(self, message: str, *, fix: str) -> None:
        super().__init__(f"{message}: {fix}")
        self.fix = fix

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class StorageUnreachable(_DiagnosedStorageError):
    """The database server cannot be reached: down, a wrong host or port, refused login.

    ``fix`` says what to check. The message names the database's kind, never the URL,
    which may hold a password.
    """


class SchemaMissing(_DiagnosedStorageError):
    """The database is reachable but lacks the library's tables: never migrated.

    ``fix`` is the command that creates them; ``tables`` names the missing ones when they
    are known, so that a caller can say what to run rather than fail on the first write.
    """

    def __init__(self, message: str, *, fix: str, tables: tuple[str, ...] = ()) -> None:
        super().__init__(message, fix=fix)
        self.tables = tables


class SchemaOutdated(_DiagnosedStorageError):
    """The database's tables are of an older (or newer) revision than this release's.

    ``revision`` is the database's, ``expected`` this release's; ``fix`` the command to run.
    """

    def __init__(self, message: str, *, fix: str, revision: str | None = None,
                 expected: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.revision = revision
        self.expected = expected


class ConcurrentUpdate(StorageError):
    """A compare-and-set lost a race: the record changed since it was loaded."""


class DuplicateAccount(StorageError):
    """An account with this member number (or email) already exists."""


class UnknownAccount(StorageError):
    """No account has this identifier. Only raised to staff-facing callers."""


class UnknownMessage(StorageError, KeyError):
    """No outbox message has this id: a delivery mark for a message that is gone.

    Also a :class:`KeyError`, which the memory and SQL adapters used to raise, so that
    a host catching that still works. ``message_id`` is the id asked for; it holds no
    secret (a ``Message-ID``, not the mail).
    """

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id

    def __str__(self) -> str:
        return f"no outbox message has the id {self.message_id}"


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
