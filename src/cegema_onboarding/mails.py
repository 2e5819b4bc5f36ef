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

import base64
import binascii
import functools
import hashlib
import html
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email import quoprimime
from email.errors import HeaderDefect, MessageError
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any, Final, TypeGuard
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from .errors import ConfigurationError, InvalidInput
from .normalize import ascii_domain
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

_log = logging.getLogger(__name__)

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
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
    if address.domain.isascii():
        return address
    # A Unicode domain would be written as an encoded word inside the address, which no
    # one can reply to: the A-label, computed as for recipients (IDNA 2008), instead.
    try:
        domain = ascii_domain(address.domain)
    except InvalidInput:
        raise ConfigurationError("mail sender's domain is not a valid IDNA 2008 name") from None
    return Address(display_name=address.display_name, username=address.username, domain=domain)


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
    if _SURROGATE.search(value):
        # A lone surrogate (from surrogateescape decoding) cannot be written as UTF-8.
        raise InvalidInput(field, "encoding")
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
    # The domain as email-validator computes ascii_domain (IDNA 2008, UTS #46), never with
    # the stdlib's "idna" codec: that is IDNA 2003, which sends the mail of "straße.de" to
    # "strasse.de", another domain. Both assemblies (fast and reference) take it from here.
    wire_domain = ascii_domain(domain, field="to")
    try:
        address = Address(display_name=name, addr_spec=f"{local}@{wire_domain}")
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


@attrs.frozen
class _Draft:
    """A mail checked and written, before its assembly into a message."""

    lang: str
    recipient: Address
    msg_id: str
    date: datetime
    subject: str
    plain: str
    document: str
    sender: str

    @property
    def boundary(self) -> str:
        """A boundary derived from the Message-ID: the same bytes for the same mail."""
        return "=_" + hashlib.sha256(self.msg_id.encode("ascii")).hexdigest()[:40]


def _draft(
    settings: MailSettings,
    *,
    lang: str,
    to: str,
    name: str,
    subject_key: str,
    sent_at: datetime,
    message_id: str,
    compose: Callable[[_Composer, str], None],
) -> _Draft:
    """Check the envelope and write both bodies with ``compose``."""
    resolved = resolve_lang(lang)
    clean_name = _single_line(name, "name")
    recipient = _recipient(to, clean_name)
    date = _check_aware(sent_at, "sent_at").astimezone(UTC)
    msg_id = _check_message_id(message_id)
    subject = text(subject_key, resolved, brand=settings.brand)
    composer = _Composer(resolved)
    compose(composer, clean_name)
    composer.footer(settings)
    return _Draft(lang=resolved, recipient=recipient, msg_id=msg_id, date=date,
                  subject=subject, plain=composer.plain_text(),
                  document=composer.html_document(settings, subject),
                  sender=settings.sender)


def _build(settings: MailSettings, **envelope: Any) -> EmailMessage:
    """Check the envelope, write the body with ``compose`` and assemble the message."""
    draft = _draft(settings, **envelope)
    if _fast_path_sound():
        built = _assemble_fast(draft)
        if built is not None:
            return built
    return _assemble_reference(draft)


def _build_reference(settings: MailSettings, **envelope: Any) -> EmailMessage:
    """The message built the plain stdlib way: the bytes the fast path must reproduce."""
    return _assemble_reference(_draft(settings, **envelope))


def _build_fast(settings: MailSettings, **envelope: Any) -> EmailMessage | None:
    """The message assembled by the fast path, or None where it hands over."""
    return _assemble_fast(_draft(settings, **envelope))


