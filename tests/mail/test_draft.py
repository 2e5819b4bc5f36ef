"""The Mail draft: checked at construction, carried as JSON, assembled the stdlib way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cegema_onboarding import mail, mails
from cegema_onboarding.errors import InvalidInput
from cegema_onboarding.mail import compose
from cegema_onboarding.mail.assemble import assemble
from cegema_onboarding.mail.draft import Mail
from cegema_onboarding.mail.settings import MailSettings

SENT_AT = datetime(2026, 3, 2, 8, 39, 12, tzinfo=UTC)
MSG_ID = "<0123456789abcdef@portail.example>"
LINK = "https://portail.example/premiere-connexion/valider?token=AbC.dEf-123_x"
SETTINGS = MailSettings(contact_url="https://www.cegema.com/contact",
                        legal_url="https://www.cegema.com/legal")

BUILDERS: dict[str, dict[str, Any]] = {
    "validation_mail": {"address": "zoe@example.fr", "link_url": LINK, "code": "K7QM-4ZPX",
                        "valid_hours": 24},
    "reset_link_mail": {"link_url": LINK, "code": None, "valid_hours": 1},
    "identifier_reminder_mail": {"member_number": "100234567"},
    "password_changed_mail": {"ip": "192.0.2.1", "changed_at": SENT_AT, "not_me_url": LINK},
    "email_change_notice_mail": {"new_address_hint": "m***@e***", "not_me_url": LINK},
    "activation_mail": {},
    "remember_theft_mail": {},
}


def draft(kind: str = "validation_mail", **overrides: Any) -> Mail:
    builder: Callable[..., Mail] = getattr(compose, kind)
    arguments = {"to": "zoe@straße.de", "name": "Zoé Lefèvre", "sent_at": SENT_AT,
                 "message_id": MSG_ID, **BUILDERS[kind], **overrides}
    return builder(SETTINGS, **arguments)


def test_every_builder_of_the_shim_has_its_draft_builder() -> None:
    assert set(BUILDERS) == {name for name in mails.__all__ if name.endswith("_mail")}
    assert set(BUILDERS) == set(compose.__all__)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_the_shim_is_the_assembled_draft(kind: str) -> None:
    built = draft(kind)
    assert isinstance(built, Mail)
    arguments = {"to": "zoe@straße.de", "name": "Zoé Lefèvre", "sent_at": SENT_AT,
                 "message_id": MSG_ID, **BUILDERS[kind]}
    shim = getattr(mails, kind)(SETTINGS, **arguments)
    assert shim.as_bytes() == assemble(built).as_bytes()


def test_a_draft_holds_the_wire_addresses_and_the_names_beside_them() -> None:
    built = draft(sent_at=SENT_AT.astimezone(timezone(timedelta(hours=2))))
    assert (built.recipient, built.recipient_name) == ("zoe@xn--strae-oqa.de", "Zoé Lefèvre")
    assert (built.sender, built.sender_name) == ("ne-pas-repondre@example.invalid", "CEGEMA")
    assert built.date == SENT_AT and built.date.utcoffset() == timedelta(0)
    assert built.lang == "fr" and built.message_id == MSG_ID
    assert "K7QM-4ZPX" in built.text and "K7QM-4ZPX" in built.html


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_json_round_trip(kind: str) -> None:
    built = draft(kind, lang="en")
    document = built.to_json()
    assert Mail.from_json(document) == built
    assert Mail.from_json(document.encode("utf-8")) == built
    assert assemble(Mail.from_json(document)).as_bytes() == assemble(built).as_bytes()


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=40), hours=st.integers(-14, 14))
def test_json_round_trip_on_any_name_and_offset(name: str, hours: int) -> None:
    try:
        built = draft(name=name, sent_at=SENT_AT.astimezone(timezone(timedelta(hours=hours))))
    except InvalidInput:
        return
    assert Mail.from_json(built.to_json()) == built


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("recipient", "zoé@example.fr", "malformed"),
    ("recipient", "zoe@straße.de", "malformed"),
    ("recipient", "a@example.fr, b@example.fr", "malformed"),
    ("recipient", "zoe@localhost", "malformed"),
    ("recipient", " zoe@example.fr", "malformed"),
    ("sender", "Name <x@example.fr>", "malformed"),
    ("recipient_name", "Zoé\r\nBcc: x@example.fr", "malformed"),
    ("recipient_name", "\ud800", "encoding"),
    ("subject", "", "empty"),
    ("subject", "Objet\nBcc: x@example.fr", "malformed"),
    ("message_id", "no-brackets@example.fr", "malformed"),
    ("message_id", "<a@b>\r\n", "malformed"),
    ("date", datetime(2026, 3, 2, 8, 39, 12), "naive_datetime"),
    ("date", "2026-03-02", "type"),
    ("lang", "de", "unknown"),
    ("text", " \n", "empty"),
    ("html", "<p>\udcff</p>", "encoding"),
])
def test_a_draft_is_checked_at_construction(field: str, value: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        attrs.evolve(draft(), **{field: value})
    assert (info.value.field, info.value.reason) == (field, reason)


@pytest.mark.parametrize("document", [
    "not json",
    b"\xff",
    "[]",
    json.dumps({"v": 1}),
])
def test_from_json_refuses_what_to_json_never_writes(document: str | bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        Mail.from_json(document)
    assert info.value.field == "mail"


def test_from_json_refuses_another_version_a_missing_or_an_extra_field() -> None:
    fields = json.loads(draft().to_json())
    for changed in ({**fields, "v": 2}, {**fields, "bcc": "x@example.fr"},
                    {k: v for k, v in fields.items() if k != "html"}):
        with pytest.raises(InvalidInput):
            Mail.from_json(json.dumps(changed))
    with pytest.raises(InvalidInput) as info:
        Mail.from_json(json.dumps({**fields, "date": "yesterday"}))
    assert info.value.field == "date"
    with pytest.raises(InvalidInput) as info:
        Mail.from_json(json.dumps({**fields, "to": "x@example.fr", "recipient": "x"}))


def test_the_package_names_and_the_old_paths_are_the_same_objects() -> None:
    assert mail.Mail is Mail
    assert mail.MailSettings is MailSettings is mails.MailSettings
    assert mail.make_message_id is mails.make_message_id
    assert not hasattr(mail, "no_such_name")


def run_fresh(code: str) -> str:
    argv = [sys.executable, "-W", "error::DeprecationWarning", "-c", textwrap.dedent(code)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)  # noqa: S603 - fixed argv
    return done.stdout.strip()


def test_config_loads_the_mail_settings_only() -> None:
    # The package root still imports the service eagerly: stand in an empty root package so
    # that only config and what it imports are loaded.
    loaded = run_fresh("""
        import importlib.util, sys, types
        spec = importlib.util.find_spec("cegema_onboarding")
        root = types.ModuleType("cegema_onboarding")
        root.__path__ = list(spec.submodule_search_locations)
        sys.modules["cegema_onboarding"] = root
        import cegema_onboarding.config
        print(" ".join(sorted(m for m in sys.modules if m.startswith(("cegema", "email.")))))
    """).split()
    assert "cegema_onboarding.mail.settings" in loaded
    unwanted = [m for m in loaded if m.startswith("email.") or m in (
        "cegema_onboarding.mails", "cegema_onboarding.mail.compose",
        "cegema_onboarding.mail.assemble", "cegema_onboarding.mail.draft")]
    assert unwanted == []


def test_importing_the_old_module_does_not_warn_yet() -> None:
    # The service still calls it while it is being split.
    assert run_fresh("import cegema_onboarding.mails; print('ok')") == "ok"
