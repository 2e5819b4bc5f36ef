"""Mail goes to the domain that was validated: IDNA 2008 (UTS #46), never IDNA 2003.

email-validator (behind normalize.normalize_email) reads a domain with IDNA 2008 and UTS #46
non-transitional processing; Python's "idna" codec is IDNA 2003, which maps "ß" to "ss" and
"ς" to "σ", drops ZWJ/ZWNJ and lower-cases Cherokee differently. Encoding the stored address
with the codec sends the mail to another domain, with another owner: the validation link,
the reset link or the member number reach a stranger (the class of CVE-2019-19844). Every
mail path must use email-validator's ``ascii_domain``, and the lookup key of an address must
keep those domains apart.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from email_validator import validate_email
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cegema_onboarding import mails, normalize
from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.adapters.smtp import SmtpMailer, SmtpSettings
from cegema_onboarding.errors import ConfigurationError, InvalidInput, SmtpError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.mail import compose
from cegema_onboarding.mail.assemble import assemble
from cegema_onboarding.normalize import email_key, normalize_email
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import START, make_settings
from ..smtp_server import SmtpServer, running_server

# (address as typed, email-validator's ascii_domain, what IDNA 2003 made of it)
CASES = [
    ("marie@straße.de", "xn--strae-oqa.de", "strasse.de"),
    ("x@faß.de", "xn--fa-hia.de", "fass.de"),
    ("x@ελληνικός.gr", "xn--qxaegecap6byf.gr", "xn--qxaegecap4c9d.gr"),  # final sigma
    ("Marie@Straße.DE", "xn--strae-oqa.de", "strasse.de"),
    ("x@ᏣᎳᎩ.com", "xn--f9dt7l.com", "xn--tz9ata7l.com"),  # Cherokee capital letters
    ("x@ꮳꮃꭹ.com", "xn--f9dt7l.com", "xn--tz9ata7l.com"),  # Cherokee small letters
    ("zoe@exämple.fr", "xn--exmple-cua.fr", "xn--exmple-cua.fr"),  # same in both
]
IDS = [typed for typed, _, _ in CASES]

SETTINGS = mails.MailSettings()
SENT_AT = datetime(2026, 3, 2, 8, 39, 12, tzinfo=UTC)
MSG_ID = "<0123456789abcdef@portail.example>"
LINK = "https://portail.example/premiere-connexion/valider?token=AbC.dEf-123_x"

Builder = Callable[..., EmailMessage]
BUILDERS: dict[str, tuple[Builder, dict[str, Any]]] = {
    "validation": (mails.validation_mail, {
        "address": "", "link_url": LINK, "code": "K7QM-4ZPX", "valid_hours": 24}),
    "reset": (mails.reset_link_mail, {"link_url": LINK, "code": None, "valid_hours": 1}),
    "identifier": (mails.identifier_reminder_mail, {"member_number": "100234567"}),
    "password_changed": (mails.password_changed_mail, {
        "ip": "192.0.2.1", "changed_at": SENT_AT, "not_me_url": LINK}),
    "email_change_notice": (mails.email_change_notice_mail, {"new_address_hint": "m***@e***"}),
    "activation": (mails.activation_mail, {}),
}


def ascii_domain(address: str) -> str:
    """What email-validator says the domain is on the wire (no network)."""
    validated = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    return validated.ascii_domain


def build(kind: str, to: str, *, reference: bool = False, name: str = "Marie Dupont"
          ) -> EmailMessage:
    builder, extra = BUILDERS[kind]
    arguments = {**extra, "to": to, "name": name, "sent_at": SENT_AT, "message_id": MSG_ID}
    if kind == "validation":
        arguments["address"] = to
    if not reference:
        return builder(SETTINGS, **arguments)
    # The same mail through the mail package: the checked draft, then its assembly.
    return assemble(getattr(compose, builder.__name__)(SETTINGS, **arguments))


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def to_domains(message: EmailMessage) -> list[str]:
    """The To domains as a receiving client reads them from the bytes."""
    return [a.domain for a in parse(message.as_bytes())["To"].addresses]


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    with running_server() as server:
        yield server


def smtp_send(server: SmtpServer, message: EmailMessage) -> tuple[tuple[str, ...], EmailMessage]:
    """Send through SmtpMailer to the real server: (envelope recipients, message received)."""
    before = len(server.handler.received)
    SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none")).send_message(message)
    got = server.handler.received[before:]
    assert len(got) == 1
    return got[0].rcpt_tos, got[0].message()


# --------------------------------------------------------------------------- the cases


@pytest.mark.parametrize(("typed", "wire", "idna2003"), CASES, ids=IDS)
def test_the_cases_are_what_email_validator_says(typed: str, wire: str, idna2003: str) -> None:
    # Anchors the table: the expected domain is email-validator's, not ours.
    assert ascii_domain(typed) == wire
    assert ascii_domain(normalize_email(typed)) == wire
    domain = normalize_email(typed).rpartition("@")[2]
    assert domain.encode("idna").decode("ascii") == idna2003


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize(("typed", "wire", "_idna2003"), CASES, ids=IDS)
def test_every_mail_is_addressed_to_the_validated_domain(
        kind: str, typed: str, wire: str, _idna2003: str) -> None:
    stored = normalize_email(typed)
    local = stored.rpartition("@")[0]
    shim = build(kind, stored)
    reference = build(kind, stored, reference=True)
    assert shim.as_bytes() == reference.as_bytes()
    for message in (shim, reference):
        assert [a.addr_spec for a in message["To"].addresses] == [f"{local}@{wire}"]
        assert to_domains(message) == [wire]


def test_the_shown_address_stays_readable() -> None:
    # The envelope and the To header carry the A-label; the member reads the address typed.
    message = build("validation", "marie@straße.de")
    assert "marie@straße.de" in text_part(message)
    assert "xn--" not in text_part(message)
    assert message["To"].addresses[0].domain == "xn--strae-oqa.de"


@pytest.mark.parametrize("domain", [
    "क्\u200dष.in",  # ZWJ after a virama: valid IDNA 2008 (CONTEXTJ), dropped by IDNA 2003
    "क्\u200cष.in",  # ZWNJ after a virama
    "نامه\u200cای.ir",  # ZWNJ between joining letters (Persian)
    "straß\u00ade.de",  # soft hyphen: mapped away by both
])
def test_invisible_joiners_are_refused_not_dropped(domain: str) -> None:
    # email-validator refuses these addresses (unsafe characters). IDNA 2003 silently drops
    # the joiner, so the codec turned them into another, visually identical, domain.
    address = f"x@{domain}"
    with pytest.raises(InvalidInput):
        normalize_email(address)
    for kind in BUILDERS:
        for reference in (False, True):
            with pytest.raises(InvalidInput) as info:
                build(kind, address, reference=reference)
            assert (info.value.field, info.value.reason) == ("to", "malformed")


@pytest.mark.parametrize("domain", ["☃.net", "i❤.ws", "a♥b.fr"])
def test_domains_idna_2008_refuses_are_refused(domain: str) -> None:
    # IDNA 2003 took symbols; IDNA 2008 does not, so normalize_email never stores them and
    # no mail may be written to them either.
    with pytest.raises(InvalidInput):
        normalize_email(f"x@{domain}")
    with pytest.raises(InvalidInput):
        build("reset", f"x@{domain}")


def test_a_sender_with_a_unicode_domain_is_written_as_its_a_label(
        smtp_server: SmtpServer) -> None:
    # Same class of bug for the From header: an encoded word inside the address is an
    # address nobody can reply to, and the IDNA 2003 form would be another domain.
    settings = mails.MailSettings(sender="CEGEMA <ne-pas-repondre@straße.de>")
    message = mails.activation_mail(settings, to="marie@example.com", name="Marie",
                                    sent_at=SENT_AT, message_id=MSG_ID)
    head = message.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert b"From: CEGEMA <ne-pas-repondre@xn--strae-oqa.de>" in head
    before = len(smtp_server.handler.received)
    SmtpMailer(SmtpSettings("127.0.0.1", smtp_server.port, security="none")).send_message(message)
    assert smtp_server.handler.received[before].mail_from == "ne-pas-repondre@xn--strae-oqa.de"
    with pytest.raises(ConfigurationError):
        mails.MailSettings(sender="CEGEMA <x@क्\u200dष.in>")


# --------------------------------------------------------------------------- SMTP


@pytest.mark.parametrize(("typed", "wire", "_idna2003"), CASES, ids=IDS)
def test_smtp_envelope_and_to_header_use_the_validated_domain(
        smtp_server: SmtpServer, typed: str, wire: str, _idna2003: str) -> None:
    stored = normalize_email(typed)
    local = stored.rpartition("@")[0]
    rcpt_tos, received = smtp_send(smtp_server, build("reset", stored))
    assert rcpt_tos == (f"{local}@{wire}",)
    assert [a.domain for a in received["To"].addresses] == [wire]


def test_smtp_converts_a_unicode_domain_with_idna_2008() -> None:
    # A message built by the host (not by mails) may name the domain in Unicode; with a
    # server that offers SMTPUTF8, smtplib would hand "straße.de" to the relay as it is,
    # and the relay's own IDNA choice would decide. The adapter sends the A-label instead.
    message = EmailMessage()
    message["From"] = "CEGEMA <ne-pas-repondre@example.com>"
    message["To"] = "Marie <marie@straße.de>"
    message["Cc"] = "x@ελληνικός.gr"
    message["Subject"] = "Test"
    message.set_content("Bonjour\n")
    with running_server(enable_SMTPUTF8=True) as server:
        rcpt_tos, received = smtp_send(server, message)
    assert rcpt_tos == ("marie@xn--strae-oqa.de", "x@xn--qxaegecap6byf.gr")
    assert [a.domain for a in received["To"].addresses] == ["xn--strae-oqa.de"]
    assert [a.domain for a in received["Cc"].addresses] == ["xn--qxaegecap6byf.gr"]
    assert received["To"].addresses[0].display_name == "Marie"
    assert b"SMTPUTF8" not in server.handler.received[0].data
    # The caller's message is left as it was.
    assert message["To"].addresses[0].domain == "straße.de"


def test_smtp_refuses_a_joiner_domain_instead_of_dropping_it() -> None:
    message = EmailMessage()
    message["From"] = "CEGEMA <ne-pas-repondre@example.com>"
    message["To"] = "x@क्\u200dष.in"
    message["Subject"] = "Test"
    message.set_content("Bonjour\n")
    with running_server(enable_SMTPUTF8=True) as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none"))
        with pytest.raises(SmtpError) as info:
            mailer.send_message(message)
        assert server.handler.received == []
    assert info.value.permanent


# --------------------------------------------------------------------------- the journey


def _service() -> tuple[OnboardingService, MemoryStorage, MemoryMailer]:
    storage, mailer = MemoryStorage(), MemoryMailer()
    service = OnboardingService(storage, mailer, settings=make_settings(),
                                clock=ManualClock(START), notifier=MemoryNotifier())
    return service, storage, mailer


@pytest.mark.parametrize(("typed", "wire", "_idna2003"), CASES, ids=IDS)
def test_the_validation_mail_of_the_journey_goes_to_the_validated_domain(
        typed: str, wire: str, _idna2003: str) -> None:
    service, _storage, mailer = _service()
    member = service.staff.provision("100234567", "Marie Dupont")
    login = service.login("100234567", member.initial_password)
    assert isinstance(login, Ok) and login.session is not None
    assert isinstance(service.submit_email(login.session, typed, typed), Ok)
    [sent] = mailer.sent
    assert to_domains(sent) == [wire]
    assert normalize_email(typed) in text_part(sent)


def test_a_confirmation_naming_the_idna_2003_domain_does_not_match() -> None:
    service, _storage, mailer = _service()
    member = service.staff.provision("100234567", "Marie Dupont")
    login = service.login("100234567", member.initial_password)
    assert isinstance(login, Ok) and login.session is not None
    out = service.submit_email(login.session, "marie@straße.de", "marie@strasse.de")
    assert isinstance(out, Refused) and out.reason is Reason.EMAILS_DIFFER
    assert mailer.sent == []


def test_forgotten_identifier_keeps_strasse_and_straße_apart() -> None:
    service, storage, mailer = _service()
    owner = service.staff.provision("100000001", "Marie Dupont")
    assert isinstance(service.staff.mark_email_verified(owner.account_id, staff_id="agent7",
                                                        email="marie@straße.de"), Ok)
    stored = storage.get(owner.account_id)
    assert stored is not None and stored.email == "marie@straße.de"
    mailer.sent.clear()

    # Whoever owns strasse.de asks: no account there, so no mail names the member number.
    assert isinstance(service.forgot_identifier("marie@strasse.de"), Ok)
    service.deliver_due()
    assert not any("100000001" in text_part(m) for m in mailer.sent)
    assert storage.find_by_email(email_key(normalize_email("marie@strasse.de"))) == []

    # The member asks: one mail, to the A-label of straße.de.
    before = len(mailer.sent)
    assert isinstance(service.forgot_identifier("Marie@STRAßE.de"), Ok)
    service.deliver_due()
    [reminder] = [m for m in mailer.sent[before:] if "100000001" in text_part(m)]
    assert [a.addr_spec for a in reminder["To"].addresses] == ["marie@xn--strae-oqa.de"]


# --------------------------------------------------------------------------- lookup keys

NEAR = ["straße.de", "strasse.de", "STRASSE.de", "Straße.DE", "xn--strae-oqa.de", "faß.de",
        "fass.de", "ελληνικός.gr", "ελληνικοσ.gr", "ΕΛΛΗΝΙΚΌΣ.gr", "ᏣᎳᎩ.com", "ꮳꮃꭹ.com",
        "exämple.fr", "EXÄMPLE.fr", "xn--exmple-cua.fr"]


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(NEAR, 2)))
def test_keys_are_equal_exactly_when_the_mail_goes_to_the_same_place(a: str, b: str) -> None:
    first, second = normalize_email(f"Marie@{a}"), normalize_email(f"marie@{b}")
    same_mailbox = ascii_domain(first) == ascii_domain(second)
    assert (email_key(first) == email_key(second)) is same_mailbox


def test_email_key_keeps_sharp_s_and_final_sigma() -> None:
    assert email_key("marie@straße.de") != email_key("marie@strasse.de")
    assert email_key("x@ελληνικός.gr") != email_key("x@ελληνικοσ.gr")
    assert email_key(normalize_email("MARIE@Straße.de")) == email_key("marie@straße.de")


# --------------------------------------------------------------------------- property

# Letters IDNA 2003 and 2008 read differently (sharp s, final sigma, Cherokee), then ordinary
# non-ASCII ones: every label drawn holds one of them, among arbitrary letters and digits.
TRICKY = "ßẞςᏣᎳᎩᎠᏸꭰ" + "σΣΐäéøñçÅÉœ日本例えабвгджзαβγδλμ"
LETTERS = st.one_of(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"),
                    st.characters(categories=("Ll", "Lu", "Lo", "Nd"), max_codepoint=0x2FFFF))
LABELS = st.builds(lambda before, tricky, after: before + tricky + after,
                   st.text(LETTERS, max_size=6), st.sampled_from(TRICKY),
                   st.text(LETTERS, max_size=6))
TLDS = st.sampled_from(["de", "gr", "fr", "com", "рф", "中国"])
LOCALS = st.from_regex(r"[A-Za-z0-9_+-]{1,12}(\.[A-Za-z0-9]{1,6})?", fullmatch=True)


@st.composite
def accepted_addresses(draw: st.DrawFn) -> tuple[str, str]:
    """(normalized address, email-validator's ascii_domain), the domain not all ASCII."""
    labels = draw(st.lists(LABELS, min_size=1, max_size=3))
    typed = f"{draw(LOCALS)}@{'.'.join([*labels, draw(TLDS)])}"
    try:
        normalized = normalize_email(typed)
    except InvalidInput:
        normalized = None
    assume(normalized is not None)
    assert normalized is not None
    assume(not normalized.rpartition("@")[2].isascii())
    return normalized, ascii_domain(typed)


@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much,
                                                    HealthCheck.too_slow])
