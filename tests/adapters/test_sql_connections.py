"""SqlStorage on SQLite: through SQLAlchemy, one kept connection per thread, fork- and
dispose-aware.

Every statement SqlStorage runs on SQLite goes through a SQLAlchemy ``Connection`` (the
bulk insert of provisioning aside), so SQLAlchemy's events see them all. Each thread
keeps its Connection between calls, detached from the engine's pool; a forked child
opens its own; a dispose (the storage's or the engine's) closes every kept connection,
and the next call opens a new one.
"""

from __future__ import annotations

import gc
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cegema_onboarding.errors import ConcurrentUpdate
from cegema_onboarding.model import Throttle
from cegema_onboarding.ports import Changes

from ..pg import sql_adapter
from ..storage_contract import T0, account, insert, message, record

sql = sql_adapter()
sa = pytest.importorskip("sqlalchemy")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    engine = sql.sqlite_engine(tmp_path / "kept.db")
    sql.create_schema(engine)
    yield engine
    engine.dispose()


def _driver(storage: Any) -> sqlite3.Connection | None:
    """The sqlite3 connection under the Connection this thread keeps (None before use)."""
    kept = getattr(storage._db._local, "kept", None)
    return None if kept is None else kept.connection.connection.dbapi_connection


def _is_closed(driver: sqlite3.Connection) -> bool:
    try:
        driver.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


_STATEMENT = re.compile(r"^\s*(INSERT INTO|UPDATE|SELECT\s.*?\sFROM|DELETE FROM)\s+\"?(\w+)",
                        re.IGNORECASE | re.DOTALL)


def _kind(statement: str) -> str | None:
    """``VERB table`` of a data statement; None for BEGIN, COMMIT, PRAGMA and the like."""
    match = _STATEMENT.match(statement)
    if match is None:
        return None
    return f"{match.group(1).split()[0].upper()} {match.group(2)}"


# ---------------------------------------------------------------------- through SQLAlchemy


def test_a_compare_and_set_goes_through_sqlalchemy(engine: Any) -> None:
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        loaded = storage.get("acc-0001")
        assert loaded is not None
        changed = Changes(accounts=((loaded, loaded.version),), audit=(record(1),))
        storage.commit(changed)
        with pytest.raises(ConcurrentUpdate):
            storage.commit(changed)  # the same version again: the stored one moved on
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    updates = [s for s in seen if s.startswith("UPDATE cegema_accounts")]
    assert len(updates) == 2
    assert all(re.search(r"WHERE cegema_accounts\.account_id = \? "
                         r"AND cegema_accounts\.version = \?", s) for s in updates)
    assert any(s.startswith("SELECT") and "FROM cegema_accounts" in s for s in seen)
    assert any(s.startswith("INSERT INTO cegema_audit") for s in seen)
    reloaded = storage.get("acc-0001")
    assert reloaded is not None and reloaded.version == 2


def _every_operation(storage: Any) -> None:
    insert(storage, account(1), account(2))
    a = storage.get("acc-0001")
    storage.find_by_member_number(account(2).member_number)
    storage.find_by_email("a@example.org")
    storage.commit(Changes(accounts=((a, a.version),), decoys=(account(9),),
                           throttles=((Throttle(key="k", failures=1, last_failure_at=T0), 0),),
                           outbox=(message(1), message(2)), audit=(record(1),)))
    storage.commit(Changes(throttles=((storage.get_throttle("k"), 1),), durable=False))
    storage.claim(message(1).message_id, T0)
    storage.mark_sent(message(1).message_id, T0)
    storage.claim_due(T0, limit=5)
    storage.mark_failed(message(2).message_id, "down", None)
    storage.get_message(message(2).message_id)
    storage.list_messages()
    storage.purge_discarded(T0)
    storage.audit_records(account_id="acc-0001")


def test_every_statement_but_the_bulk_insert_is_seen_by_sqlalchemy(engine: Any) -> None:
    # What reaches SQLite (the driver's trace) against what SQLAlchemy executed.
    storage = sql.SqlStorage(engine)
    storage.get("nobody")  # this thread's connection, opened before tracing it
    driver = _driver(storage)
    assert driver is not None
    reached: list[str] = []
    executed: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        # An executemany reaches SQLite once per row.
        executed.extend([statement] * (len(parameters) if executemany else 1))

    sa.event.listen(engine, "before_cursor_execute", before)
    driver.set_trace_callback(reached.append)
    try:
        _every_operation(storage)
    finally:
        driver.set_trace_callback(None)
        sa.event.remove(engine, "before_cursor_execute", before)
    data = Counter(k for k in map(_kind, reached) if k is not None)
    assert data == Counter(k for k in map(_kind, executed) if k is not None)
    assert {"UPDATE cegema_accounts", "INSERT cegema_decoys", "UPDATE cegema_throttles",
            "UPDATE cegema_outbox", "SELECT cegema_outbox"} <= set(data)


def test_a_write_takes_the_write_lock_before_its_first_statement(engine: Any) -> None:
    storage = sql.SqlStorage(engine)
    storage.get("nobody")
    driver = _driver(storage)
    assert driver is not None
    reached: list[str] = []
    driver.set_trace_callback(reached.append)
    try:
        storage.commit(Changes(audit=(record(1),), outbox=(message(1),)))
        storage.get("nobody")
        # The relays' claim reads before it writes: it takes the lock before reading.
        storage.claim_due(T0)
    finally:
        driver.set_trace_callback(None)
    words = [s.split()[0] for s in reached]
    assert words == ["BEGIN", "INSERT", "INSERT", "COMMIT", "SELECT",
                     "BEGIN", "SELECT", "UPDATE", "COMMIT"]
    assert reached[0] == reached[5] == "BEGIN IMMEDIATE"


