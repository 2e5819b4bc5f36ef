"""``DjangoMailer``: the library's Mailer port over ``django.core.mail``.

Messages go through the host's ``EMAIL_BACKEND`` (SMTP, console, locmem in tests, or any
third-party backend), so the library needs no mail settings of its own in a Django site.
"""

from __future__ import annotations

from email.message import EmailMessage

from django.core.mail import EmailMultiAlternatives, get_connection

from ...errors import MailError

# Headers Django builds itself from the message's parts and addresses.
_OWN_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "reply-to", "subject", "content-type", "mime-version",
    "content-transfer-encoding", "content-language",
})


class DjangoMailer:
    """Sends each message through the host's configured email backend."""

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise MailError; the backend's error text is not kept."""
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        body = text.get_content() if isinstance(text, EmailMessage) else ""
        headers = {k: str(v) for k, v in message.items() if k.lower() not in _OWN_HEADERS}
        if message.get("Content-Language"):
            headers["Content-Language"] = str(message["Content-Language"])
        django_message = EmailMultiAlternatives(
            subject=str(message.get("Subject", "")),
            body=body,
            from_email=str(message["From"]) if message.get("From") else None,
            to=[str(a) for a in message.get_all("To", [])],
            reply_to=[str(a) for a in message.get_all("Reply-To", [])],
            headers=headers,
        )
        if isinstance(html, EmailMessage):
            django_message.attach_alternative(html.get_content(), "text/html")
        try:
            connection = get_connection(self.backend, fail_silently=False)
            sent = connection.send_messages([django_message])
        except Exception as exc:
            # Backends raise anything (smtplib, socket, SDK errors); the outbox retries.
            raise MailError(f"the email backend failed ({type(exc).__name__})") from None
        if sent == 0:
            raise MailError("the email backend sent nothing")
