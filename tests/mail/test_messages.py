"""The mails: real RFC 5322 messages, parsed back and checked header by header."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest

from cegema_onboarding.errors import ConfigurationError, InvalidInput
from cegema_onboarding.mail.draft import make_message_id
from cegema_onboarding.mail.settings import MailSettings

# The builders that return an assembled EmailMessage, through the deprecated module.
from cegema_onboarding.mails import (
    activation_mail,
    email_change_notice_mail,
    identifier_reminder_mail,
    password_changed_mail,
    reset_link_mail,
    validation_mail,
)

SENT_AT = datetime(2026, 3, 2, 8, 39, 12, tzinfo=UTC)
MSG_ID = "<0123456789abcdef@portail.example>"
LINK = "https://portail.example/premiere-connexion/valider?token=AbC.dEf-123_x&p_l_id=20146"
CODE = "K7QM-4ZPX"
CONTACT = "https://www.cegema.com/web/guest/nous-contacter"
LEGAL = "https://www.cegema.com/mentionslegales_mail.php"
SETTINGS = MailSettings(contact_url=CONTACT, legal_url=LEGAL)


def parse(msg: EmailMessage) -> EmailMessage:
    """Serialise and parse back, as a receiving mail client would."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(msg: EmailMessage) -> tuple[str, str]:
    """The decoded text/plain and text/html bodies, checking the MIME structure."""
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    plain, html = (p.get_content() for p in parts)
    assert isinstance(plain, str)
    assert isinstance(html, str)
    # policy.SMTP writes CRLF, and the parsed content keeps it.
    return plain.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def validation(**overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "to": "zoe.lefevre@example.fr",
        "name": "Zoé Lefèvre",
        "address": "zoe.lefevre@example.fr",
        "link_url": LINK,
        "code": CODE,
        "valid_hours": 24,
        "sent_at": SENT_AT,
        "message_id": MSG_ID,
    }
    values.update(overrides)
    return validation_mail(SETTINGS, **values)


def password_changed(**overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "to": "zoe.lefevre@example.fr",
        "name": "Zoé Lefèvre",
        "ip": "172.17.0.14",
        "changed_at": datetime(2026, 3, 2, 8, 52, tzinfo=UTC),
        "not_me_url": "https://portail.example/securite/ce-n-etait-pas-moi?token=NotMe.42",
        "sent_at": SENT_AT,
        "message_id": MSG_ID,
    }
    values.update(overrides)
    return password_changed_mail(SETTINGS, **values)


# --------------------------------------------------------------------------- headers


def test_validation_mail_headers() -> None:
    msg = parse(validation())
    assert msg["Subject"] == "CEGEMA : Vérification de l'adresse mail"
    assert msg["From"].addresses[0].addr_spec == "ne-pas-repondre@example.invalid"
    assert msg["From"].addresses[0].display_name == "CEGEMA"
    assert msg["To"].addresses[0].addr_spec == "zoe.lefevre@example.fr"
    assert msg["Date"].datetime == SENT_AT
    assert msg["Message-ID"] == MSG_ID
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Content-Language"] == "fr"
    assert msg["MIME-Version"] == "1.0"


def test_headers_are_7bit_and_the_accented_name_round_trips() -> None:
    raw = validation(name="Zoé Lefèvre-Ødegård").as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"\r\n" in raw  # policy.SMTP line endings
    to = parse(validation(name="Zoé Lefèvre-Ødegård"))["To"].addresses
    assert len(to) == 1
    assert to[0].display_name == "Zoé Lefèvre-Ødegård"


def test_date_is_utc_whatever_the_zone_of_sent_at() -> None:
    paris_winter = timezone(timedelta(hours=1))
    msg = parse(validation(sent_at=SENT_AT.astimezone(paris_winter)))
    assert msg["Date"].datetime == SENT_AT
    assert msg["Date"].datetime.utcoffset() == timedelta(0)
    assert str(msg["Date"]).endswith("+0000")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        validation(sent_at=datetime(2026, 3, 2, 9, 39))
    assert info.value.field == "sent_at"
    with pytest.raises(InvalidInput):
        password_changed(changed_at=datetime(2026, 3, 2, 9, 52))


