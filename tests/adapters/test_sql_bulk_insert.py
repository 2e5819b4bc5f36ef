"""The fast bulk paths of provisioning: SQLite's raw insert_accounts, fresh credentials.

SqlStorage.insert_accounts writes SQLite rows through the sqlite3 driver directly
(``adapters.sql.bulk``, the one driver-level path) and PostgreSQL rows through SQLAlchemy;
the storage contract checks both from outside. These
tests hold the raw path to the generic one row for row, and the chunked credentials of
the provisioning helper to the one-at-a-time functions of ``credentials``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from cegema_onboarding.adapters import sql
from cegema_onboarding.adapters.sql import bulk, store
from cegema_onboarding.credentials import (
    INITIAL_PASSWORD_BYTES,
    Pepper,
    format_for_print,
    initial_password_from_bytes,
)
from cegema_onboarding.errors import StorageError
from cegema_onboarding.model import Account, Link, LinkPurpose, Stage
from cegema_onboarding.ports import AuditRecord
from cegema_onboarding.provisioning import _new_credentials

T0 = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)
Insert = Callable[[sa.Connection, Sequence[Account], Sequence[AuditRecord]], list[str]]


def account(n: int, **changes: Any) -> Account:
    """A new account number ``n``."""
    base = Account(account_id=f"acc-{n:04d}", member_number=f"1000{n:05d}",
                   name=f"Membre {n} « é »", created_at=T0 + timedelta(minutes=n % 3),
                   pending_email=f"m{n}@example.org", postal_address="1 rue A\n75001 Paris",
                   initial_digest="t1$" + "0" * 64, initial_issued_at=T0)
    return attrs.evolve(base, **changes)


def record(account_id: str | None, n: int = 0) -> AuditRecord:
    """A provisioning audit record."""
    return AuditRecord(T0 + timedelta(seconds=n), "provisioned", "ok", "staff:bulk",
                       account_id, ip=None if n % 2 else "192.0.2.1", detail=f"d{n}")


def storage_at(path: Path, *existing: Account) -> store.SqlStorage:
    """A fresh SQLite storage holding ``existing``."""
    engine = sql.sqlite_engine(path)
    sql.create_schema(engine)
    storage = store.SqlStorage(engine)
    if existing:
        storage.insert_accounts(existing, [])
    return storage


def tables(storage: store.SqlStorage) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every stored account and audit row as the database holds them, JSON parsed."""
    with storage.engine.connect() as conn:
        accounts = [(*row[:-1], json.loads(row[-1])) for row in conn.exec_driver_sql(
            "SELECT account_id, member_number, email_key, stage, queue_at, version, data "
            "FROM cegema_accounts ORDER BY account_id")]
        audit = [tuple(row) for row in conn.exec_driver_sql(
            "SELECT id, at, action, outcome, actor, account_id, ip, detail "
            "FROM cegema_audit ORDER BY id")]
    return accounts, audit


def run(storage: store.SqlStorage, insert: Insert, batch: Sequence[Account],
        audit: Sequence[AuditRecord]) -> list[str]:
    """One insert_accounts transaction through the given path."""
    with storage.engine.begin() as conn:
        return insert(conn, batch, audit)


BATCHES = {
    "fresh": [account(n) for n in range(1, 40)],
    "varied": [
        account(1, email="Marie.Curie@Example.ORG", email_verified_at=T0,
                stage=Stage.ACTIVE, activation_requested_at=T0 + timedelta(days=1),
                links=(Link(purpose=LinkPurpose.VERIFY_EMAIL, nonce_hash="h" * 64,
                            issued_at=T0, expires_at=T0 + timedelta(hours=24),
                            address="m@example.org"),)),
        account(2, lang="en", phone="06 12 34 56 78", pending_email=None),
        account(3, name='Quote " et \\ barre', postal_address="ligne\r\nautre"),
    ],
    # Only audit records, about nobody in the batch: they are written.
    "empty": [],
    # Stored already, twice in the batch by number, twice by id.
    "conflicts": [account(1), account(5), account(6, member_number=account(5).member_number),
                  account(7), account(8, account_id=account(7).account_id),
                  account(9, account_id=account(1).account_id), account(10)],
}


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_raw_sqlite_path_stores_what_the_generic_path_stores(tmp_path: Path,
                                                            name: str) -> None:
    batch = BATCHES[name]
    existing = [account(1)] if name == "conflicts" else []
    audit = [record(a.account_id, n) for n, a in enumerate(batch)] + [record(None, 99)]
    raw = storage_at(tmp_path / "raw.db", *existing)
    generic = storage_at(tmp_path / "generic.db", *existing)
    raw_skipped = run(raw, bulk.insert_sqlite, batch, audit)
    generic_skipped = run(generic, bulk.insert_generic, batch, audit)
    assert raw_skipped == generic_skipped
    assert tables(raw) == tables(generic)
    accounts, kept = tables(raw)
    if name == "conflicts":
        assert raw_skipped == [account(1).member_number, account(5).member_number,
                               account(8).member_number, account(9).member_number]
        # acc-0007 was inserted once and keeps its records; acc-0001, skipped twice, not.
        assert {r[5] for r in kept} == {"acc-0005", "acc-0007", "acc-0010", None}
    else:
        assert raw_skipped == []
        assert len(accounts) == len(batch) and len(kept) == len(audit)
    # And the account reads back whole, whichever path wrote it.
    for a in batch:
        if a.member_number not in raw_skipped:
            assert raw.get(a.account_id) == attrs.evolve(a, version=1)


