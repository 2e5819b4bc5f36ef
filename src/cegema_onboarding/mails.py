"""The mails a member receives, as real RFC 5322 messages built with the stdlib.

Each builder returns an :class:`email.message.EmailMessage` (policy ``email.policy.SMTP``):
multipart/alternative with a text/plain part and a text/html part saying the same thing.
Builders are pure: the date and Message-ID arrive as arguments (and the MIME boundary is
derived from the Message-ID), so the same call always builds the same bytes.

Every interpolated value is HTML-escaped in the HTML part, and stripped of control characters
in headers, because names and addresses come from outside. Errors never carry the offending
value: links and codes are secrets.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.errors import HeaderDefect, MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Final, TypeGuard
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from .errors import ConfigurationError, InvalidInput
from .texts import CATALOG, resolve_lang, text

__all__ = [
    "MailSettings",
    "activation_mail",
    "email_change_notice_mail",
    "identifier_reminder_mail",
    "make_message_id",
    "password_changed_mail",
    "reset_link_mail",
    "validation_mail",
]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_URL_FORBIDDEN: Final = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\`]")
# RFC 5322 dot-atom text for the left of a Message-ID, a host name for the right.
_ID_LEFT: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}")
_ID_RIGHT: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_MESSAGE_ID: Final = re.compile(r"<([^<>@\s]+)@([^<>@\s]+)>")
_MAX_URL: Final = 2048
_MAX_CODE: Final = 32
_MAX_ADDRESS: Final = 254


# --------------------------------------------------------------------------- settings


def _check_brand(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not value.strip() or _CONTROL.search(value):
        raise ConfigurationError("mail brand must be a non-empty, single-line string")
    if len(value) > 64:
        raise ConfigurationError("mail brand must be 64 characters at most")


def _check_sender(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or _CONTROL.search(value):
        raise ConfigurationError("mail sender must be a single-line string")
    _parse_sender(value)


def _check_optional_url(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value == "":
        return
    if not _is_web_url(value):
        raise ConfigurationError(f"{attribute.name} must be empty or an absolute http(s) URL")


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

    ``contact_url`` is the "contact us" link of security notices, ``legal_url`` the legal
    notice linked from every footer; either may be empty to leave it out. ``timezone`` is
    the IANA zone in which times are shown to members (headers are always UTC).
    """

    brand: str = attrs.field(default="CEGEMA", validator=_check_brand)
    sender: str = attrs.field(
        default="CEGEMA <ne-pas-repondre@example.invalid>", validator=_check_sender
    )
    contact_url: str = attrs.field(default="", validator=_check_optional_url)
    legal_url: str = attrs.field(default="", validator=_check_optional_url)
    timezone: str = attrs.field(default="Europe/Paris", validator=_check_timezone)


def _parse_sender(value: str) -> Address:
    header = SMTP.header_factory("From", value)
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    defects: tuple[object, ...] = getattr(header, "defects", ())
    if len(addresses) != 1 or defects:
        raise ConfigurationError("mail sender must be exactly one address, like 'Name <a@b.c>'")
    address = addresses[0]
    if not address.username or "." not in address.domain:
        raise ConfigurationError("mail sender must be exactly one address, like 'Name <a@b.c>'")
    return address


# --------------------------------------------------------------------------- helpers


def make_message_id(unique: str, domain: str) -> str:
    """A Message-ID header value, ``<unique@domain>``."""
    if not isinstance(unique, str) or not _ID_LEFT.fullmatch(unique):
        raise InvalidInput("message_id", "malformed")
    if not isinstance(domain, str) or not _ID_RIGHT.fullmatch(domain):
        raise InvalidInput("message_id", "malformed")
    return f"<{unique}@{domain}>"


def _is_web_url(value: object) -> TypeGuard[str]:
    if not isinstance(value, str) or len(value) > _MAX_URL or _URL_FORBIDDEN.search(value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.hostname)