@pytest.mark.parametrize("build", [validation, password_changed])
def test_a_lone_surrogate_in_the_name_is_refused_as_input(build: Any) -> None:
    # From surrogateescape decoding: it cannot be written as UTF-8, so say so up front
    # instead of failing deep inside the email package.
    with pytest.raises(InvalidInput) as info:
        build(name="Zo\udce9 Lef\u00e8vre")
    assert (info.value.field, info.value.reason) == ("name", "encoding")


def test_same_arguments_build_the_same_bytes() -> None:
    assert validation().as_bytes() == validation().as_bytes()
    assert validation().as_bytes() != validation(message_id="<other@portail.example>").as_bytes()


# --------------------------------------------------------------------------- bodies


def test_validation_mail_body_follows_the_guide() -> None:
    plain, html = bodies(parse(validation()))
    for expected in (
        "Bonjour ! Zoé Lefèvre",
        "La validation de votre adresse email zoe.lefevre@example.fr est nécessaire pour vous "
        "connecter à votre espace adhérent CEGEMA.",
        "A cette fin, vous pouvez cliquer sur le lien ci-dessous :",
        "Attention, ce lien n'est valable que 24 heures. Passé ce délai, il vous faudra "
        "recommencer la procédure depuis le site.",
        f"Vous pouvez aussi saisir ce code : {CODE}",
        "Ceci est un message automatique généré par notre serveur ; merci de ne pas y répondre.",
    ):
        assert expected in plain
    # The link stands alone on its line, so it can be copied whole.
    assert f"\n{LINK}\n" in plain
    for needle in ("Zoé Lefèvre", "zoe.lefevre@example.fr", CODE, "24 heures"):
        assert needle in html
    assert 'href="' + LINK.replace("&", "&amp;") + '"' in html
    assert '<html lang="fr">' in html


def test_one_hour_is_singular() -> None:
    plain, _ = bodies(parse(validation(valid_hours=1)))
    assert "n'est valable qu'une heure." in plain
    plain_en, _ = bodies(parse(validation(valid_hours=1, lang="en")))
    assert "only valid for one hour." in plain_en


def test_html_escapes_every_interpolated_value() -> None:
    name = '<script>alert("x")</script> & Co'
    address = 'o"brien<b>@example.fr'
    plain, html = bodies(parse(validation(name=name, address=address)))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert "o&quot;brien&lt;b&gt;@example.fr" in html
    assert "<b>@" not in html
    # The text part shows the values as they are.
    assert name in plain
    assert address in plain


def test_header_injection_through_the_name_is_neutralised() -> None:
    msg = parse(validation(name="Zoé\r\nBcc: victim@example.com"))
    assert msg["Bcc"] is None
    assert len(msg["To"].addresses) == 1
    assert msg["To"].addresses[0].display_name == "Zoé Bcc: victim@example.com"


def test_english_validation_mail() -> None:
    msg = parse(validation(lang="en-GB"))
    assert msg["Subject"] == "CEGEMA: Verify your email address"
    assert msg["Content-Language"] == "en"
    plain, html = bodies(msg)
    assert plain.startswith("Hello Zoé Lefèvre!")
    assert "only valid for 24 hours" in plain
    assert f"You can also enter this code: {CODE}" in plain
    assert "This is an automatic message" in plain
    assert "Vérification" not in plain
    assert '<html lang="en">' in html


def test_unknown_language_falls_back_to_french() -> None:
    assert parse(validation(lang="de"))["Subject"] == "CEGEMA : Vérification de l'adresse mail"


