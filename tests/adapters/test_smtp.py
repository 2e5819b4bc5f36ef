"""SmtpMailer against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import re
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryStorage
from cegema_onboarding.adapters.smtp import SmtpMailer, SmtpSettings
from cegema_onboarding.errors import ConfigurationError, MailError, SmtpError
from cegema_onboarding.model import Stage
from cegema_onboarding.ports import OutboxStatus
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import START, make_settings
from ..smtp_server import (
    PASSWORD,
    USER,
    Certificate,
    Recorder,
    authenticator,
    free_port,
    make_certificate,
    running_server,
    silent_server,
)


def _message(to: str = "marie.dupont@example.com", subject: str = "Vérification") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "CEGEMA <ne-pas-repondre@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<abc123@portail.example>"
    msg.set_content("Bonjour Marie,\n")
    return msg


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


# ---------------------------------------------------------------------- settings


def test_auth_over_plain_connection_is_refused_by_default() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_auth"):
        SmtpSettings("127.0.0.1", 25, security="none", username=USER, password=PASSWORD)
    allowed = SmtpSettings("127.0.0.1", 25, security="none", username=USER,
                           password=PASSWORD, allow_insecure_auth=True)
    assert allowed.username == USER


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ConfigurationError):
        SmtpSettings("127.0.0.1", 25, security="tls")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SmtpSettings("127.0.0.1", 0)
    with pytest.raises(ConfigurationError):
        SmtpSettings("127.0.0.1", 587, username=USER)
    with pytest.raises(ConfigurationError):
        SmtpSettings("mail example", 587)
    with pytest.raises(ConfigurationError):
        SmtpSettings("127.0.0.1", 587, timeout=0)


def test_password_never_in_repr() -> None:
    settings = SmtpSettings("127.0.0.1", 587, username=USER, password=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in repr(SmtpMailer(settings))
    assert USER in repr(settings)


# ---------------------------------------------------------------------- delivery


def test_plain_delivery() -> None:
    with running_server() as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none"))
        mailer.send_message(_message())
        [got] = server.handler.received
    assert got.rcpt_tos == ("marie.dupont@example.com",)
    assert got.mail_from == "ne-pas-repondre@example.com"
    parsed = got.message()
    assert parsed["Subject"] == "Vérification"
    assert parsed["Message-ID"] == "<abc123@portail.example>"


def test_starttls_with_trusted_certificate(cert: Certificate) -> None:
    with running_server(tls_context=cert.server_context(), require_starttls=True) as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="starttls",
                                         ssl_context=cert.client_context()))
        mailer.send_message(_message())
        assert len(server.handler.received) == 1


def test_starttls_refuses_an_untrusted_certificate(cert: Certificate) -> None:
    with running_server(tls_context=cert.server_context(), require_starttls=True) as server:
        # The system trust store does not know the self-signed certificate.
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="starttls",
                                         ssl_context=ssl.create_default_context()))
        with pytest.raises(SmtpError, match="certificate"):
            mailer.send_message(_message())
        assert server.handler.received == []


def test_starttls_never_falls_back_to_plain_text() -> None:
    with running_server() as server:  # no TLS context: STARTTLS is not offered
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="starttls"))
        with pytest.raises(SmtpError, match="STARTTLS") as info:
            mailer.send_message(_message())
        assert info.value.permanent
        assert server.handler.received == []


def test_ssl_on_connect(cert: Certificate) -> None:
    with running_server(ssl_context=cert.server_context()) as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="ssl",
                                         ssl_context=cert.client_context()))
        mailer.send_message(_message())
        assert len(server.handler.received) == 1


def test_auth_over_starttls(cert: Certificate) -> None:
    with running_server(tls_context=cert.server_context(), require_starttls=True,
                        authenticator=authenticator, auth_required=True) as server:
        good = SmtpSettings("127.0.0.1", server.port, ssl_context=cert.client_context(),
                            username=USER, password=PASSWORD)
        SmtpMailer(good).send_message(_message())
        assert len(server.handler.received) == 1

        bad = SmtpSettings("127.0.0.1", server.port, ssl_context=cert.client_context(),
                           username=USER, password="wrong-" + PASSWORD)
        with pytest.raises(SmtpError, match="authentication failed") as info:
            SmtpMailer(bad).send_message(_message())
        assert info.value.code == 535
        assert PASSWORD not in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert len(server.handler.received) == 1


def test_server_requiring_auth_refuses_anonymous(cert: Certificate) -> None:
    with running_server(tls_context=cert.server_context(), require_starttls=True,
                        authenticator=authenticator, auth_required=True) as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port,
                                         ssl_context=cert.client_context()))
        with pytest.raises(SmtpError):
            mailer.send_message(_message())
        assert server.handler.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_auth_on_plain_connection_when_explicitly_allowed() -> None:
    with running_server(authenticator=authenticator, auth_required=True,
                        auth_require_tls=False) as server:
        settings = SmtpSettings("127.0.0.1", server.port, security="none", username=USER,
                                password=PASSWORD, allow_insecure_auth=True)
        SmtpMailer(settings).send_message(_message())
        assert len(server.handler.received) == 1


def test_a_bad_reply_to_quit_does_not_undo_a_delivery() -> None:
    class GrumpyAtQuit(Recorder):
        async def handle_QUIT(self, server: object, session: object,
                              envelope: object) -> str:
            return "554 not now"

    with running_server(GrumpyAtQuit()) as server:
        # No error: the server took the message, so the outbox must not send it again.
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none"))
        mailer.send_message(_message())
        assert len(server.handler.received) == 1


def test_partially_refused_recipients_are_not_retried(
        caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    recorder.refuse.add("nobody@example.com")
    msg = _message()
    msg["Cc"] = "nobody@example.com"
    with running_server(recorder) as server:
        SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none")).send_message(msg)
    [got] = recorder.received
    assert got.rcpt_tos == ("marie.dupont@example.com",)
    assert "refused 1 of" in caplog.text and "nobody" not in caplog.text


def test_refused_recipient_is_a_permanent_smtp_error() -> None:
    recorder = Recorder()
    recorder.refuse.add("nobody@example.com")
    with running_server(recorder) as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none"))
        with pytest.raises(SmtpError, match="recipient refused") as info:
            mailer.send_message(_message(to="nobody@example.com"))
        assert info.value.code == 550
        assert info.value.permanent
        assert isinstance(info.value, MailError)
        assert "nobody" not in str(info.value)
        assert recorder.received == []


def test_server_down() -> None:
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", free_port(), security="none", timeout=5))
    with pytest.raises(SmtpError, match="connection refused") as info:
        mailer.send_message(_message())
    assert not info.value.permanent


def test_timeout_when_the_server_never_greets() -> None:
    with silent_server() as port:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", port, security="none", timeout=0.3))
        with pytest.raises(SmtpError, match="timed out"):
            mailer.send_message(_message())


def test_message_without_recipient_is_refused_before_sending() -> None:
    msg = _message()
    del msg["To"]
    with running_server() as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, security="none"))
        with pytest.raises(SmtpError) as info:
            mailer.send_message(msg)
        assert info.value.permanent
        assert server.handler.received == []


# ---------------------------------------------------------------------- end to end


def _link_token(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    match = re.search(r"token=([A-Za-z0-9_.\-]+)", content)
    assert match is not None, f"no link in the {subtype} part"
    return match.group(1)


def test_validation_mail_over_smtp_works_end_to_end(cert: Certificate) -> None:
    with running_server(tls_context=cert.server_context(), require_starttls=True,
                        authenticator=authenticator, auth_required=True) as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port,
                                         ssl_context=cert.client_context(),
                                         username=USER, password=PASSWORD))
        storage = MemoryStorage()
        clock = ManualClock(START)
        service = OnboardingService(storage, mailer, settings=make_settings(), clock=clock)
        member = service.staff.provision("100234567", "Marie Dupont")
        login = service.login("100234567", member.initial_password, ip="172.17.0.14")
        assert isinstance(login, Ok) and login.session is not None
        result = service.submit_email(login.session, "marie.dupont@example.com",
                                      "marie.dupont@example.com", ip="172.17.0.14")
        assert isinstance(result, Ok)
        [got] = server.handler.received

    assert got.rcpt_tos == ("marie.dupont@example.com",)
    msg = got.message()
    assert msg["Subject"] == "CEGEMA : Vérification de l'adresse mail"
    assert parsedate_to_datetime(str(msg["Date"])) == START.astimezone(UTC)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert str(msg["To"]).endswith("<marie.dupont@example.com>")
    [queued] = storage.list_messages()
    assert msg["Message-ID"] == queued.message_id
    assert queued.status is OutboxStatus.SENT
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    token = _link_token(msg, "plain")
    assert _link_token(msg, "html") == token
    assert "Marie Dupont" in str(msg.get_body(preferencelist=("plain",)))

    assert service.open_link(token).valid
    confirmed = service.confirm_link(token, ip="172.17.0.14")
    assert isinstance(confirmed, Ok)
    account = storage.find_by_member_number("100234567")
    assert account is not None and account.stage is Stage.PASSWORD_REQUIRED
    assert account.email == "marie.dupont@example.com"


def test_failed_smtp_delivery_stays_in_the_outbox() -> None:
    port = free_port()
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", port, security="none", timeout=5))
    storage = MemoryStorage()
    clock = ManualClock(datetime(2026, 3, 2, 9, 39, tzinfo=UTC))
    service = OnboardingService(storage, mailer, settings=make_settings(), clock=clock)
    member = service.staff.provision("100234567", "Marie Dupont")
    login = service.login("100234567", member.initial_password)
    assert isinstance(login, Ok) and login.session is not None
    result = service.submit_email(login.session, "marie@example.com", "marie@example.com")
    assert isinstance(result, Ok)  # the member is not told about the mail server
    [queued] = storage.list_messages()
    assert queued.status is OutboxStatus.PENDING
    assert queued.attempts == 1
    with running_server(port=port) as server:
        clock.advance(minutes=1)
        assert service.deliver_due().sent == 1
        assert server.handler.message_ids() == [queued.message_id]

