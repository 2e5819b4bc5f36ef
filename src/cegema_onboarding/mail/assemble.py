"""``Mail -> EmailMessage``: the one place this library builds MIME.

The message is built the plain stdlib way, with policy ``email.policy.SMTP``:
multipart/alternative with a text/plain and a text/html part, both UTF-8, encoded as
``set_content`` chooses. Headers are assigned, so the stdlib's header registry parses,
encodes and folds them. The same draft always gives the same bytes: the MIME boundary is
derived from the Message-ID.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from .draft import Mail

__all__ = ["assemble"]


def _boundary(message_id: str) -> str:
    """A MIME boundary derived from the Message-ID: the same bytes for the same mail."""
    return "=_" + hashlib.sha256(message_id.encode("ascii")).hexdigest()[:40]


def assemble(mail: Mail) -> EmailMessage:
    """The RFC 5322 message for ``mail`` (a new one at each call)."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(display_name=mail.sender_name, addr_spec=mail.sender)
    # The recipient's domain is already the IDNA 2008 A-label (see compose._recipient):
    # the header registry has nothing left to encode, so no IDNA 2003 "idna" codec runs.
    msg["To"] = Address(display_name=mail.recipient_name, addr_spec=mail.recipient)
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.date.astimezone(UTC))
    msg["Message-ID"] = mail.message_id
    # RFC 3834: tells auto-responders and out-of-office replies to stay quiet.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    # The derived boundary keeps the bytes reproducible (the outbox and tests rely on
    # that); the stdlib's random one is kept in the unlikely case of a clash.
    boundary = _boundary(mail.message_id)
    if boundary not in mail.text and boundary not in mail.html:
        msg.set_boundary(boundary)
    # After the content: set_content clears every Content-* header, this one included.
    msg["Content-Language"] = mail.lang
    for part in msg.iter_parts():
        # add_alternative copies MIME-Version into the part; it belongs on the message only.
        del part["MIME-Version"]
    return msg