def test_password_changed_mail() -> None:
    msg = parse(password_changed())
    assert msg["Subject"] == "CEGEMA : Votre mot de passe a été changé"
    plain, html = bodies(msg)
    for expected in (
        "Bonjour ! Zoé Lefèvre",
        "Le mot de passe d'accès à votre espace adhérent CEGEMA a été modifié.",
        "La demande a été faite depuis 172.17.0.14.",
        # 08:52 UTC is 09:52 in Paris in March (CET).
        "La modification a eu lieu le 02/03/2026 à 09:52 (CET).",
        "Si vous n'êtes pas à l'origine de cette modification, merci de bien vouloir contacter "
        "CEGEMA en cliquant ici :",
        CONTACT,
        "Ce n'était pas moi",
        "https://portail.example/securite/ce-n-etait-pas-moi?token=NotMe.42",
    ):
        assert expected in plain
    for needle in ("172.17.0.14", "Zoé Lefèvre", "09:52", f'href="{CONTACT}"', "NotMe.42"):
        assert needle in html
    assert "Ce n&#x27;était pas moi" in html


def test_password_changed_mail_summer_time_and_english() -> None:
    msg = parse(password_changed(changed_at=datetime(2026, 7, 1, 7, 52, tzinfo=UTC), lang="en"))
    assert msg["Subject"] == "CEGEMA: Your password has been changed"
    plain, _ = bodies(msg)
    assert "The change was made on 2026-07-01 at 09:52 (CEST)." in plain
    assert "The request was made from 172.17.0.14." in plain


def test_password_changed_mail_without_not_me_link() -> None:
    plain, html = bodies(parse(password_changed(not_me_url=None)))
    assert "Ce n'était pas moi" not in plain
    assert "ce-n-etait-pas-moi" not in html
    assert CONTACT in plain


def test_password_changed_mail_shows_only_real_ip_addresses() -> None:
    # X-Forwarded-For is attacker-controlled: free text must not reach a security notice.
    plain, html = bodies(parse(password_changed(ip="172.17.0.14 / 172.17.0.14")))
    assert "La demande a été faite depuis 172.17.0.14 / 172.17.0.14." in plain
    plain, html = bodies(parse(password_changed(ip="203.0.113.9, call +33 1 23 45 67 89 now")))
    assert "La demande a été faite depuis 203.0.113.9." in plain
    assert "call" not in plain
    assert "call" not in html
    plain, _ = bodies(parse(password_changed(ip="inconnue")))
    assert "La demande a été faite depuis une adresse inconnue." in plain
    plain, _ = bodies(parse(password_changed(ip=None, lang="en")))
    assert "The request was made from an unknown address." in plain
    plain, _ = bodies(parse(password_changed(ip="[2001:db8::1]")))
    assert "2001:db8::1" in plain
    plain, _ = bodies(parse(password_changed(ip="fe80::1%call-us-now")))
    assert "La demande a été faite depuis fe80::1." in plain
    plain, _ = bodies(parse(password_changed(ip=", ".join(["10.0.0.1"] * 50))))
    assert plain.count("10.0.0.1") == 4


def test_contact_sentence_without_a_contact_url() -> None:
    msg = password_changed_mail(
        MailSettings(),
        to="a@example.fr",
        name="Jean",
        ip="10.0.0.1",
        changed_at=SENT_AT,
        not_me_url=None,
        sent_at=SENT_AT,
        message_id=MSG_ID,
    )
    plain, html = bodies(parse(msg))
    assert "merci de bien vouloir contacter CEGEMA au plus vite." in plain
    assert "en cliquant ici" not in plain
    assert "Mentions" not in plain
    assert "Mentions" not in html


def test_reset_link_mail() -> None:
    msg = parse(
        reset_link_mail(
            SETTINGS,
            to="zoe@example.fr",
            name="Zoé",
            link_url=LINK,
            code=CODE,
            valid_hours=2,
            sent_at=SENT_AT,
            message_id=MSG_ID,
        )
    )
    assert msg["Subject"] == "CEGEMA : Réinitialisation de votre mot de passe"
    plain, html = bodies(msg)
    for needle in (LINK, CODE, "Zoé", "2 heures"):
        assert needle in plain
    for needle in (CODE, "Zoé", "2 heures"):
        assert needle in html
    assert "votre mot de passe reste inchangé" in plain


