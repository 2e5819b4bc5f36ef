"""The guide's two mails, sent by the service as a member goes through the journey.

Step 5 (validation) and step 8 (password changed) of the guide, with the demo's mail
settings (the guide's sender, contact link, legal notice and site), in French and English;
and what the same mails say when a host sets none of them.
"""

from __future__ import annotations

import email
import email.policy
import io
from datetime import timedelta
from email.message import EmailMessage

import pytest

from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.bootstrap import DEMO_MAIL_SETTINGS, throwaway_settings
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.mail.settings import MailSettings
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import GOOD_PASSWORD, make_settings

CONTACT = "https://www.cegema.com/web/guest/nous-contacter"
LEGAL = "https://www.cegema.com/mentionslegales_mail.php"
IP = "172.17.0.14"
ANSWER = "Dupont-Moreau"


def journey(mail: MailSettings, lang: str = "fr", **overrides: object
            ) -> tuple[OnboardingService, MemoryMailer]:
    """A member provisioned in ``lang`` who validates the address and sets a password."""
    mailer = MemoryMailer()
    service = OnboardingService(MemoryStorage(), mailer,
                                settings=make_settings(mail=mail, **overrides),
                                clock=ManualClock(), notifier=MemoryNotifier())
    member = service.staff.provision("100234567", "Prénom Nom", lang=lang)
    out = service.login("100234567", member.initial_password, ip=IP)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(service.submit_email(out.session, "test@test.com", "test@test.com",
                                           ip=IP), Ok)
    token = text_of(mailer.sent[-1]).split("token=", 1)[1].split()[0]
    out = service.confirm_link(token, ip=IP, session=out.session)
    assert isinstance(out, Ok) and out.session is not None
    out = service.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP)
    assert isinstance(out, Ok) and out.session is not None
    qid = next(iter(service.settings.questions)).id
    assert isinstance(service.set_secret_answer(out.session, qid, ANSWER, ANSWER, ip=IP), Ok)
    service.deliver_due()
    return service, mailer


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies as a mail client reads them."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    plain, html = (p.get_content().replace("\r\n", "\n") for p in parsed.iter_parts())
    return plain, html


def text_of(msg: EmailMessage) -> str:
    return parts(msg)[0]


def by_subject(mailer: MemoryMailer, subject: str) -> tuple[EmailMessage, str, str]:
    found = [m for m in mailer.sent if str(m["Subject"]) == subject]
    assert len(found) == 1, [str(m["Subject"]) for m in mailer.sent]
    return (found[0], *parts(found[0]))


FOOTER_FR = ("Ceci est un message automatique généré par notre serveur ; merci de ne pas y "
             "répondre.\nCliquer sur ce lien : Mentions Légales\n"
             f"Ou copier cette URL dans votre navigateur : {LEGAL}\n")
FOOTER_EN = ("This is an automatic message sent by our server; please do not reply to it.\n"
             "Follow this link: Legal notice\n"
             f"Or copy this URL into your browser: {LEGAL}\n")


def assert_legal_footer_html(html: str, label: str) -> None:
    assert f'<a href="{LEGAL}" style="' in html
    assert f">{label}</a><br>" in html


def test_the_demo_uses_the_guides_mail_settings() -> None:
    assert throwaway_settings().mail == DEMO_MAIL_SETTINGS
    guide = MailSettings(sender="CEGEMA <espace.client@cegema.com>", contact_url=CONTACT,
                         legal_url=LEGAL, site_name="www.cegema.com")
    assert guide == DEMO_MAIL_SETTINGS


def test_the_validation_mail_reads_as_the_guide() -> None:
    _, mailer = journey(DEMO_MAIL_SETTINGS)
    msg, plain, html = by_subject(mailer, "CEGEMA : Vérification de l'adresse mail")
    assert str(msg["From"]) == "CEGEMA <espace.client@cegema.com>"
    for line in (
        "Bonjour ! Prénom Nom",
        "La validation de votre adresse email test@test.com est nécessaire pour vous "
        "connecter à votre espace adhérent CEGEMA.",
        "A cette fin, vous pouvez cliquer sur le lien ci-dessous :",
        "Attention, ce lien n'est valable que 24 heures. Passé ce délai, il vous faudra "
        "recommencer la procédure depuis le site www.cegema.com\n",
    ):
        assert line in plain
    assert plain.endswith(FOOTER_FR)
    assert "depuis le site www.cegema.com</p>" in html
    assert_legal_footer_html(html, "Mentions Légales")
    assert f"Ou copier cette URL dans votre navigateur : {LEGAL}" in html


