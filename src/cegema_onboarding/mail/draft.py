"""The :class:`Mail` draft: one mail, checked and written, before any MIME exists.

A draft holds what a member's mail says and where it goes: sender, recipient, Message-ID,
date, subject, language and the two bodies. Every field is checked when the draft is made, so
whoever holds a ``Mail`` (the outbox, a mailer adapter) can trust it without checking again.
:func:`cegema_onboarding.mail.assemble.assemble` turns it into an RFC 5322 message;
:meth:`Mail.to_json` and :meth:`Mail.from_json` carry it through storage. Errors never carry
the offending value: bodies hold links and codes, which are secrets.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from email.errors import HeaderDefect, MessageError
from email.headerregistry import Address
from typing import Any, Final

import attrs

from ..errors import InvalidInput
from ..texts import LANGS
from .settings import CONTROL

__all__ = ["Mail", "make_message_id"]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# RFC 5322 dot-atom text for the left of a Message-ID, a host name for the right.
_ID_LEFT: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}")
_ID_RIGHT: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_MESSAGE_ID: Final = re.compile(r"<([^<>@\s]+)@([^<>@\s]+)>")
MAX_ADDRESS: Final = 254
_MAX_NAME: Final = 500
_MAX_SUBJECT: Final = 500
# Far above any mail of this library (a few kilobytes), far below a memory problem.
_MAX_BODY: Final = 200_000
_JSON_VERSION: Final = 1


def make_message_id(unique: str, domain: str) -> str:
    """A Message-ID header value, ``<unique@domain>``."""
    if not isinstance(unique, str) or not _ID_LEFT.fullmatch(unique):
        raise InvalidInput("message_id", "malformed")
    if not isinstance(domain, str) or not _ID_RIGHT.fullmatch(domain):
        raise InvalidInput("message_id", "malformed")
    return f"<{unique}@{domain}>"


def _addr_spec(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    # The address as written on the wire: ASCII only (policy SMTP is 7-bit and SMTPUTF8 is
    # not assumed), the domain already an A-label, exactly one mailbox.
    if not isinstance(value, str) or not value.isascii() or len(value) > MAX_ADDRESS:
        raise InvalidInput(attribute.name, "malformed")
    if not _wire_address(value):
        raise InvalidInput(attribute.name, "malformed")


@functools.lru_cache(maxsize=1024)
def _wire_address(value: str) -> bool:
    # A pure check of a bounded string, cached: every mail carries the same sender, and a
    # member's two mails the same recipient; the stdlib's header parser is the dearest part
    # of drafting a mail.
    if CONTROL.search(value) or value != value.strip():
        return False
    try:
        address = Address(addr_spec=value)
    except (UnicodeError, ValueError, HeaderDefect, MessageError, IndexError):
        return False
    return bool(address.username) and "." in address.domain and address.addr_spec == value


def _line(max_len: int, *, empty: bool) -> Any:
    """A validator for a one-line text: no control characters, no lone surrogates."""

    def check(_: object, attribute: attrs.Attribute[str], value: object) -> None:
        field = attribute.name
        if not isinstance(value, str):
            raise InvalidInput(field, "type")
        if len(value) > max_len:
            raise InvalidInput(field, "too_long")
        if not empty and not value.strip():
            raise InvalidInput(field, "empty")
        if _SURROGATE.search(value):
            raise InvalidInput(field, "encoding")
        if CONTROL.search(value):
            raise InvalidInput(field, "malformed")

    return check


def _body(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    field = attribute.name
    if not isinstance(value, str):
        raise InvalidInput(field, "type")
    if not value.strip():
        raise InvalidInput(field, "empty")
    if len(value) > _MAX_BODY:
        raise InvalidInput(field, "too_long")
    if _SURROGATE.search(value):
        # A lone surrogate (from surrogateescape decoding) cannot be written as UTF-8.
        raise InvalidInput(field, "encoding")


def _message_id(_: object, __: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or len(value) > 250 or not _MESSAGE_ID.fullmatch(value):
        raise InvalidInput("message_id", "malformed")
    if not value.isascii() or CONTROL.search(value):
        raise InvalidInput("message_id", "malformed")


def _aware(_: object, attribute: attrs.Attribute[datetime], value: object) -> None:
    if not isinstance(value, datetime):
        raise InvalidInput(attribute.name, "type")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(attribute.name, "naive_datetime")


def _lang(_: object, __: attrs.Attribute[str], value: object) -> None:
    if value not in LANGS:
        raise InvalidInput("lang", "unknown")


@attrs.frozen
class Mail:
    """One mail to one member, checked at construction.

    ``sender`` and ``recipient`` are bare addresses as sent (ASCII, IDNA 2008 A-label
    domains), each with its display name beside it; ``date`` is timezone-aware;
    ``text`` and ``html`` say the same thing. Raises :class:`InvalidInput` naming the field.
    """

    sender: str = attrs.field(validator=_addr_spec)
    sender_name: str = attrs.field(validator=_line(_MAX_NAME, empty=True))
    recipient: str = attrs.field(validator=_addr_spec)
    recipient_name: str = attrs.field(validator=_line(_MAX_NAME, empty=True))
    message_id: str = attrs.field(validator=_message_id)
    date: datetime = attrs.field(validator=_aware)
    subject: str = attrs.field(validator=_line(_MAX_SUBJECT, empty=False))
    lang: str = attrs.field(validator=_lang)
    text: str = attrs.field(validator=_body)
    html: str = attrs.field(validator=_body)

    def to_json(self) -> str:
        """The draft as a JSON document, for :meth:`from_json` to read back."""
        fields = attrs.asdict(self)
        fields["date"] = self.date.isoformat()
        return json.dumps({"v": _JSON_VERSION, **fields}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, document: str | bytes) -> Mail:
        """The draft written by :meth:`to_json`, checked again as at construction."""
        try:
            fields = json.loads(document)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("mail", "malformed") from None
        names = {field.name for field in attrs.fields(cls)}
        if (
            not isinstance(fields, dict)
            or fields.pop("v", None) != _JSON_VERSION
            or set(fields) != names
        ):
            raise InvalidInput("mail", "malformed")
        when = fields["date"]
        try:
            fields["date"] = datetime.fromisoformat(when) if isinstance(when, str) else when
        except ValueError:
            raise InvalidInput("date", "malformed") from None
        return cls(**fields)
