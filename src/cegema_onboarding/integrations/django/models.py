"""The ORM tables behind :class:`~.storage.DjangoStorage`.

An account is stored whole as JSON (``data``, written by :mod:`cegema_onboarding.codec`)
with the fields that are looked up or listed copied into indexed columns. ``version`` is
the compare-and-set counter: every save is a conditional ``UPDATE ... WHERE version = ?``.
Secrets in ``data`` are hashes only; the admin never shows ``data``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.db import models

from ...model import Stage
from .names import admin_text

if TYPE_CHECKING:
    # Without the django-stubs mypy plugin, fields need their types spelled out.
    _Str: TypeAlias = models.CharField[str, str]
    _OptStr: TypeAlias = models.CharField[str | None, str | None]
    _When: TypeAlias = models.DateTimeField[datetime, datetime]
    _OptWhen: TypeAlias = models.DateTimeField[datetime | None, datetime | None]
    _OptText: TypeAlias = models.TextField[str | None, str | None]
    _Count: TypeAlias = models.PositiveIntegerField[int, int]

STAGE_CHOICES = [(s.value, s.value.replace("_", " ")) for s in Stage]


class OnboardingAccount(models.Model):
    """One member account; ``data`` is the full record, the other columns index it."""

    account_id: _Str = models.CharField(max_length=64, primary_key=True)
    member_number: _Str = models.CharField(max_length=64, unique=True)
    name: _Str = models.CharField(max_length=300, blank=True)
    email_key: _OptStr = models.CharField(max_length=320, null=True, blank=True, db_index=True)
    stage: _Str = models.CharField(max_length=32, choices=STAGE_CHOICES, db_index=True)
    disabled: models.BooleanField[bool, bool] = models.BooleanField(default=False)
    # The staff queue's order: when activation was requested, else when created.
    queue_at: _When = models.DateTimeField(db_index=True)
    created_at: _When = models.DateTimeField()
    version: _Count = models.PositiveIntegerField(default=1)
    data: models.JSONField[Any, Any] = models.JSONField()
    user: models.OneToOneField[Any, Any] = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cegema_account",
    )

    class Meta:
        verbose_name = admin_text("ui.admin.account")
        verbose_name_plural = admin_text("ui.admin.accounts")
        ordering = ("member_number",)

    def __str__(self) -> str:
        return str(self.member_number)


class NoEmailQueue(OnboardingAccount):
    """The members who asked to be activated without an email address (admin view)."""

    class Meta:
        proxy = True
        verbose_name = admin_text("ui.admin.no_email_request")
        verbose_name_plural = admin_text("ui.admin.no_email_queue")


class OnboardingDecoy(models.Model):
    """A stand-in account row of enumeration-safe requests (``Changes.decoys``).

    A forgotten password or identifier request with no account change of its own writes
    one of these instead, so that it does the same database work whether or not the
    member exists. Laid out like :class:`OnboardingAccount` (the same columns and indexes,
    so the same cost per update); a few rows, overwritten again and again, never read.
    Not registered in the admin.
    """

    account_id: _Str = models.CharField(max_length=64, primary_key=True)
    member_number: _Str = models.CharField(max_length=64, unique=True)
    name: _Str = models.CharField(max_length=300, blank=True)
    email_key: _OptStr = models.CharField(max_length=320, null=True, blank=True, db_index=True)
    stage: _Str = models.CharField(max_length=32, choices=STAGE_CHOICES, db_index=True)
    disabled: models.BooleanField[bool, bool] = models.BooleanField(default=False)
    queue_at: _When = models.DateTimeField(db_index=True)
    created_at: _When = models.DateTimeField()
    version: _Count = models.PositiveIntegerField(default=1)
    data: models.JSONField[Any, Any] = models.JSONField()

    class Meta:
        verbose_name = admin_text("ui.admin.decoy")
        verbose_name_plural = admin_text("ui.admin.decoys")

    def __str__(self) -> str:
        return str(self.account_id)


class OnboardingThrottle(models.Model):
    """A failed-attempt counter for one normalised identifier, known or not."""

    key: _Str = models.CharField(max_length=200, primary_key=True)
    failures: _Count = models.PositiveIntegerField(default=0)
    last_failure_at: _OptWhen = models.DateTimeField(null=True, blank=True)
    version: _Count = models.PositiveIntegerField(default=1)
    # Attempts counted but still being checked (see cegema_onboarding.lockout).
    in_flight: _Count = models.PositiveIntegerField(default=0)
    in_flight_at: _OptWhen = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = admin_text("ui.admin.throttle")
        verbose_name_plural = admin_text("ui.admin.throttles")

    def __str__(self) -> str:
        return str(self.key)


class OnboardingRateLimit(models.Model):
    """The hits counted in one key's current window (see :mod:`.ratelimit`).

    A key names a client address or a normalised identifier; rows of ended windows are
    purged (``cegema_purge_tokens``). Not registered in the admin.
    """

    # "rl:<action>:id:" and an identifier cut to 300 characters (ratelimit.rate_keys).
    key: _Str = models.CharField(max_length=512, primary_key=True)
    window_start: _When = models.DateTimeField(db_index=True)
    count: _Count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = admin_text("ui.admin.rate_limit")
        verbose_name_plural = admin_text("ui.admin.rate_limits")

    def __str__(self) -> str:
        return str(self.key)


class OnboardingOutbox(models.Model):
    """A queued message; ``payload`` is encrypted and emptied once it is sent."""

    message_id: _Str = models.CharField(max_length=255, primary_key=True)
    account_id: _Str = models.CharField(max_length=64, db_index=True)
    channel: _Str = models.CharField(max_length=16)
    kind: _Str = models.CharField(max_length=64)
    created_at: _When = models.DateTimeField(db_index=True)
    payload: models.BinaryField[bytes, bytes | memoryview] = models.BinaryField()
    recipient: _OptStr = models.CharField(max_length=320, null=True, blank=True)
    status: _Str = models.CharField(max_length=16, db_index=True)
    attempts: _Count = models.PositiveIntegerField(default=0)
    next_attempt_at: _OptWhen = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error: _OptText = models.TextField(null=True, blank=True)
    sent_at: _OptWhen = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = admin_text("ui.admin.outbox")
        verbose_name_plural = admin_text("ui.admin.outboxes")

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"


class OnboardingAudit(models.Model):
    """One audited event. No secrets: actor, action, outcome, time, IP and a detail."""

    id: models.BigAutoField[int, int] = models.BigAutoField(primary_key=True)
    at: _When = models.DateTimeField(db_index=True)
    action: _Str = models.CharField(max_length=64)
    outcome: _Str = models.CharField(max_length=64)
    actor: _Str = models.CharField(max_length=200)
    account_id: _OptStr = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    ip: _OptStr = models.CharField(max_length=64, null=True, blank=True)
    detail: _OptText = models.TextField(null=True, blank=True)

    class Meta:
        verbose_name = admin_text("ui.admin.audit")
        verbose_name_plural = admin_text("ui.admin.audits")
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.outcome}"


class OnboardingNotice(models.Model):
    """A notice for a member without email, kept for staff to send by post, SMS or phone.

    Written by :class:`~.notices.AdminNotifier` (the default ``NOTIFIER``): staff read it in
    the admin and mark it handled once the member was told. Its text holds no secret.
    """

    id: models.BigAutoField[int, int] = models.BigAutoField(primary_key=True)
    created_at: _When = models.DateTimeField(db_index=True)
    account_id: _Str = models.CharField(max_length=64, db_index=True)
    member_number: _Str = models.CharField(max_length=64)
    name: _Str = models.CharField(max_length=300, blank=True)
    channel: _Str = models.CharField(max_length=16)
    kind: _Str = models.CharField(max_length=64)
    text: models.TextField[str, str] = models.TextField()
    handled_at: _OptWhen = models.DateTimeField(null=True, blank=True, db_index=True)
    handled_by: _Str = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = admin_text("ui.admin.notice")
        verbose_name_plural = admin_text("ui.admin.notices")
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.member_number} {self.kind}"
