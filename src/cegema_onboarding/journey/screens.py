"""Which screen an account resumes at, and which channel reaches a member."""

from __future__ import annotations

from datetime import datetime

from ..config import Settings
from ..model import Account, Channel, LinkPurpose, Stage, Step
from .links import live_link


def next_step(account: Account, now: datetime, settings: Settings) -> Step:
    """The screen an account resumes at, at its next login."""
    stage = account.stage
    if stage in (Stage.PROVISIONED, Stage.EMAIL_REQUIRED):
        return Step.EMAIL
    if stage is Stage.EMAIL_PENDING:
        live = live_link(account, LinkPurpose.VERIFY_EMAIL)
        if live is not None and now <= live.expires_at:
            return Step.CHECK_MAILBOX
        # After the link's lifetime the member starts again, the address filled in.
        return Step.EMAIL
    if stage is Stage.AWAITING_ACTIVATION:
        return Step.AWAITING_ACTIVATION
    if stage is Stage.PASSWORD_REQUIRED:
        return Step.PASSWORD
    if stage is Stage.QUESTION_REQUIRED and settings.secret_questions:
        return Step.QUESTION
    return Step.PROFILE


def notice_channel(account: Account, *, allow_email: bool = True) -> Channel:
    """The channel the member's profile prefers among those that can reach them."""
    reachable = {
        Channel.EMAIL: allow_email and account.email is not None,
        Channel.SMS: bool(account.phone),
        Channel.PHONE: bool(account.phone),
        Channel.POST: True,
    }
    for channel in account.profile.channels:
        if reachable.get(channel):
            return channel
    if allow_email and account.email is not None:
        return Channel.EMAIL
    return offline_channel(account)


def offline_channel(account: Account) -> Channel:
    # A no-email member is reached by phone when one is known, else by post.
    return Channel.PHONE if account.phone else Channel.POST
