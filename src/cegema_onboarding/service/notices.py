"""Notice -> message: the one place where the service turns a flow notice into a mail.

The mail is drafted by :func:`cegema_onboarding.mail.notices.notice_mail`: a checked
:class:`~cegema_onboarding.mail.Mail`, which the outbox seals and the mailer assembles; post
and SMS notices are a short text. Nothing else in the service knows a template.
"""

from __future__ import annotations

from datetime import datetime

from ..config import Settings
from ..flow import SendNotice
from ..mail.draft import Mail
from ..mail.notices import notice_mail
from ..mail.notices import offline_text as offline_text
from ..model import Account

__all__ = ["draft_mail", "offline_text"]


def draft_mail(settings: Settings, account: Account, effect: SendNotice, now: datetime,
               message_id: str) -> Mail:
    """The mail of an email notice to ``account``, with its links and Message-ID."""
    return notice_mail(settings, account, effect, sent_at=now, message_id=message_id)