def test_raw_sqlite_path_is_the_one_sqlite_uses(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    storage = storage_at(tmp_path / "used.db")
    calls: list[int] = []
    real = bulk.insert_sqlite

    def spy(conn: sa.Connection, batch: Sequence[Account],
            audit: Sequence[AuditRecord]) -> list[str]:
        calls.append(len(batch))
        return real(conn, batch, audit)

    monkeypatch.setattr(bulk, "insert_sqlite", spy)
    assert list(storage.insert_accounts([account(1), account(2)], [])) == []
    assert calls == [2]


@pytest.mark.parametrize("engine", ["sqlite_engine", "plain create_engine"])
def test_a_failing_raw_insert_rolls_the_whole_batch_back(tmp_path: Path, engine: str) -> None:
    if engine == "sqlite_engine":
        storage = storage_at(tmp_path / "fail.db", account(1))
    else:
        # pysqlite's own late transaction start, which a host's engine may keep.
        plain = sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
        sql.create_schema(plain)
        storage = store.SqlStorage(plain)
        storage.insert_accounts([account(1)], [])
    # A NULL action breaks the audit table's NOT NULL after the accounts went in.
    broken = attrs.evolve(record("acc-0002"), action=None)
    with pytest.raises(StorageError) as info:
        storage.insert_accounts([account(2), account(3)], [broken])
    assert "IntegrityError" in str(info.value)
    assert storage.get("acc-0002") is None and storage.get("acc-0003") is None
    # The connection is usable afterwards, and a re-run skips only what was stored.
    assert list(storage.insert_accounts([account(1), account(2)], [])) == [
        account(1).member_number]


def test_fresh_credentials_match_the_one_at_a_time_functions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pepper = Pepper([("t1", b"k" * 32)])
    pool = bytes(range(256)) * 4
    monkeypatch.setattr("secrets.token_bytes", lambda n: pool[:n])
    made = _new_credentials(40, pepper.ascii_digester(), now_ms=1_767_225_600_000)
    for i, (account_id, printed, digest) in enumerate(made):
        # The chunk's password bytes come first, ten per row, then the ids' bytes.
        initial = initial_password_from_bytes(pool[i * INITIAL_PASSWORD_BYTES:])
        assert printed == format_for_print(initial)
        assert digest == pepper.digest(initial)
        assert pepper.verify(printed.replace("-", ""), digest)
        parsed = uuid.UUID(account_id)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert parsed.int >> 80 == 1_767_225_600_000
        tail = int.from_bytes(pool[40 * INITIAL_PASSWORD_BYTES + 10 * i:][:10], "big")
        assert parsed.int & ((1 << 62) - 1) == tail & ((1 << 62) - 1)
        assert account_id == parsed.hex
    assert len({m[0] for m in made}) == 40


def test_fresh_credentials_are_random_and_time_ordered() -> None:
    digest = Pepper([("t1", b"k" * 32)]).ascii_digester()
    first = _new_credentials(500, digest, now_ms=1_000)
    later = _new_credentials(500, digest, now_ms=1_001)
    assert len({m[1] for m in first + later}) == 1000
    assert len({m[0] for m in first + later}) == 1000
    # Ids of a later chunk sort after every id of an earlier one: they append to the index.
    assert max(m[0] for m in first) < min(m[0] for m in later)


@pytest.mark.postgres
def test_postgres_path_skips_what_the_sqlite_path_skips(tmp_path: Path, pg_url: str) -> None:
    batch = BATCHES["conflicts"]
    audit = [record(a.account_id, n) for n, a in enumerate(batch)] + [record(None, 99)]
    lite = storage_at(tmp_path / "lite.db", account(1))
    engine = sql.postgres_engine(pg_url)
    sql.create_schema(engine)
    try:
        pg = store.SqlStorage(engine)
        pg.insert_accounts([account(1)], [])
        assert list(pg.insert_accounts(batch, audit)) == list(
            lite.insert_accounts(batch, audit))
        assert sorted(map(repr, pg.audit_records(limit=100))) == sorted(
            map(repr, lite.audit_records(limit=100)))
        for a in batch:
            assert pg.get(a.account_id) == lite.get(a.account_id)
    finally:
        engine.dispose()


@pytest.mark.parametrize("raw", ["100234567", "0", "1" * 64, "1" * 65, "", " 12", "12 34",
                                 "12a", "０１２", "١٢٣", "12\x00", "AB-12/3.4"])
def test_member_number_shortcut_agrees_with_the_normaliser(raw: str) -> None:
    from cegema_onboarding.errors import InvalidInput
    from cegema_onboarding.normalize import normalize_member_number
    from cegema_onboarding.provisioning_rows import _member_number

    def outcome(f: Callable[[str], str]) -> str:
        try:
            return f(raw)
        except InvalidInput as exc:
            return f"{exc.field}: {exc.reason}"

    assert outcome(_member_number) == outcome(normalize_member_number)
