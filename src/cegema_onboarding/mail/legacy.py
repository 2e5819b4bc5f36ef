"""The previous release's mail port, kept working for one release.

Until 0.x the :class:`~cegema_onboarding.ports.Mailer` port took an ``EmailMessage`` and the
outbox sealed MIME bytes. Now the port takes the checked :class:`Mail` draft and the outbox
seals ``Mail.to_json()``, so no MIME is built on the request path. Two things from before
still reach the outbox:

- a host's mailer written for the old port: :func:`draft_mailer` recognises it (its ``send``
  is not annotated with ``Mail``), wraps it in :class:`MimeMailer`, which assembles the MIME
  for it, and warns once;
- rows queued by the previous release, whose payload is sealed MIME: :func:`draft_of`
  reads either kind of payload back into a ``Mail``.
"""

from __future__ import annotations

import email
import email.policy
import inspect
import re
import sys
import warnings
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Final

from ..errors import InvalidInput
from .assemble import assemble
from .draft import Mail

if TYPE_CHECKING:
    from ..ports import Mailer

__all__ = ["MimeMailer", "draft_mailer", "draft_of", "message_of", "takes_drafts"]

# "Mail", or a dotted name ending in it, as a string annotation reads.
_MAIL_NAME: Final = re.compile(r"\s*(?:[A-Za-z_]\w*\.)*Mail\s*")


def takes_drafts(mailer: object) -> bool:
    """Whether ``mailer.send`` is written for the ``Mail`` port (its parameter says so).

    The rule is the annotation because it is what a host writes anyway for mypy, and it
    never guesses: an unannotated ``send`` (the previous docs' example) keeps getting the
    ``EmailMessage`` it was written for.
    """
    send = getattr(mailer, "send", None)
    if send is None:
        return False
    try:
        parameters = list(inspect.signature(send).parameters.values())
    except (TypeError, ValueError):
        return False
    if not parameters:
        return False
    annotation: Any = parameters[0].annotation
    if annotation is Mail:
        return True
    return isinstance(annotation, str) and _MAIL_NAME.fullmatch(annotation) is not None


class MimeMailer:
    """A mailer for the ``Mail`` port around one written for ``send(EmailMessage)``."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def send(self, mail: Mail) -> None:
        """Assemble the draft and hand the message to the wrapped mailer."""
        self.wrapped.send(assemble(mail))


def draft_mailer(mailer: Mailer) -> Mailer:
    """``mailer`` itself when it takes drafts, else wrapped in :class:`MimeMailer`."""
    if takes_drafts(mailer):
        return mailer
    warnings.warn(
        f"{type(mailer).__qualname__}.send takes an EmailMessage: the Mailer port now takes "
        "a cegema_onboarding.mail.Mail draft (annotate the parameter `mail: Mail` and call "
        "cegema_onboarding.mail.assemble.assemble(mail) if you need MIME). "
        "EmailMessage mailers stop working in the next release.",
        DeprecationWarning, stacklevel=_host_stacklevel())
    return MimeMailer(mailer)


def _host_stacklevel() -> int:
    """The ``stacklevel`` that blames the first caller outside this package.

    The outbox is built through several of the package's layers (bootstrap, a framework
    extension, the service): the warning belongs to the host line that passed the mailer.
    """
    level, frame = 1, sys._getframe(2)  # the caller of the function that warns
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith(
            "cegema_onboarding."):
        level, frame = level + 1, frame.f_back
    return level + 1


def draft_of(payload: bytes) -> Mail:
    """The draft an outbox payload holds: ``Mail.to_json()``, or the previous release's MIME.

    Raises :class:`InvalidInput` when it is neither: the row is then parked.
    """
    if payload.lstrip()[:1] == b"{":
        return Mail.from_json(payload)
    message = email.message_from_bytes(payload, policy=email.policy.default)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default's class
        raise InvalidInput("mail", "malformed")
    return _draft_from_message(message)


def _lines(content: object) -> str:
    if not isinstance(content, str):
        raise InvalidInput("mail", "malformed")
    return content.replace("\r\n", "\n")


def _draft_from_message(message: EmailMessage) -> Mail:
    """A mail this library assembled, read back into its draft."""
    try:
        (sender,) = message["From"].addresses
        (recipient,) = message["To"].addresses
        date = message["Date"].datetime
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        if not isinstance(text, EmailMessage) or not isinstance(html, EmailMessage):
            raise InvalidInput("mail", "malformed")
        return Mail(
            sender=sender.addr_spec, sender_name=sender.display_name,
            recipient=recipient.addr_spec, recipient_name=recipient.display_name,
            message_id=str(message["Message-ID"]), date=date,
            subject=str(message["Subject"]), lang=str(message["Content-Language"]),
            # The wire's CRLF back to the draft's LF.
            text=_lines(text.get_content()), html=_lines(html.get_content()),
        )
    except (AttributeError, TypeError, ValueError, KeyError, LookupError):
        # A header missing (None has no .addresses) or holding several addresses.
        raise InvalidInput("mail", "malformed") from None


def message_of(mail: Mail | EmailMessage, adapter: str) -> EmailMessage:
    """The MIME message an adapter sends: ``mail`` assembled, or an old caller's message.

    The library's adapters accept an ``EmailMessage`` in ``send`` for one more release, with
    a DeprecationWarning naming ``adapter``'s ``send_message``, which takes MIME for good.
    """
    if isinstance(mail, EmailMessage):
        warnings.warn(
            f"{adapter}.send(EmailMessage) is deprecated: pass a cegema_onboarding.mail.Mail, "
            f"or call {adapter}.send_message for a message you assembled yourself.",
            DeprecationWarning, stacklevel=_host_stacklevel())
        return mail
    return assemble(mail)
