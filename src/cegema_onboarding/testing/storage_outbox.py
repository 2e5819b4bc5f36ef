"""The storage contract, part two: the outbox, the audit trail and bulk provisioning.

Part of :class:`~cegema_onboarding.testing.StorageContract`; see that class.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from ..errors import ConcurrentUpdate, UnknownMessage
from ..model import Channel, Stage
from ..ports import AccountBulkWriter, Changes, OutboxStatus, RetentionStore, Storage
from .records import T0, account, insert, message, record
from .support import optional_port

__all__ = ["OutboxContract"]


class OutboxContract:
    """The outbox's claims, leases and delivery marks; the audit order; bulk inserts."""

    # ------------------------------------------------------------------ outbox

    def test_outbox_message_round_trips(self, storage: Storage) -> None:
        m = message(1, channel=Channel.SMS, kind="activated", recipient=None)
        storage.commit(Changes(outbox=(m,)))
        assert storage.get_message(m.message_id) == m
        assert list(storage.list_messages()) == [m]
        assert list(storage.list_messages(OutboxStatus.PENDING)) == [m]
        assert list(storage.list_messages(OutboxStatus.SENT)) == []

    def test_claim_due_takes_pending_messages_once_oldest_first(
            self, storage: Storage) -> None:
        storage.commit(Changes(outbox=(message(3), message(1), message(2))))
        lease = T0 + timedelta(hours=1)
        claimed = storage.claim_due(T0 + timedelta(minutes=1), limit=2, lease_until=lease)
        assert [m.message_id for m in claimed] == [message(1).message_id,
                                                   message(2).message_id]
        assert all(m.status is OutboxStatus.SENDING and m.next_attempt_at == lease
                   for m in claimed)
        payloads = {message(n).message_id: message(n).payload for n in (1, 2)}
        assert all(m.payload == payloads[m.message_id] for m in claimed)
        stored = storage.get_message(message(1).message_id)
        assert stored is not None and stored.status is OutboxStatus.SENDING
        rest = storage.claim_due(T0 + timedelta(minutes=1), lease_until=lease)
        assert [m.message_id for m in rest] == [message(3).message_id]
        assert list(storage.claim_due(T0 + timedelta(minutes=2))) == []

    def test_claim_due_default_lease_is_in_the_future(self, storage: Storage) -> None:
        storage.commit(Changes(outbox=(message(1),)))
        now = T0 + timedelta(minutes=1)
        (claimed,) = storage.claim_due(now)
        assert claimed.next_attempt_at is not None and claimed.next_attempt_at > now
        assert list(storage.claim_due(now)) == []

    def test_claim_by_id_only_takes_pending_messages(self, storage: Storage) -> None:
        storage.commit(Changes(outbox=(message(1),)))
        now = T0 + timedelta(minutes=1)
        claimed = storage.claim(message(1).message_id, now)
        assert claimed is not None
        assert claimed.status is OutboxStatus.SENDING
        assert claimed.payload == message(1).payload
        assert claimed.next_attempt_at is not None and claimed.next_attempt_at > now
        assert storage.claim(message(1).message_id, now) is None
        assert storage.claim("<unknown@portail.example>", now) is None
        assert list(storage.claim_due(now)) == []

    def test_mark_sent_records_delivery_and_drops_the_payload(
            self, storage: Storage) -> None:
        storage.commit(Changes(outbox=(message(1),)))
        now = T0 + timedelta(minutes=1)
        (claimed,) = storage.claim_due(now)
        storage.mark_sent(claimed.message_id, now + timedelta(seconds=2))
        sent = storage.get_message(claimed.message_id)
        assert sent is not None
        assert sent.status is OutboxStatus.SENT
        assert sent.payload == b""
        assert sent.sent_at == now + timedelta(seconds=2)
        assert sent.attempts == 1
        assert sent.next_attempt_at is None and sent.last_error is None
        assert list(storage.claim_due(now + timedelta(days=1))) == []
        assert [m.message_id for m in storage.list_messages(OutboxStatus.SENT)] == [
            claimed.message_id]

    def test_marking_an_unknown_message_is_a_typed_error_and_changes_nothing(
            self, storage: Storage) -> None:
        # A relay that marks a message another tool deleted must learn it, the same way
        # on every adapter, without catching a bare KeyError (or nothing at all).
        storage.commit(Changes(outbox=(message(1),)))
        unknown = "<unknown@portail.example>"
        with pytest.raises(UnknownMessage) as sent:
            storage.mark_sent(unknown, T0)
        assert sent.value.message_id == unknown
        with pytest.raises(UnknownMessage):
            storage.mark_failed(unknown, "MailError", T0 + timedelta(seconds=30))
        with pytest.raises(UnknownMessage):
            storage.mark_failed(unknown, "MailError", None)
        assert storage.get_message(unknown) is None
        assert list(storage.list_messages()) == [message(1)]

    def test_mark_failed_retries_later_then_parks(self, storage: Storage) -> None:
        storage.commit(Changes(outbox=(message(1),)))
        now = T0 + timedelta(minutes=1)
        (claimed,) = storage.claim_due(now)
        retry_at = now + timedelta(seconds=30)
        storage.mark_failed(claimed.message_id, "MailError" + "x" * 600, retry_at)
        failed = storage.get_message(claimed.message_id)
        assert failed is not None
        assert failed.status is OutboxStatus.PENDING
        assert failed.attempts == 1
        assert failed.next_attempt_at == retry_at
        assert failed.last_error is not None and failed.last_error.startswith("MailError")
        assert len(failed.last_error) == 500
        assert failed.payload == message(1).payload
        assert list(storage.claim_due(retry_at - timedelta(seconds=1))) == []
        (again,) = storage.claim_due(retry_at)
        assert again.attempts == 1
        storage.mark_failed(again.message_id, "MailError", None)
        parked = storage.get_message(again.message_id)
        assert parked is not None
        assert parked.status is OutboxStatus.PARKED and parked.attempts == 2
        assert parked.next_attempt_at is None
        assert list(storage.claim_due(now + timedelta(days=30))) == []
        assert storage.claim(again.message_id, now) is None
        assert [m.message_id for m in storage.list_messages(OutboxStatus.PARKED)] == [
            again.message_id]

    def test_an_expired_lease_lets_another_relay_reclaim(self, storage: Storage) -> None:
        storage.commit(Changes(outbox=(message(1),)))
        now = T0 + timedelta(minutes=1)
        lease = now + timedelta(minutes=1)
        (first,) = storage.claim_due(now, lease_until=lease)
        assert list(storage.claim_due(now + timedelta(seconds=30))) == []
        (second,) = storage.claim_due(lease, lease_until=lease + timedelta(minutes=1))
        assert second.message_id == first.message_id
        assert second.next_attempt_at == lease + timedelta(minutes=1)

    def test_a_message_due_later_waits(self, storage: Storage) -> None:
        later = T0 + timedelta(hours=1)
        storage.commit(Changes(outbox=(message(1, next_attempt_at=later),)))
        assert list(storage.claim_due(later - timedelta(seconds=1))) == []
        assert [m.message_id for m in storage.claim_due(later)] == [message(1).message_id]

    def test_list_messages_is_newest_first_with_a_limit(self, storage: Storage) -> None:
        storage.commit(Changes(outbox=tuple(message(n) for n in range(1, 6))))
        listed = storage.list_messages(limit=3)
        assert [m.message_id for m in listed] == [message(n).message_id for n in (5, 4, 3)]

    def test_discarded_stand_ins_are_stored_but_never_mail(self, storage: Storage) -> None:
        real = message(1)
        stand_in = message(2, status=OutboxStatus.DISCARDED, recipient="x@example.invalid")
        storage.commit(Changes(outbox=(real, stand_in)))
        assert storage.get_message(stand_in.message_id) == stand_in
        # Not listed with the mail, not claimed by a relay, neither by id.
        assert [m.message_id for m in storage.list_messages()] == [real.message_id]
        assert list(storage.list_messages(OutboxStatus.DISCARDED)) == [stand_in]
        assert storage.claim(stand_in.message_id, T0) is None
        later = T0 + timedelta(days=365)
        assert [m.message_id for m in storage.claim_due(later)] == [real.message_id]
        assert list(storage.claim_due(later + timedelta(minutes=1))) == []
        # Purged by age.
        purge = getattr(storage, "purge_discarded")  # noqa: B009  (an adapter method)
        assert purge(stand_in.created_at) == 0
        assert purge(stand_in.created_at + timedelta(seconds=1)) == 1
        assert storage.get_message(stand_in.message_id) is None
        assert storage.get_message(real.message_id) is not None

    # ------------------------------------------------------------------ retention

    def test_old_audit_rows_are_purged_in_batches(self, storage: Storage) -> None:
        optional_port(self, storage, RetentionStore)
        assert isinstance(storage, RetentionStore)  # for the type checker: checked above
        storage.commit(Changes(audit=tuple(record(n) for n in range(1, 8))))
        # Before record 6: five rows, in batches of two (2 + 2 + 1).
        assert storage.purge_audit(record(6).at, batch=2) == 5
        assert list(storage.audit_records()) == [record(7), record(6)]
        assert storage.purge_audit(record(6).at, batch=2) == 0
        # An exact multiple of the batch ends too.
        assert storage.purge_audit(T0 + timedelta(days=1), batch=1) == 2
        assert list(storage.audit_records()) == []

    def test_sent_mail_is_purged_by_its_sending_time(self, storage: Storage) -> None:
        optional_port(self, storage, RetentionStore)
        assert isinstance(storage, RetentionStore)  # for the type checker: checked above
        storage.commit(Changes(outbox=tuple(message(n) for n in range(1, 6))))
        for n in (1, 2, 3):
            storage.mark_sent(message(n).message_id, T0 + timedelta(days=n))
        stand_in = message(9, status=OutboxStatus.DISCARDED)
        storage.commit(Changes(outbox=(stand_in,)))
        # Sent on days 1 and 2: gone, two at a time; the stand-in goes too, uncounted.
        assert storage.purge_sent(T0 + timedelta(days=2, hours=1), batch=1) == 2
        remaining = {m.message_id for m in storage.list_messages(limit=50)}
        assert remaining == {message(n).message_id for n in (3, 4, 5)}
        assert storage.get_message(stand_in.message_id) is None
        # Pending mail is never purged, however old.
        assert storage.purge_sent(T0 + timedelta(days=400)) == 1
        assert {m.message_id for m in storage.list_messages(limit=50)} == {
            message(n).message_id for n in (4, 5)}

    # ------------------------------------------------------------------ audit

    def test_audit_is_newest_first_per_account_with_a_limit(self, storage: Storage) -> None:
        storage.commit(Changes(audit=(record(1), record(2, "acc-0002"), record(3))))
        storage.commit(Changes(audit=(record(4, None),)))
        assert list(storage.audit_records()) == [record(4, None), record(3),
                                                 record(2, "acc-0002"), record(1)]
        assert list(storage.audit_records(account_id="acc-0001")) == [record(3), record(1)]
        assert list(storage.audit_records(limit=2)) == [record(4, None), record(3)]
        assert list(storage.audit_records(account_id="acc-0009")) == []

    # ------------------------------------------------------------------ bulk provisioning

    def test_insert_accounts_skips_existing_member_numbers(self, storage: Storage) -> None:
        assert isinstance(storage, AccountBulkWriter)
        insert(storage, account(1, name="Déjà là"))
        batch = [account(11, member_number=account(1).member_number), account(2),
                 account(3), account(4, member_number=account(3).member_number)]
        audit = [record(n, a.account_id) for n, a in enumerate(batch)] + [record(9, None)]
        skipped = storage.insert_accounts(batch, audit)
        assert sorted(skipped) == sorted([account(1).member_number, account(3).member_number])
        existing = storage.find_by_member_number(account(1).member_number)
        assert existing is not None and existing.name == "Déjà là"
        assert storage.get("acc-0011") is None
        assert storage.get("acc-0004") is None
        assert storage.get("acc-0002") == attrs.evolve(account(2), version=1)
        assert storage.get("acc-0003") == attrs.evolve(account(3), version=1)
        kept = {r.account_id for r in storage.audit_records()}
        assert kept == {"acc-0002", "acc-0003", None}

    def test_insert_accounts_in_bulk(self, storage: Storage) -> None:
        assert isinstance(storage, AccountBulkWriter)
        batch = [account(n) for n in range(1, 5001)]
        assert list(storage.insert_accounts(batch, [])) == []
        assert list(storage.insert_accounts(batch[:3], [])) == [a.member_number
                                                                for a in batch[:3]]
        assert storage.find_by_member_number(batch[4321].member_number) == attrs.evolve(
            batch[4321], version=1)
        assert len(storage.list_by_stage(Stage.PROVISIONED, limit=10_000)) == 5000

    def test_bulk_inserted_accounts_take_part_in_compare_and_set(
            self, storage: Storage) -> None:
        assert isinstance(storage, AccountBulkWriter)
        storage.insert_accounts([account(1)], [])
        loaded = storage.get("acc-0001")
        assert loaded is not None and loaded.version == 1
        storage.commit(Changes(accounts=((attrs.evolve(loaded, name="X"), 1),)))
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(accounts=((attrs.evolve(loaded, name="Y"), 1),)))
