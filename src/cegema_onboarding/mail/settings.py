"""How mails look and who they come from: :class:`MailSettings` and its checks.

This is the only part of :mod:`cegema_onboarding.mail` that :mod:`cegema_onboarding.config`
imports, so it stays light: importing it loads neither the renderer nor the stdlib
``email`` package (the sender check imports that on first use).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final, TypeGuard
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ..errors import ConfigurationError, InvalidInput

if TYPE_CHECKING:
    from email.headerregistry import Address

__all__ = ["MailSettings"]

# Control characters, C1 controls and the Unicode line and paragraph separators: anything
# that could start a new header line or hide in one.
CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_URL_FORBIDDEN: Final = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\`]")
MAX_URL: Final = 2048
MAX_SITE_NAME: Final = 100
# The site name is read, not clicked: still, nothing a mail client could take for markup.
_SITE_FORBIDDEN: Final = re.compile(r"[\"<>`]")
_BAD_SENDER: Final = "mail sender must be exactly one address, like 'Name <a@b.c>'"


def is_web_url(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an absolute http(s) URL that is safe inside an href."""
    if not isinstance(value, str) or len(value) > MAX_URL or _URL_FORBIDDEN.search(value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.hostname)


def sender_address(value: str) -> Address:
    """The configured sender as one address, its domain as an A-label.

    Raises :class:`ConfigurationError`: the sender comes from the host's settings.
    """
    # Imported here, not at the top: config imports this module, and the pure flow must not
    # load the email package (see the purity test).
    from email.headerregistry import Address
    from email.policy import SMTP

    from ..normalize import ascii_domain

    header = SMTP.header_factory("From", value)
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    defects: tuple[object, ...] = getattr(header, "defects", ())
    if len(addresses) != 1 or defects:
        raise ConfigurationError(_BAD_SENDER)
    address = addresses[0]
    if not address.username or "." not in address.domain:
        raise ConfigurationError(_BAD_SENDER)
    if address.domain.isascii():
        return address
    # A Unicode domain would be written as an encoded word inside the address, which no
    # one can reply to: the A-label, computed as for recipients (IDNA 2008), instead.
    try:
        domain = ascii_domain(address.domain)
    except InvalidInput:
        raise ConfigurationError("mail sender's domain is not a valid IDNA 2008 name") from None
    return Address(display_name=address.display_name, username=address.username, domain=domain)


def _check_brand(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not value.strip() or CONTROL.search(value):
        raise ConfigurationError("mail brand must be a non-empty, single-line string")
    if len(value) > 64:
        raise ConfigurationError("mail brand must be 64 characters at most")


def _check_sender(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or CONTROL.search(value):
        raise ConfigurationError("mail sender must be a single-line string")
    sender_address(value)


def _check_optional_url(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value == "":
        return
    if not is_web_url(value):
        raise ConfigurationError(
            f"mail {attribute.name} must be empty or an absolute http(s) URL such as "
            "https://www.example.fr/contact (no other scheme, no spaces, quotes or brackets)")


def _check_site_name(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or CONTROL.search(value) or _SITE_FORBIDDEN.search(value):
        raise ConfigurationError(
            "mail site_name must be a single-line string without quotes or angle brackets")
    if value != value.strip():
        raise ConfigurationError("mail site_name must not start or end with spaces")
    if len(value) > MAX_SITE_NAME:
        raise ConfigurationError(f"mail site_name must be {MAX_SITE_NAME} characters at most")


def _check_timezone(_: object, __: object, value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(
            "mail timezone is not a known IANA zone (install the 'tzdata' package on "
            "systems without a zone database)"
        ) from None


@attrs.frozen
class MailSettings:
    """How mails look and who they come from.

    ``contact_url`` is the "contact us" link of security notices ("merci de bien vouloir
    contacter CEGEMA en cliquant ici : <contact_url>"), ``legal_url`` the legal notice
    linked from every footer ("Cliquer sur ce lien : Mentions Légales"), ``site_name`` the
    site a member starts again from when a link has expired ("depuis le site
    www.cegema.com"). Each may be empty: the mail then says "contacter CEGEMA au plus
    vite.", has no legal footer, and ends "depuis le site." (never an empty link).
    ``timezone`` is the IANA zone in which times are shown to members (headers are always
    UTC). Bad values raise :class:`ConfigurationError` naming the setting, never the value.
    """

    brand: str = attrs.field(default="CEGEMA", validator=_check_brand)
    sender: str = attrs.field(
        default="CEGEMA <ne-pas-repondre@example.invalid>", validator=_check_sender
    )
    contact_url: str = attrs.field(default="", validator=_check_optional_url)
    legal_url: str = attrs.field(default="", validator=_check_optional_url)
    timezone: str = attrs.field(default="Europe/Paris", validator=_check_timezone)
    # Last, so that positional construction written before it still means the same.
    site_name: str = attrs.field(default="", validator=_check_site_name)
