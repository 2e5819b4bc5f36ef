"""Which mail a notice becomes, and the text of a notice sent by post or SMS.

The journey says *what* to tell a member (a :class:`~cegema_onboarding.flow.SendNotice`);
this module chooses the builder, the link and its lifetime, and returns a checked
:class:`~cegema_onboarding.mail.draft.Mail`. It does the same choice as the service's own
rendering today, which is meant to call it once the service is split.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TypedDict

from .. import texts
from ..config import Settings
from ..flow import Notice, SendNotice
from ..model import Account, LinkPurpose
from . import compose
from .draft import Mail

__all__ = ["link_hours", "notice_mail", "offline_text"]


class _Envelope(TypedDict):
    to: str
    name: str
    lang: str
    sent_at: datetime
    message_id: str


def link_hours(lifetime: timedelta) -> int:
    """``lifetime`` in whole hours, rounded up (at least one).

    Kept for callers of the ``valid_hours`` argument; the mails themselves now state the
    lifetime in the unit a person would use (:func:`cegema_onboarding.texts.duration`).
    """
    return max(1, math.ceil(lifetime.total_seconds() / 3600))


def notice_mail(
    settings: Settings, account: Account, effect: SendNotice, *, sent_at: datetime,
    message_id: str,
) -> Mail:
    """The mail for ``effect`` to ``account``; ValueError for a notice no mail says."""
    ms, to, name, lang = settings.mail, effect.to, account.name, account.lang
    if to is None:
        raise ValueError("a mail notice needs an address")
    envelope = _Envelope(to=to, name=name, lang=lang, sent_at=sent_at, message_id=message_id)
    not_me = (None if effect.token is None
              else settings.link_url(LinkPurpose.NOT_ME, effect.token))
    match effect.notice:
        case Notice.VALIDATION:
            assert effect.token is not None and effect.code is not None
            return compose.validation_mail(
                ms, address=to, code=effect.code,
                link_url=settings.link_url(LinkPurpose.VERIFY_EMAIL, effect.token),
                valid_for=settings.link_lifetime, **envelope)
        case Notice.PASSWORD_CHANGED:
            return compose.password_changed_mail(
                ms, ip=effect.ip, changed_at=effect.at, not_me_url=not_me, **envelope)
        case Notice.RESET:
            assert effect.token is not None
            return compose.reset_link_mail(
                ms, code=None,
                link_url=settings.link_url(LinkPurpose.RESET_PASSWORD, effect.token),
                valid_for=settings.reset_link_lifetime, **envelope)
        case Notice.IDENTIFIER:
            return compose.identifier_reminder_mail(
                ms, member_number=account.member_number, **envelope)
        case Notice.EMAIL_CHANGE:
            # The new address proves itself with a link alone: no code to type.
            assert effect.token is not None
            return compose.validation_mail(
                ms, address=to, code=None,
                link_url=settings.link_url(LinkPurpose.CHANGE_EMAIL, effect.token),
                valid_for=settings.link_lifetime, **envelope)
        case Notice.EMAIL_CHANGE_NOTICE:
            return compose.email_change_notice_mail(
                ms, new_address_hint=effect.detail or "", not_me_url=not_me, **envelope)
        case Notice.ACTIVATED:
            return compose.activation_mail(ms, **envelope)
        case Notice.REMEMBER_THEFT:
            return compose.remember_theft_mail(ms, **envelope)
        case _:
            raise ValueError(f"no mail template for {effect.notice}")


def offline_text(settings: Settings, account: Account, effect: SendNotice) -> str:
    """The text of ``effect`` sent by post or SMS, in the member's language."""
    return texts.text(f"offline.{effect.notice.value}", account.lang, name=account.name,
                      brand=settings.mail.brand, detail=effect.detail or "")
