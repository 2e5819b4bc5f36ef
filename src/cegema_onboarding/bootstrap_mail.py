"""The composition root's mail part: the demo's mailbox, SMTP from the configuration, or a
host's own mailer named on the command line.

Part of :mod:`cegema_onboarding.bootstrap`, which re-exports every name here; kept apart
so that each module stays readable.
"""

from __future__ import annotations

import importlib
import os
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .errors import ConfigurationError
from .ports import Mailer

if TYPE_CHECKING:
    from .adapters.mailbox import FileMailbox
    from .adapters.smtp import SmtpSettings

__all__ = ["env_value", "local_mailbox", "mailer_from", "smtp_settings_from"]


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """``env[name]``, with an empty value taken as unset."""
    value = env.get(name)
    return value if value else None


def local_mailbox(directory: Path) -> FileMailbox:
    """A folder that keeps every sent mail as an ``.eml`` file (the demo's mailbox)."""
    from .adapters.mailbox import FileMailbox

    return FileMailbox(directory)


_DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


def smtp_settings_from(options: object, env: Mapping[str, str] | None = None) -> SmtpSettings:
    """SmtpSettings from parsed options (``smtp_host``...), else ``CEGEMA_SMTP_*`` variables.

    ``options`` is any object with those attributes, such as an argparse namespace; a
    missing or empty attribute falls back to the environment.
    """
    from .adapters.smtp import SmtpSettings

    env = os.environ if env is None else env

    def pick(attr: str, var: str) -> str | None:
        value = getattr(options, attr, None)
        return str(value) if value not in (None, "") else env_value(env, var)

    host = pick("smtp_host", "CEGEMA_SMTP_HOST")
    if host is None:
        raise ConfigurationError("no SMTP host: pass --smtp-host or set CEGEMA_SMTP_HOST")
    security = pick("smtp_security", "CEGEMA_SMTP_SECURITY") or "starttls"
    port_text = pick("smtp_port", "CEGEMA_SMTP_PORT")
    timeout_text = pick("smtp_timeout", "CEGEMA_SMTP_TIMEOUT")
    try:
        port = int(port_text) if port_text else _DEFAULT_PORTS.get(security, 587)
        timeout = float(timeout_text) if timeout_text else 10.0
    except ValueError:
        raise ConfigurationError("SMTP port and timeout must be numbers") from None
    user = pick("smtp_user", "CEGEMA_SMTP_USER")
    password = env_value(env, "CEGEMA_SMTP_PASSWORD") if user else None
    if user and password is None:
        raise ConfigurationError("an SMTP user needs CEGEMA_SMTP_PASSWORD in the environment")
    ca_file = pick("smtp_ca_file", "CEGEMA_SMTP_CA_FILE")
    context = None
    if ca_file and security != "none":
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError):
            raise ConfigurationError("the SMTP CA file cannot be read") from None
    insecure = bool(getattr(options, "smtp_allow_insecure_auth", False)) or (
        env_value(env, "CEGEMA_SMTP_ALLOW_INSECURE_AUTH") in ("1", "true", "yes"))
    return SmtpSettings(
        host=host, port=port, security=security,  # type: ignore[arg-type]
        username=user, password=password, timeout=timeout, ssl_context=context,
        local_hostname=pick("smtp_local_hostname", "CEGEMA_SMTP_LOCAL_HOSTNAME"),
        allow_insecure_auth=insecure)


def mailer_from(kind: str, options: object = None, env: Mapping[str, str] | None = None, *,
                console: TextIO | None = None) -> Mailer:
    """``"smtp"``: an SmtpMailer from options and environment; ``"console"``: printed;
    ``"package.module:factory"``: what the host's ``factory()`` returns (its own Mailer)."""
    if kind == "console":
        from .adapters.mailbox import ConsoleMailer

        return ConsoleMailer(console or sys.stderr)
    if ":" in kind:
        return _host_mailer(kind)
    if kind != "smtp":
        raise ConfigurationError("the mailer is 'smtp', 'console' or 'package.module:factory'")
    from .adapters.smtp import SmtpMailer

    return SmtpMailer(smtp_settings_from(options, env))


def _host_mailer(spec: str) -> Mailer:
    """The Mailer a host's ``package.module:factory`` callable returns."""
    module_name, _, attr = spec.partition(":")
    try:
        factory: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            factory = getattr(factory, part)
    except (ImportError, AttributeError, ValueError):
        raise ConfigurationError(f"the mailer factory {spec!r} cannot be imported") from None
    mailer = factory() if callable(factory) else None
    if not isinstance(mailer, Mailer):
        raise ConfigurationError(f"the mailer factory {spec!r} must be a callable returning a "
                                 "Mailer (an object with send(mail))")
    return mailer