# ---------------------------------------------------------------------- one per thread


def test_each_thread_keeps_one_connection_outside_the_pool(tmp_path: Path) -> None:
    # A pool of one, with no overflow and a short wait: kept connections take no slot.
    engine = sql.sqlite_engine(tmp_path / "pool.db", pool_size=1, max_overflow=0,
                               pool_timeout=2)
    sql.create_schema(engine)
    storage = sql.SqlStorage(engine)
    threads = 6
    barrier = threading.Barrier(threads)
    drivers: dict[int, object] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            storage.commit(Changes(audit=(record(i),)))
            first = _driver(storage)
            barrier.wait(timeout=30)  # every thread holds its connection now
            storage.get("acc-0001")
            assert _driver(storage) is first
            drivers[i] = first
            barrier.wait(timeout=30)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert len({id(d) for d in drivers.values()}) == threads
    # The pool is untouched: an ordinary checkout still gets its one connection.
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cegema_audit").scalar() == threads
    engine.dispose()


def test_a_thread_that_ends_closes_its_connection(engine: Any) -> None:
    storage = sql.SqlStorage(engine)
    found: list[sqlite3.Connection | None] = []
    worker = threading.Thread(target=lambda: (storage.get("x"), found.append(_driver(storage))))
    worker.start()
    worker.join()
    gc.collect()
    assert found[0] is not None and _is_closed(found[0])


# ---------------------------------------------------------------------- dispose


@pytest.mark.parametrize("how", ["storage", "engine"])
def test_dispose_closes_every_kept_connection_and_the_next_call_reconnects(
        engine: Any, how: str) -> None:
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    mine = _driver(storage)
    ready, go_on = threading.Event(), threading.Event()
    theirs: list[sqlite3.Connection | None] = []
    after: list[object] = []

    def other() -> None:
        storage.get("acc-0001")
        theirs.append(_driver(storage))
        ready.set()
        go_on.wait(30)
        after.append(storage.get("acc-0001"))
        theirs.append(_driver(storage))

    worker = threading.Thread(target=other)
    worker.start()
    assert ready.wait(30)
    (storage if how == "storage" else engine).dispose()
    # Both closed at once: this thread's and the idle one of the other thread.
    assert mine is not None and _is_closed(mine)
    assert theirs[0] is not None and _is_closed(theirs[0])
    go_on.set()
    worker.join()
    # The storage stays usable: each thread opens a new connection.
    assert after[0] is not None and theirs[1] is not theirs[0]
    assert storage.get("acc-0001") is not None and _driver(storage) is not mine


def test_a_connection_busy_during_dispose_is_closed_when_its_call_ends(engine: Any) -> None:
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    inside, release = threading.Event(), threading.Event()
    outcome: list[object] = []
    worker_driver: list[sqlite3.Connection | None] = []
    kept: list[Any] = []

    def hold(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if threading.current_thread().name == "busy" and statement.startswith("INSERT"):
            inside.set()
            release.wait(30)

    def busy() -> None:
        storage.get("acc-0001")
        worker_driver.append(_driver(storage))
        kept.append(storage._db._local.kept)
        outcome.append(storage.commit(Changes(audit=(record(1),))))
        outcome.append(_driver(storage))

    sa.event.listen(engine, "before_cursor_execute", hold)
    worker = threading.Thread(target=busy, name="busy")
    worker.start()
    try:
        assert inside.wait(30)
        storage.dispose()
        driver = worker_driver[0]
        assert driver is not None
        # In use by its thread: left alone until the call ends.
        assert kept[0].close.alive
    finally:
        release.set()
        worker.join()
        sa.event.remove(engine, "before_cursor_execute", hold)
    # The call went through, then the connection was closed and forgotten.
    assert outcome == [None, None]
    assert not kept[0].close.alive and _is_closed(driver)
    assert [r.action for r in storage.audit_records()] == ["action1"]


def test_a_closed_connection_is_replaced_after_one_error(engine: Any) -> None:
    from cegema_onboarding.errors import StorageError

    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    broken = _driver(storage)
    assert broken is not None
    broken.close()
    with pytest.raises(StorageError):
        storage.commit(Changes(audit=(record(1),)))
    storage.commit(Changes(audit=(record(2),)))
    assert [r.action for r in storage.audit_records()] == ["action2"]
    assert _driver(storage) is not broken


# ---------------------------------------------------------------------- fork


def _in_child(check: Callable[[], bool]) -> int:
    """Fork, run ``check`` in the child, and return the child's exit status (0: passed)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        status = 1
        try:
            status = 0 if check() else 2
        finally:
            # No atexit handlers, no pytest teardown: the parent's, not the child's.
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_uses_its_parents_connection(engine: Any) -> None:
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    parent = _driver(storage)
    assert parent is not None

    def child() -> bool:
        found = storage.get("acc-0001")
        storage.commit(Changes(audit=(record(2),)))
        mine = _driver(storage)
        return found is not None and mine is not None and mine is not parent

    assert _in_child(child) == 0
    # The parent's connection was neither used nor closed by the child, and still works.
    assert _driver(storage) is parent and not _is_closed(parent)
    assert storage.get("acc-0001") is not None
    assert [r.action for r in storage.audit_records()] == ["action2"]  # the child's write


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_disposing_leaves_the_parents_connections_open(engine: Any) -> None:
    storage = sql.SqlStorage(engine)
    insert(storage, account(1))
    parent = _driver(storage)
    assert parent is not None

    def child() -> bool:
        storage.dispose()
        engine.dispose(close=False)  # SQLAlchemy's advice for a child process
        return storage.get("acc-0001") is not None and _driver(storage) is not parent

    assert _in_child(child) == 0
    assert not _is_closed(parent) and storage.get("acc-0001") is not None
