"""DjangoMailer sends to the validated domain: IDNA 2008, never Django's IDNA 2003.

Django's ``sanitize_address`` (used for the To header and, by the SMTP backend, for the
envelope) encodes a non-ASCII domain with Python's "idna" codec, which is IDNA 2003:
"straße.de" becomes "strasse.de", another domain. The mailer must hand Django addresses
whose domain is already email-validator's ``ascii_domain``, so that Django has nothing
left to encode.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr

import pytest
from django.core import mail
from django.core.mail.message import sanitize_address
from django.test import override_settings
from email_validator import validate_email
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cegema_onboarding.errors import InvalidInput, MailError
from cegema_onboarding.integrations.django.mail import DjangoMailer
from cegema_onboarding.mail.settings import MailSettings
from cegema_onboarding.mails import reset_link_mail
from cegema_onboarding.normalize import normalize_email
from cegema_onboarding.service import Ok, OnboardingService

from ...smtp_server import Recorder, SmtpServer, running_server

CASES = [
    ("marie@straße.de", "xn--strae-oqa.de"),
    ("x@faß.de", "xn--fa-hia.de"),
    ("x@ελληνικός.gr", "xn--qxaegecap6byf.gr"),
    ("x@ᏣᎳᎩ.com", "xn--f9dt7l.com"),
    ("zoe@exämple.fr", "xn--exmple-cua.fr"),
]
IDS = [typed for typed, _ in CASES]
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def ascii_domain(address: str) -> str:
    return validate_email(address, check_deliverability=False,
                          allow_smtputf8=False).ascii_domain


def library_mail(to: str, name: str = "Marie Dupont") -> EmailMessage:
    return reset_link_mail(MailSettings(), to=to, name=name,
                           link_url="https://portail.example/mot-de-passe/reinitialiser?token=t",
                           code=None, valid_hours=1, lang="fr",
                           sent_at=datetime(2026, 3, 2, 9, 39, tzinfo=UTC),
                           message_id="<m1@portail.example>")


def host_mail(to: str) -> EmailMessage:
    """A message as a host might build it, the domain written in Unicode."""
    message = EmailMessage()
    message["From"] = "CEGEMA <ne-pas-repondre@example.com>"
    message["To"] = to
    message["Subject"] = "Test"
    message.set_content("Bonjour\n")
    return message


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def locmem_send(message: EmailMessage) -> mail.EmailMessage:
    mail.outbox = []
    DjangoMailer().send_message(message)
    (sent,) = mail.outbox
    return sent


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    with running_server(Recorder()) as server:
        yield server


def smtp_send(server: SmtpServer, message: EmailMessage) -> tuple[str, ...]:
    """Through Django's own SMTP backend to the real server: the envelope recipients."""
    before = len(server.handler.received)
    with override_settings(EMAIL_HOST="127.0.0.1", EMAIL_PORT=server.port,
                           EMAIL_USE_TLS=False, EMAIL_USE_SSL=False,
                           EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD=""):
        DjangoMailer(backend=SMTP_BACKEND).send_message(message)
    (got,) = server.handler.received[before:]
    to = got.message()["To"]
    assert [a.domain for a in to.addresses] == [r.rpartition("@")[2] for r in got.rcpt_tos]
    return got.rcpt_tos


@pytest.mark.parametrize(("typed", "wire"), CASES, ids=IDS)
def test_locmem_recipients_and_to_header(typed: str, wire: str) -> None:
    sent = locmem_send(library_mail(normalize_email(typed)))
    assert [domain_of(r) for r in sent.recipients()] == [wire]
    # What Django's SMTP backend would put in RCPT TO, and what it writes in the header.
    assert [domain_of(sanitize_address(r, "utf-8")) for r in sent.recipients()] == [wire]
    assert domain_of(str(sent.message()["To"])) == wire


def test_the_display_name_survives() -> None:
    sent = locmem_send(library_mail(normalize_email("marie@straße.de"), name="Zoé Lefèvre"))
    assert sent.to == ["Zoé Lefèvre <marie@xn--strae-oqa.de>"]


@pytest.mark.parametrize(("typed", "wire"), CASES, ids=IDS)
def test_a_unicode_domain_from_the_host_is_converted_with_idna_2008(
        typed: str, wire: str) -> None:
    sent = locmem_send(host_mail(f"Marie <{typed}>"))
    assert [domain_of(r) for r in sent.recipients()] == [wire]
    assert [domain_of(sanitize_address(r, "utf-8")) for r in sent.recipients()] == [wire]


def test_a_joiner_domain_is_refused_not_dropped() -> None:
    mail.outbox = []
    with pytest.raises(MailError):
        DjangoMailer().send_message(host_mail("x@क्\u200dष.in"))
    assert mail.outbox == []


@pytest.mark.parametrize(("typed", "wire"), CASES, ids=IDS)
def test_django_smtp_backend_envelope(smtp_server: SmtpServer, typed: str, wire: str) -> None:
    stored = normalize_email(typed)
    local = stored.rpartition("@")[0]
    assert smtp_send(smtp_server, library_mail(stored)) == (f"{local}@{wire}",)
    assert smtp_send(smtp_server, host_mail(typed)) == (f"{typed.rpartition('@')[0]}@{wire}",)


@pytest.mark.django_db
@pytest.mark.parametrize(("typed", "wire"), CASES, ids=IDS)
def test_the_journey_through_django_mails_the_validated_domain(
        dj_service: OnboardingService, typed: str, wire: str) -> None:
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    login = dj_service.login("100234567", member.initial_password)
    assert isinstance(login, Ok) and login.session is not None
    assert isinstance(dj_service.submit_email(login.session, typed, typed), Ok)
    (sent,) = mail.outbox
    assert [domain_of(r) for r in sent.recipients()] == [wire]
    assert [domain_of(sanitize_address(r, "utf-8")) for r in sent.recipients()] == [wire]


# Each label holds a letter IDNA 2003 reads differently (sharp s, final sigma, Cherokee) or
# an ordinary non-ASCII one, among arbitrary letters and digits.
TRICKY = "ßẞςᏣᎳᎩᎠᏸꭰ" + "σΣäéøñçÅÉœ日本例えабвгдαβγδλμ"
LETTERS = st.one_of(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"),
                    st.characters(categories=("Ll", "Lu", "Lo", "Nd"), max_codepoint=0x2FFFF))
LABELS = st.builds(lambda before, tricky, after: before + tricky + after,
                   st.text(LETTERS, max_size=6), st.sampled_from(TRICKY),
                   st.text(LETTERS, max_size=6))

@settings(max_examples=80, suppress_health_check=[HealthCheck.filter_too_much,
                                                   HealthCheck.too_slow])
@given(st.lists(LABELS, min_size=1, max_size=3), st.sampled_from(["de", "gr", "fr", "рф"]))
def test_property_django_recipients_use_email_validators_ascii_domain(
        labels: list[str], tld: str) -> None:
    typed = f"marie@{'.'.join([*labels, tld])}"
    try:
        normalized = normalize_email(typed)
    except InvalidInput:
        normalized = None
    assume(normalized is not None and not normalized.rpartition("@")[2].isascii())
    assert normalized is not None
    wire = ascii_domain(typed)
    for message in (library_mail(normalized), host_mail(normalized)):
        sent = locmem_send(message)
        assert [domain_of(r) for r in sent.recipients()] == [wire]
        assert [domain_of(sanitize_address(r, "utf-8")) for r in sent.recipients()] == [wire]

