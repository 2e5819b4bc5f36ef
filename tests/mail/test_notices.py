"""Notice -> mail: the builder, the link and its lifetime each notice gets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cegema_onboarding.flow import Notice, SendNotice
from cegema_onboarding.mail.draft import Mail
from cegema_onboarding.mail.notices import link_hours, notice_mail, offline_text
from cegema_onboarding.model import Channel
from cegema_onboarding.texts import text

from ..conftest import START, make_settings
from ..flow.test_transitions import new_account

SETTINGS = make_settings()
ACCOUNT = new_account(lang="en")
MSG_ID = "<0123456789abcdef@portail.example>"
TO = "marie@example.fr"

MAILED: dict[Notice, tuple[str, str | None]] = {
    # notice: (subject key, path of the link it carries)
    Notice.VALIDATION: ("mail.validation.subject", "/premiere-connexion/valider"),
    Notice.PASSWORD_CHANGED: ("mail.password_changed.subject", "/securite/ce-n-etait-pas-moi"),
    Notice.RESET: ("mail.reset.subject", "/mot-de-passe/reinitialiser"),
    Notice.IDENTIFIER: ("mail.identifier.subject", None),
    Notice.EMAIL_CHANGE: ("mail.validation.subject", "/profil/email/valider"),
    Notice.EMAIL_CHANGE_NOTICE: ("mail.email_change.subject", "/securite/ce-n-etait-pas-moi"),
    Notice.ACTIVATED: ("mail.activation.subject", None),
    Notice.REMEMBER_THEFT: ("mail.remember_theft.subject", None),
}


def effect(notice: Notice, channel: Channel = Channel.EMAIL) -> SendNotice:
    return SendNotice(notice, ACCOUNT.account_id, channel, START,
                      to=TO if channel is Channel.EMAIL else None, token="tok.en-1",
                      code="K7QM-4ZPX", ip="192.0.2.1", detail="m***@e***")


def test_every_notice_is_either_mailed_or_refused() -> None:
    assert set(MAILED) == set(Notice) - {Notice.ACTIVATION_REJECTED}
    with pytest.raises(ValueError, match="no mail template"):
        notice_mail(SETTINGS, ACCOUNT, effect(Notice.ACTIVATION_REJECTED), sent_at=START,
                    message_id=MSG_ID)
    with pytest.raises(ValueError, match="address"):
        notice_mail(SETTINGS, ACCOUNT, effect(Notice.VALIDATION, Channel.POST), sent_at=START,
                    message_id=MSG_ID)


@pytest.mark.parametrize("notice", sorted(MAILED, key=lambda n: n.value), ids=str)
def test_each_notice_gets_its_subject_and_link(notice: Notice) -> None:
    subject_key, path = MAILED[notice]
    mail = notice_mail(SETTINGS, ACCOUNT, effect(notice), sent_at=START, message_id=MSG_ID)
    assert isinstance(mail, Mail)
    assert mail.subject == text(subject_key, "en", brand=SETTINGS.mail.brand)
    assert (mail.recipient, mail.lang, mail.message_id) == (TO, "en", MSG_ID)
    links = [f"https://portail.example{p}?token=tok.en-1" for p in [path] if p is not None]
    assert [link for link in links if link in mail.text] == links
    assert ("K7QM-4ZPX" in mail.text) is (notice is Notice.VALIDATION)


def test_links_announce_whole_hours_rounded_up() -> None:
    assert [link_hours(timedelta(minutes=m)) for m in (1, 60, 61, 24 * 60)] == [1, 1, 2, 24]


def test_offline_text_is_the_members_language() -> None:
    got = offline_text(SETTINGS, ACCOUNT, effect(Notice.PASSWORD_CHANGED, Channel.POST))
    assert got == text("offline.password_changed", "en", name=ACCOUNT.name,
                       brand=SETTINGS.mail.brand, detail="m***@e***")
