"""The mails a member receives, written as :class:`~cegema_onboarding.mail.draft.Mail` drafts.

Each builder checks its arguments, writes a text body and an HTML body saying the same
thing, and returns a checked draft; :func:`cegema_onboarding.mail.assemble.assemble` makes
the RFC 5322 message. Builders are pure: the date and the Message-ID arrive as arguments.

Every interpolated value is HTML-escaped in the HTML body, and stripped of control characters
where it ends up in a header, because names and addresses come from outside. Errors never
carry the offending value: links and codes are secrets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.errors import HeaderDefect, MessageError
from email.headerregistry import Address
from typing import Final
from zoneinfo import ZoneInfo

from ..errors import InvalidInput
from ..normalize import ascii_domain
from ..texts import duration, resolve_lang, text
from .draft import MAX_ADDRESS, Mail
from .layout import Composer, contact, greeting, not_me, requester_ips
from .settings import CONTROL, MailSettings, is_web_url, sender_address

__all__ = [
    "activation_mail",
    "email_change_notice_mail",
    "identifier_reminder_mail",
    "password_changed_mail",
    "remember_theft_mail",
    "reset_link_mail",
    "validation_mail",
]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_MAX_CODE: Final = 32

# The configured sender is checked when the settings are made; parsing it again for every
# mail would only repeat that work. A handful of senders per process at most.
_sender: Final = functools.lru_cache(maxsize=16)(sender_address)


# --------------------------------------------------------------------------- checks


def _check_url(value: object, field: str) -> str:
    # A link is pasted into an href: only absolute web URLs, nothing that could break out
    # of the attribute or run script (javascript:, data:).
    if not is_web_url(value):
        raise InvalidInput(field, "malformed")
    return value


def _check_code(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= _MAX_CODE
        or CONTROL.search(value)
        or not value.strip()
    ):
        raise InvalidInput("code", "malformed")
    return value


def _check_lifetime(hours: object, lifetime: object) -> timedelta:
    """The link's life, given as ``valid_for`` (a timedelta) or ``valid_hours`` (an int)."""
    if lifetime is not None:
        if not isinstance(lifetime, timedelta) or lifetime < timedelta(seconds=1):
            raise InvalidInput("valid_for", "range")
        return lifetime
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
        raise InvalidInput("valid_hours", "range")
    return timedelta(hours=hours)


def _check_aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput(field, "type")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "naive_datetime")
    return value


def _single_line(value: object, field: str, max_len: int = 500) -> str:
    """Collapse control characters and runs of spaces: a header-safe, one-line string."""
    if not isinstance(value, str):
        raise InvalidInput(field, "type")
    if len(value) > max_len:
        raise InvalidInput(field, "too_long")
    if _SURROGATE.search(value):
        # A lone surrogate (from surrogateescape decoding) cannot be written as UTF-8.
        raise InvalidInput(field, "encoding")
    return " ".join(CONTROL.sub(" ", value).split())


def _recipient(to: object, name: str) -> Address:
    if not isinstance(to, str) or len(to) > MAX_ADDRESS or CONTROL.search(to):
        raise InvalidInput("to", "malformed")
    local, at, domain = to.strip().rpartition("@")
    if not at or not local or not domain:
        raise InvalidInput("to", "malformed")
    # policy.SMTP is 7-bit: a UTF-8 local part would need SMTPUTF8, which is not assumed.
    if not local.isascii():
        raise InvalidInput("to", "non_ascii")
    # The domain as email-validator computes ascii_domain (IDNA 2008, UTS #46), never with
    # the stdlib's "idna" codec: that is IDNA 2003, which sends the mail of "straße.de" to
    # "strasse.de", another domain.
    wire_domain = ascii_domain(domain, field="to")
    try:
        address = Address(display_name=name, addr_spec=f"{local}@{wire_domain}")
    except (UnicodeError, ValueError, HeaderDefect, MessageError, IndexError):
        raise InvalidInput("to", "malformed") from None
    if not address.username or "." not in address.domain:
        raise InvalidInput("to", "malformed")
    return address