def _assemble_reference(draft: _Draft) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _parse_sender(draft.sender)
    msg["To"] = draft.recipient
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(draft.date)
    msg["Message-ID"] = draft.msg_id
    # RFC 3834: tells auto-responders and out-of-office replies to stay quiet.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(draft.plain, subtype="plain", charset="utf-8")
    msg.add_alternative(draft.document, subtype="html", charset="utf-8")
    # The derived boundary keeps the bytes reproducible (the outbox and tests rely on
    # that); the stdlib's random one is kept in the unlikely case of a clash.
    boundary = draft.boundary
    if boundary not in draft.plain and boundary not in draft.document:
        msg.set_boundary(boundary)
    # After the content: set_content clears every Content-* header, this one included.
    msg["Content-Language"] = draft.lang
    for part in msg.iter_parts():
        # add_alternative copies MIME-Version into the part; it belongs on the message only.
        del part["MIME-Version"]
    return msg


# --------------------------------------------------------------------------- fast assembly
#
# Assigning headers and calling set_content/add_alternative parses every header through the
# header registry, as_bytes() refolds each one and the generator parses Content-Type again for
# every part: most of the cost of a mail (about 1.5 ms). The fast path assembles the same
# message with set_raw, which stores a header without parsing it:
# - headers that repeat from mail to mail (sender, subjects, MIME headers) are header objects
#   built by the registry's own classes once and shared (header objects are immutable), their
#   fold under policy SMTP computed once by the stdlib and remembered;
# - headers that vary (To, Date, Message-ID) are, when the folder provably writes them as they
#   are (short plain atoms: most mails), the raw value itself, which the generator writes
#   unchanged under policy SMTP (refold_source "long"); otherwise a header object built as the
#   reference builds it, its fold computed once;
# - the bodies are encoded with the choices set_content makes.
# The result is byte-for-byte the reference message: the tests compare both over generated
# inputs and _fast_path_sound compares them once per process. What the fast path does not
# reproduce (a body containing the boundary) goes to _assemble_reference.

_LINESEP: Final[str] = SMTP.linesep
_MAXLEN: Final[int] = SMTP.max_line_length or 78
# Printable ASCII the address and message-id parsers keep as plain atoms, and the folder as it
# is when it fits on the line. No quotes, comments, brackets or backslashes (a quoted string's
# specials become encoded words), no "=" or "?" (an "=?...?=" word would be decoded first).
_ATEXT: Final = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+"
_DOT_ATOM: Final = rf"{_ATEXT}(?:\.{_ATEXT})*"
_HOST: Final = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_VERBATIM_TO: Final = re.compile(
    rf"(?:{_ATEXT}(?: {_ATEXT})* <{_DOT_ATOM}@{_HOST}>|{_DOT_ATOM}@{_HOST})"
)
_VERBATIM_ID: Final = re.compile(rf"<{_DOT_ATOM}@{_HOST}>")
# format_datetime's UTC form, which DateHeader renders back identically (it would turn a
# two- or three-digit year into another year, hence four digits).
_VERBATIM_DATE: Final = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[1-9]\d{3} \d\d:\d\d:\d\d \+0000"
)
_BOUNDARY_PLACEHOLDER: Final = "=_" + "0" * 40
_BASE64_CHUNK: Final = _MAXLEN // 4 * 3
_HEADER_CLASSES: Final[Any] = SMTP.header_factory


def _written(name: str, raw: str) -> str | None:
    """What the generator writes for a raw header value, or None where it would refold it."""
    # EmailPolicy._fold for a value without a ``name`` (a source value), refold_source "long".
    lines = raw.splitlines()
    if (lines and len(lines[0]) + len(name) + 2 > _MAXLEN) or any(
        len(line) > _MAXLEN for line in lines[1:]
    ):
        return None
    return f"{name}: {_LINESEP.join(lines)}{_LINESEP}"


def _verbatim(name: str, value: str, pattern: re.Pattern[str]) -> str | None:
    """``value`` when the stdlib folds it to itself (short, plain atoms), else None."""
    if pattern.fullmatch(value) and _written(name, value) is not None:
        return value
    return None