def test_the_password_changed_mail_reads_as_the_guide() -> None:
    _, mailer = journey(DEMO_MAIL_SETTINGS)
    msg, plain, html = by_subject(mailer, "CEGEMA : Votre mot de passe a été changé")
    assert str(msg["From"]) == "CEGEMA <espace.client@cegema.com>"
    for line in (
        "Bonjour ! Prénom Nom",
        "Le mot de passe d'accès à votre espace adhérent CEGEMA a été modifié.",
        f"La demande a été faite depuis {IP}.",
        "Si vous n'êtes pas à l'origine de cette modification, merci de bien vouloir "
        f"contacter CEGEMA en cliquant ici :\n\n{CONTACT}\n",
    ):
        assert line in plain
    assert "au plus vite" not in plain
    assert plain.endswith(FOOTER_FR)
    # A real link, its text the URL itself, as in the guide.
    assert f'<a href="{CONTACT}" style="' in html
    assert f">{CONTACT}</a>" in html
    assert_legal_footer_html(html, "Mentions Légales")


def test_the_two_mails_in_english() -> None:
    _, mailer = journey(DEMO_MAIL_SETTINGS, lang="en")
    _, plain, html = by_subject(mailer, "CEGEMA: Verify your email address")
    assert ("Please note that this link is only valid for 24 hours. After that, you will "
            "need to start again from www.cegema.com\n") in plain
    assert plain.endswith(FOOTER_EN)
    assert_legal_footer_html(html, "Legal notice")
    _, plain, html = by_subject(mailer, "CEGEMA: Your password has been changed")
    assert (f"If you did not make this change, please contact CEGEMA by clicking here:\n\n"
            f"{CONTACT}\n") in plain
    assert f'<a href="{CONTACT}" style="' in html
    assert plain.endswith(FOOTER_EN)
    assert_legal_footer_html(html, "Legal notice")


def test_without_the_settings_the_mails_still_read_correctly() -> None:
    _, mailer = journey(MailSettings())
    _, plain, html = by_subject(mailer, "CEGEMA : Vérification de l'adresse mail")
    assert "recommencer la procédure depuis le site.\n" in plain
    _, changed, changed_html = by_subject(mailer, "CEGEMA : Votre mot de passe a été changé")
    assert ("Si vous n'êtes pas à l'origine de cette modification, merci de bien vouloir "
            "contacter CEGEMA au plus vite.") in changed
    for body in (plain, html, changed, changed_html):
        assert "Mentions" not in body
        assert "cliquant ici" not in body
        assert 'href=""' not in body
        assert "cegema.com" not in body


@pytest.mark.parametrize(("lifetime", "french", "english"), [
    (timedelta(hours=1), "qu'une heure", "one hour"),
    (timedelta(hours=2), "que 2 heures", "2 hours"),
    (timedelta(minutes=30), "que 30 minutes", "30 minutes"),
    (timedelta(days=3), "que 3 jours", "3 days"),
])
def test_the_validity_sentence_for_other_lifetimes(lifetime: timedelta, french: str,
                                                   english: str) -> None:
    for lang, wording in (("fr", f"n'est valable {french}. "),
                          ("en", f"only valid for {english}. ")):
        _, mailer = journey(DEMO_MAIL_SETTINGS, lang=lang, link_lifetime=lifetime)
        plain, html = parts(mailer.sent[0])
        assert wording in plain
        assert wording.replace("'", "&#x27;") in html or wording in html


def test_the_reset_mail_says_quune_heure() -> None:
    service, mailer = journey(DEMO_MAIL_SETTINGS)
    assert isinstance(service.forgot_password("100234567", ip=IP), Ok)
    service.deliver_due()
    plain, _ = parts(mailer.sent[-1])
    assert ("Attention, ce lien n'est valable qu'une heure. Passé ce délai, il vous faudra "
            "recommencer la procédure depuis le site www.cegema.com\n") in plain
    assert "que 1" not in plain


def test_the_terminal_demo_prints_the_guides_mails() -> None:
    from cegema_onboarding.cli import run_demo

    out = io.StringIO()
    assert run_demo(out) == 0
    printed = out.getvalue()
    assert "depuis le site www.cegema.com" in printed
    assert f"contacter CEGEMA en cliquant ici :\n\n{CONTACT}" in printed
    assert f"Ou copier cette URL dans votre navigateur : {LEGAL}" in printed


@pytest.mark.parametrize(("field", "value"), [
    ("contact_url", "javascript:alert(1)"),
    ("contact_url", "www.cegema.com/web/guest/nous-contacter"),
    ("legal_url", "ftp://www.cegema.com/mentions"),
    ("legal_url", "https://www.cegema.com/a b"),
])
def test_a_link_that_is_not_http_is_refused_by_name(field: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        MailSettings(**{field: value})
    assert f"mail {field} must be empty or an absolute http(s) URL" in str(info.value)
    assert value not in str(info.value)


@pytest.mark.parametrize(("value", "problem"), [
    ("www.cegema.com\nBcc: x", "single-line"),
    ("<b>cegema</b>", "angle brackets"),
    (" www.cegema.com", "spaces"),
    ("w" * 101, "100 characters"),
    (42, "single-line"),
])
def test_a_bad_site_name_is_refused(value: object, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        MailSettings(site_name=value)  # type: ignore[arg-type]
