"""The outbox: queue a notice (rendered and sealed), deliver it, back off, park it.

Messages are queued in the same commit as the change that causes them (the unit of work
asks :meth:`Outbox.queue` for the rows), then delivered: at once by the request when
``deliver_inline``, else by a relay calling :meth:`Outbox.deliver_due`. A mail port that
fails leaves the message queued for a retry with exponential backoff; after
:data:`MAX_ATTEMPTS` attempts, or a permanent refusal, it is parked.

:class:`Outbox` is all a relay needs, and it can be built on its own from the storage, the
ports and the settings: no member action comes with it.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import attrs

from ..adapters.system import SystemClock, SystemRandom
from ..config import Settings
from ..errors import InvalidInput, MailError, SealError, SmtpError
from ..flow import SendNotice
from ..mail.draft import Mail, make_message_id
from ..mail.legacy import draft_mailer, draft_of
from ..model import Account, Channel
from ..ports import (
    Clock,
    Mailer,
    Notifier,
    Observer,
    OutboxMessage,
    OutboxStatus,
    Random,
    Storage,
)
from ..sealing import Sealer
from .notices import draft_mail, offline_text
from .observe import tell
from .results import DeliveryReport

__all__ = ["INLINE_LEASE", "MAX_ATTEMPTS", "Outbox"]

log = logging.getLogger("cegema_onboarding")

#: Delivery attempts before a message is parked.
MAX_ATTEMPTS = 8
#: How long a relay leaves a message that inline delivery took, before retrying it itself.
INLINE_LEASE = timedelta(minutes=5)


class Outbox:
    """Queue, seal, deliver and retry the messages of one host's storage."""

    def __init__(self, storage: Storage, mailer: Mailer, *, settings: Settings,
                 clock: Clock | None = None, random: Random | None = None,
                 notifier: Notifier | None = None, observer: Observer | None = None) -> None:
        self.storage = storage
        #: Told how each delivery attempt ended (the relay's metrics).
        self.observer = observer
        self.mailer = mailer  # through the property: an old-style mailer is wrapped once
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.random: Random = random or SystemRandom()
        self.notifier = notifier
        self._sealer = Sealer(settings.secret_keys)
        self._local = threading.local()
        self._mail_domain = urlsplit(settings.base_url).hostname or "localhost"

    @property
    def mailer(self) -> Mailer:
        """The mail port, as the host gave it."""
        return self._mailer

    @mailer.setter
    def mailer(self, mailer: Mailer) -> None:
        self._mailer = mailer
        # A mailer written for the previous port (send(EmailMessage)) gets its MIME built
        # here, with a DeprecationWarning; one written for drafts is used as it is.
        self._port = draft_mailer(mailer)

    # ------------------------------------------------------------------ queue

    def queue(self, account: Account, effect: SendNotice, now: datetime, *,
              inline: bool = False) -> OutboxMessage:
        """The sealed outbox row of a notice, to commit with the change that causes it.

        ``inline`` when :meth:`deliver_new` delivers it right after the commit: the row is
        stored already claimed, under a lease, and the draft is kept for it. The payload is
        the sealed draft (``Mail.to_json()``): no MIME is built on the request path.
        """
        message_uid = uuid.UUID(bytes=self.random.token_bytes(16), version=4).hex
        message_id = make_message_id(message_uid, self._mail_domain)
        if effect.channel is Channel.EMAIL:
            assert effect.to is not None
            draft = draft_mail(self.settings, account, effect, now, message_id)
            payload = draft.to_json().encode()
            if inline:
                self._drafts()[message_id] = draft
        else:
            text = offline_text(self.settings, account, effect)
            payload = json.dumps({"text": text}).encode()
        return OutboxMessage(
            message_id=message_id,
            account_id=account.account_id,
            channel=effect.channel,
            kind=effect.notice.value,
            created_at=now,
            payload=self._sealer.seal(payload),
            recipient=effect.to,
            # Delivered right after the commit: stored already claimed, under a lease.
            status=OutboxStatus.SENDING if inline else OutboxStatus.PENDING,
            next_attempt_at=now + INLINE_LEASE if inline else None,
        )

    def forget_drafts(self) -> None:
        """Drop the drafts kept for inline delivery: they serve only the commit just made."""
        self._drafts().clear()

    # ------------------------------------------------------------------ deliver

    def deliver_due(self, *, limit: int = 50) -> DeliveryReport:
        """Deliver every queued message that is due. Call it from a worker or a timer."""
        now = self.clock.now()
        report = DeliveryReport()
        for message in self.storage.claim_due(now, limit=limit):
            report = self._deliver(message, report)
        return report

    def deliver_new(self, messages: Sequence[OutboxMessage]) -> None:
        """Deliver the rows just committed by :meth:`queue` with ``inline``."""
        # These rows were committed already claimed (SENDING, with a lease), so no claim
        # round trip is needed; if this process dies now, the lease runs out and a relay
        # delivers them. This thread also still holds the drafts: hand them over rather
        # than open and check the stored payload again.
        report = DeliveryReport()
        drafts = self._drafts()
        for message in messages:
            if message.status is OutboxStatus.SENDING:
                report = self._deliver(message, report, drafts.pop(message.message_id, None))
        drafts.clear()

    def _drafts(self) -> dict[str, Mail]:
        # Per thread: one Outbox serves every request thread of a host.
        found: dict[str, Mail] | None = getattr(self._local, "drafts", None)
        if found is None:
            found = self._local.drafts = {}
        return found

    def _deliver(self, message: OutboxMessage, report: DeliveryReport,
                 draft: Mail | None = None) -> DeliveryReport:
        try:
            if message.channel is Channel.EMAIL:
                # A payload of the previous release (sealed MIME) is read back too.
                self._port.send(draft or draft_of(self._sealer.open(message.payload)))
            else:
                payload = self._sealer.open(message.payload)
                if self.notifier is None:
                    raise MailError(f"no notifier for the {message.channel.value} channel")
                account = self.storage.get(message.account_id)
                if account is None:
                    raise MailError("account vanished")
                data = json.loads(payload)
                self.notifier.notify(message.channel, account, message.kind, data["text"])
        except Exception as exc:
            # Whatever a port raises, a committed change must not turn into an error:
            # the message waits for a retry. Only the error's class is recorded, or an
            # SMTP error's short reason, which the adapter keeps free of secrets.
            return self._failed(message, report, exc)
        self.storage.mark_sent(message.message_id, self.clock.now())
        tell(self.observer, lambda o: o.delivery(message.channel, "sent"))
        return attrs.evolve(report, sent=report.sent + 1)

    def _failed(self, message: OutboxMessage, report: DeliveryReport,
                exc: Exception) -> DeliveryReport:
        attempts = message.attempts + 1
        error = type(exc).__name__
        if isinstance(exc, SmtpError):
            error = f"{error}: {exc.reason}"[:200]
        # A payload no key opens or no draft reads, or a permanent refusal (5xx), will not
        # get better.
        permanent = isinstance(exc, (SealError, InvalidInput)) or (
            isinstance(exc, SmtpError) and exc.permanent)
        if attempts >= MAX_ATTEMPTS or permanent:
            self.storage.mark_failed(message.message_id, error, None)
            tell(self.observer, lambda o: o.delivery(message.channel, "parked"))
            log.warning("outbox message %s parked after %d attempts (%s)",
                        message.message_id, attempts, error)
            return attrs.evolve(report, parked=report.parked + 1)
        retry_at = self.clock.now() + backoff(attempts)
        self.storage.mark_failed(message.message_id, error, retry_at)
        tell(self.observer, lambda o: o.delivery(message.channel, "retried"))
        log.info("outbox message %s will be retried (%s)", message.message_id, error)
        return attrs.evolve(report, retried=report.retried + 1)


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt: 30 s, 1 min, 2 min ... capped at one hour."""
    return min(timedelta(seconds=30) * (1 << min(attempts - 1, 16)), timedelta(hours=1))
