"""The ``CEGEMA_ONBOARDING`` setting, read into library :class:`Settings`, and the service.

Only the keys and the base URL must be given; everything else has the library's secure
default. Keys are upper case. Those that name a field of
:class:`cegema_onboarding.config.Settings` (``SECRET_KEYS``, ``PEPPER_KEYS``, ``BASE_URL``,
``LINK_LIFETIME``, ``SECRET_QUESTIONS``, ``PASSWORD_POLICY``, ``MAIL``...) are passed to it;
the others are this app's own (see :data:`APP_DEFAULTS`). An unknown key is an error, so a
typo never silently leaves a default in place.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ...config import Settings
from ...errors import ConfigurationError
from ...ports import Clock, Notifier, RateLimiter
from ...service import OnboardingService

SETTING_NAME = "CEGEMA_ONBOARDING"

#: This app's own keys and their defaults.
APP_DEFAULTS: Mapping[str, Any] = {
    # The recovery policy the host states it wants ("link_and_answer" or "link_only"):
    # required while secret questions are on, so that the trade-off is a decision, not an
    # accident. The checks compare it with what the settings give.
    "RECOVERY_POLICY": None,
    # Create (or link) a Django user when a member completes the journey.
    "CREATE_USERS": True,
    # Where a member with a complete journey goes after logging in; None: the profile page.
    "LOGIN_REDIRECT_URL": None,
    # A Clock or Notifier object, a dotted path to one, or None for the defaults (the
    # system clock; notices kept in the admin for staff, see notices.AdminNotifier).
    "CLOCK": None,
    "NOTIFIER": None,
    # Deliver mail right after the commit; the relay command retries what failed.
    "DELIVER_INLINE": True,
    # The database alias the storage and the rate limiter use.
    "DATABASE": "default",
    # A RateLimiter object, a dotted path to one, or None for the default: counters in the
    # app's table (ratelimit.DjangoRateLimiter), shared by every process on the database.
    "RATE_LIMITER": None,
    # Secure cookies and their __Host- / __Secure- prefix; None: whenever DEBUG is off.
    "COOKIE_SECURE": None,
    # Feed and serve the Prometheus metrics (needs the metrics extra; see .health).
    "METRICS": False,
}

_FIELDS = {f.name for f in attrs.fields(Settings)}
_lock = threading.Lock()
_service: OnboardingService | None = None


def raw_config() -> dict[str, Any]:
    """The ``CEGEMA_ONBOARDING`` dict as configured (empty when missing)."""
    value = getattr(django_settings, SETTING_NAME, None)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict")
    return dict(value)


def option(name: str) -> Any:
    """One of this app's own options (see :data:`APP_DEFAULTS`)."""
    return raw_config().get(name, APP_DEFAULTS[name])


def cookies_secure() -> bool:
    """Whether the app's own cookies are Secure (and so prefixed): ``COOKIE_SECURE``.

    By default whenever ``DEBUG`` is off, as the Flask extension does outside debug and
    testing: browsers drop Secure cookies on the plain http of a development server.
    """
    value = option("COOKIE_SECURE")
    return not django_settings.DEBUG if value is None else bool(value)


def library_settings() -> Settings:
    """The library :class:`Settings` built from ``CEGEMA_ONBOARDING``.

    Raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the problem (never a
    key's value) when the settings are missing or unsafe.
    """
    values: dict[str, Any] = {}
    for key, value in raw_config().items():
        if key in APP_DEFAULTS:
            continue
        field = key.lower()
        if field not in _FIELDS or key != key.upper():
            raise ImproperlyConfigured(f"{SETTING_NAME} has an unknown key {key!r}")
        values[field] = value
    _from_environment(values)
    for required, variable in _SHARED.items():
        if required not in values:
            raise ImproperlyConfigured(
                f"{SETTING_NAME} needs {required.upper()} (or {variable} in the environment)")
    values["secret_keys"] = _str_tuple(values["secret_keys"], "SECRET_KEYS")
    values["pepper_keys"] = tuple(_pepper(p) for p in _seq(values["pepper_keys"], "PEPPER_KEYS"))
    try:
        return Settings(**values)
    except (ConfigurationError, TypeError) as exc:
        raise ImproperlyConfigured(f"{SETTING_NAME}: {exc}") from None


