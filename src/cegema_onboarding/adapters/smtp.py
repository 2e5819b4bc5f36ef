"""The SMTP mail adapter: :class:`SmtpMailer` over the standard library's :mod:`smtplib`.

Each message gets its own connection. That costs one handshake per mail, but a relay
sends a few messages a second at most, and a fresh connection never inherits a half-broken
session from the previous failure. Every error of :mod:`smtplib`, :mod:`socket` and
:mod:`ssl` comes out as :class:`~cegema_onboarding.errors.SmtpError` with a short reason:
the server's text is not copied into it, so nothing it echoes (a login, an address) can
end up in logs or in the outbox's ``last_error``.
"""

from __future__ import annotations

import copy
import email.policy
import logging
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from typing import Literal, get_args

import attrs

from ..errors import ConfigurationError, InvalidInput, SmtpError
from ..mail.draft import Mail
from ..mail.legacy import message_of
from ..normalize import ascii_domain

__all__ = ["Security", "SmtpMailer", "SmtpSettings"]

log = logging.getLogger("cegema_onboarding.smtp")

Security = Literal["ssl", "starttls", "none"]

_MAX_HOST = 253
# The headers smtplib.send_message takes the envelope from (Resent-* when the message has a
# Resent-Date): their domains must already be what the envelope carries.
_ENVELOPE_HEADERS = ("From", "Sender", "To", "Cc", "Bcc", "Resent-From", "Resent-Sender",
                     "Resent-To", "Resent-Cc", "Resent-Bcc")


def _check_host(_: object, __: object, value: str) -> None:
    if (not isinstance(value, str) or not value or len(value) > _MAX_HOST
            or any(c.isspace() or not c.isprintable() for c in value)):
        raise ConfigurationError("SMTP host must be a host name or an IP address")


