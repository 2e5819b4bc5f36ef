"""The storage contract: one set of tests that every Storage adapter must pass unchanged.

Subclass :class:`StorageContract` in a test module and give the class a ``storage`` fixture
that returns a fresh, empty adapter::

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self) -> Iterator[MyStorage]:
            yield MyStorage(...)

The class-level ``storage`` fixture also replaces the one that the shared ``service``
fixture of tests/conftest.py uses, so the service journey below runs on the adapter too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer
from cegema_onboarding.errors import ConcurrentUpdate, DuplicateAccount
from cegema_onboarding.model import Account, Channel, Stage, Throttle
from cegema_onboarding.ports import (
    AccountBulkWriter,
    AuditRecord,
    Changes,
    OutboxDepth,
    OutboxMessage,
    OutboxStatus,
    StatsReader,
    Storage,
)
from cegema_onboarding.service import Ok, OnboardingService

from .conftest import GOOD_PASSWORD, link_token

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def account(n: int, **changes: Any) -> Account:
    """A plain new account number ``n``."""
    base = Account(account_id=f"acc-{n:04d}", member_number=f"1000{n:05d}",
                   name=f"Membre {n}", created_at=T0 + timedelta(minutes=n))
    return attrs.evolve(base, **changes)


def message(n: int, *, account_id: str = "acc-0001", created_at: datetime | None = None,
            **changes: Any) -> OutboxMessage:
    """A pending email message number ``n``."""
    base = OutboxMessage(message_id=f"<m{n:04d}@portail.example>", account_id=account_id,
                         channel=Channel.EMAIL, kind="validation",
                         created_at=created_at or T0 + timedelta(seconds=n),
                         payload=b"sealed\x00payload-" + bytes([n % 256]),
                         recipient="marie@example.org")
    return attrs.evolve(base, **changes)


def record(n: int, account_id: str | None = "acc-0001") -> AuditRecord:
    """An audit record number ``n``."""
    return AuditRecord(at=T0 + timedelta(seconds=n), action=f"action{n}", outcome="ok",
                       actor="member", account_id=account_id, ip="192.0.2.1",
                       detail=f"détail {n}")


def insert(storage: Storage, *accounts: Account) -> None:
    """Insert new accounts in one commit."""
    storage.commit(Changes(accounts=tuple((a, None) for a in accounts)))


class StatsContract:
    """The optional counts (:class:`StatsReader`) of the metrics and the funnel."""

    def test_implements_the_stats_port(self, storage: Storage) -> None:
        assert isinstance(storage, StatsReader)

    def test_counts_accounts_by_stage(self, storage: Storage) -> None:
        assert isinstance(storage, StatsReader)
        assert dict(storage.count_by_stage()) == {}
        insert(storage, account(1), account(2), account(3, stage=Stage.ACTIVE),
               account(4, stage=Stage.AWAITING_ACTIVATION))
        assert dict(storage.count_by_stage()) == {
            Stage.PROVISIONED: 2, Stage.ACTIVE: 1, Stage.AWAITING_ACTIVATION: 1}

    def test_counts_members_waiting_since(self, storage: Storage) -> None:
        assert isinstance(storage, StatsReader)
        waiting = Stage.AWAITING_ACTIVATION
        insert(storage,
               account(1, stage=waiting, activation_requested_at=T0 + timedelta(days=1)),
               account(2, stage=waiting, activation_requested_at=T0 + timedelta(days=9)),
               # Queued by its creation time when it never asked (T0 + 3 minutes).
               account(3, stage=waiting),
               account(4, activation_requested_at=T0))
        assert storage.count_waiting_since(waiting, T0 + timedelta(days=5)) == 2
        assert storage.count_waiting_since(waiting, T0 + timedelta(days=10)) == 3
        assert storage.count_waiting_since(waiting, T0) == 0

    def test_outbox_depth_counts_what_waits(self, storage: Storage) -> None:
        assert isinstance(storage, StatsReader)
        assert storage.outbox_depth() == OutboxDepth(0, None)
        storage.commit(Changes(outbox=(
            message(1), message(2), message(3, status=OutboxStatus.SENDING),
            message(4, status=OutboxStatus.DISCARDED))))
        storage.mark_sent(message(1).message_id, T0 + timedelta(minutes=1))
        assert storage.outbox_depth() == OutboxDepth(2, message(2).created_at)

    def test_median_wait_between_two_steps(self, storage: Storage) -> None:
        assert isinstance(storage, StatsReader)
        rec = AuditRecord
        hour = timedelta(hours=1)
        storage.commit(Changes(audit=(
            # acc-0001: first login at T0 + 1 h (the later one and the failure ignored),
            # then a password 2 h after it.
            rec(T0 + 5 * hour, "login", "ok", "member", "acc-0001"),
            rec(T0 + hour, "login", "ok", "member", "acc-0001"),
            rec(T0, "login", "bad_credentials", "member", "acc-0001"),
            rec(T0 + 3 * hour, "password_set", "ok", "member", "acc-0001"),
            # acc-0002: 4 h, through the second action of the later step.
            rec(T0, "login", "ok", "member", "acc-0002"),
            rec(T0 + 4 * hour, "password_reset", "ok", "member", "acc-0002"),
            # acc-0003: 10 h; acc-0004: the later step only; acc-0005: before the earlier.
            rec(T0, "login", "ok", "member", "acc-0003"),
            rec(T0 + 10 * hour, "password_set", "ok", "member", "acc-0003"),
            rec(T0, "password_set", "ok", "member", "acc-0004"),
            rec(T0 + hour, "login", "ok", "member", "acc-0005"),
            rec(T0, "password_set", "ok", "member", "acc-0005"),
            rec(T0, "login", "ok", "member", None),
            rec(T0 + hour, "password_set", "ok", "member", None))))
        later = ["password_set", "password_reset"]
        assert storage.median_wait(["login"], later) == 4 * hour
        # Two waits (2 h and 10 h): the lower of the middle two.
        assert storage.median_wait(["login"], ["password_set"]) == 2 * hour
        assert storage.median_wait(["login"], ["profile_updated"]) is None
        assert storage.median_wait(["secret_answer_set"], later) is None


class StorageContract(StatsContract):
    """What every Storage adapter guarantees. Subclasses provide the ``storage`` fixture."""

    # ------------------------------------------------------------------ protocols

    def test_implements_the_ports(self, storage: Storage) -> None:
        assert isinstance(storage, Storage)
        assert isinstance(storage, AccountBulkWriter)

    # ------------------------------------------------------------------ reads

    def test_empty_storage_finds_nothing(self, storage: Storage) -> None:
        assert storage.get("nobody") is None
        assert storage.find_by_member_number("100000001") is None
        assert list(storage.find_by_email("nobody@example.org")) == []
        assert list(storage.list_by_stage(Stage.PROVISIONED)) == []
        assert storage.get_message("<none@portail.example>") is None
        assert list(storage.list_messages()) == []
        assert list(storage.audit_records()) == []
        assert list(storage.claim_due(T0)) == []

    def test_insert_then_read_back_at_version_one(self, storage: Storage) -> None:
        a = account(1, email="marie@example.org", email_verified_at=T0,
                    postal_address="1 rue de la Paix\n75002 Paris", phone="+33100000000")
        insert(storage, a)
        expected = attrs.evolve(a, version=1)
        assert storage.get(a.account_id) == expected
        assert storage.find_by_member_number(a.member_number) == expected
        assert list(storage.find_by_email("marie@example.org")) == [expected]
        assert storage.get("acc-9999") is None
        assert storage.find_by_member_number("999999999") is None

    def test_unicode_round_trips(self, storage: Storage) -> None:
        a = account(1, name="Zoë Ångström-Łukasiewicz 李小龍 Ωμέγα 🙂",
                    postal_address="12 allée des Œillets, 13008 Marseille",
                    email="zoë.ångström@exämple.fr")
        insert(storage, a)
        stored = storage.get(a.account_id)
        assert stored is not None
        assert stored.name == a.name
        assert stored.postal_address == a.postal_address
        assert list(storage.find_by_email("zoë.ångström@exämple.fr")) == [stored]

    def test_email_lookup_finds_every_family_member(self, storage: Storage) -> None:
        parent = account(1, email="Famille.Martin@Example.org")
        child = account(2, email="famille.martin@example.org")
        other = account(3, email="autre@example.org")
        pending_only = account(4, pending_email="famille.martin@example.org")
        insert(storage, parent, child, other, pending_only)
        found = storage.find_by_email("famille.martin@example.org")
        assert sorted(a.account_id for a in found) == [parent.account_id, child.account_id]
        assert [a.account_id for a in storage.find_by_email("autre@example.org")] == [
            other.account_id]

    def test_list_by_stage_is_the_oldest_request_first_with_paging(
            self, storage: Storage) -> None:
        waiting = [account(n, stage=Stage.AWAITING_ACTIVATION,
                           activation_requested_at=T0 + timedelta(hours=10 - n))
                   for n in range(1, 6)]
        insert(storage, *waiting, account(9), account(10, stage=Stage.ACTIVE))
        queue = storage.list_by_stage(Stage.AWAITING_ACTIVATION)
        assert [a.account_id for a in queue] == [a.account_id for a in reversed(waiting)]
        page = storage.list_by_stage(Stage.AWAITING_ACTIVATION, limit=2, offset=1)
        assert [a.account_id for a in page] == ["acc-0004", "acc-0003"]
        assert [a.account_id for a in storage.list_by_stage(Stage.PROVISIONED)] == ["acc-0009"]
        assert [a.account_id for a in storage.list_by_stage(Stage.ACTIVE)] == ["acc-0010"]

    def test_list_by_stage_without_request_time_uses_creation_time(
            self, storage: Storage) -> None:
        insert(storage, account(3), account(1), account(2))
        assert [a.account_id for a in storage.list_by_stage(Stage.PROVISIONED)] == [
            "acc-0001", "acc-0002", "acc-0003"]

    # ------------------------------------------------------------------ inserts

    def test_duplicate_member_number_is_refused(self, storage: Storage) -> None:
        insert(storage, account(1))
        twin = account(2, member_number=account(1).member_number)
        with pytest.raises(DuplicateAccount):
            storage.commit(Changes(accounts=((twin, None),), audit=(record(1, twin.account_id),)))
        assert storage.get(twin.account_id) is None
        assert list(storage.audit_records()) == []

    def test_duplicate_account_id_is_refused(self, storage: Storage) -> None:
        insert(storage, account(1))
        with pytest.raises(DuplicateAccount):
            insert(storage, account(1, member_number="555555555"))
        assert storage.find_by_member_number("555555555") is None

    def test_the_same_member_number_twice_in_one_commit_is_refused(
            self, storage: Storage) -> None:
        a, b = account(1), account(2, member_number=account(1).member_number)
        with pytest.raises(DuplicateAccount):
            insert(storage, a, b)
        assert storage.get(a.account_id) is None
        assert storage.get(b.account_id) is None

    # ------------------------------------------------------------------ compare-and-set

    def test_update_at_the_loaded_version_bumps_it(self, storage: Storage) -> None:
        insert(storage, account(1))
        loaded = storage.get("acc-0001")
        assert loaded is not None and loaded.version == 1
        changed = attrs.evolve(loaded, stage=Stage.EMAIL_PENDING, email="new@example.org")
        storage.commit(Changes(accounts=((changed, loaded.version),)))
        stored = storage.get("acc-0001")
        assert stored == attrs.evolve(changed, version=2)
        # The indexed copies follow the account.
        assert storage.find_by_member_number(account(1).member_number) == stored
        assert list(storage.find_by_email("new@example.org")) == [stored]
        assert list(storage.list_by_stage(Stage.PROVISIONED)) == []
        assert list(storage.list_by_stage(Stage.EMAIL_PENDING)) == [stored]

    def test_update_at_a_stale_version_is_refused(self, storage: Storage) -> None:
        insert(storage, account(1))
        first = storage.get("acc-0001")
        second = storage.get("acc-0001")
        assert first is not None and second is not None
        storage.commit(Changes(accounts=((attrs.evolve(first, name="Premier"), 1),)))
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(accounts=((attrs.evolve(second, name="Second"), 1),)))
        stored = storage.get("acc-0001")
        assert stored is not None and stored.name == "Premier" and stored.version == 2

    def test_update_of_a_missing_account_is_refused(self, storage: Storage) -> None:
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(accounts=((account(1), 1),)))
        assert storage.get("acc-0001") is None

    def test_a_failed_commit_writes_nothing(self, storage: Storage) -> None:
        insert(storage, account(1), account(2))
        a = storage.get("acc-0001")
        b = storage.get("acc-0002")
        assert a is not None and b is not None
        storage.commit(Changes(accounts=((attrs.evolve(b, name="Moved on"), b.version),)))
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(
                accounts=((attrs.evolve(a, name="Changed"), a.version),
                          (attrs.evolve(b, name="Stale"), b.version),
                          (account(3), None)),
                throttles=((Throttle("login:x", 1, T0), 0),),
                outbox=(message(1),),
                audit=(record(1),),
            ))
        assert storage.get("acc-0001") == a
        stored_b = storage.get("acc-0002")
        assert stored_b is not None and stored_b.name == "Moved on"
        assert storage.get("acc-0003") is None
        assert storage.get_throttle("login:x") == Throttle("login:x")
        assert storage.get_message(message(1).message_id) is None
        assert list(storage.list_messages()) == []
        assert list(storage.audit_records()) == []

    def test_a_stale_throttle_fails_the_whole_commit(self, storage: Storage) -> None:
        insert(storage, account(1))
        a = storage.get("acc-0001")
        assert a is not None
        storage.commit(Changes(throttles=((Throttle("login:x", 1, T0), 0),)))
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(
                accounts=((attrs.evolve(a, name="Changed"), a.version),),
                throttles=((Throttle("login:x", 5, T0), 0),),
                outbox=(message(1),),
                audit=(record(1),),
            ))
        assert storage.get("acc-0001") == a
        assert storage.get_throttle("login:x").failures == 1
        assert storage.get_message(message(1).message_id) is None
        assert list(storage.audit_records()) == []

    def test_a_write_that_need_not_be_durable_keeps_every_other_rule(
            self, storage: Storage) -> None:
        # durable=False only allows skipping the flush: all or nothing, compare-and-set.
        insert(storage, account(1))
        a = storage.get("acc-0001")
        assert a is not None
        storage.commit(Changes(throttles=((Throttle("login:x", 1, T0), 0),),
                               audit=(record(1),), durable=False))
        assert storage.get_throttle("login:x") == Throttle("login:x", 1, T0, version=1)
        assert len(list(storage.audit_records())) == 1
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(
                accounts=((attrs.evolve(a, name="Changed"), a.version),),
                throttles=((Throttle("login:x", 2, T0), 0),),
                outbox=(message(1),), durable=False))
        assert storage.get("acc-0001") == a
        assert storage.get_message(message(1).message_id) is None
        storage.commit(Changes(accounts=((attrs.evolve(a, name="Changed"), a.version),),
                               throttles=((Throttle("login:x", 2, T0), 1),), durable=False))
        changed = storage.get("acc-0001")
        assert changed is not None and changed.name == "Changed"
        assert changed.version == a.version + 1
        assert storage.get_throttle("login:x").failures == 2

    def test_a_duplicate_insert_fails_the_whole_commit(self, storage: Storage) -> None:
        insert(storage, account(1), account(2))
        a = storage.get("acc-0001")
        assert a is not None
        with pytest.raises(DuplicateAccount):
            storage.commit(Changes(
                accounts=((attrs.evolve(a, name="Changed"), a.version),
                          (account(5, member_number=account(2).member_number), None)),
                outbox=(message(1),),
                audit=(record(1),),
            ))
        assert storage.get("acc-0001") == a
        assert storage.get("acc-0005") is None
        assert list(storage.list_messages()) == []
        assert list(storage.audit_records()) == []

    def test_an_empty_commit_is_harmless(self, storage: Storage) -> None:
        storage.commit(Changes())
        assert list(storage.audit_records()) == []

    def test_stand_in_accounts_are_written_unconditionally_and_never_read(
            self, storage: Storage) -> None:
        decoy = account(90, account_id="decoy-07", member_number="decoy-07",
                        email="decoy@example.invalid")
        # Inserted the first time, then overwritten whatever the version: no conflict.
        for n in range(3):
            storage.commit(Changes(decoys=(attrs.evolve(decoy, name=f"Membre {n}"),),
                                   audit=(record(n),)))
        storage.commit(Changes(decoys=(decoy, decoy)))
        # Nothing reads them as accounts.
        assert storage.get("decoy-07") is None
        assert storage.find_by_member_number("decoy-07") is None
        assert list(storage.find_by_email("decoy@example.invalid")) == []
        assert list(storage.list_by_stage(decoy.stage)) == []
        assert len(storage.audit_records()) == 3
        # A real account with the same id or number is another record.
        insert(storage, attrs.evolve(decoy, version=0))
        assert storage.get("decoy-07") is not None
        storage.commit(Changes(decoys=(decoy,)))

    def test_a_failed_commit_writes_no_stand_in_either(self, storage: Storage) -> None:
        insert(storage, account(1))
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(accounts=((account(1), 7),),
                                   decoys=(account(91, account_id="decoy-08"),),
                                   outbox=(message(1),)))
        assert storage.get_message(message(1).message_id) is None

    # ------------------------------------------------------------------ throttles

    def test_throttle_starts_fresh_and_counts(self, storage: Storage) -> None:
        fresh = storage.get_throttle("login:100000001")
        assert fresh == Throttle("login:100000001")
        assert fresh.version == 0 and fresh.failures == 0
        storage.commit(Changes(throttles=((attrs.evolve(fresh, failures=1,
                                                        last_failure_at=T0), 0),)))
        stored = storage.get_throttle("login:100000001")
        assert stored == Throttle("login:100000001", 1, T0, version=1)
        storage.commit(Changes(throttles=((attrs.evolve(stored, failures=2), 1),)))
        assert storage.get_throttle("login:100000001").failures == 2
        assert storage.get_throttle("login:100000001").version == 2
        assert storage.get_throttle("login:other") == Throttle("login:other")

    def test_throttle_first_insert_race_has_one_winner(self, storage: Storage) -> None:
        one = storage.get_throttle("login:race")
        two = storage.get_throttle("login:race")
        storage.commit(Changes(throttles=((attrs.evolve(one, failures=1), 0),)))
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(throttles=((attrs.evolve(two, failures=1), 0),)))
        assert storage.get_throttle("login:race").version == 1

    def test_throttle_update_race_has_one_winner(self, storage: Storage) -> None:
        storage.commit(Changes(throttles=((Throttle("k", 1, T0), 0),)))
        one = storage.get_throttle("k")
        two = storage.get_throttle("k")
        storage.commit(Changes(throttles=((attrs.evolve(one, failures=2), one.version),)))
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(throttles=((attrs.evolve(two, failures=2), two.version),)))
        assert storage.get_throttle("k") == Throttle("k", 2, T0, version=2)

    def test_throttle_cleared_keeps_counting_versions(self, storage: Storage) -> None:
        storage.commit(Changes(throttles=((Throttle("k", 3, T0), 0),)))
        storage.commit(Changes(throttles=((Throttle("k", 0, None), 1),)))
        assert storage.get_throttle("k") == Throttle("k", 0, None, version=2)

    def test_throttle_keeps_attempts_in_flight_apart(self, storage: Storage) -> None:
        later = T0 + timedelta(seconds=7, microseconds=250)
        first = Throttle("login:k", 2, T0, in_flight=3, in_flight_at=later)
        storage.commit(Changes(throttles=((first, 0),)))
        assert storage.get_throttle("login:k") == attrs.evolve(first, version=1)
        done = attrs.evolve(first, failures=3, in_flight=0, in_flight_at=None)
        storage.commit(Changes(throttles=((done, 1),), durable=False))
        assert storage.get_throttle("login:k") == attrs.evolve(done, version=2)
        with pytest.raises(ConcurrentUpdate):
            storage.commit(Changes(throttles=((first, 1),)))

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

    # ------------------------------------------------------------------ the whole journey

    def test_full_service_journey(self, service: OnboardingService, storage: Storage,
                                  mailer: MemoryMailer, clock: ManualClock) -> None:
        member = service.staff.provision("100234567", "Zoé Dupont-Ñúñez")
        result = service.login(" 100234567 ", member.initial_password.lower(), ip="192.0.2.7")
        assert isinstance(result, Ok) and result.session is not None
        session = result.session
        result = service.submit_email(session, "zoe.dupont@example.com",
                                      "Zoe.Dupont@example.com", ip="192.0.2.7")
        assert isinstance(result, Ok)
        assert len(mailer.sent) == 1
        clock.advance(minutes=5)
        token = link_token(mailer)
        assert service.open_link(token).valid
        result = service.confirm_link(token, ip="192.0.2.7", session=session)
        assert isinstance(result, Ok) and result.session is not None
        session = result.session
        again = service.confirm_link(token, ip="192.0.2.7")
        assert not isinstance(again, Ok)
        result = service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD, ip="192.0.2.7")
        assert isinstance(result, Ok) and result.session is not None
        session = result.session
        question = next(iter(service.settings.questions))
        result = service.set_secret_answer(session, question.id, "Martin", "Martin")
        assert isinstance(result, Ok)
        stored = storage.get(member.account_id)
        assert stored is not None
        assert stored.stage is Stage.ACTIVE
        assert stored.email == "zoe.dupont@example.com"
        assert stored.name == "Zoé Dupont-Ñúñez"
        assert list(storage.find_by_email("zoe.dupont@example.com")) == [stored]
        # Every queued message went out and lost its payload (it held a live token).
        messages = storage.list_messages()
        assert len(messages) == len(mailer.sent) >= 2
        assert all(m.status is OutboxStatus.SENT and m.payload == b"" for m in messages)
        actions = [r.action for r in storage.audit_records(account_id=member.account_id)]
        assert actions[-1] == "provisioned"
        assert len(actions) >= 5
        clock.advance(minutes=1)
        assert not isinstance(service.login("100234567", member.initial_password), Ok)
        assert isinstance(service.login("100234567", GOOD_PASSWORD), Ok)

    def test_mail_failure_leaves_the_message_for_the_relay(
            self, service: OnboardingService, storage: Storage, mailer: MemoryMailer,
            clock: ManualClock) -> None:
        member = service.staff.provision("100234568", "Jean Martin")
        result = service.login("100234568", member.initial_password)
        assert isinstance(result, Ok) and result.session is not None
        mailer.fail = True
        assert isinstance(service.submit_email(result.session, "jean@example.com",
                                               "jean@example.com"), Ok)
        (queued,) = storage.list_messages()
        assert queued.status is OutboxStatus.PENDING and queued.attempts == 1
        mailer.fail = False
        clock.advance(minutes=5)
        report = service.deliver_due()
        assert report.sent == 1
        assert len(mailer.sent) == 1
        (sent,) = storage.list_messages()
        assert sent.status is OutboxStatus.SENT and sent.payload == b""

