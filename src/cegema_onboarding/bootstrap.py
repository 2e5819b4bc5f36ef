"""The composition root: every service, outbox and storage of the package is built here.

The command line, the relay, the demo portal, the Flask extension and the Django app all
call these functions instead of wiring :class:`OnboardingService` themselves, so that the
defaults (the system clock, SQLite, a local mailbox) and the parsing of keys from the
environment exist once. Nothing in :mod:`cegema_onboarding.flow` or the service imports
this module: arrows point from here inwards only.

Configuration errors are :class:`~cegema_onboarding.errors.ConfigurationError` and never
quote a secret, only its expected shape.
"""

from __future__ import annotations

import logging
import secrets
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The mail part of the composition root, re-exported: one place to import from.
from .bootstrap_mail import env_value as env_value
from .bootstrap_mail import local_mailbox as local_mailbox
from .bootstrap_mail import mailer_from as mailer_from
from .bootstrap_mail import smtp_settings_from as smtp_settings_from
from .config import Settings
from .credentials import Pepper
from .environment import (
    load_environment,
    parse_pepper_keys,
    pepper_keys_from,
    retention_from,
    secret_keys_from,
)
from .errors import ConfigurationError, SettingsConflict
from .hashing import PRODUCTION_PARAMS
from .mail.settings import MailSettings
from .ports import Clock, Mailer, Notifier, Random, RateLimiter, Storage
from .ratelimit import MemoryRateLimiter
from .retention import Retention, purge
from .service import OnboardingService, Outbox

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_BASE_URL",
    "DEMO_MAIL_SETTINGS",
    "build_outbox",
    "build_service",
    "database_url_from_env",
    "demo_storage",
    "env_value",
    "housekeeping",
    "load_environment",
    "local_mailbox",
    "mailer_from",
    "parse_pepper_keys",
    "parse_secret_keys",
    "pepper_from_env",
    "pepper_from_keys",
    "portal_settings_from_env",
    "rate_limit_purge",
    "retention_from_env",
    "settings_from_env",
    "settings_from_keys",
    "shared_rate_limiter",
    "smtp_settings_from",
    "storage_from_url",
    "throwaway_settings",
]

#: The base URL of settings read from an environment that names none (the relay sends
#: messages already rendered, so it never builds a link).
DEFAULT_BASE_URL = "https://localhost"

#: The mail settings of the demos: the guide's sender, contact and legal links and site
#: name, so that the demo's mails read as the guide's do. A real portal sets its own.
DEMO_MAIL_SETTINGS = MailSettings(
    sender="CEGEMA <espace.client@cegema.com>",
    contact_url="https://www.cegema.com/web/guest/nous-contacter",
    legal_url="https://www.cegema.com/mentionslegales_mail.php",
    site_name="www.cegema.com",
)


log = logging.getLogger("cegema_onboarding.bootstrap")

# --------------------------------------------------------------------------- the services


def build_service(settings: Settings, storage: Storage, mailer: Mailer, *,
                  clock: Clock | None = None, random: Random | None = None,
                  notifier: Notifier | None = None, rate_limiter: RateLimiter | None = None,
                  deliver_inline: bool = True, single_process: bool = False
                  ) -> OnboardingService:
    """The one way the package builds an :class:`OnboardingService`.

    ``clock`` defaults to the system clock. Without ``rate_limiter``, a service on
    ``SqlStorage`` counts its limits in the database (:func:`shared_rate_limiter`), shared
    by every process and node; on other storage the service keeps its in-process default.

    A service whose storage is shared (anything but ``MemoryStorage``) while a guard lives
    in this process's memory is how production deployments end up with several times the
    limit the policy states (each gunicorn worker counts alone): it is logged as a warning
    and raised as a :class:`RuntimeWarning`, unless ``single_process=True`` says that one
    process serves the whole portal (a demo, a test).
    """
    if clock is None:
        from .adapters.system import SystemClock

        clock = SystemClock()
    if rate_limiter is None:
        rate_limiter = shared_rate_limiter(storage)
    if not single_process:
        _warn_of_process_memory(storage, rate_limiter)
    return OnboardingService(storage, mailer, settings=settings, clock=clock, random=random,
                             notifier=notifier, deliver_inline=deliver_inline,
                             rate_limiter=rate_limiter)


def shared_rate_limiter(storage: Storage) -> RateLimiter | None:
    """``SqlRateLimiter`` on the database of an ``SqlStorage``; None for other storage."""
    engine = getattr(storage, "engine", None)
    if engine is None:
        return None
    from .adapters.sql import SqlRateLimiter

    return SqlRateLimiter(engine)


