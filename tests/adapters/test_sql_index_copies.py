"""An account save sets only the indexed copies that changed since the account was read.

SQLite rewrites every index on a column a ``SET`` names, even to the value it holds; see
``adapters.sql.copies``. These tests pin both halves: what is left out, and that the
copies stay right whatever the order of reads and saves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

sa = pytest.importorskip("sqlalchemy")

from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine  # noqa: E402
from cegema_onboarding.errors import ConcurrentUpdate  # noqa: E402
from cegema_onboarding.model import Stage  # noqa: E402
from cegema_onboarding.normalize import email_key  # noqa: E402
from cegema_onboarding.ports import Changes  # noqa: E402
from cegema_onboarding.testing.records import account  # noqa: E402


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[tuple[SqlStorage, list[str]]]:
    engine = sqlite_engine(tmp_path / "copies.sqlite3")
    create_schema(engine)
    updates: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.startswith("UPDATE cegema_accounts"):
            updates.append(statement.split(" WHERE ")[0])

    sa.event.listen(engine, "before_cursor_execute", seen)
    storage = SqlStorage(engine)
    storage.commit(Changes(accounts=((account(1), None),)))
    yield storage, updates
    storage.dispose()


def _set(statement: str) -> set[str]:
    return {part.split("=")[0].strip() for part in statement.split(" SET ")[1].split(", ")}


def test_a_save_of_what_was_read_sets_only_the_changed_copies(
        storage: tuple[SqlStorage, list[str]]) -> None:
    store, updates = storage
    read = store.get("acc-0001")
    assert read is not None
    moved = attrs.evolve(read, stage=Stage.EMAIL_PENDING, email="marie@example.com")
    store.commit(Changes(accounts=((moved, read.version),)))
    assert _set(updates[-1]) == {"email_key", "stage", "version", "data"}
    again = store.find_by_member_number(read.member_number)
    assert again is not None and again.stage is Stage.EMAIL_PENDING
    assert [a.account_id for a in store.find_by_email(email_key("Marie@Example.com"))] == [
        "acc-0001"]
    assert [a.account_id for a in store.list_by_stage(Stage.EMAIL_PENDING)] == ["acc-0001"]
    # Nothing looked up changed: the JSON and the version only.
    renamed = attrs.evolve(again, name="Marie Martin")
    store.commit(Changes(accounts=((renamed, again.version),)))
    assert _set(updates[-1]) == {"version", "data"}
    stored = store.get("acc-0001")
    assert stored is not None and stored.name == "Marie Martin"


def test_a_save_not_preceded_by_a_read_of_that_version_sets_every_copy(
        storage: tuple[SqlStorage, list[str]]) -> None:
    store, updates = storage
    read = store.get("acc-0001")
    assert read is not None
    first = attrs.evolve(read, stage=Stage.EMAIL_PENDING)
    store.commit(Changes(accounts=((first, read.version),)))
    # The next save's base was never read back: all copies are set.
    second = attrs.evolve(first, version=read.version + 1, stage=Stage.PASSWORD_REQUIRED)
    store.commit(Changes(accounts=((second, read.version + 1),)))
    assert _set(updates[-1]) == {"member_number", "email_key", "stage", "queue_at",
                                 "version", "data"}
    stale = store.get("acc-0001")
    assert stale is not None and stale.stage is Stage.PASSWORD_REQUIRED
    # A save over another version than the one read is a lost race, as before.
    with pytest.raises(ConcurrentUpdate):
        store.commit(Changes(accounts=((attrs.evolve(stale, name="X"), stale.version - 1),)))
    assert store.find_by_member_number(stale.member_number) == stale