# A display name of words (no whitespace, ASCII specials, "=", "?", controls or lone
# surrogates) separated by single spaces, as _single_line leaves names: the folder encodes it
# as described in _encoded_recipient.
_NAME_WORD: Final = r'[^\s\x00-\x1f\x7f-\x9f()<>@,;:\\".\[\]=?\ud800-\udfff]+'
_NAME_WORDS: Final = re.compile(rf"{_NAME_WORD}(?: {_NAME_WORD})*")
_ADDR_SPEC: Final = re.compile(rf"{_DOT_ATOM}@{_HOST}")
# RFC 2047 "Q" encoding as the stdlib writes it in headers: letters, digits and -!*+/ as they
# are, space as "_", every other byte as =XX.
_Q_SAFE: Final = frozenset(b"-!*+/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_Q_BYTES: Final = tuple(
    "_" if byte == 0x20 else chr(byte) if byte in _Q_SAFE else f"={byte:02X}" for byte in range(256)
)


def _encoded_word(text: str) -> str:
    """One UTF-8 encoded word for ``text``: Q unless B is shorter by five or more."""
    data = text.encode("utf-8")
    q = "".join(_Q_BYTES[byte] for byte in data)
    if len(q) - (len(data) + 2) // 3 * 4 < 5:
        return f"=?utf-8?q?{q}?="
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def _encoded_recipient(recipient: Address) -> str | None:
    """The To value the stdlib folds for a display name with non-ASCII words, if one line."""
    # The folder keeps ASCII words as they are and encodes a non-ASCII word; a later
    # non-ASCII word on the same line is merged into that encoded word together with all the
    # text in between. Followed step by step here; anything that would not fit on the line
    # (a split encoded word, a new line) is left to the stdlib (None).
    name, addr_spec = recipient.display_name, recipient.addr_spec
    if not _NAME_WORDS.fullmatch(name) or not _ADDR_SPEC.fullmatch(addr_spec):
        return None
    prefix = "To: "
    line = prefix
    start: int | None = None  # where the encoded word starts on the line
    encoded_text = ""  # the text from there on, before encoding
    tokens: list[str] = []
    for index, word in enumerate(name.split(" ")):
        if index:
            tokens.append(" ")
        tokens.append(word)
    tokens += [" ", f"<{addr_spec}>"]
    for token in tokens:
        if token.isascii():
            line += token
            encoded_text += token
        else:
            if start is None:
                start, encoded_text = len(line), token
            else:
                encoded_text += token
            line = line[:start] + _encoded_word(encoded_text)
        if len(line) > _MAXLEN:
            return None
    return line[len(prefix) :]


@functools.cache
def _prefolded_class(cls: type[Any]) -> type[Any]:
    """The registry's header class ``cls``, remembering its fold under policy SMTP."""

    def fold(self: Any, *, policy: Any) -> str:
        folded: str | None = self.__dict__.get("_smtp_fold")
        # The generator flattens parts with a clone of the message's policy: equal settings.
        if folded is not None and (policy is SMTP or vars(policy) == vars(SMTP)):
            return folded
        # Another policy: fold as the registry's class does.
        result: str = cls.fold(self, policy=policy)
        return result

    def __reduce__(self: Any) -> tuple[Any, ...]:
        # Pickled as the registry's own header class (this one cannot be looked up by name).
        reduce: Any = cls.__reduce__
        function, (_, _, value), state = reduce(self)
        if isinstance(state, dict):
            state = {key: item for key, item in state.items() if key != "_smtp_fold"}
        return function, (cls.__name__, cls.__bases__, value), state

    return type(f"_Prefolded{cls.__name__}", (cls,), {"fold": fold, "__reduce__": __reduce__})


def _prefolded(name: str, value: object, folded: str | None = None) -> Any:
    """A header object for ``name: value`` as the registry builds it, fold precomputed."""
    header = _prefolded_class(_HEADER_CLASSES[name])(name, value)
    header._smtp_fold = header.fold(policy=SMTP) if folded is None else folded
    return header