def _warn_of_process_memory(storage: Storage, rate_limiter: RateLimiter | None) -> None:
    from .adapters.memory import MemoryStorage

    if type(storage) is MemoryStorage:
        return  # everything is in this process anyway: nothing else can share it
    if rate_limiter is not None and not isinstance(rate_limiter, MemoryRateLimiter):
        return
    message = (f"the rate limits of this service live in one process's memory while its "
               f"storage ({type(storage).__name__}) is shared: with several workers or nodes "
               f"each counts alone and lets through that many times the limit. Pass a "
               f"rate_limiter shared by every process (build_service gives SqlStorage its "
               f"SqlRateLimiter), or single_process=True for a demo or a test")
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def build_outbox(settings: Settings, storage: Storage, mailer: Mailer, *,
                 clock: Clock | None = None, notifier: Notifier | None = None) -> Outbox:
    """What a relay delivers with: due messages of ``storage`` sent through ``mailer``.

    An :class:`~cegema_onboarding.service.outbox.Outbox` alone: a relay needs no member
    action, and the relay depends only on :class:`~cegema_onboarding.relay.Deliverer`.
    """
    return Outbox(storage, mailer, settings=settings, clock=clock, notifier=notifier)


# --------------------------------------------------------------------------- keys and settings


def parse_secret_keys(value: str) -> tuple[str, ...]:
    """``"newest,older"`` as Settings.secret_keys (blanks around each key dropped)."""
    return tuple(k.strip() for k in value.split(",") if k.strip())


def pepper_from_keys(pairs: Sequence[tuple[str, str]]) -> Pepper:
    """The Pepper the service builds from the same Settings.pepper_keys."""
    return Pepper([(kid, key.encode()) for kid, key in pairs])


def pepper_from_env(env: Mapping[str, str] | None = None) -> Pepper:
    """The portal's Pepper from ``CEGEMA_PEPPER_KEYS`` (required), or the configuration file
    named by ``CEGEMA_CONFIG``, as the portal reads it (see :func:`portal_settings_from_env`)."""
    pairs = pepper_keys_from(load_environment(env))
    if pairs is None:
        raise ConfigurationError("CEGEMA_PEPPER_KEYS is not set (the portal's pepper keys, "
                                 "'id:key,...', newest first)")
    return pepper_from_keys(pairs)


def settings_from_keys(secret_keys: Iterable[str], pepper_keys: Iterable[Sequence[str]],
                       base_url: str) -> Settings:
    """Settings with the library's defaults from the three values every host must give.

    ``pepper_keys`` are ``(key_id, key)`` pairs, newest first (lists will do).
    """
    # Settings checks the keys' shape and turns list pairs into tuples.
    return Settings(secret_keys=tuple(secret_keys),
                    pepper_keys=tuple(pepper_keys),
                    base_url=str(base_url))


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings for a relay or a staff command, from the ``CEGEMA_*`` configuration.

    ``CEGEMA_SECRET_KEYS`` (comma-separated, newest first) must be the portal's: the
    outbox is encrypted with keys derived from them. ``CEGEMA_PEPPER_KEYS``
    (``id:key,...``) and ``CEGEMA_BASE_URL`` are optional here since the relay sends
    messages already rendered; a throw-away pepper is used when none is given. A portal
    reads the same names with :func:`portal_settings_from_env`, which requires all three.
    """
    values = load_environment(env)
    keys = secret_keys_from(values)
    if keys is None:
        raise ConfigurationError("CEGEMA_SECRET_KEYS is not set (the portal's secret keys)")
    pepper_keys = pepper_keys_from(values) or (("relay", secrets.token_urlsafe(32)),)
    return Settings(secret_keys=keys, pepper_keys=pepper_keys,
                    base_url=values.get("CEGEMA_BASE_URL") or DEFAULT_BASE_URL)


def portal_settings_from_env(env: Mapping[str, str] | None = None,
                             **fields: Any) -> Settings:
    """A portal's Settings: the keys and base URL from the ``CEGEMA_*`` configuration (the
    environment, or the TOML file named by ``CEGEMA_CONFIG``), the other ``fields`` as given.

    The signing keys, the pepper and the base URL are all required: a portal given only
    some of them is refused with :class:`~cegema_onboarding.errors.SettingsConflict`
    naming the missing ones, rather than making keys of its own that the commands would
    not share.
    """
    values = load_environment(env)
    keys, pepper_keys = secret_keys_from(values), pepper_keys_from(values)
    base_url = values.get("CEGEMA_BASE_URL")
    missing = tuple(name for name, value in (("CEGEMA_SECRET_KEYS", keys),
                                            ("CEGEMA_PEPPER_KEYS", pepper_keys),
                                            ("CEGEMA_BASE_URL", base_url)) if value is None)
    if missing:
        raise SettingsConflict(missing, "a portal needs CEGEMA_SECRET_KEYS, CEGEMA_PEPPER_KEYS "
                                        "and CEGEMA_BASE_URL: set the missing ones, with the "
                                        "values every command of this portal uses")
    assert keys is not None and pepper_keys is not None and base_url is not None
    return Settings(secret_keys=keys, pepper_keys=pepper_keys, base_url=base_url, **fields)


def database_url_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """``CEGEMA_DATABASE_URL`` from the environment or the configuration file."""
    return load_environment(env).get("CEGEMA_DATABASE_URL")


def retention_from_env(env: Mapping[str, str] | None = None) -> Retention:
    """How long ended records are kept (``CEGEMA_*_RETENTION``), see :class:`Retention`."""
    return retention_from(load_environment(env))


def throwaway_settings(base_url: str = "http://127.0.0.1:8000", *,
                       secret_key: str | None = None, pepper_key: str | None = None) -> Settings:
    """Settings for a demo: the given or fresh random keys, production hash parameters,
    and the guide's mail settings (:data:`DEMO_MAIL_SETTINGS`)."""
    return Settings(
        secret_keys=(secret_key or secrets.token_urlsafe(48),),
        pepper_keys=(("demo1", pepper_key or secrets.token_urlsafe(48)),),
        base_url=base_url,
        argon2=PRODUCTION_PARAMS,
        mail=DEMO_MAIL_SETTINGS,
    )


