"""The storage contract's optional counts: what the metrics and the funnel read."""

from __future__ import annotations

from datetime import timedelta

from ..model import Stage
from ..ports import AuditRecord, Changes, OutboxDepth, OutboxStatus, StatsReader, Storage
from .records import T0, account, insert, message
from .support import optional_port

__all__ = ["StatsContract"]


class StatsContract:
    """The optional counts (:class:`StatsReader`) of the metrics and the funnel."""

    def test_implements_the_stats_port(self, storage: Storage) -> None:
        optional_port(self, storage, StatsReader)
        assert isinstance(storage, StatsReader)  # for the type checker: checked above

    def test_counts_accounts_by_stage(self, storage: Storage) -> None:
        optional_port(self, storage, StatsReader)
        assert isinstance(storage, StatsReader)  # for the type checker: checked above
        assert dict(storage.count_by_stage()) == {}
        insert(storage, account(1), account(2), account(3, stage=Stage.ACTIVE),
               account(4, stage=Stage.AWAITING_ACTIVATION))
        assert dict(storage.count_by_stage()) == {
            Stage.PROVISIONED: 2, Stage.ACTIVE: 1, Stage.AWAITING_ACTIVATION: 1}

    def test_counts_members_waiting_since(self, storage: Storage) -> None:
        optional_port(self, storage, StatsReader)
        assert isinstance(storage, StatsReader)  # for the type checker: checked above
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
        optional_port(self, storage, StatsReader)
        assert isinstance(storage, StatsReader)  # for the type checker: checked above
        assert storage.outbox_depth() == OutboxDepth(0, None)
        storage.commit(Changes(outbox=(
            message(1), message(2), message(3, status=OutboxStatus.SENDING),
            message(4, status=OutboxStatus.DISCARDED))))
        storage.mark_sent(message(1).message_id, T0 + timedelta(minutes=1))
        assert storage.outbox_depth() == OutboxDepth(2, message(2).created_at)

    def test_median_wait_between_two_steps(self, storage: Storage) -> None:
        optional_port(self, storage, StatsReader)
        assert isinstance(storage, StatsReader)  # for the type checker: checked above
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


