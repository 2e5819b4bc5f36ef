"""The storage contract, part one: accounts, compare-and-set, stand-ins and throttles.

Part of :class:`~cegema_onboarding.testing.StorageContract`; see that class.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from ..errors import ConcurrentUpdate, DuplicateAccount
from ..model import Stage, Throttle
from ..ports import AccountBulkWriter, Changes, Storage
from .records import T0, account, insert, message, record

__all__ = ["AccountContract"]


class AccountContract:
    """Accounts and throttles: reads, inserts, versions, all-or-nothing commits."""

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