@given(accepted_addresses(), st.sampled_from(sorted(BUILDERS)))
def test_property_mails_use_email_validators_ascii_domain(
        address: tuple[str, str], kind: str) -> None:
    normalized, wire = address
    assert ascii_domain(normalized) == wire
    for reference in (False, True):
        message = build(kind, normalized, reference=reference)
        assert [a.domain for a in message["To"].addresses] == [wire]
        assert to_domains(message) == [wire]


@settings(max_examples=60, suppress_health_check=[HealthCheck.filter_too_much,
                                                   HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])
@given(accepted_addresses())
def test_property_smtp_envelope_uses_email_validators_ascii_domain(
        smtp_server: SmtpServer, address: tuple[str, str]) -> None:
    normalized, wire = address
    rcpt_tos, received = smtp_send(smtp_server, build("identifier", normalized))
    assert [r.rpartition("@")[2] for r in rcpt_tos] == [wire]
    assert [a.domain for a in received["To"].addresses] == [wire]


@settings(max_examples=40, suppress_health_check=[HealthCheck.filter_too_much,
                                                   HealthCheck.too_slow])
@given(accepted_addresses())
def test_property_the_journey_mails_the_stored_address_at_its_ascii_domain(
        address: tuple[str, str]) -> None:
    normalized, wire = address
    service, storage, mailer = _service()
    member = service.staff.provision("100234567", "Marie Dupont")
    assert isinstance(service.staff.mark_email_verified(member.account_id, staff_id="agent7",
                                                        email=normalized), Ok)
    stored = storage.get(member.account_id)
    assert stored is not None and stored.email == normalized
    assert [a.account_id for a in storage.find_by_email(email_key(normalized))] == [
        member.account_id]
    mailer.sent.clear()
    assert isinstance(service.forgot_identifier(normalized), Ok)
    service.deliver_due()
    [reminder] = mailer.sent
    assert re.search(r"\b100234567\b", text_part(reminder))
    assert to_domains(reminder) == [wire]



@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much,
                                                    HealthCheck.too_slow])
@given(accepted_addresses())
def test_property_ascii_email_is_email_validators(address: tuple[str, str]) -> None:
    normalized, wire = address
    validated = validate_email(normalized, check_deliverability=False, allow_smtputf8=False)
    assert normalize.ascii_email(normalized) == validated.ascii_email
    assert normalize.ascii_email(normalized).rpartition("@")[2] == wire
    # The stored form is the readable one, and storing it loses nothing.
    assert normalize_email(validated.ascii_email) == normalized