def _write(
    settings: MailSettings,
    subject_key: str,
    compose: Callable[[Composer, str], None],
    *,
    lang: str,
    to: str,
    name: str,
    sent_at: datetime,
    message_id: str,
) -> Mail:
    """Check the envelope, write both bodies with ``compose``: the draft."""
    resolved = resolve_lang(lang)
    clean_name = _single_line(name, "name")
    recipient = _recipient(to, clean_name)
    date = _check_aware(sent_at, "sent_at").astimezone(UTC)
    subject = text(subject_key, resolved, brand=settings.brand)
    composer = Composer(resolved)
    compose(composer, clean_name)
    composer.footer(settings)
    sender = _sender(settings.sender)
    return Mail(
        sender=sender.addr_spec,
        sender_name=sender.display_name,
        recipient=recipient.addr_spec,
        recipient_name=clean_name,
        message_id=message_id,
        date=date,
        subject=subject,
        lang=resolved,
        text=composer.plain_text(),
        html=composer.html_document(settings, subject),
    )


# --------------------------------------------------------------------------- builders


def _link_and_code(
    c: Composer, settings: MailSettings, url: str, code: str | None, lifetime: timedelta
) -> None:
    c.link(url)
    c.para("mail.copy_link", small=True)
    # Rounded down: a mail never says a link lives longer than it does. "qu'une heure":
    # the French elision is done by the texts, for screens and mails alike.
    valid = {"duration": duration(lifetime, c.lang)}
    if settings.site_name:
        c.para("mail.validity_site", {**valid, "site": settings.site_name})
    else:
        c.para("mail.validity", valid)
    # Only where the journey accepts a typed code: a code nobody can use would mislead.
    if code is not None:
        c.para("mail.code_hint")
        c.para("mail.code", {"code": code}, as_code=("code",))


def validation_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    address: str,
    link_url: str,
    code: str | None,
    valid_hours: int | None = None,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
    valid_for: timedelta | None = None,
) -> Mail:
    """Step 5: "Vérification de l'adresse mail", with the link and a code to type instead.

    The link's life is ``valid_for`` or, when that is not given, ``valid_hours``.
    """
    shown_address = _single_line(address, "address", MAX_ADDRESS)
    url = _check_url(link_url, "link_url")
    secret_code = None if code is None else _check_code(code)
    lifetime = _check_lifetime(valid_hours, valid_for)

    def compose(c: Composer, clean_name: str) -> None:
        greeting(c, clean_name)
        c.para(
            "mail.validation.intro",
            {"address": shown_address, "brand": settings.brand},
            strong=("address",),
        )
        c.para("mail.validation.link_intro")
        _link_and_code(c, settings, url, secret_code, lifetime)

    return _write(settings, "mail.validation.subject", compose, lang=lang, to=to, name=name,
                  sent_at=sent_at, message_id=message_id)


def password_changed_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    ip: str | None,
    changed_at: datetime,
    not_me_url: str | None,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> Mail:
    """Step 8: "Votre mot de passe a été changé", with the IP, the time and a way out."""
    when = _check_aware(changed_at, "changed_at").astimezone(ZoneInfo(settings.timezone))
    url = None if not_me_url is None else _check_url(not_me_url, "not_me_url")

    def compose(c: Composer, clean_name: str) -> None:
        greeting(c, clean_name)
        c.para("mail.password_changed.intro", {"brand": settings.brand})
        date_format = "%d/%m/%Y" if c.lang == "fr" else "%Y-%m-%d"
        c.para(
            "mail.password_changed.when",
            {
                "date": when.strftime(date_format),
                "time": when.strftime("%H:%M"),
                "timezone": when.tzname() or settings.timezone,
            },
        )
        c.para("mail.password_changed.ip", {"ip": requester_ips(ip, c.lang)}, strong=("ip",))
        contact(c, settings)
        not_me(c, url)

    return _write(settings, "mail.password_changed.subject", compose, lang=lang, to=to, name=name,
                  sent_at=sent_at, message_id=message_id)


