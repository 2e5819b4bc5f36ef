"""What the contract cannot see: the records outlive the process that wrote them."""

from cegema_onboarding.ports import Changes
from cegema_onboarding.testing.records import account, insert, message, record

from json_storage import JsonFileStorage


def test_a_new_process_reads_what_the_last_one_wrote(tmp_path):
    first = JsonFileStorage(tmp_path / "kept.json")
    insert(first, account(1, email="marie@example.org"))
    first.commit(Changes(outbox=(message(1),), audit=(record(1),)))
    again = JsonFileStorage(tmp_path / "kept.json")
    assert again.get("acc-0001") == first.get("acc-0001")
    assert again.get("acc-0001").version == 1
    assert again.get_message(message(1).message_id) == message(1)
    assert list(again.audit_records()) == [record(1)]
    assert not (tmp_path / "kept.json.tmp").exists()
