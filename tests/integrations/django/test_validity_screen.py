"""Django's "boîte mail" screen and mails: the link's life in words, the guide's footer."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.bootstrap import DEMO_MAIL_SETTINGS
from cegema_onboarding.integrations.django.conf import get_service

from .conftest import onboarding_config
from .helpers import body, csrf_client, post_form

pytestmark = pytest.mark.django_db

JOURNEY = "/premiere-connexion/"
EMAIL = "marie.dupont@example.org"


@pytest.fixture
def one_hour_service(clock: ManualClock) -> Iterator[Any]:
    config = onboarding_config(CLOCK=clock, LINK_LIFETIME=timedelta(hours=1),
                               MAIL=DEMO_MAIL_SETTINGS)
    with override_settings(CEGEMA_ONBOARDING=config):
        mail.outbox = []
        yield get_service()


def test_the_mailbox_screen_and_the_mail_say_quune_heure(one_hour_service: Any) -> None:
    client = csrf_client()
    member = one_hour_service.staff.provision("100234567", "Marie Dupont")
    post_form(client, "/connexion/", "/connexion/",
              {"identifier": "100234567", "password": member.initial_password})
    post_form(client, JOURNEY, "/premiere-connexion/email/",
              {"email": EMAIL, "confirmation": EMAIL})
    page = html.unescape(body(client.get(JOURNEY)))
    assert "Attention, ce lien n'est valable qu'une heure." in page
    assert "que 1 heure" not in page
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.from_email == "CEGEMA <espace.client@cegema.com>"
    assert ("ce lien n'est valable qu'une heure. Passé ce délai, il vous faudra recommencer "
            "la procédure depuis le site www.cegema.com") in sent.body
    assert ("Cliquer sur ce lien : Mentions Légales\nOu copier cette URL dans votre "
            "navigateur : https://www.cegema.com/mentionslegales_mail.php") in sent.body
