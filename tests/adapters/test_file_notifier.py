"""The file notifier: post, SMS and phone notices kept as files, read back as values.

Before it, a portal without a notifier of its own (the demo) handed these notices to an
in-memory list nobody could read: a member on the no-email path was never told anything.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from cegema_onboarding.adapters.mailbox import FileMailbox
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.adapters.notices import FileNotifier, OfflineNotice
from cegema_onboarding.errors import InvalidInput
from cegema_onboarding.journey.provision import build_account
from cegema_onboarding.model import Account, Channel
from cegema_onboarding.ports import Notifier, OutboxStatus
from cegema_onboarding.service import OnboardingService
from tests.conftest import START, make_settings, ok, session_of

ADDRESS = "12 rue des Lilas\n06270 Villeneuve-Loubet"
PHONE = "+33 6 12 34 56 78"
WRITERS = 3
PER_WRITER = 100


def _account(*, postal_address: str | None = ADDRESS, phone: str | None = PHONE,
             name: str = "Jean Martin") -> Account:
    return build_account(account_id="a" * 32, member_number="100234568", name=name,
                         now=START, initial_digest="x", postal_address=postal_address,
                         phone=phone)


def test_it_is_a_notifier(tmp_path: Path) -> None:
    assert isinstance(FileNotifier(tmp_path), Notifier)


@pytest.mark.parametrize(("channel", "recipient"), [
    (Channel.POST, "12 rue des Lilas\n06270 Villeneuve-Loubet"),
    (Channel.SMS, PHONE),
    (Channel.PHONE, PHONE),
])
def test_each_notice_reads_back_as_the_value_it_was(tmp_path: Path, channel: Channel,
                                                    recipient: str) -> None:
    clock = ManualClock(START)
    notifier = FileNotifier(tmp_path, clock=clock)
    notifier.notify(channel, _account(), "activated", "Bonjour Jean, votre compte est activé.")
    [(name, notice)] = notifier.notices()
    assert notice == OfflineNotice(channel=channel, kind="activated", created=START,
                                   account_id="a" * 32, name="Jean Martin",
                                   recipient=recipient,
                                   text="Bonjour Jean, votre compte est activé.")
    assert notifier.get(name) == notice
    # Another object on the same folder (another process) reads the same.
    assert FileNotifier(tmp_path).notices() == [(name, notice)]


def test_a_letter_opens_with_the_address_as_on_an_envelope(tmp_path: Path) -> None:
    notifier = FileNotifier(tmp_path)
    notifier.notify(Channel.POST, _account(postal_address="  12 rue des Lilas \n"
                                                          "06270 Villeneuve-Loubet\n"),
                    "activated", "Bonjour Jean Martin, votre compte a été activé.")
    [(_, letter)] = notifier.notices(Channel.POST)
    assert letter.printed == ("Jean Martin\n12 rue des Lilas\n06270 Villeneuve-Loubet\n\n"
                              "Bonjour Jean Martin, votre compte a été activé.")
    notifier.notify(Channel.SMS, _account(), "activated", "Votre compte est activé.")
    [(_, sms)] = notifier.notices(Channel.SMS)
    assert sms.printed == "Votre compte est activé."


def test_notices_are_listed_oldest_first_and_filtered_by_channel(tmp_path: Path) -> None:
    notifier = FileNotifier(tmp_path)
    for i, channel in enumerate([Channel.POST, Channel.SMS, Channel.POST, Channel.PHONE]):
        notifier.notify(channel, _account(), "activated", f"text {i}")
    assert [n.text for _, n in notifier.notices()] == ["text 0", "text 1", "text 2", "text 3"]
    assert [n.text for _, n in notifier.notices(Channel.POST)] == ["text 0", "text 2"]
    assert [n.text for _, n in notifier.notices(Channel.PHONE)] == ["text 3"]


@pytest.mark.parametrize(("channel", "account", "field"), [
    (Channel.POST, {"postal_address": None}, "postal_address"),
    (Channel.POST, {"postal_address": "  \n "}, "postal_address"),
    (Channel.SMS, {"phone": None}, "phone"),
    (Channel.PHONE, {"phone": ""}, "phone"),
    (Channel.EMAIL, {}, "channel"),
])
def test_a_member_who_cannot_be_reached_that_way_is_refused(
        tmp_path: Path, channel: Channel, account: dict[str, str | None], field: str) -> None:
    notifier = FileNotifier(tmp_path)
    with pytest.raises(InvalidInput) as raised:
        notifier.notify(channel, _account(**account), "activated", "text")  # type: ignore[arg-type]
    assert raised.value.field == field
    assert notifier.notices() == []


def test_mails_and_notices_share_a_folder_without_mixing(tmp_path: Path) -> None:
    notifier = FileNotifier(tmp_path)
    mailbox = FileMailbox(tmp_path)
    from email.message import EmailMessage
    message = EmailMessage()
    message["Subject"] = "mail"
    message.set_content("body")
    mailbox.send_message(message)
    notifier.notify(Channel.POST, _account(), "activated", "letter")
    assert [str(m["Subject"]) for _, m in mailbox.messages()] == ["mail"]
    assert [n.text for _, n in notifier.notices()] == ["letter"]
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    (tmp_path / f"{'1' * 20}-{'a' * 16}.json").write_text('{"kind": 1}', encoding="utf-8")
    assert [n.text for _, n in notifier.notices()] == ["letter"]


@pytest.mark.parametrize("name", ["../x.json", "notes.json", "/etc/passwd", "",
                                  f"{'1' * 20}-{'a' * 16}.eml"])
def test_a_name_that_is_no_notice_name_is_not_opened(tmp_path: Path, name: str) -> None:
    assert FileNotifier(tmp_path).get(name) is None


def _notify_many(directory: str, writer: int, count: int, start: object) -> None:
    notifier = FileNotifier(directory)
    start.wait()  # type: ignore[attr-defined]
    for i in range(count):
        notifier.notify(Channel.SMS, _account(), "activated", f"w{writer}-{i}")


def test_every_notice_of_several_processes_is_kept_exactly_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_notify_many, args=(str(tmp_path), w, PER_WRITER, start))
               for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    texts = [n.text for _, n in FileNotifier(tmp_path).notices()]
    assert sorted(texts) == sorted(f"w{w}-{i}" for w in range(WRITERS)
                                   for i in range(PER_WRITER))


def test_the_outbox_delivers_the_activation_letter_and_parks_what_cannot_be_sent(
        tmp_path: Path) -> None:
    storage = MemoryStorage()
    clock = ManualClock(START)
    notifier = FileNotifier(tmp_path, clock=clock)
    service = OnboardingService(storage, MemoryMailer(), settings=make_settings(),
                                clock=clock, notifier=notifier)
    with_address = service.staff.provision("100234568", "Jean Martin", postal_address=ADDRESS)
    without = service.staff.provision("100234569", "Paul Durand")
    for member in (with_address, without):
        session = session_of(service.login(member.member_number, member.initial_password))
        ok(service.declare_no_email(session))
        ok(service.staff.activate(member.account_id, staff_id="agent-7"))
    service.deliver_due()
    [(_, letter)] = notifier.notices()
    assert letter.channel is Channel.POST and letter.kind == "activated"
    assert letter.printed.startswith("Jean Martin\n12 rue des Lilas\n06270 Villeneuve-Loubet\n")
    assert letter.created == datetime(2026, 3, 2, 9, 39, tzinfo=UTC)
    # No address to write to: parked at once, where staff see it, not retried for hours.
    [parked] = storage.list_messages(OutboxStatus.PARKED)
    assert parked.account_id == without.account_id and parked.last_error == "InvalidInput"


def test_the_value_survives_a_round_trip_with_any_text(tmp_path: Path) -> None:
    notice = OfflineNotice(channel=Channel.POST, kind="reset", created=START, account_id="b",
                           name="Zoé « L'Hôte »", recipient="1 place\n75001 Paris",
                           text='Texte "cité" \u2028 et ligne\nsuivante')
    assert OfflineNotice.from_json(notice.to_json()) == notice
    with pytest.raises(ValueError):
        OfflineNotice.from_json(b"[]")
    with pytest.raises(ValueError):
        OfflineNotice.from_json(attrs.evolve(notice, kind="x").to_json().replace(b'"post"',
                                                                               b'"pigeon"'))
