"""One configuration for every entry point: ``CEGEMA_*`` values from the environment or a file.

The Flask quick start, the command line (``provision``, ``relay``, ``purge``, ``migrate``,
``outbox``), and the Django app read the same names in the same formats through
:mod:`cegema_onboarding.bootstrap`, which calls this module. Values come from the
environment and, when ``CEGEMA_CONFIG`` (or ``--config``) names one, from a TOML file of
the same names::

    CEGEMA_SECRET_KEYS = "newest-key,older-key"
    CEGEMA_PEPPER_KEYS = "p2:newest-pepper,p1:older-pepper"
    CEGEMA_BASE_URL = "https://espace.example.fr"
    CEGEMA_DATABASE_URL = "postgresql+psycopg://portal@db.example.fr/portal"

A name given in both places with two different values is refused rather than one silently
winning: a portal and a command that disagree on the pepper refuse every printed initial
password without an error anywhere, which is what this module exists to prevent.

The names of the first release (``CEGEMA_LINK_KEY``, one signing key, and
``CEGEMA_PEPPER``, one pepper that the quick start used under the id ``p1``) still work,
with a :class:`DeprecationWarning`, and are refused when they contradict the new ones.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
import warnings
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from .errors import ConfigurationError, SettingsConflict
from .retention import Retention

__all__ = [
    "CONFIG_VARIABLE",
    "DEPRECATED_NAMES",
    "LEGACY_PEPPER_ID",
    "SECRET_VARIABLES",
    "VARIABLES",
    "duration",
    "load_environment",
    "pepper_keys_from",
    "retention_from",
    "secret_keys_from",
]

#: The variable that names a TOML configuration file.
CONFIG_VARIABLE = "CEGEMA_CONFIG"

#: Every variable the package reads, each documented once in docs/configuration.md.
VARIABLES: tuple[str, ...] = (
    CONFIG_VARIABLE,
    "CEGEMA_SECRET_KEYS",
    "CEGEMA_PEPPER_KEYS",
    "CEGEMA_BASE_URL",
    "CEGEMA_DATABASE_URL",
    "CEGEMA_SESSION_KEY",
    "CEGEMA_SMTP_HOST",
    "CEGEMA_SMTP_PORT",
    "CEGEMA_SMTP_SECURITY",
    "CEGEMA_SMTP_USER",
    "CEGEMA_SMTP_PASSWORD",
    "CEGEMA_SMTP_TIMEOUT",
    "CEGEMA_SMTP_CA_FILE",
    "CEGEMA_SMTP_LOCAL_HOSTNAME",
    "CEGEMA_SMTP_ALLOW_INSECURE_AUTH",
    "CEGEMA_RELAY_INTERVAL",
    "CEGEMA_RELAY_METRICS_PORT",
    "CEGEMA_RELAY_METRICS_ADDRESS",
    "CEGEMA_AUDIT_RETENTION",
    "CEGEMA_SENT_MAIL_RETENTION",
    "CEGEMA_RATE_LIMIT_RETENTION",
)

#: Old name -> the name that replaces it (kept for one release, with a DeprecationWarning).
DEPRECATED_NAMES: Mapping[str, str] = {
    "CEGEMA_LINK_KEY": "CEGEMA_SECRET_KEYS",
    "CEGEMA_PEPPER": "CEGEMA_PEPPER_KEYS",
}

#: The key id the first release's quick start gave ``CEGEMA_PEPPER``: digests made then
#: carry it, so the old name maps to it and nothing else.
LEGACY_PEPPER_ID = "p1"

#: Variables holding a secret: a configuration file that has one must be private (0600).
SECRET_VARIABLES = frozenset({"CEGEMA_SECRET_KEYS", "CEGEMA_PEPPER_KEYS", "CEGEMA_SESSION_KEY",
                              "CEGEMA_SMTP_PASSWORD", "CEGEMA_LINK_KEY", "CEGEMA_PEPPER"})

_KNOWN = frozenset(VARIABLES) | frozenset(DEPRECATED_NAMES)


def load_environment(env: Mapping[str, str] | None = None,
                     config_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The ``CEGEMA_*`` values of ``env`` (default: the process environment) and of the TOML
    file named by ``config_file`` or ``CEGEMA_CONFIG``, merged.

    Empty values count as unset. Raises :class:`SettingsConflict` when the file and the
    environment give one name two values, and :class:`ConfigurationError` for a file that
    cannot be read, has an unknown name, or holds a secret while others may read it.
    """
    env = os.environ if env is None else env
    merged = {k: v for k, v in env.items() if k.startswith("CEGEMA_") and v}
    path = config_file or merged.get(CONFIG_VARIABLE)
    if path:
        for name, value in _read_file(Path(path)).items():
            if merged.get(name, value) != value:
                raise SettingsConflict((name,), "set in the environment and in the "
                                       "configuration file with different values: keep one")
            merged[name] = value
    return merged


