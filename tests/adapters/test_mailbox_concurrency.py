"""The file mailbox under concurrent writers: several processes and threads, one folder.

A two-node trial lost a quarter of the mail when two processes wrote to one mailbox: each
named its file "number of files + 1" under a lock of its own. Every message must be kept,
exactly once, whoever writes it.
"""

from __future__ import annotations

import multiprocessing
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from cegema_onboarding.adapters.mailbox import FileMailbox

WRITERS = 4
PER_WRITER = 200


def _message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "portail@example.fr"
    message["To"] = "marie@example.fr"
    message["Subject"] = subject
    message.set_content(f"body of {subject}\n")
    return message


def _write_many(directory: str, writer: int, count: int, start: object) -> None:
    """One writer process: its own FileMailbox on the shared folder, as a portal worker has."""
    mailbox = FileMailbox(directory)
    start.wait()  # type: ignore[attr-defined]
    for i in range(count):
        mailbox.send_message(_message(f"w{writer}-{i}"))


def _subjects(mailbox: FileMailbox) -> list[str]:
    return [str(m["Subject"]) for _, m in mailbox.messages()]


def test_every_message_of_several_processes_is_kept_exactly_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_write_many,
                               args=(str(tmp_path), w, PER_WRITER, start))
               for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * WRITERS

    subjects = _subjects(FileMailbox(tmp_path))
    expected = {f"w{w}-{i}" for w in range(WRITERS) for i in range(PER_WRITER)}
    assert len(subjects) == len(expected)
    assert set(subjects) == expected
    # Nothing half-written is left beside the messages.
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".eml"] * len(expected)


def test_threads_with_their_own_mailbox_objects_lose_nothing(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)

    def write(writer: int) -> None:
        mailbox = FileMailbox(tmp_path) if writer % 2 else shared
        barrier.wait()
        for i in range(50):
            mailbox.send_message(_message(f"t{writer}-{i}"))

    shared = FileMailbox(tmp_path)
    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    subjects = _subjects(shared)
    assert sorted(subjects) == sorted(f"t{w}-{i}" for w in range(8) for i in range(50))


def test_messages_are_listed_in_the_order_they_were_sent(tmp_path: Path) -> None:
    mailbox = FileMailbox(tmp_path)
    for i in range(30):
        mailbox.send_message(_message(f"m{i}"))
    assert _subjects(mailbox) == [f"m{i}" for i in range(30)]
    # And a second mailbox on the same folder carries on after them.
    FileMailbox(tmp_path).send_message(_message("last"))
    assert _subjects(mailbox)[-1] == "last"


def test_every_listed_name_opens_its_message(tmp_path: Path) -> None:
    mailbox = FileMailbox(tmp_path)
    for i in range(3):
        mailbox.send_message(_message(f"m{i}"))
    for name, message in mailbox.messages():
        opened = mailbox.get(name)
        assert opened is not None
        assert opened["Subject"] == message["Subject"]


@pytest.mark.parametrize("name", ["../secret.eml", "x.eml", "", ".0001.eml.tmp",
                                  "00000000000000000001-zzzzzzzzzzzzzzzz.eml"])
def test_a_name_that_is_not_a_message_name_is_not_opened(tmp_path: Path, name: str) -> None:
    mailbox = FileMailbox(tmp_path)
    mailbox.send_message(_message("m"))
    assert mailbox.get(name) is None


def test_a_temporary_file_is_never_listed(tmp_path: Path) -> None:
    mailbox = FileMailbox(tmp_path)
    mailbox.send_message(_message("kept"))
    # What a writer that died mid-write leaves behind.
    (tmp_path / ".half-written.tmp").write_bytes(b"Subject: half")
    assert _subjects(mailbox) == ["kept"]


def test_a_message_kept_under_an_earlier_numbered_name_still_opens(tmp_path: Path) -> None:
    (tmp_path / "000001.eml").write_bytes(_message("older").as_bytes())
    mailbox = FileMailbox(tmp_path)
    mailbox.send_message(_message("newer"))
    assert _subjects(mailbox) == ["older", "newer"]
    opened = mailbox.get("000001.eml")
    assert opened is not None
    assert opened["Subject"] == "older"


def test_a_name_drawn_twice_never_replaces_the_first_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox = FileMailbox(tmp_path)
    # The same time and the same random part for the first two names, as if two processes
    # drew them together: the second message takes a third name.
    names = iter(["00000000000000000001-aaaaaaaaaaaaaaaa.eml"] * 2
                 + ["00000000000000000002-bbbbbbbbbbbbbbbb.eml"])
    monkeypatch.setattr(FileMailbox, "_new_name", lambda self: next(names))
    mailbox.send_message(_message("first"))
    mailbox.send_message(_message("second"))
    assert [(n, str(m["Subject"])) for n, m in mailbox.messages()] == [
        ("00000000000000000001-aaaaaaaaaaaaaaaa.eml", "first"),
        ("00000000000000000002-bbbbbbbbbbbbbbbb.eml", "second")]


def test_a_folder_without_hard_links_still_keeps_every_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    mailbox = FileMailbox(tmp_path)
    for i in range(3):
        mailbox.send_message(_message(f"m{i}"))
    assert _subjects(mailbox) == ["m0", "m1", "m2"]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".eml"] * 3


def test_a_folder_that_cannot_be_written_raises_a_mail_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from cegema_onboarding.errors import MailError

    def full(source: object, target: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", full)
    mailbox = FileMailbox(tmp_path)
    with pytest.raises(MailError, match="No space left"):
        mailbox.send_message(_message("lost"))
    # The temporary file does not stay behind.
    assert list(tmp_path.iterdir()) == []