def reset_link_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    link_url: str,
    code: str | None,
    valid_hours: int | None = None,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
    valid_for: timedelta | None = None,
) -> Mail:
    """Forgotten password: "Réinitialisation de votre mot de passe", link and code.

    The link's life is ``valid_for`` or, when that is not given, ``valid_hours``.
    """
    url = _check_url(link_url, "link_url")
    secret_code = None if code is None else _check_code(code)
    lifetime = _check_lifetime(valid_hours, valid_for)

    def compose(c: Composer, clean_name: str) -> None:
        greeting(c, clean_name)
        c.para("mail.reset.intro", {"brand": settings.brand})
        c.para("mail.reset.link_intro")
        _link_and_code(c, settings, url, secret_code, lifetime)
        c.para("mail.reset.ignore")

    return _write(settings, "mail.reset.subject", compose, lang=lang, to=to, name=name,
                  sent_at=sent_at, message_id=message_id)


def identifier_reminder_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    member_number: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> Mail:
    """Forgotten identifier: "Votre identifiant", the member number."""
    number = _single_line(member_number, "member_number", 64)
    if not number:
        raise InvalidInput("member_number", "empty")

    def compose(c: Composer, clean_name: str) -> None:
        greeting(c, clean_name)
        c.para("mail.identifier.intro", {"brand": settings.brand})
        c.para("mail.identifier.value", {"member_number": number}, strong=("member_number",))
        c.para("mail.identifier.ignore")

    return _write(settings, "mail.identifier.subject", compose, lang=lang, to=to, name=name,
                  sent_at=sent_at, message_id=message_id)


def email_change_notice_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    new_address_hint: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
    not_me_url: str | None = None,
) -> Mail:
    """To the old address: "Changement de votre adresse mail" (the new one is masked).

    ``not_me_url`` is the signed "this wasn't me" link that gives the address back.
    """
    hint = _single_line(new_address_hint, "new_address_hint", MAX_ADDRESS)
    url = None if not_me_url is None else _check_url(not_me_url, "not_me_url")

    def compose(c: Composer, clean_name: str) -> None:
        greeting(c, clean_name)
        c.para(
            "mail.email_change.intro",
            {"brand": settings.brand, "new_address": hint},
            strong=("new_address",),
        )
        c.para("mail.email_change.old_address")
        contact(c, settings)
        not_me(c, url)

    return _write(settings, "mail.email_change.subject", compose, lang=lang, to=to, name=name,
                  sent_at=sent_at, message_id=message_id)


def activation_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> Mail:
    """Staff activated a member's account: "Votre compte est activé"."""

    def compose(c: Composer, clean_name: str) -> None:
        greeting(c, clean_name)
        c.para("mail.activation.intro", {"brand": settings.brand})
        c.para("mail.activation.next")

    return _write(settings, "mail.activation.subject", compose, lang=lang, to=to, name=name,
                  sent_at=sent_at, message_id=message_id)


def remember_theft_mail(
    settings: MailSettings,
    *,
    to: str,
    name: str,
    sent_at: datetime,
    message_id: str,
    lang: str = "fr",
) -> Mail:
    """A copied remember-me token came back: every remembered device was signed out."""

    def compose(c: Composer, clean_name: str) -> None:
        greeting(c, clean_name)
        c.para("mail.remember_theft.intro", {"brand": settings.brand})
        c.para("mail.remember_theft.advice")
        contact(c, settings)

    return _write(settings, "mail.remember_theft.subject", compose, lang=lang, to=to, name=name,
                  sent_at=sent_at, message_id=message_id)