def _read_file(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        mode = path.stat().st_mode
    except OSError:
        raise ConfigurationError(f"the configuration file {path.name} cannot be read") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message gives a line and column, never the value.
        raise ConfigurationError(f"the configuration file {path.name} is not TOML: {exc}"
                                 ) from None
    values: dict[str, str] = {}
    for name, value in data.items():
        if name not in _KNOWN or name == CONFIG_VARIABLE:
            # A typo must not leave a default silently in place.
            raise ConfigurationError(f"the configuration file {path.name} has an unknown "
                                     f"name {name!r} (names are the CEGEMA_* variables)")
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise ConfigurationError(f"{name} in {path.name} must be a string or a number, "
                                     "in the same format as the environment variable")
        if text:
            values[name] = text
    if SECRET_VARIABLES & set(values) and stat.S_IMODE(mode) & 0o077:
        raise ConfigurationError(f"the configuration file {path.name} holds keys but others "
                                 f"may read it: chmod 600 {path.name}")
    return values


def _deprecated(old: str) -> None:
    warnings.warn(f"{old} is deprecated and will be removed in the next release: "
                  f"use {DEPRECATED_NAMES[old]} (see docs/configuration.md)",
                  DeprecationWarning, stacklevel=4)


def secret_keys_from(values: Mapping[str, str]) -> tuple[str, ...] | None:
    """``CEGEMA_SECRET_KEYS`` (``newest,older``), else the deprecated ``CEGEMA_LINK_KEY``."""
    text = values.get("CEGEMA_SECRET_KEYS")
    keys = tuple(k.strip() for k in text.split(",") if k.strip()) if text else None
    old = values.get("CEGEMA_LINK_KEY")
    if old is None:
        return keys
    if keys is not None and keys != (old,):
        raise SettingsConflict(("CEGEMA_SECRET_KEYS", "CEGEMA_LINK_KEY"),
                               "both are set and disagree: put every signing key in "
                               "CEGEMA_SECRET_KEYS, newest first, and unset CEGEMA_LINK_KEY")
    _deprecated("CEGEMA_LINK_KEY")
    return (old,)


def pepper_keys_from(values: Mapping[str, str]) -> tuple[tuple[str, str], ...] | None:
    """``CEGEMA_PEPPER_KEYS`` (``id:key,...``), else the deprecated ``CEGEMA_PEPPER``
    (one key, under the id ``p1``)."""
    text = values.get("CEGEMA_PEPPER_KEYS")
    pairs = parse_pepper_keys(text) if text else None
    old = values.get("CEGEMA_PEPPER")
    if old is None:
        return pairs
    if pairs is not None and pairs != ((LEGACY_PEPPER_ID, old),):
        raise SettingsConflict(("CEGEMA_PEPPER_KEYS", "CEGEMA_PEPPER"),
                               "both are set and disagree: write the old pepper as "
                               f"'{LEGACY_PEPPER_ID}:<key>' in CEGEMA_PEPPER_KEYS (after "
                               "any newer key) and unset CEGEMA_PEPPER")
    _deprecated("CEGEMA_PEPPER")
    return ((LEGACY_PEPPER_ID, old),)


def parse_pepper_keys(value: str) -> tuple[tuple[str, str], ...]:
    """``"k2:secret2,k1:secret1"`` (newest first) as Settings.pepper_keys pairs."""
    pairs = []
    for item in value.split(","):
        key_id, sep, key = item.strip().partition(":")
        if not sep or not key_id or not key:
            # The value is a secret: only its shape is described.
            raise ConfigurationError("CEGEMA_PEPPER_KEYS must look like 'id:key[,id:key...]' "
                                     "(an id, a colon, then the key)")
        pairs.append((key_id, key))
    return tuple(pairs)


# --------------------------------------------------------------------------- durations

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(values: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """A duration variable: seconds (``3600``) or with a unit (``90m``, ``12h``, ``30d``)."""
    text = values.get(name)
    if text is None:
        return default
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ConfigurationError(f"{name} must be a duration such as 86400, 90m, 12h or 30d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def retention_from(values: Mapping[str, str]) -> Retention:
    """:class:`Retention` from ``CEGEMA_AUDIT_RETENTION``, ``CEGEMA_SENT_MAIL_RETENTION`` and
    ``CEGEMA_RATE_LIMIT_RETENTION``, each defaulting to the class's value."""
    base = Retention()
    return Retention(
        audit=duration(values, "CEGEMA_AUDIT_RETENTION", base.audit),
        sent_mail=duration(values, "CEGEMA_SENT_MAIL_RETENTION", base.sent_mail),
        rate_limit_windows=duration(values, "CEGEMA_RATE_LIMIT_RETENTION",
                                    base.rate_limit_windows))