# Header objects are immutable, so one per value serves every mail. Bounded: subjects follow
# the brand, so a handful per configuration.
_shared_header: Final = functools.lru_cache(maxsize=256)(_prefolded)


@functools.lru_cache(maxsize=16)
def _sender_header(sender: str) -> Any:
    """The shared From header for a configured sender (checked, as the reference does)."""
    return _prefolded("From", _parse_sender(sender))


@functools.cache
def _multipart_fold() -> tuple[str, str] | None:
    # The boundary is always "=_" and 40 hex digits, characters the folder treats alike: fold
    # the header once around a placeholder and put each message's boundary in its place.
    value = f'multipart/alternative; boundary="{_BOUNDARY_PLACEHOLDER}"'
    folded: str = SMTP.header_factory("Content-Type", value).fold(policy=SMTP)
    if folded.count(_BOUNDARY_PLACEHOLDER) != 1:
        return None
    before, _, after = folded.partition(_BOUNDARY_PLACEHOLDER)
    return before, after


def _encode_body(string: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, payload) as ``set_content(string, charset="utf-8")`` picks."""
    # The heuristics of email.contentmanager (set_text_content with cte=None) under policy
    # SMTP: 7bit or 8bit when every line fits, else whichever of quoted-printable and base64
    # is shorter on the first ten lines.
    lines = string.encode("utf-8").splitlines()
    if max((len(line) for line in lines), default=0) <= _MAXLEN:
        normal = b"\n".join(lines) + b"\n"
        if normal.isascii():
            return "7bit", normal.decode("ascii")
        return "8bit", normal.decode("ascii", "surrogateescape")
    linesep = _LINESEP.encode("ascii")
    sniff = linesep.join(lines[:10]) + linesep
    sniff_qp = quoprimime.body_encode(sniff.decode("latin-1"), _MAXLEN)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        data = linesep.join(lines) + linesep
        chunks = range(0, len(data), _BASE64_CHUNK)
        encoded = [binascii.b2a_base64(data[i : i + _BASE64_CHUNK]) for i in chunks]
        return "base64", b"".join(encoded).decode("ascii")
    if len(lines) <= 10:
        return "quoted-printable", sniff_qp
    normal = b"\n".join(lines) + b"\n"
    return "quoted-printable", quoprimime.body_encode(normal.decode("latin-1"), _MAXLEN)


def _text_part(subtype: str, body: str) -> EmailMessage:
    cte, payload = _encode_body(body)
    part = EmailMessage(policy=SMTP)
    part.set_raw("Content-Type", _shared_header("Content-Type", f'text/{subtype}; charset="utf-8"'))
    part.set_raw("Content-Transfer-Encoding", _shared_header("Content-Transfer-Encoding", cte))
    part.set_payload(payload)
    return part


def _assemble_fast(draft: _Draft) -> EmailMessage | None:
    """The reference message, assembled without header parsing; None where not vouched for."""
    boundary = draft.boundary
    multipart = _multipart_fold()
    if multipart is None or boundary in draft.plain or boundary in draft.document:
        # The reference then leaves the boundary to the generator: not reproduced here.
        return None
    recipient, msg_id = draft.recipient, draft.msg_id
    # Values that vary: raw when the folder provably keeps them as they are (most mails),
    # else a header object built as the reference builds it, folded once by the stdlib.
    recipient_raw = _verbatim("To", str(recipient), _VERBATIM_TO) or _encoded_recipient(recipient)
    date_value = format_datetime(draft.date)
    date_raw = _verbatim("Date", date_value, _VERBATIM_DATE)
    id_raw = _verbatim("Message-ID", msg_id, _VERBATIM_ID)

    msg = EmailMessage(policy=SMTP)
    msg.set_raw("From", _sender_header(draft.sender))
    msg.set_raw("To", _prefolded("To", recipient) if recipient_raw is None else recipient_raw)
    msg.set_raw("Subject", _shared_header("Subject", draft.subject))
    msg.set_raw("Date", _prefolded("Date", date_value) if date_raw is None else date_raw)
    msg.set_raw("Message-ID", _prefolded("Message-ID", msg_id) if id_raw is None else id_raw)
    # RFC 3834: tells auto-responders and out-of-office replies to stay quiet.
    msg.set_raw("Auto-Submitted", _shared_header("Auto-Submitted", "auto-generated"))
    msg.set_raw("X-Auto-Response-Suppress", _shared_header("X-Auto-Response-Suppress", "All"))
    msg.set_raw("MIME-Version", _shared_header("MIME-Version", "1.0"))
    # A header object rather than a raw value: the generator reads it three times.
    content_type = f'multipart/alternative; boundary="{boundary}"'
    folded_type = multipart[0] + boundary + multipart[1]
    msg.set_raw("Content-Type", _prefolded("Content-Type", content_type, folded_type))
    msg.set_raw("Content-Language", _shared_header("Content-Language", draft.lang))
    msg.attach(_text_part("plain", draft.plain))
    msg.attach(_text_part("html", draft.document))
    return msg


def _probe_compose(lines: tuple[str, ...]) -> Callable[[_Composer, str], None]:
    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.plain.extend(lines)
        c.html.extend(f"<p>{html.escape(line)}</p>" for line in lines)

    return compose


@functools.cache
def _fast_path_sound() -> bool:
    """Whether this Python's email package builds the fast messages exactly as the reference."""
    # The fast path copies decisions the stdlib makes (folding, encoded words, body encodings);
    # an email package that decides differently would silently change the bytes, so compare
    # once per process, on inputs that reach every branch, and keep to the reference if not.
    if SMTP.refold_source != "long" or SMTP.utf8 or SMTP.cte_type != "8bit":
        return False
    bodies = (
        "Short ASCII lines.\n",
        "Des lignes courtes, accentuées.\n",
        "Une ligne accentuée, bien trop longue pour tenir sur une seule ligne de courrier.\n" * 12,
        "日本語のテキスト" * 12 + "\n",
    )
    for body in bodies:
        reference_part = MIMEPart(policy=SMTP)
        reference_part.set_content(body, subtype="plain", charset="utf-8")
        if _text_part("plain", body).as_bytes() != reference_part.as_bytes():
            return _disable_fast_path()
    probes = (
        ("Zoé Lefèvre", "mail.validation.subject"),  # To as encoded words, built here
        ("Zoe Lefevre", "mail.activation.subject"),  # To as it is
        ("Dupont, Zoé", "mail.reset.subject"),  # To folded by the stdlib
    )
    settings = MailSettings()
    for name, subject_key in probes:
        arguments: dict[str, Any] = {
            "lang": "fr",
            "to": "probe@example.invalid",
            "name": name,
            "subject_key": subject_key,
            "sent_at": datetime(2026, 1, 1, tzinfo=UTC),
            "message_id": "<probe@example.invalid>",
            "compose": _probe_compose(("Probe.",)),
        }
        fast = _build_fast(settings, **arguments)
        reference = _build_reference(settings, **arguments).as_bytes()
        if fast is None or fast.as_bytes() != reference:
            return _disable_fast_path()
    return True


def _disable_fast_path() -> bool:
    _log.warning("mail assembly: this email package differs, using the slower reference path")
    return False


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


def remember_theft_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> EmailMessage:
    """A copied remember-me token came back: every remembered device was signed out."""

    def compose(c: _Composer, clean_name: str) -> None:
        _greeting(c, clean_name)
        c.para("mail.remember_theft.intro", {"brand": settings.brand})
        c.para("mail.remember_theft.advice")
        _contact(c, settings)

    return _build(
        settings,
        lang=lang,
        to=to,
        name=name,
        subject_key="mail.remember_theft.subject",
        sent_at=sent_at,
        message_id=message_id,
        compose=compose,
    )
