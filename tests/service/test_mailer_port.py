"""The Mailer port takes the checked Mail draft: the outbox seals drafts, adapters assemble.

Also the transition from the previous port, for one release: mailers written for
``send(EmailMessage)`` keep working with a DeprecationWarning, and rows the previous release
queued (sealed MIME) are still delivered.
"""

from __future__ import annotations

import io
import warnings
from email.message import EmailMessage
from pathlib import Path

import attrs
import pytest

from cegema_onboarding.adapters.mailbox import ConsoleMailer, FileMailbox, text_part
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.adapters.smtp import SmtpMailer, SmtpSettings
from cegema_onboarding.mail import Mail
from cegema_onboarding.mail import assemble as assemble_module
from cegema_onboarding.mail.assemble import assemble
from cegema_onboarding.mail.legacy import draft_of, takes_drafts
from cegema_onboarding.ports import Changes, OutboxStatus
from cegema_onboarding.sealing import Sealer
from cegema_onboarding.service import OnboardingService

from ..conftest import SECRET, START, make_settings
from ..smtp_server import SmtpServer
from .test_outbox_relay import link_token, queue_validation_mail


def _service(mailer: object, *, inline: bool = True) -> tuple[OnboardingService, MemoryStorage]:
    storage = MemoryStorage()
    service = OnboardingService(storage, mailer, settings=make_settings(),  # type: ignore[arg-type]
                                clock=ManualClock(START), deliver_inline=inline)
    return service, storage


def _only_row(storage: MemoryStorage) -> tuple[Sealer, bytes]:
    (row,) = storage.list_messages()
    return Sealer([SECRET]), row.payload


# --------------------------------------------------------------------------- the outbox


def test_the_outbox_seals_the_draft_not_mime() -> None:
    service, storage = _service(MemoryMailer(), inline=False)
    queue_validation_mail(service, "100000001")
    sealer, payload = _only_row(storage)
    opened = sealer.open(payload)
    assert opened.startswith(b"{")
    draft = Mail.from_json(opened)
    assert draft.recipient == "m100000001@example.com"
    assert "token=" in draft.text


def test_a_journey_in_memory_builds_no_mime_until_a_mail_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = assemble_module.assemble

    def counting(mail: Mail) -> EmailMessage:
        calls.append(mail.message_id)
        return real(mail)

    # Wherever the library might assemble: the module, and the names imported from it.
    monkeypatch.setattr(assemble_module, "assemble", counting)
    monkeypatch.setattr("cegema_onboarding.adapters.doubles.assemble", counting)
    monkeypatch.setattr("cegema_onboarding.mail.legacy.assemble", counting)
    mailer = MemoryMailer()
    service, _ = _service(mailer)
    queue_validation_mail(service, "100000002")
    assert len(mailer.sent) == 1
    assert calls == []
    first = mailer.sent[0]
    assert mailer.sent[-1] is first  # assembled once, then kept
    assert len(calls) == 1
    assert first["To"].addresses[0].addr_spec == "m100000002@example.com"
    assert mailer.sent.drafts()[0].message_id == first["Message-ID"]


def test_the_memory_mailer_compares_and_clears_like_the_list_it_stands_for() -> None:
    mailer = MemoryMailer()
    assert mailer.sent == []
    service, _ = _service(mailer)
    queue_validation_mail(service, "100000003")
    assert mailer.sent == [mailer.sent[0]]
    assert mailer.sent != []
    assert [m["Subject"] for m in mailer.sent[:1]] == [mailer.sent[0]["Subject"]]
    mailer.sent.clear()
    assert len(mailer.sent) == 0


def test_a_row_queued_by_the_previous_release_as_sealed_mime_is_still_delivered() -> None:
    mailer = MemoryMailer()
    service, storage = _service(mailer, inline=False)
    queue_validation_mail(service, "100000004")
    sealer, payload = _only_row(storage)
    draft = Mail.from_json(sealer.open(payload))
    (row,) = storage.list_messages()
    # What the previous release stored: the assembled message's bytes, sealed.
    old = attrs.evolve(row, message_id="<old-row@example.org>",
                       payload=sealer.seal(assemble(draft).as_bytes()))
    storage.commit(Changes(outbox=(old,)))
    service.outbox.deliver_due()
    delivered = {m["Message-ID"]: m for m in mailer.sent}
    assert set(delivered) == {draft.message_id}  # both rows carry the same mail
    assert len(mailer.sent) == 2
    assert all((g.recipient, g.subject) == (draft.recipient, draft.subject)
               for g in mailer.sent.drafts())
    for message in mailer.sent:
        assert link_token(text_part(message)) == link_token(draft.text)
    assert storage.get_message(old.message_id).status is OutboxStatus.SENT  # type: ignore[union-attr]


def test_the_previous_releases_mime_reads_back_into_the_same_draft() -> None:
    service, storage = _service(MemoryMailer(), inline=False)
    queue_validation_mail(service, "100000005")
    sealer, payload = _only_row(storage)
    draft = Mail.from_json(sealer.open(payload))
    again = draft_of(assemble(draft).as_bytes())
    # set_content ends each body with a newline; everything else is the same.
    assert attrs.evolve(again, text=again.text.rstrip("\n"), html=again.html.rstrip("\n")) \
        == attrs.evolve(draft, text=draft.text.rstrip("\n"), html=draft.html.rstrip("\n"))


