"""The "Connectez-vous à votre boîte mail" screen states the link's life as the mail does."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

pytest.importorskip("flask")
from flask import Flask
from flask.testing import FlaskClient

from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.integrations.flask import Onboarding
from cegema_onboarding.service import OnboardingService

from ...conftest import START, make_settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post(client: FlaskClient, path: str, data: dict[str, str]) -> object:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = CSRF.search(page)
    assert match is not None
    return client.post(path, data={**data, "csrf_token": match.group(1)})


def mailbox_page(lifetime: timedelta, lang: str) -> str:
    service = OnboardingService(MemoryStorage(), MemoryMailer(),
                                settings=make_settings(link_lifetime=lifetime),
                                clock=ManualClock(START), notifier=MemoryNotifier())
    app = Flask(__name__)
    app.config.update(SECRET_KEY="validity-screen-tests-0123456789abcdef", TESTING=True)
    Onboarding(app, service=service)
    client = app.test_client()
    member = service.staff.provision("100234567", "Marie Dupont", lang=lang)
    client.get(f"/connexion?lang={lang}")
    post(client, "/connexion", {"identifier": "100234567", "password": member.initial_password})
    post(client, "/premiere-connexion", {"email": "marie@example.com",
                                         "confirmation": "marie@example.com"})
    return html.unescape(client.get("/premiere-connexion/boite-mail").get_data(as_text=True))


@pytest.mark.parametrize(("lifetime", "french"), [
    (timedelta(hours=24), "ce lien n'est valable que 24 heures."),
    (timedelta(hours=1), "ce lien n'est valable qu'une heure."),
    (timedelta(minutes=30), "ce lien n'est valable que 30 minutes."),
    (timedelta(days=1, minutes=30), "ce lien n'est valable que 24 heures."),
])
def test_the_screen_says_the_links_life_in_french(lifetime: timedelta, french: str) -> None:
    page = mailbox_page(lifetime, "fr")
    assert french in page
    assert "que 1 heure" not in page and "que une" not in page


def test_the_screen_in_english() -> None:
    page = mailbox_page(timedelta(hours=1), "en")
    assert "this link is only valid for one hour." in page
