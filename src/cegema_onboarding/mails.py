"""Deprecated, removed in the next release: use :mod:`cegema_onboarding.mail`.

The builders here return an assembled :class:`email.message.EmailMessage`, as they always
did: each is ``assemble(compose.<builder>(...))``. New code writes a checked draft with
:mod:`cegema_onboarding.mail.compose` and assembles it with
:func:`cegema_onboarding.mail.assemble.assemble` where MIME is needed. ``MailSettings`` lives
in :mod:`cegema_onboarding.mail.settings`, ``make_message_id`` in
:mod:`cegema_onboarding.mail.draft`.

Importing this module does not warn yet: the service still calls it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from email.message import EmailMessage
from typing import ParamSpec

from .mail import compose
from .mail.assemble import assemble
from .mail.draft import Mail
from .mail.draft import make_message_id as make_message_id
from .mail.settings import MailSettings as MailSettings

__all__ = [
    "MailSettings",
    "activation_mail",
    "email_change_notice_mail",
    "identifier_reminder_mail",
    "make_message_id",
    "password_changed_mail",
    "remember_theft_mail",
    "reset_link_mail",
    "validation_mail",
]

_P = ParamSpec("_P")


def _assembled(builder: Callable[_P, Mail]) -> Callable[_P, EmailMessage]:
    """``builder``, with its draft assembled into a message as this module always returned."""

    @functools.wraps(builder)
    def build(*args: _P.args, **kwargs: _P.kwargs) -> EmailMessage:
        return assemble(builder(*args, **kwargs))

    return build


validation_mail = _assembled(compose.validation_mail)
password_changed_mail = _assembled(compose.password_changed_mail)
reset_link_mail = _assembled(compose.reset_link_mail)
identifier_reminder_mail = _assembled(compose.identifier_reminder_mail)
email_change_notice_mail = _assembled(compose.email_change_notice_mail)
activation_mail = _assembled(compose.activation_mail)
remember_theft_mail = _assembled(compose.remember_theft_mail)
