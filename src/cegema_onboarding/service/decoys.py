"""Enumeration-safe requests: the same records written whether a member exists or not.

"Mot de passe oublié ?" and "Identifiant oublié ?" answer the same whatever the
identifier, and do the same work: each target commits one account record, one outbox row
and one audit record. When there is no real account change or no real mail, a stand-in
account (:meth:`Decoys.stand_in`) takes their place, made by the same code at the same cost
and stored where nothing reads it as a member or a mail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from .. import codec, flow
from ..errors import ConcurrentUpdate
from ..flow import Accepted, Notice, Origin, Refused, SendNotice
from ..model import Account, Channel, LinkPurpose, Stage
from ..ports import AuditRecord, Changes, OutboxMessage, OutboxStatus
from .guards import PATIENCE
from .unit import UnitOfWork

__all__ = ["Decoys", "Targets"]

log = logging.getLogger("cegema_onboarding")

# Stand-in account records of enumeration-safe requests (Changes.decoys), picked per
# identifier: repeated requests for one unknown identifier write one row, as they would
# for a known account, and unrelated ones do not queue on a single row's lock.
_DECOY_SLOTS = 64

#: The accounts a blind request targets at a given time, each with its event (None: nobody).
Targets = Callable[[datetime], list[tuple[Account | None, flow.Event]]]


class Decoys:
    """Blind requests and the stand-in accounts that keep their work constant."""

    def __init__(self, unit: UnitOfWork, secret_key: str) -> None:
        self.unit = unit
        # The stand-ins, built on first use: slot number -> (account, its stored JSON).
        self._decoys: dict[int, tuple[Account, str]] = {}
        self._decoy_key = hashlib.sha256(
            b"cegema_onboarding decoy slots\0" + secret_key.encode()).digest()

    def blind(self, targets: Targets, origin: Origin, action: str, identifier: str) -> None:
        """Run an enumeration-safe request: one commit, no inline delivery, known or not.

        Whatever the case (known account that gets its mail, known account that gets
        none: no address, a link sent moments ago; unknown identifier), each target
        commits the same records: one account record written, one outbox row, one audit
        record.
        """
        try:
            self._commit(targets, origin, action, identifier)
        finally:
            self.unit.outbox.forget_drafts()

    def _commit(self, targets: Targets, origin: Origin, action: str, identifier: str) -> None:
        unit = self.unit
        deadline = time.monotonic() + PATIENCE
        while True:
            now = unit.clock.now()
            accounts: list[tuple[Account, int | None]] = []
            decoys: list[Account] = []
            outbox: list[OutboxMessage] = []
            audit: list[AuditRecord] = []
            for index, (account, event) in enumerate(targets(now)):
                if account is None:
                    # A member found is decoded from the row read; nobody found, nothing
                    # to decode: decode the stand-in's record instead, the same work.
                    codec.from_data(Account, json.loads(self._slot(identifier, index)[1]))
                    changes = Changes(audit=(AuditRecord(
                        now, action, "unknown_account", origin.actor, None, origin.ip),))
                else:
                    outcome = flow.step(account, event, now, unit.env,
                                        entropy=unit.entropy(), origin=origin)
                    changes = unit.changes(account, outcome, now)
                    if not changes.audit:
                        # One record per target whatever happened.
                        reason = outcome.reason.value if isinstance(outcome, Refused) else "ok"
                        changes = attrs.evolve(changes, audit=(AuditRecord(
                            now, action, reason, origin.actor, account.account_id,
                            origin.ip),))
                # What the request does not write itself, a stand-in writes in its place:
                # one account record and one outbox row per target, in every case.
                if changes.outbox:
                    # A reminder: its mail, and no account change. The stand-in's record
                    # alone (no second mail rendered: an unknown address renders one).
                    stand_in: Account | None = (None if changes.accounts
                                                else self.decoy(identifier, index))
                else:
                    stand_in, message = self.stand_in(event, now, origin, identifier, index)
                    changes = attrs.evolve(changes, outbox=(message,))
                    if changes.accounts:
                        stand_in = None
                accounts.extend(changes.accounts)
                decoys.extend(() if stand_in is None else (stand_in,))
                outbox.extend(changes.outbox)
                audit.extend(changes.audit)
            try:
                unit.commit(Changes(accounts=tuple(accounts), outbox=tuple(outbox),
                                    audit=tuple(audit), decoys=tuple(decoys)))
            except ConcurrentUpdate:
                if time.monotonic() < deadline:
                    continue
                # The answer is the same whether or not anything was queued: the member
                # may ask again; nothing tells a stranger this happened.
                log.warning("%s: the account kept changing; nothing was queued", action)
            return

    def decoy(self, identifier: str, index: int = 0) -> Account:
        """The stand-in account for the ``index``-th target of requests for ``identifier``."""
        return self._slot(identifier, index)[0]

    def _slot(self, identifier: str, index: int) -> tuple[Account, str]:
        digest = hashlib.blake2b(f"{index}:{identifier}".encode(), key=self._decoy_key,
                                 digest_size=8).digest()
        slot = int.from_bytes(digest, "big") % _DECOY_SLOTS
        found = self._decoys.get(slot)
        if found is None:
            # Two threads may build one slot at once: both build the same kind of record.
            found = self._decoys[slot] = self._build(slot)
        return found

    def _build(self, slot: int) -> tuple[Account, str]:
        """A stand-in account: active, a verified address, a member's history of links.

        The flow treats it as a member it sends a mail to. Its links, those of reset
        requests on past days, give its record the size of a member's at steady state
        (``link_history`` links), so that writing and decoding it costs what a member's
        record costs. Its address is in a reserved domain no mail reaches.
        """
        unit = self.unit
        now = unit.clock.now()
        decoy = Account(account_id=f"decoy-{slot:02d}", member_number=f"decoy-{slot:02d}",
                        name="Adhérent", created_at=now - timedelta(days=365),
                        stage=Stage.ACTIVE, email="decoy@example.invalid",
                        email_verified_at=now - timedelta(days=365))
        history = unit.settings.link_history
        for day in range(history, 0, -1):
            outcome = flow.step(decoy, flow.RequestReset(), now - timedelta(days=day),
                                unit.env, entropy=unit.entropy())
            if not isinstance(outcome, Accepted):
                break
            decoy = outcome.account
        data = codec.to_data(decoy)
        data.pop("version", None)
        return decoy, json.dumps(data, separators=(",", ":"))

    def stand_in(self, event: flow.Event, now: datetime, origin: Origin, identifier: str,
                 index: int) -> tuple[Account, OutboxMessage]:
        """The records a request that sends nothing writes instead: account and mail.

        The flow runs the event on a stand-in account, which gets its mail (signed link
        and all, rendered and sealed) like a member: the same work as a real request.
        The account goes to :attr:`Changes.decoys`; the message is stored DISCARDED, a
        state no relay ever claims and no mail listing shows.
        """
        unit = self.unit
        decoy = self.decoy(identifier, index)
        outcome = flow.step(decoy, event, now, unit.env, entropy=unit.entropy(),
                            origin=origin)
        changes = (unit.changes(decoy, outcome, now) if isinstance(outcome, Accepted)
                   else Changes())
        written = changes.accounts[0][0] if changes.accounts else decoy
        if changes.outbox:
            message = changes.outbox[0]
        else:
            # Not expected (the stand-in is built to be mailed); a member action must not
            # fail for it, so the notice is rendered directly.
            notice = Notice.RESET if isinstance(event, flow.RequestReset) else Notice.IDENTIFIER
            token = unit.env.crypto.signer.issue(decoy.account_id,
                                                 LinkPurpose.RESET_PASSWORD.value,
                                                 unit.entropy().nonce)
            message = unit.outbox.queue(decoy, SendNotice(
                notice, decoy.account_id, Channel.EMAIL, now, to=decoy.email,
                token=token if notice is Notice.RESET else None, ip=origin.ip), now)
        return written, attrs.evolve(message, status=OutboxStatus.DISCARDED,
                                     next_attempt_at=None)
