"""The unit of work: load the account, apply the flow, commit it all at once, retry.

One member or staff action is one pass of :meth:`UnitOfWork.run`: read the account, call
:func:`cegema_onboarding.flow.step` with the time, fresh entropy and the origin, then
commit the new account, its outbox rows and its audit records in one compare-and-set.
A commit that loses a race reads the account again and applies the flow again.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from .. import flow
from ..config import Settings
from ..errors import BadToken, ConcurrentUpdate, UnknownAccount
from ..flow import Accepted, Audit, Entropy, Env, Origin, Reason, Refused, SendNotice
from ..hashing import ReplayHasher
from ..model import Account, LinkPurpose, Session, Throttle
from ..ports import AuditRecord, Changes, Clock, Observer, OutboxMessage, Random, Storage
from .observe import tell
from .outbox import Outbox
from .results import Ok, Result

__all__ = ["UnitOfWork", "record"]

# Retries of a commit that lost a race, before the action gives up.
_MAX_RETRIES = 5


class UnitOfWork:
    """Load, step, commit and retry, over one storage; messages go to the outbox."""

    def __init__(self, storage: Storage, outbox: Outbox, *, settings: Settings, env: Env,
                 clock: Clock, random: Random, deliver_inline: bool = True) -> None:
        self.storage = storage
        self.outbox = outbox
        self.settings = settings
        self.env = env
        self.clock = clock
        self.random = random
        self.deliver_inline = deliver_inline
        #: Told of every audit record committed through :meth:`commit`.
        self.observer: Observer | None = None

    # ------------------------------------------------------------------ reads

    def entropy(self) -> Entropy:
        """Fresh random bytes for one application of the flow."""
        return Entropy.draw(self.random.token_bytes)

    def replaying(self) -> Env:
        """The environment of one request that may retry: see :class:`ReplayHasher`."""
        crypto = self.env.crypto
        return attrs.evolve(self.env, crypto=attrs.evolve(
            crypto, hasher=ReplayHasher(crypto.hasher)))

    def parse(self, token: str, purpose: LinkPurpose) -> tuple[Account, str] | None:
        """The account a link token names and the token's nonce hash; None if forged."""
        try:
            claims = self.env.crypto.signer.parse(token, purpose.value)
        except BadToken:
            return None
        account = self.storage.get(claims.account_id)
        if account is None:
            return None
        return account, claims.nonce_hash

    def session_account(self, session: Session) -> Account | None:
        """The account of a live session; None when it ended or the account is disabled."""
        account = self.storage.get(session.account_id)
        if account is None or account.session_epoch != session.epoch or account.disabled:
            return None
        return account

    def require(self, account_id: str) -> Account:
        """The account, or :class:`UnknownAccount` (staff-facing callers only)."""
        account = self.storage.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise UnknownAccount("no account has this id")
        return account

    # ------------------------------------------------------------------ run

    def apply(self, session: Session, event: flow.Event, ip: str | None,
              notice: str | None = None) -> Result:
        """Apply a member's event to the account of their session."""
        return self.apply_to(session.account_id, session, event, Origin(ip=ip), notice)

    def apply_to(self, account_id: str, session: Session | None, event: flow.Event,
                 origin: Origin, notice: str | None = None) -> Result:
        """Apply an event to an account; the result only."""
        return self.run(account_id, session, event, origin, notice)[0]

    def run(self, account_id: str, session: Session | None, event: flow.Event,
            origin: Origin, notice: str | None = None, *, loaded: Account | None = None
            ) -> tuple[Result, Accepted | Refused | None]:
        """Apply an event and commit its outcome, retrying lost races; and the outcome."""
        for _ in range(_MAX_RETRIES):
            # An account the caller has just read serves the first try; the version check
            # of the commit catches a change in between, and the retry reads afresh.
            account, loaded = loaded, None
            if account is None:
                account = self.storage.get(account_id) if isinstance(account_id, str) else None
            if account is None or (session is not None
                                   and account.session_epoch != session.epoch):
                return Refused(Reason.SESSION_EXPIRED), None
            now = self.clock.now()
            outcome = flow.step(account, event, now, self.env, entropy=self.entropy(),
                                origin=origin)
            try:
                return self.save(account, outcome, now, notice), outcome
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("the account kept changing; try again")

    # ------------------------------------------------------------------ commit

    def changes(self, account: Account | None, outcome: Accepted | Refused,
                now: datetime, *, inline: bool = False) -> Changes:
        """The write for an outcome; ``inline`` when its messages are delivered right after."""
        new = outcome.account
        target = new or account
        outbox: list[OutboxMessage] = []
        audit: list[AuditRecord] = []
        for effect in outcome.effects:
            if isinstance(effect, SendNotice):
                assert target is not None
                outbox.append(self.outbox.queue(target, effect, now, inline=inline))
            else:
                audit.append(record(effect))
        saves: tuple[tuple[Account, int | None], ...] = ()
        if new is not None and account is not None and new != account:
            saves = ((new, account.version),)
        return Changes(accounts=saves, outbox=tuple(outbox), audit=tuple(audit))

    def save(self, account: Account | None, outcome: Accepted | Refused, now: datetime,
             notice: str | None = None, *, deliver: bool = True,
             throttles: tuple[tuple[Throttle, int], ...] = ()) -> Result:
        """Commit an outcome (and counters riding on it), deliver inline; the result."""
        inline = self.deliver_inline and deliver
        try:
            changes = self.changes(account, outcome, now, inline=inline)
            if throttles:
                changes = attrs.evolve(changes, throttles=changes.throttles + throttles)
            if changes.accounts or changes.throttles or changes.outbox or changes.audit:
                self.commit(changes)
            if changes.outbox and inline:
                self.outbox.deliver_new(changes.outbox)
        finally:
            # Rendered messages are only kept for the delivery that follows their commit.
            self.outbox.forget_drafts()
        if isinstance(outcome, Refused):
            # Bookkeeping and audit are internal: the caller only sees the reason.
            return attrs.evolve(outcome, account=None, effects=(), secret_checked=False)
        new = outcome.account
        session = Session(new.account_id, new.session_epoch) if outcome.grants_session else None
        return Ok(outcome.step, session, notice, remember_token=outcome.secret)

    def audit_only(self, effect: Audit) -> None:
        """Commit one audit record and nothing else (a refusal before any account read)."""
        self.commit(Changes(audit=(record(effect),)))

    def commit(self, changes: Changes) -> None:
        """Commit ``changes``, then tell the observer their audit records.

        Every write that carries audit records goes through here, so that the metrics
        count what was committed, once, whichever member or staff action wrote it.
        """
        self.storage.commit(changes)
        if changes.audit:
            tell(self.observer, lambda o: o.recorded(changes.audit))


def record(effect: Audit) -> AuditRecord:
    """The stored audit record of a flow's audit effect."""
    return AuditRecord(effect.at, effect.action, effect.outcome, effect.actor,
                       effect.account_id, effect.ip, effect.detail)
