"""``AdminNotifier``: the default ``NOTIFIER``, notices kept in the admin for staff.

Members without email are told by post, SMS or phone. Without a notifier of the host's,
those notices had nowhere to go: the outbox kept retrying them with ``MailError`` and no
one saw them. Here each becomes a row of :class:`~.models.OnboardingNotice`, listed in the
admin until staff pass it on and mark it handled.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ...model import Account, Channel
from .models import OnboardingNotice


class AdminNotifier:
    """Keeps each notice in the database (``using``: the storage's alias) for staff."""

    def __init__(self, using: str = "default") -> None:
        self.using = using

    def notify(self, channel: Channel, account: Account, kind: str, text: str) -> None:
        """Keep the notice; the outbox then counts it as delivered."""
        with transaction.atomic(using=self.using):
            OnboardingNotice.objects.using(self.using).create(
                created_at=timezone.now(), account_id=account.account_id,
                member_number=account.member_number, name=account.name,
                channel=channel.value, kind=kind, text=text)