def test_identifier_reminder_mail() -> None:
    msg = parse(
        identifier_reminder_mail(
            SETTINGS,
            to="zoe@example.fr",
            name="Zoé",
            member_number="AD-123456",
            sent_at=SENT_AT,
            message_id=MSG_ID,
            lang="en",
        )
    )
    assert msg["Subject"] == "CEGEMA: Your identifier"
    plain, html = bodies(msg)
    assert "Your identifier (member number) is: AD-123456" in plain
    assert "AD-123456" in html


def test_email_change_notice_mail() -> None:
    msg = parse(
        email_change_notice_mail(
            SETTINGS,
            to="old@example.fr",
            name="Zoé",
            new_address_hint="n***@e***.fr",
            sent_at=SENT_AT,
            message_id=MSG_ID,
        )
    )
    assert msg["Subject"] == "CEGEMA : Changement de votre adresse mail"
    assert msg["To"].addresses[0].addr_spec == "old@example.fr"
    plain, html = bodies(msg)
    assert "n***@e***.fr" in plain
    assert "n***@e***.fr" in html
    assert CONTACT in plain


def test_activation_mail() -> None:
    msg = parse(
        activation_mail(
            SETTINGS, to="zoe@example.fr", name="Zoé", sent_at=SENT_AT, message_id=MSG_ID
        )
    )
    assert msg["Subject"] == "CEGEMA : Votre compte est activé"
    plain, html = bodies(msg)
    assert "a été activé par votre conseiller" in plain
    assert "Conditions Particulières" in html


Builder = Callable[[], EmailMessage]
ALL_BUILDERS: dict[str, Builder] = {
    "validation": validation,
    "password_changed": password_changed,
    "reset": lambda: reset_link_mail(
        SETTINGS,
        to="a@example.fr",
        name="A",
        link_url=LINK,
        code=CODE,
        valid_hours=24,
        sent_at=SENT_AT,
        message_id=MSG_ID,
    ),
    "identifier": lambda: identifier_reminder_mail(
        SETTINGS, to="a@example.fr", name="A", member_number="1", sent_at=SENT_AT, message_id=MSG_ID
    ),
    "email_change": lambda: email_change_notice_mail(
        SETTINGS,
        to="a@example.fr",
        name="A",
        new_address_hint="b***@c.fr",
        sent_at=SENT_AT,
        message_id=MSG_ID,
    ),
    "activation": lambda: activation_mail(
        SETTINGS, to="a@example.fr", name="A", sent_at=SENT_AT, message_id=MSG_ID
    ),
}


@pytest.mark.parametrize("kind", sorted(ALL_BUILDERS))
def test_every_mail_has_the_automatic_headers_and_footer(kind: str) -> None:
    msg = parse(ALL_BUILDERS[kind]())
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Message-ID"] == MSG_ID
    assert msg["Date"].datetime == SENT_AT
    assert msg["Subject"].startswith("CEGEMA : ")
    plain, html = bodies(msg)
    assert "Ceci est un message automatique généré par notre serveur" in plain
    assert "Ceci est un message automatique généré par notre serveur" in html
    assert ("Cliquer sur ce lien : Mentions Légales\n"
            f"Ou copier cette URL dans votre navigateur : {LEGAL}\n") in plain
    assert f'href="{LEGAL}"' in html
    assert f"Ou copier cette URL dans votre navigateur : {LEGAL}" in html
    for part in msg.iter_parts():
        assert part["MIME-Version"] is None