def _check_url(value: object, field: str) -> str:
    # A link is pasted into an href: only absolute web URLs, nothing that could break out
    # of the attribute or run script (javascript:, data:).
    if not _is_web_url(value):
        raise InvalidInput(field, "malformed")
    return value


def _check_code(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= _MAX_CODE
        or _CONTROL.search(value)
        or not value.strip()
    ):
        raise InvalidInput("code", "malformed")
    return value


def _check_hours(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("valid_hours", "range")
    return value


def _check_aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput(field, "type")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "naive_datetime")
    return value


def _check_message_id(value: object) -> str:
    if not isinstance(value, str) or len(value) > 250 or not _MESSAGE_ID.fullmatch(value):
        raise InvalidInput("message_id", "malformed")
    if not value.isascii() or _CONTROL.search(value):
        raise InvalidInput("message_id", "malformed")
    return value


def _single_line(value: object, field: str, max_len: int = 500) -> str:
    """Collapse control characters and runs of spaces: a header-safe, one-line string."""
    if not isinstance(value, str):
        raise InvalidInput(field, "type")
    if len(value) > max_len:
        raise InvalidInput(field, "too_long")
    return " ".join(_CONTROL.sub(" ", value).split())


def _recipient(to: object, name: str) -> Address:
    if not isinstance(to, str) or len(to) > _MAX_ADDRESS or _CONTROL.search(to):
        raise InvalidInput("to", "malformed")
    local, at, domain = to.strip().rpartition("@")
    if not at or not local or not domain:
        raise InvalidInput("to", "malformed")
    # policy.SMTP is 7-bit: a UTF-8 local part would need SMTPUTF8, which is not assumed.
    if not local.isascii():
        raise InvalidInput("to", "non_ascii")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        address = Address(display_name=name, addr_spec=f"{local}@{ascii_domain}")
    except (UnicodeError, ValueError, HeaderDefect, MessageError, IndexError):
        raise InvalidInput("to", "malformed") from None
    if not address.username or "." not in address.domain:
        raise InvalidInput("to", "malformed")
    return address


def _ips(ip: object, lang: str) -> str:
    # The IP usually comes from X-Forwarded-For, which anyone can set: only real addresses
    # get into a security notice, never free text a phisher could plant there.
    found: list[str] = []
    if isinstance(ip, str):
        for token in re.split(r"[\s,/]+", ip[:512]):
            candidate = token.strip("[]")
            try:
                parsed = ipaddress.ip_address(candidate)
            except ValueError:
                continue
            if isinstance(parsed, ipaddress.IPv6Address):
                # An IPv6 zone ("fe80::1%anything") is free text too: drop it.
                parsed = ipaddress.IPv6Address(int(parsed))
            found.append(str(parsed))
            if len(found) == 4:
                break
    if not found:
        return text("mail.password_changed.unknown_ip", lang)
    return " / ".join(found)


def _duration_hours(hours: int, lang: str) -> str:
    # French, like English, uses the singular for one: "1 heure", "24 heures".
    key = "unit.hours.one" if hours == 1 else "unit.hours.other"
    return text(key, lang, count=hours)


# --------------------------------------------------------------------------- layout

_FONT = "font-family:Arial,Helvetica,sans-serif;"
_P = "margin:0 0 16px 0;"
_STYLE_STRONG = "font-weight:bold;"
_STYLE_CODE = (
    "font-family:'Courier New',Courier,monospace;font-size:20px;font-weight:bold;"
    "letter-spacing:2px;background:#eef3f8;padding:2px 8px;border-radius:4px;"
)
_STYLE_LINK = "color:#00508c;text-decoration:underline;word-break:break-all;"


