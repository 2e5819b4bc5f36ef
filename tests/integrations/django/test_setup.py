"""Migrations, system checks, settings and the mail adapter."""

from __future__ import annotations

from email.message import EmailMessage
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from cegema_onboarding.errors import MailError
from cegema_onboarding.integrations.django.conf import get_service, library_settings
from cegema_onboarding.integrations.django.mail import DjangoMailer
from cegema_onboarding.mail import Mail
from cegema_onboarding.mail.assemble import assemble
from cegema_onboarding.mail.compose import validation_mail
from cegema_onboarding.mail.settings import MailSettings

from ...conftest import PEPPER, SECRET
from .conftest import onboarding_config


def check_ids(**config: Any) -> set[str]:
    with override_settings(CEGEMA_ONBOARDING=config):
        return {m.id for m in run_checks() if m.id and m.id.startswith("cegema_onboarding")}


@pytest.mark.django_db
def test_makemigrations_is_clean() -> None:
    out = StringIO()
    # --check exits with status 1 when a model change lacks its migration.
    call_command("makemigrations", "cegema_onboarding", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrations_run_backwards_and_forwards() -> None:
    call_command("migrate", "cegema_onboarding", "zero", verbosity=0)
    call_command("migrate", "cegema_onboarding", verbosity=0)
    assert get_service().storage.get("nobody") is None


LONG_SECRET = "a-signing-key-long-enough-for-the-checks-0123456789-abcdef"
LONG_PEPPER = "a-pepper-key-long-enough-for-the-checks-0123456789-abcdefgh"


SAFE_CONFIG = {"SECRET_KEYS": [LONG_SECRET], "PEPPER_KEYS": [("p1", LONG_PEPPER)]}


def test_safe_settings_pass_every_check() -> None:
    with override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True):
        assert check_ids(**onboarding_config(**SAFE_CONFIG)) == set()


@pytest.mark.parametrize("setting", ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"])
def test_cookies_that_may_travel_over_http_are_flagged(setting: str) -> None:
    other = ({"SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"} - {setting}).pop()
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(**SAFE_CONFIG),
                           **{setting: False, other: True}):
        found = [m for m in run_checks() if m.id == "cegema_onboarding.W008"]
        assert len(found) == 1
        assert setting in found[0].msg and other not in found[0].msg
        assert f"Set {setting} = True" in (found[0].hint or "")
        with override_settings(**{setting: True}):
            assert not [m for m in run_checks() if m.id == "cegema_onboarding.W008"]
        # In development (DEBUG) the site runs on plain http: nothing to say.
        with override_settings(DEBUG=True):
            assert not [m for m in run_checks() if m.id == "cegema_onboarding.W008"]


def test_a_missing_base_url_is_an_error() -> None:
    config = onboarding_config()
    del config["BASE_URL"]
    assert "cegema_onboarding.E002" in check_ids(**config)


def test_missing_keys_are_an_error() -> None:
    config = onboarding_config()
    del config["SECRET_KEYS"]
    assert "cegema_onboarding.E001" in check_ids(**config)


def test_http_base_url_of_another_machine_is_an_error_unless_allowed() -> None:
    # Refused by the library's Settings, naming the opt-in; allowed, it is still flagged
    # while DEBUG is off.
    assert "cegema_onboarding.E001" in check_ids(**onboarding_config(BASE_URL="http://portail"))
    allowed = onboarding_config(BASE_URL="http://portail", ALLOW_INSECURE_HTTP=True)
    assert "cegema_onboarding.W001" in check_ids(**allowed)
    with override_settings(DEBUG=True):
        assert "cegema_onboarding.W001" not in check_ids(**allowed)


def test_short_and_shared_keys_are_flagged() -> None:
    short = "k" * 40
    assert "cegema_onboarding.W002" in check_ids(**onboarding_config(SECRET_KEYS=[short]))
    # One key signing links and peppering hashes is an error now, as in every host.
    assert "cegema_onboarding.E001" in check_ids(**onboarding_config(SECRET_KEYS=[PEPPER]))
    with override_settings(SECRET_KEY=PEPPER):
        assert "cegema_onboarding.W003" in check_ids(**onboarding_config())


def test_secret_questions_need_a_stated_recovery_policy() -> None:
    config = onboarding_config()
    del config["RECOVERY_POLICY"]
    assert "cegema_onboarding.W005" in check_ids(**config)
    assert "cegema_onboarding.W005" not in check_ids(
        **onboarding_config(SECRET_QUESTIONS=False, RECOVERY_POLICY=None))
    assert "cegema_onboarding.E003" in check_ids(
        **onboarding_config(SECRET_QUESTIONS=False, RECOVERY_POLICY="link_and_answer"))


def test_missing_epoch_middleware_is_flagged() -> None:
    from django.conf import settings

    middleware = [m for m in settings.MIDDLEWARE if "SessionEpoch" not in m]
    with override_settings(MIDDLEWARE=middleware):
        assert "cegema_onboarding.W007" in check_ids(**onboarding_config())


def test_unknown_keys_and_bad_values_are_refused_without_echoing_secrets() -> None:
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(SECRET_KEY=[SECRET])), \
            pytest.raises(ImproperlyConfigured, match="unknown key"):
        library_settings()
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(SECRET_KEYS=["short"])), \
            pytest.raises(ImproperlyConfigured) as caught:
        library_settings()
    assert "short" not in str(caught.value).replace("shorter", "")


def test_settings_pass_through_to_the_library() -> None:
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(SECRET_QUESTIONS=False)):
        assert library_settings().secret_questions is False
        assert get_service().settings.secret_questions is False


def _message() -> EmailMessage:
    return assemble(_draft())


def _draft() -> Mail:
    return validation_mail(MailSettings(), to="marie@example.org", name="Marie Dupont",
                           address="marie@example.org",
                           link_url="https://portail.example/premiere-connexion/valider?token=t",
                           code="ABCD-EFGH", valid_hours=24, lang="fr",
                           sent_at=__import__("datetime").datetime.now(
                               __import__("datetime").UTC),
                           message_id="<m1@portail.example>")


def test_the_mailer_goes_through_the_hosts_email_backend() -> None:
    mail.outbox = []
    DjangoMailer().send_message(_message())
    (sent,) = mail.outbox
    assert sent.to == ["Marie Dupont <marie@example.org>"]
    assert sent.extra_headers["Message-ID"] == "<m1@portail.example>"
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "ABCD-EFGH" in sent.body
    assert sent.alternatives and sent.alternatives[0][1] == "text/html"
    rendered = sent.message().as_string()
    assert "Message-ID: <m1@portail.example>" in rendered


def test_the_mailer_builds_the_django_message_from_the_draft_fields() -> None:
    mail.outbox = []
    draft = _draft()
    DjangoMailer().send(draft)
    (sent,) = mail.outbox
    assert sent.to == ["Marie Dupont <marie@example.org>"]
    assert sent.subject == draft.subject
    assert sent.body == draft.text
    assert sent.alternatives[0] == (draft.html, "text/html")
    assert sent.extra_headers["Message-ID"] == "<m1@portail.example>"
    assert sent.extra_headers["Content-Language"] == "fr"
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    rendered = sent.message().as_string()
    assert "Message-ID: <m1@portail.example>" in rendered
    assert "Date: " in rendered


def test_a_failing_backend_raises_mail_error() -> None:
    with override_settings(
            EMAIL_BACKEND="tests.integrations.django.broken_backend.BrokenBackend"), \
            pytest.raises(MailError) as caught:
        DjangoMailer().send_message(_message())
    assert "secret-host" not in str(caught.value)