#: The library's shared names (docs/configuration.md), read when the dict leaves a key out.
_SHARED = {"secret_keys": "CEGEMA_SECRET_KEYS", "pepper_keys": "CEGEMA_PEPPER_KEYS",
           "base_url": "CEGEMA_BASE_URL"}


def _from_environment(values: dict[str, Any]) -> None:
    """Fill the keys and base URL the dict leaves out from the ``CEGEMA_*`` configuration
    (the environment or the ``CEGEMA_CONFIG`` file), as the commands and Flask read it."""
    if all(field in values for field in _SHARED):
        return
    from ...environment import load_environment, pepper_keys_from, secret_keys_from

    try:
        env = load_environment()
        found = {"secret_keys": secret_keys_from(env), "pepper_keys": pepper_keys_from(env),
                 "base_url": env.get("CEGEMA_BASE_URL")}
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"{SETTING_NAME}: {exc}") from None
    for field, value in found.items():
        if field not in values and value is not None:
            values[field] = value


def get_service() -> OnboardingService:
    """The one service of this process, built on first use from the Django settings."""
    global _service
    with _lock:
        if _service is None:
            _service = _build()
        return _service


def reset_service() -> None:
    """Forget the service, so the next call rebuilds it (after a settings change)."""
    global _service
    with _lock:
        _service = None


def on_setting_changed(*, setting: str, **_: object) -> None:
    """``setting_changed`` receiver: tests that override settings get a fresh service."""
    if setting in (SETTING_NAME, "EMAIL_BACKEND", "USE_TZ", "DATABASES"):
        reset_service()


def _build() -> OnboardingService:
    # Built by the package's one composition root, like every other service.
    from ...bootstrap import build_service
    from .mail import DjangoMailer
    from .notices import AdminNotifier
    from .ratelimit import DjangoRateLimiter
    from .storage import DjangoStorage

    using = str(option("DATABASE"))
    clock = _component(option("CLOCK"), "CLOCK")
    # No notifier of the host's: notices for members without email wait in the admin.
    notifier = _component(option("NOTIFIER"), "NOTIFIER")
    if notifier is None:
        notifier = AdminNotifier(using)
    if clock is not None and not isinstance(clock, Clock):
        raise ImproperlyConfigured(f"{SETTING_NAME}['CLOCK'] is not a Clock")
    if notifier is not None and not isinstance(notifier, Notifier):
        raise ImproperlyConfigured(f"{SETTING_NAME}['NOTIFIER'] is not a Notifier")
    # Counted in the database by default: each worker counting alone in its memory would
    # let through that many times the limit.
    limiter = _component(option("RATE_LIMITER"), "RATE_LIMITER")
    if limiter is None:
        limiter = DjangoRateLimiter(using)
    if not isinstance(limiter, RateLimiter):
        raise ImproperlyConfigured(f"{SETTING_NAME}['RATE_LIMITER'] is not a RateLimiter")
    service = build_service(
        library_settings(),
        DjangoStorage(using=using),
        DjangoMailer(),
        clock=clock,
        notifier=notifier,
        rate_limiter=limiter,
        deliver_inline=bool(option("DELIVER_INLINE")),
    )
    if option("METRICS"):
        from .health import metrics_of

        metrics_of(service)
    return service


def _component(value: object, name: str) -> object:
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError:
            raise ImproperlyConfigured(f"{SETTING_NAME}['{name}'] cannot be imported") from None
    if isinstance(value, type):
        value = value()
    return value


def _seq(value: object, name: str) -> tuple[object, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ImproperlyConfigured(f"{SETTING_NAME}['{name}'] must be a list")
    return tuple(value)


def _str_tuple(value: object, name: str) -> tuple[str, ...]:
    items = _seq(value, name)
    if not all(isinstance(v, str) for v in items):
        raise ImproperlyConfigured(f"{SETTING_NAME}['{name}'] must hold strings")
    return tuple(str(v) for v in items)


def _pepper(entry: object) -> tuple[str, str]:
    if (not isinstance(entry, (list, tuple)) or len(entry) != 2
            or not all(isinstance(v, str) for v in entry)):
        raise ImproperlyConfigured(
            f"{SETTING_NAME}['PEPPER_KEYS'] holds (key_id, key) pairs of strings")
    return str(entry[0]), str(entry[1])