class _Composer:
    """Writes one paragraph at a time into both the text and the HTML part."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.plain: list[str] = []
        self.html: list[str] = []
        self.footer_plain: list[str] = []
        self.footer_html: list[str] = []

    def para(
        self,
        key: str,
        params: Mapping[str, str] | None = None,
        *,
        strong: Iterable[str] = (),
        as_code: Iterable[str] = (),
        small: bool = False,
    ) -> None:
        """Add the text of ``key``; the params named in strong/as_code are highlighted."""
        values = dict(params or {})
        self.plain.append(text(key, self.lang, **values))
        inner = self._html_text(key, values, strong, as_code)
        self.html.append(f'<p style="{_P}{_small(small)}">{inner}</p>')

    def link(self, url: str, label: str | None = None) -> None:
        """Add a link: the bare URL in text (label above it), an anchor in HTML."""
        self.plain.append(url if label is None else f"{label}\n{url}")
        shown = html.escape(url if label is None else label)
        self.html.append(
            f'<p style="{_P}"><a href="{html.escape(url)}" style="{_STYLE_LINK}">{shown}</a></p>'
        )

    def footer(self, settings: MailSettings) -> None:
        """The automatic-message notice and, when configured, the legal link."""
        lang = self.lang
        self.footer_plain.append(text("mail.footer.auto", lang))
        auto = html.escape(text("mail.footer.auto", lang))
        self.footer_html.append(f'<p style="{_P}">{auto}</p>')
        if settings.legal_url:
            url = settings.legal_url
            self.footer_plain.append(text("mail.footer.legal_text", lang, url=url))
            intro = html.escape(text("mail.footer.legal_intro", lang))
            label = html.escape(text("mail.footer.legal_label", lang))
            copy = self._html_text("mail.footer.legal_copy", {"url": url}, (), ())
            self.footer_html.append(
                f'<p style="{_P}">{intro} <a href="{html.escape(url)}" '
                f'style="{_STYLE_LINK}">{label}</a><br>{copy}</p>'
            )

    def _html_text(
        self,
        key: str,
        params: Mapping[str, str],
        strong: Iterable[str],
        as_code: Iterable[str],
    ) -> str:
        # Escape the template and every value separately, then fill in: a value can never
        # inject markup, and the template's own characters are escaped too.
        template = html.escape(CATALOG[key][self.lang], quote=False)
        strong_set, code_set = frozenset(strong), frozenset(as_code)
        values: dict[str, str] = {}
        for name, value in params.items():
            escaped = html.escape(value)
            if name in code_set:
                escaped = f'<span style="{_STYLE_CODE}">{escaped}</span>'
            elif name in strong_set:
                escaped = f'<strong style="{_STYLE_STRONG}">{escaped}</strong>'
            values[name] = escaped
        return template.format(**values)

    def plain_text(self) -> str:
        """The text/plain body."""
        body = "\n\n".join(self.plain)
        footer = "\n".join(self.footer_plain)
        return f"{body}\n\n{'-' * 40}\n{footer}\n"

    def html_document(self, settings: MailSettings, subject: str) -> str:
        """The text/html body: one centred card, inline styles only, as mail clients need."""
        brand = html.escape(settings.brand)
        body = "\n".join(self.html)
        footer = "\n".join(self.footer_html)
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="{self.lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(subject)}</title>\n</head>\n"
            f'<body style="margin:0;padding:0;background:#f2f4f7;{_FONT}">\n'
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            'style="background:#f2f4f7;">\n<tr><td align="center" style="padding:24px 12px;">\n'
            '<table role="presentation" width="600" cellpadding="0" cellspacing="0" '
            'style="max-width:600px;width:100%;background:#ffffff;border-radius:6px;'
            f'{_FONT}color:#1f2933;font-size:15px;line-height:1.5;">\n'
            '<tr><td style="background:#00508c;color:#ffffff;padding:16px 24px;'
            f'font-size:20px;font-weight:bold;letter-spacing:1px;">{brand}</td></tr>\n'
            f'<tr><td style="padding:24px 24px 8px 24px;">\n{body}\n</td></tr>\n'
            '<tr><td style="padding:16px 24px 8px 24px;border-top:1px solid #e4e7eb;'
            f'font-size:12px;color:#616e7c;">\n{footer}\n</td></tr>\n'
            "</table>\n</td></tr>\n</table>\n</body>\n</html>\n"
        )


def _small(small: bool) -> str:
    return "font-size:13px;color:#52606d;" if small else ""


def _not_me(composer: _Composer, url: str | None) -> None:
    # The signed "Ce n'était pas moi" action, in every mail that reports a change.
    if url is not None:
        composer.para("mail.not_me.intro")
        composer.link(url, text("mail.not_me.label", composer.lang))


def _greeting(composer: _Composer, name: str) -> None:
    if name:
        composer.para("mail.greeting", {"name": name}, strong=("name",))
    else:
        composer.para("mail.greeting_no_name")


def _contact(composer: _Composer, settings: MailSettings) -> None:
    if settings.contact_url:
        composer.para("mail.contact_if_not_you", {"brand": settings.brand})
        composer.link(settings.contact_url)
    else:
        composer.para("mail.contact_if_not_you_no_link", {"brand": settings.brand})


def _build(
    settings: MailSettings,
    *,
    lang: str,
    to: str,
    name: str,
    subject_key: str,
    sent_at: datetime,
    message_id: str,
    compose: Callable[[_Composer, str], None],
) -> EmailMessage:
    """Check the envelope, write the body with ``compose`` and assemble the message."""
    resolved = resolve_lang(lang)
    clean_name = _single_line(name, "name")
    recipient = _recipient(to, clean_name)
    date = _check_aware(sent_at, "sent_at").astimezone(UTC)
    msg_id = _check_message_id(message_id)
    subject = text(subject_key, resolved, brand=settings.brand)

    composer = _Composer(resolved)
    compose(composer, clean_name)
    composer.footer(settings)

    msg = EmailMessage(policy=SMTP)
    msg["From"] = _parse_sender(settings.sender)
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = msg_id
    # RFC 3834: tells auto-responders and out-of-office replies to stay quiet.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    plain = composer.plain_text()
    document = composer.html_document(settings, subject)
    msg.set_content(plain, subtype="plain", charset="utf-8")
    msg.add_alternative(document, subtype="html", charset="utf-8")
    # A boundary derived from the Message-ID keeps the bytes reproducible (the outbox and
    # tests rely on that); the stdlib's random one is kept in the unlikely case of a clash.
    boundary = "=_" + hashlib.sha256(msg_id.encode("ascii")).hexdigest()[:40]
    if boundary not in plain and boundary not in document:
        msg.set_boundary(boundary)
    # After the content: set_content clears every Content-* header, this one included.
    msg["Content-Language"] = resolved
    for part in msg.iter_parts():
        # add_alternative copies MIME-Version into the part; it belongs on the message only.
        del part["MIME-Version"]
    return msg


# --------------------------------------------------------------------------- builders


def _link_and_code(c: _Composer, url: str, code: str | None, hours: int) -> None:
    c.link(url)
    c.para("mail.copy_link", small=True)
    c.para("mail.validity", {"duration": _duration_hours(hours, c.lang)})
    # Only where the journey accepts a typed code: a code nobody can use would mislead.
    if code is not None:
        c.para("mail.code_hint")
        c.para("mail.code", {"code": code}, as_code=("code",))


def validation_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    address: str,
    link_url: str,
    code: str | None,
    valid_hours: int,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> EmailMessage:
    """Step 5: "Vérification de l'adresse mail", with the link and a code to type instead."""
    shown_address = _single_line(address, "address", _MAX_ADDRESS)
    url = _check_url(link_url, "link_url")
    secret_code = None if code is None else _check_code(code)
    hours = _check_hours(valid_hours)

    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.para(
            "mail.validation.intro",
            {"address": shown_address, "brand": settings.brand},
            strong=("address",),
        )
        c.para("mail.validation.link_intro")
        _link_and_code(c, url, secret_code, hours)

    return _build(
        settings,
        lang=lang,
        to=to,
        name=name,
        subject_key="mail.validation.subject",
        sent_at=sent_at,
        message_id=message_id,
        compose=compose,
    )


def password_changed_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    ip: str | None,
    changed_at: datetime,
    not_me_url: str | None,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> EmailMessage:
    """Step 8: "Votre mot de passe a été changé", with the IP, the time and a way out."""
    when = _check_aware(changed_at, "changed_at").astimezone(ZoneInfo(settings.timezone))
    url = None if not_me_url is None else _check_url(not_me_url, "not_me_url")

    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.para("mail.password_changed.intro", {"brand": settings.brand})
        date_format = "%d/%m/%Y" if c.lang == "fr" else "%Y-%m-%d"
        c.para(
            "mail.password_changed.when",
            {
                "date": when.strftime(date_format),
                "time": when.strftime("%H:%M"),
                "timezone": when.tzname() or settings.timezone,
            },
        )
        c.para("mail.password_changed.ip", {"ip": _ips(ip, c.lang)}, strong=("ip",))
        _contact(c, settings)
        _not_me(c, url)

    return _build(
        settings,
        lang=lang,
        to=to,
        name=name,
        subject_key="mail.password_changed.subject",
        sent_at=sent_at,
        message_id=message_id,
        compose=compose,
    )


def reset_link_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    link_url: str,
    code: str | None,
    valid_hours: int,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> EmailMessage:
    """Forgotten password: "Réinitialisation de votre mot de passe", link and code."""
    url = _check_url(link_url, "link_url")
    secret_code = None if code is None else _check_code(code)
    hours = _check_hours(valid_hours)

    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.para("mail.reset.intro", {"brand": settings.brand})
        c.para("mail.reset.link_intro")
        _link_and_code(c, url, secret_code, hours)
        c.para("mail.reset.ignore")

    return _build(
        settings,
        lang=lang,
        to=to,
        name=name,
        subject_key="mail.reset.subject",
        sent_at=sent_at,
        message_id=message_id,
        compose=compose,
    )


def identifier_reminder_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    member_number: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> EmailMessage:
    """Forgotten identifier: "Votre identifiant", the member number."""
    number = _single_line(member_number, "member_number", 64)
    if not number:
        raise InvalidInput("member_number", "empty")

    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.para("mail.identifier.intro", {"brand": settings.brand})
        c.para("mail.identifier.value", {"member_number": number}, strong=("member_number",))
        c.para("mail.identifier.ignore")

    return _build(
        settings,
        lang=lang,
        to=to,
        name=name,
        subject_key="mail.identifier.subject",
        sent_at=sent_at,
        message_id=message_id,
        compose=compose,
    )


def email_change_notice_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    new_address_hint: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
    not_me_url: str | None = None,
) -> EmailMessage:
    """To the old address: "Changement de votre adresse mail" (the new one is masked).

    ``not_me_url`` is the signed "this wasn't me" link that gives the address back.
    """
    hint = _single_line(new_address_hint, "new_address_hint", _MAX_ADDRESS)
    url = None if not_me_url is None else _check_url(not_me_url, "not_me_url")

    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.para(
            "mail.email_change.intro",
            {"brand": settings.brand, "new_address": hint},
            strong=("new_address",),
        )
        c.para("mail.email_change.old_address")
        _contact(c, settings)
        _not_me(c, url)

    return _build(
        settings,
        lang=lang,
        to=to,
        name=name,
        subject_key="mail.email_change.subject",
        sent_at=sent_at,
        message_id=message_id,
        compose=compose,
    )


def activation_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> EmailMessage:
    """Staff activated a member's account: "Votre compte est activé"."""

    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.para("mail.activation.intro", {"brand": settings.brand})
        c.para("mail.activation.next")

    return _build(
        settings,
        lang=lang,
        to=to,
        name=name,
        subject_key="mail.activation.subject",
        sent_at=sent_at,
        message_id=message_id,
        compose=compose,
    )
