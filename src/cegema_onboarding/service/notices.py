"""Notice -> message: the one place where the service turns a flow notice into a mail.

The mail is built by :mod:`cegema_onboarding.mails` and carried as an ``EmailMessage``;
post and SMS notices are a short text. Nothing else in the service knows a template.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from email.message import EmailMessage

from .. import mails, texts
from ..config import Settings
from ..flow import Notice, SendNotice
from ..model import Account, LinkPurpose

__all__ = ["offline_text", "render_mail"]


def render_mail(settings: Settings, account: Account, effect: SendNotice, now: datetime,
                message_id: str) -> EmailMessage:
    """The mail of an email notice to ``account``, with its links and Message-ID."""
    ms = settings.mail
    assert effect.to is not None
    if effect.notice is Notice.VALIDATION:
        assert effect.token is not None and effect.code is not None
        hours = _hours(settings.link_lifetime)
        return mails.validation_mail(
            ms, to=effect.to, name=account.name, address=effect.to,
            link_url=settings.link_url(LinkPurpose.VERIFY_EMAIL, effect.token),
            code=effect.code, valid_hours=hours, lang=account.lang, sent_at=now,
            message_id=message_id)
    if effect.notice is Notice.PASSWORD_CHANGED:
        not_me = (None if effect.token is None
                  else settings.link_url(LinkPurpose.NOT_ME, effect.token))
        return mails.password_changed_mail(
            ms, to=effect.to, name=account.name, ip=effect.ip,
            changed_at=effect.at, not_me_url=not_me, lang=account.lang, sent_at=now,
            message_id=message_id)
    if effect.notice is Notice.RESET:
        assert effect.token is not None
        return mails.reset_link_mail(
            ms, to=effect.to, name=account.name,
            link_url=settings.link_url(LinkPurpose.RESET_PASSWORD, effect.token),
            code=None, valid_hours=_hours(settings.reset_link_lifetime),
            lang=account.lang, sent_at=now, message_id=message_id)
    if effect.notice is Notice.IDENTIFIER:
        return mails.identifier_reminder_mail(
            ms, to=effect.to, name=account.name, member_number=account.member_number,
            lang=account.lang, sent_at=now, message_id=message_id)
    if effect.notice is Notice.EMAIL_CHANGE:
        assert effect.token is not None
        return mails.validation_mail(
            ms, to=effect.to, name=account.name, address=effect.to,
            link_url=settings.link_url(LinkPurpose.CHANGE_EMAIL, effect.token),
            code=None, valid_hours=_hours(settings.link_lifetime),
            lang=account.lang, sent_at=now, message_id=message_id)
    if effect.notice is Notice.EMAIL_CHANGE_NOTICE:
        not_me_url = (None if effect.token is None
                      else settings.link_url(LinkPurpose.NOT_ME, effect.token))
        return mails.email_change_notice_mail(
            ms, to=effect.to, name=account.name, new_address_hint=effect.detail or "",
            not_me_url=not_me_url, lang=account.lang, sent_at=now, message_id=message_id)
    if effect.notice is Notice.ACTIVATED:
        return mails.activation_mail(ms, to=effect.to, name=account.name, lang=account.lang,
                                     sent_at=now, message_id=message_id)
    if effect.notice is Notice.REMEMBER_THEFT:
        return mails.remember_theft_mail(ms, to=effect.to, name=account.name,
                                         lang=account.lang, sent_at=now,
                                         message_id=message_id)
    raise ValueError(f"no mail template for {effect.notice}")


def offline_text(settings: Settings, account: Account, effect: SendNotice) -> str:
    """The text of a notice sent by post or SMS."""
    return texts.text(f"offline.{effect.notice.value}", account.lang, name=account.name,
                      brand=settings.mail.brand, detail=effect.detail or "")


def _hours(lifetime: timedelta) -> int:
    # A mail says "valid for N hours": round up, never promise less than an hour.
    return max(1, math.ceil(lifetime.total_seconds() / 3600))