def _check_port(_: object, __: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise ConfigurationError("SMTP port must be between 1 and 65535")


def _check_security(_: object, __: object, value: str) -> None:
    if value not in get_args(Security):
        raise ConfigurationError("SMTP security must be 'ssl', 'starttls' or 'none'")


def _check_timeout(_: object, __: object, value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ConfigurationError("SMTP timeout must be a positive number of seconds")


@attrs.frozen
class SmtpSettings:
    """Where and how to reach the SMTP server (the submission port with STARTTLS by default).

    ``security`` is ``"ssl"`` for TLS from the first byte (port 465), ``"starttls"`` to
    upgrade a plain connection (port 587), or ``"none"`` for a local relay. AUTH over a
    connection without TLS is refused unless ``allow_insecure_auth`` says otherwise.
    ``ssl_context`` defaults to the system's trust store with host name checking.
    """

    host: str = attrs.field(validator=_check_host)
    port: int = attrs.field(default=587, validator=_check_port)
    security: Security = attrs.field(default="starttls", validator=_check_security)
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = attrs.field(default=10.0, validator=_check_timeout)
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False, eq=False)
    local_hostname: str | None = None
    allow_insecure_auth: bool = False

    def __attrs_post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise ConfigurationError("SMTP username and password go together")
        if self.username is not None and self.security == "none" and not self.allow_insecure_auth:
            raise ConfigurationError(
                "SMTP AUTH over a connection without TLS would send the password in clear; "
                "use security='starttls' or 'ssl', or set allow_insecure_auth=True")
        if self.ssl_context is not None and self.security == "none":
            raise ConfigurationError("an ssl_context needs security='starttls' or 'ssl'")


class SmtpMailer:
    """Sends each message over a fresh SMTP connection; raises SmtpError on any failure."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._local_hostname = settings.local_hostname
        self._context: ssl.SSLContext | None = None
        if settings.security != "none":
            self._context = settings.ssl_context or ssl.create_default_context()

    def __repr__(self) -> str:
        s = self.settings
        return f"SmtpMailer({s.host}:{s.port}, security={s.security})"

    def send(self, mail: Mail) -> None:
        """Deliver one mail, or raise SmtpError; the server accepted it when this returns."""
        self.send_message(message_of(mail, "SmtpMailer"))

    def send_message(self, message: EmailMessage) -> None:
        """Deliver an assembled message, or raise SmtpError, as :meth:`send` does."""
        try:
            self._send(message)
        except SmtpError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            if not exc.recipients:
                raise SmtpError("the message has no recipient", permanent=True) from None
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise _reply_error("recipient refused", codes[0] if codes else None) from None
        except smtplib.SMTPSenderRefused as exc:
            raise _reply_error("sender refused", exc.smtp_code) from None
        except smtplib.SMTPDataError as exc:
            raise _reply_error("message refused", exc.smtp_code) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise _reply_error("authentication failed", exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError:
            raise SmtpError("the server does not support a required extension "
                            "(STARTTLS or AUTH)", permanent=True) from None
        except smtplib.SMTPConnectError as exc:
            raise _reply_error("the server refused the connection", exc.smtp_code) from None
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib turns a read timeout into a disconnection; keep the distinction.
            if "timed out" in str(exc):
                raise SmtpError("timed out") from None
            raise SmtpError("the server closed the connection") from None
        except smtplib.SMTPResponseException as exc:
            raise _reply_error("unexpected reply", exc.smtp_code) from None
        except smtplib.SMTPException as exc:
            raise SmtpError(f"SMTP error ({type(exc).__name__})") from None
        except ssl.SSLCertVerificationError:
            raise SmtpError("TLS certificate verification failed") from None
        except ssl.SSLError as exc:
            raise SmtpError(f"TLS error ({exc.reason or type(exc).__name__})") from None
        except TimeoutError:
            raise SmtpError("timed out") from None
        except socket.gaierror:
            raise SmtpError("unknown host") from None
        except ConnectionRefusedError:
            raise SmtpError("connection refused") from None
        except OSError as exc:
            raise SmtpError(f"network error ({type(exc).__name__})") from None
        except (ValueError, UnicodeError) as exc:
            # smtplib raises these for messages it cannot send (no recipient, non-ASCII
            # address without SMTPUTF8): retrying will not help.
            raise SmtpError(f"message cannot be sent ({type(exc).__name__})",
                            permanent=True) from None

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        # Before connecting: an address that cannot be written costs no connection.
        message = _ascii_domains(message)
        if self._local_hostname is None:
            # smtplib would look the name up (reverse DNS, maybe slow) on every connection.
            self._local_hostname = socket.getfqdn()
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, local_hostname=self._local_hostname,
                                    timeout=s.timeout, context=self._context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, local_hostname=self._local_hostname,
                                timeout=s.timeout)
        try:
            if s.security == "starttls":
                # Never fall back to plain text: without STARTTLS this raises
                # SMTPNotSupportedError and the message waits in the outbox.
                smtp.starttls(context=self._context)
            if s.username is not None and s.password is not None:
                smtp.login(s.username, s.password)
            refused = smtp.send_message(message)
        except BaseException:
            smtp.close()
            raise
        # The server has the message now: nothing after this point may report a failure,
        # or the outbox would send it again.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()
        if refused:
            # The others got it and a retry would send it to them twice: log, do not raise.
            log.warning("SMTP server refused %d of the message's recipients", len(refused))


def _addresses(name: str, value: object) -> Sequence[Address]:
    found = getattr(value, "addresses", None)
    if found is None:
        # A compat32 message keeps plain strings (or Header objects): parse them the same way.
        found = email.policy.default.header_factory(name, str(value)).addresses
    return tuple(found)


def _ascii_domains(message: EmailMessage) -> EmailMessage:
    """The message with every envelope address's domain in email-validator's ASCII form.

    smtplib takes the envelope from these headers, and a non-ASCII domain there would make
    it ask for SMTPUTF8 and hand the Unicode name to the relay, whose IDNA choice (2003 in
    many) would decide where the mail goes. The mails of this library already carry the
    A-label (IDNA 2008, as email-validator computes it): those come back untouched. Any
    other gets a copy with the A-label in the header, so header and envelope agree and no
    one re-encodes the domain differently later.
    """
    changed: dict[str, list[str]] = {}
    for name in _ENVELOPE_HEADERS:
        values = message.get_all(name) or []
        groups = [_addresses(name, v) for v in values]
        if all(a.domain.isascii() for group in groups for a in group):
            continue
        try:
            changed[name] = [", ".join(
                formataddr((a.display_name,
                            Address(username=a.username, domain=ascii_domain(a.domain)).addr_spec))
                for a in group) for group in groups]
        except (InvalidInput, ValueError):
            raise SmtpError("an address has a domain IDNA 2008 refuses",
                            permanent=True) from None
    if not changed:
        return message
    # A deep copy: the caller's message (the outbox's) stays as it was.
    clone = copy.deepcopy(message)
    for name, rewritten in changed.items():
        del clone[name]
        for value in rewritten:
            clone[name] = value
    return clone


def _reply_error(what: str, code: int | None) -> SmtpError:
    if code is None:
        return SmtpError(what)
    return SmtpError(f"{what} ({code})", code=code, permanent=500 <= code < 600)