# --------------------------------------------------------------------------- storage


def storage_from_url(url: str | None, *, create_schema: bool = False,
                     check: bool = True) -> Storage:
    """SqlStorage on the database at ``url`` (``sqlite:///...`` or ``postgresql://...``).

    With ``check`` (unless ``create_schema``), the database is reached once now, so that a
    wrong URL, a server down or a database not migrated stops the start with
    ``StorageUnreachable``, ``SchemaMissing`` or ``SchemaOutdated`` naming the fix.
    """
    if not url:
        raise ConfigurationError("no database: pass --database or set CEGEMA_DATABASE_URL")
    if url.split(":", 1)[0].split("+", 1)[0] == "postgres":
        # Heroku-style URLs: SQLAlchemy knows no "postgres" dialect. Never echo the URL,
        # which may hold a password.
        raise ConfigurationError("the URL scheme postgres:// is not supported: "
                                 "write postgresql:// (or postgresql+psycopg://)")
    try:
        from .adapters.sql import SqlStorage, create_engine_from_url
        from .adapters.sql import create_schema as make_schema
    except ImportError:
        raise ConfigurationError(
            "the SQL adapter needs SQLAlchemy: pip install 'cegema-onboarding[sql]'") from None
    engine = create_engine_from_url(url)
    storage = SqlStorage(engine)
    if create_schema:
        make_schema(engine)
    elif check:
        storage.check()
    return storage


def demo_storage(data_dir: Path) -> tuple[Storage, str]:
    """The demo's storage: SQLite in ``data_dir``, or memory without the sql extra.

    Returns the storage and a line saying where the accounts are kept.
    """
    try:
        from .adapters.sql import SqlStorage, create_schema, sqlite_engine
    except ImportError:
        from .adapters.memory import MemoryStorage

        return MemoryStorage(), "memory (install the sql extra to keep accounts)"
    db = data_dir / "portal.sqlite3"
    engine = sqlite_engine(db)
    create_schema(engine)
    return SqlStorage(engine), f"SQLite ({db})"


def rate_limit_purge(storage: Storage, retention: timedelta) -> Callable[[], str] | None:
    """Deleting ended windows of the shared rate-limit table, when there is one."""
    engine = getattr(storage, "engine", None)
    if engine is None or not retention:
        return None
    from .adapters.sql import SqlRateLimiter
    from .adapters.system import SystemClock

    limiter, clock = SqlRateLimiter(engine), SystemClock()

    def purge() -> str:
        return f"{limiter.purge(clock.now() - retention)} ended rate-limit window(s) deleted"

    return purge


def housekeeping(storage: Storage, retention: Retention, *, batch: int = 1000,
                 clock: Clock | None = None) -> Callable[[], str]:
    """The relay's chore: :func:`cegema_onboarding.retention.purge` as of now, returning
    its report's line. Shared rate-limit windows are purged when the storage is SQL."""
    limiter = shared_rate_limiter(storage)
    windows: Callable[[datetime], int] | None = getattr(limiter, "purge", None)
    if clock is None:
        from .adapters.system import SystemClock

        clock = SystemClock()
    now = clock.now

    def chore() -> str:
        return purge(storage, retention, now(), rate_limit_purge=windows, batch=batch).line()

    return chore