@pytest.mark.parametrize("payload", [b"not a mail at all", b"{\"v\": 99}", b"From: x\r\n\r\nhi"])
def test_a_payload_that_is_no_mail_is_parked_at_once(payload: bytes) -> None:
    mailer = MemoryMailer()
    service, storage = _service(mailer, inline=False)
    queue_validation_mail(service, "100000006")
    (row,) = storage.list_messages()
    broken = attrs.evolve(row, payload=Sealer([SECRET]).seal(payload))
    storage.commit(Changes(outbox=(broken,)))
    report = service.outbox.deliver_due()
    assert report.parked == 1 and report.sent == 0
    assert mailer.sent == []
    parked = storage.get_message(row.message_id)
    assert parked is not None and parked.status is OutboxStatus.PARKED
    assert parked.last_error == "InvalidInput"


# --------------------------------------------------------------------------- host mailers


class DraftMailer:
    def __init__(self) -> None:
        self.got: list[object] = []

    def send(self, mail: Mail) -> None:
        self.got.append(mail)


class OldAnnotatedMailer:
    def __init__(self) -> None:
        self.got: list[object] = []

    def send(self, message: EmailMessage) -> None:
        self.got.append(message)


class OldBareMailer:
    """The previous docs' example: no annotation at all."""

    def __init__(self) -> None:
        self.got: list[object] = []

    def send(self, message):  # type: ignore[no-untyped-def]
        self.got.append(message)


def test_a_mailer_annotated_with_mail_gets_the_draft_and_no_warning() -> None:
    mailer = DraftMailer()
    assert takes_drafts(mailer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        service, _ = _service(mailer)
        queue_validation_mail(service, "100000007")
    (got,) = mailer.got
    assert isinstance(got, Mail)
    assert got.recipient == "m100000007@example.com"


@pytest.mark.parametrize("kind", [OldAnnotatedMailer, OldBareMailer])
def test_a_mailer_written_for_the_old_port_gets_mime_and_a_deprecation_warning(
        kind: type[OldAnnotatedMailer]) -> None:
    mailer = kind()
    assert not takes_drafts(mailer)
    with pytest.warns(DeprecationWarning, match="takes an EmailMessage") as caught:
        service, _ = _service(mailer)
    # The warning points at the host's line, not inside the library.
    assert caught[0].filename == __file__
    queue_validation_mail(service, "100000008")
    (got,) = mailer.got
    assert isinstance(got, EmailMessage)
    assert got["To"].addresses[0].addr_spec == "m100000008@example.com"
    assert "token=" in text_part(got)
    assert service.mailer is mailer  # the host's object, as given


def test_replacing_the_mailer_adapts_the_new_one_too() -> None:
    service, _ = _service(MemoryMailer())
    old = OldAnnotatedMailer()
    with pytest.warns(DeprecationWarning, match="OldAnnotatedMailer.send takes an EmailMessage"):
        service.mailer = old  # type: ignore[assignment]
    queue_validation_mail(service, "100000009")
    assert isinstance(old.got[0], EmailMessage)


# --------------------------------------------------------------------------- adapters


def _draft() -> Mail:
    service, storage = _service(MemoryMailer(), inline=False)
    queue_validation_mail(service, "100000010")
    sealer, payload = _only_row(storage)
    return Mail.from_json(sealer.open(payload))


def test_the_smtp_adapter_sends_a_draft_to_a_real_server() -> None:
    draft = _draft()
    server = SmtpServer().start()
    try:
        SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none")).send(draft)
    finally:
        server.stop()
    (received,) = server.handler.messages()
    assert received["Message-ID"] == draft.message_id
    assert received["Content-Language"] == draft.lang
    assert link_token(text_part(received)) == link_token(draft.text)


def test_the_file_mailbox_and_console_write_a_draft_as_mime(tmp_path: Path) -> None:
    draft = _draft()
    box = FileMailbox(tmp_path)
    box.send(draft)
    ((_, stored),) = box.messages()
    assert stored["Message-ID"] == draft.message_id
    assert assemble(draft).as_bytes() == box.directory.joinpath(
        box.messages()[0][0]).read_bytes()
    stream = io.StringIO()
    console = ConsoleMailer(stream=stream)
    console.send(draft)
    assert console.sent[0]["Message-ID"] == draft.message_id
    assert link_token(stream.getvalue()) == link_token(draft.text)


def test_an_adapter_handed_an_email_message_still_sends_it_with_a_warning(
        tmp_path: Path) -> None:
    message = assemble(_draft())
    box = FileMailbox(tmp_path)
    with pytest.warns(DeprecationWarning, match="FileMailbox.send_message"):
        box.send(message)  # type: ignore[arg-type]
    assert box.messages()[0][1]["Message-ID"] == message["Message-ID"]
    box.send_message(message)  # the lasting way for MIME built by the host
    assert len(box.messages()) == 2
