"""``DjangoMailer``: the library's Mailer port over ``django.core.mail``.

Messages go through the host's ``EMAIL_BACKEND`` (SMTP, console, locmem in tests, or any
third-party backend), so the library needs no mail settings of its own in a Django site.
"""

from __future__ import annotations

import email.policy
from datetime import UTC
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from django.core.mail import EmailMultiAlternatives, get_connection

from ...errors import InvalidInput, MailError
from ...mail.draft import Mail
from ...mail.legacy import message_of
from ...normalize import ascii_domain

# Headers Django builds itself from the message's parts and addresses.
_OWN_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "reply-to", "subject", "content-type", "mime-version",
    "content-transfer-encoding", "content-language",
})


class DjangoMailer:
    """Sends each message through the host's configured email backend."""

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def send(self, mail: Mail) -> None:
        """Deliver one mail or raise MailError; the backend's error text is not kept."""
        if isinstance(mail, EmailMessage):
            self.send_message(message_of(mail, "DjangoMailer"))
            return
        # The draft's addresses are already ASCII (IDNA 2008 A-labels): nothing to encode.
        django_message = EmailMultiAlternatives(
            subject=mail.subject,
            body=mail.text,
            from_email=str(Address(display_name=mail.sender_name, addr_spec=mail.sender)),
            to=[str(Address(display_name=mail.recipient_name, addr_spec=mail.recipient))],
            headers={
                "Date": format_datetime(mail.date.astimezone(UTC)),
                "Message-ID": mail.message_id,
                # As in mail.assemble: auto-responders and out-of-office replies stay quiet.
                "Auto-Submitted": "auto-generated",
                "X-Auto-Response-Suppress": "All",
                "Content-Language": mail.lang,
            },
        )
        django_message.attach_alternative(mail.html, "text/html")
        self._deliver(django_message)

    def send_message(self, message: EmailMessage) -> None:
        """Deliver an assembled message (its text and HTML parts, its headers) the same way."""
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        body = text.get_content() if isinstance(text, EmailMessage) else ""
        headers = {k: str(v) for k, v in message.items() if k.lower() not in _OWN_HEADERS}
        if message.get("Content-Language"):
            headers["Content-Language"] = str(message["Content-Language"])
        try:
            senders = _ascii_addresses(message, "From")
            to = _ascii_addresses(message, "To")
            reply_to = _ascii_addresses(message, "Reply-To")
        except (InvalidInput, ValueError):
            raise MailError("an address has a domain IDNA 2008 refuses") from None
        django_message = EmailMultiAlternatives(
            subject=str(message.get("Subject", "")),
            body=body,
            from_email=", ".join(senders) if senders else None,
            to=to,
            reply_to=reply_to,
            headers=headers,
        )
        if isinstance(html, EmailMessage):
            django_message.attach_alternative(html.get_content(), "text/html")
        self._deliver(django_message)

    def _deliver(self, django_message: EmailMultiAlternatives) -> None:
        try:
            connection = get_connection(self.backend, fail_silently=False)
            sent = connection.send_messages([django_message])
        except Exception as exc:
            # Backends raise anything (smtplib, socket, SDK errors); the outbox retries.
            raise MailError(f"the email backend failed ({type(exc).__name__})") from None
        if sent == 0:
            raise MailError("the email backend sent nothing")


def _ascii_addresses(message: EmailMessage, name: str) -> list[str]:
    """Each address of the ``name`` headers, its domain in email-validator's ASCII form.

    Django's sanitize_address, which writes the To header and the SMTP backend's envelope,
    encodes a non-ASCII domain with Python's "idna" codec: IDNA 2003, which mails
    "straße.de" to "strasse.de". Handed an A-label (IDNA 2008, as email-validator and the
    library's mails compute it), it has nothing left to encode.
    """
    found: list[str] = []
    for value in message.get_all(name, []):
        addresses = getattr(value, "addresses", None)
        if addresses is None:
            # A compat32 message keeps plain strings: parse them as the modern policy does.
            addresses = email.policy.default.header_factory(name, str(value)).addresses
        for a in addresses:
            wire = Address(display_name=a.display_name, username=a.username,
                           domain=ascii_domain(a.domain))
            found.append(str(wire))
    return found