def test_greeting_without_a_name() -> None:
    plain, _ = bodies(parse(validation(name="  ")))
    assert plain.startswith("Bonjour !\n")


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    "to",
    ["", "no-at-sign", "@example.fr", "zoe@", "zoé@example.fr", "a@b\r\nBcc: x@y.z", "a@nodot"],
)
def test_bad_recipients_are_refused(to: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validation(to=to)
    assert info.value.field == "to"


def test_internationalised_domains_are_punycoded() -> None:
    msg = parse(validation(to="zoe@exämple.fr"))
    assert msg["To"].addresses[0].domain == "xn--exmple-cua.fr"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "/relative/path",
        'https://portail.example/"><script>',
        "https://portail.example/a b",
        "https:///no-host",
    ],
)
def test_bad_link_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validation(link_url=url)
    assert info.value.field == "link_url"
    with pytest.raises(InvalidInput):
        password_changed(not_me_url=url)


@pytest.mark.parametrize("hours", [0, -1, True])
def test_bad_lifetimes_are_refused(hours: int) -> None:
    with pytest.raises(InvalidInput):
        validation(valid_hours=hours)


def test_errors_never_carry_the_secret() -> None:
    secret = "S3CRET\nCODE-THAT-IS-FAR-TOO-LONG-TO-BE-VALID"
    with pytest.raises(InvalidInput) as info:
        validation(code=secret)
    assert "S3CRET" not in str(info.value)
    assert "S3CRET" not in repr(info.value)
    with pytest.raises(InvalidInput) as info:
        validation(link_url="javascript:steal('tok3n')")
    assert "tok3n" not in str(info.value)


def test_make_message_id() -> None:
    assert make_message_id("0123abcd", "portail.example") == "<0123abcd@portail.example>"
    for unique, domain in (
        ("a b", "x.fr"),
        ("a@b", "x.fr"),
        ("a", "x fr"),
        ("", "x.fr"),
        ("a", ""),
        ("a>", "x.fr"),
        ("a", "-x.fr"),
    ):
        with pytest.raises(InvalidInput):
            make_message_id(unique, domain)


@pytest.mark.parametrize(
    "message_id", ["abc@x.fr", "<abc>", "<a b@x.fr>", "<abc@x.fr>\r\nBcc: y@z.fr", "<é@x.fr>"]
)
def test_malformed_message_ids_are_refused(message_id: str) -> None:
    with pytest.raises(InvalidInput):
        validation(message_id=message_id)


# --------------------------------------------------------------------------- settings


def test_mail_settings_defaults() -> None:
    settings = MailSettings()
    assert settings.brand == "CEGEMA"
    assert settings.sender == "CEGEMA <ne-pas-repondre@example.invalid>"
    assert settings.contact_url == ""
    assert settings.legal_url == ""


def test_sender_with_an_accented_name_is_encoded() -> None:
    settings = MailSettings(
        brand="Cégéma", sender="Cégéma Espace Client <espace.client@cegema.com>"
    )
    msg = activation_mail(settings, to="a@example.fr", name="A", sent_at=SENT_AT, message_id=MSG_ID)
    assert msg.as_bytes().split(b"\r\n\r\n", 1)[0].isascii()
    parsed = parse(msg)
    assert parsed["From"].addresses[0].display_name == "Cégéma Espace Client"
    assert parsed["Subject"] == "Cégéma : Votre compte est activé"


@pytest.mark.parametrize(
    "overrides",
    [
        {"sender": "not an address"},
        {"sender": "a@b.fr, c@d.fr"},
        {"sender": "CEGEMA <a@b.fr>\r\nBcc: x@y.z"},
        {"sender": "CEGEMA <nodomain>"},
        {"brand": ""},
        {"brand": "CEGEMA\r\nBcc: x@y.z"},
        {"contact_url": "javascript:alert(1)"},
        {"legal_url": "www.cegema.com/mentions"},
        {"timezone": "Mars/Olympus_Mons"},
    ],
)
def test_bad_mail_settings_are_refused(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        MailSettings(**overrides)
