"""Rows of the Django tables to and from the library's values, shared by the Django adapters.

:class:`~cegema_onboarding.integrations.django.storage.DjangoStorage` and
:class:`~cegema_onboarding.integrations.django.ratelimit.DjangoRateLimiter` both store
datetimes; Django refuses aware ones when ``USE_TZ`` is off, so every datetime goes through
:func:`to_db` on the way in and :func:`from_db` on the way out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

from ... import codec
from ...model import Account, Channel
from ...normalize import email_key
from ...ports import OutboxMessage, OutboxStatus
from .models import OnboardingAccount, OnboardingOutbox

__all__ = [
    "account_from_row",
    "account_row",
    "from_db",
    "message_from_row",
    "outbox_row",
    "required",
    "to_db",
]


def to_db(value: datetime | None) -> datetime | None:
    """A datetime as the database column takes it."""
    # Django refuses aware datetimes when USE_TZ is off: store UTC wall time then.
    if value is None or settings.USE_TZ:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime | None) -> datetime | None:
    """A datetime read from a column, aware and in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def required(value: datetime | None) -> datetime:
    """:func:`from_db` of a column that is never null."""
    out = from_db(value)
    assert out is not None
    return out


def account_from_row(row: OnboardingAccount) -> Account:
    """The account a row stores."""
    data = dict(row.data)
    data["version"] = row.version
    return codec.from_data(Account, data)


def account_row(account: Account, *, version: int) -> OnboardingAccount:
    """An unsaved row for ``account`` at ``version``."""
    data = codec.to_data(account)
    data.pop("version", None)
    return OnboardingAccount(
        account_id=account.account_id,
        member_number=account.member_number,
        name=account.name[:300],
        email_key=email_key(account.email) if account.email else None,
        stage=account.stage.value,
        disabled=account.disabled,
        queue_at=to_db(account.activation_requested_at or account.created_at),
        created_at=to_db(account.created_at),
        version=version,
        data=data,
    )


def outbox_row(m: OutboxMessage) -> OnboardingOutbox:
    """An unsaved row for the outbox message ``m``."""
    return OnboardingOutbox(
        message_id=m.message_id, account_id=m.account_id, channel=m.channel.value,
        kind=m.kind, created_at=to_db(m.created_at), payload=m.payload,
        recipient=m.recipient, status=m.status.value, attempts=m.attempts,
        next_attempt_at=to_db(m.next_attempt_at), last_error=m.last_error,
        sent_at=to_db(m.sent_at))


def message_from_row(row: OnboardingOutbox) -> OutboxMessage:
    """The outbox message a row stores."""
    return OutboxMessage(
        message_id=row.message_id, account_id=row.account_id, channel=Channel(row.channel),
        kind=row.kind, created_at=required(row.created_at), payload=bytes(row.payload),
        recipient=row.recipient, status=OutboxStatus(row.status), attempts=row.attempts,
        next_attempt_at=from_db(row.next_attempt_at), last_error=row.last_error,
        sent_at=from_db(row.sent_at))
