"""Every Django form's refusal is tied to its field and announced (issue #15).

Through Django's test client, CSRF enforced: the refused field has ``aria-invalid="true"``
and ``aria-describedby`` naming the ``role="alert"`` message that announces it. A
refusal of the whole form, or one shown after a redirect, is announced by that alert.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils.html import escape

from cegema_onboarding import texts
from cegema_onboarding.service import OnboardingService

from ...a11y import refused_fields
from ...conftest import GOOD_PASSWORD
from .helpers import body, csrf_client, last_link, path_of, post_form, shown
from .test_views import JOURNEY, log_in, start

pytestmark = pytest.mark.django_db


def refused(client: Client, form_url: str, action: str, data: dict[str, str]) -> Any:
    """POST a form that is refused: Post/Redirect/Get, so the page the redirect leads to."""
    return shown(client, post_form(client, form_url, action, data))


def fr(key: str) -> str:
    return texts.text(key, "fr", brand="CEGEMA")


def tied(response: Any, field: str) -> str:
    """The message tied to ``field`` (unescaped), after checking the page announces it."""
    assert response.status_code in (200, 400), response.status_code
    fields = refused_fields(body(response))
    assert field in fields, f"{field!r} is not marked invalid; refused: {sorted(fields)}"
    return html.unescape(fields[field]).strip()


def at_password_step(client: Client, service: OnboardingService) -> None:
    start(client, service)
    post_form(client, JOURNEY, "/premiere-connexion/email/",
              {"email": "marie@example.org", "confirmation": "marie@example.org"})
    link = last_link()
    post_form(client, path_of(link), "/premiere-connexion/valider",
              {"token": link.split("token=")[1]})


def active(client: Client, service: OnboardingService) -> None:
    at_password_step(client, service)
    post_form(client, JOURNEY, "/premiere-connexion/mot-de-passe/",
              {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    question = next(iter(service.settings.questions)).id
    response = post_form(client, JOURNEY, "/premiere-connexion/question/",
                         {"question": question, "answer": "Rex le chien",
                          "confirmation": "Rex le chien"})
    assert response.status_code == 302


def test_login(dj_service: OnboardingService) -> None:
    client = csrf_client()
    response = shown(client, log_in(client, "100234567", "not the password"))
    assert tied(response, "password") == fr("reason.bad_credentials")
    message = str(escape(fr("reason.bad_credentials")))
    assert f'role="alert" id="cegema-error">{message}' in body(response)


def test_email_step(dj_service: OnboardingService) -> None:
    client = csrf_client()
    start(client, dj_service)
    response = refused(client, JOURNEY, "/premiere-connexion/email/",
                         {"email": "marie@example.org", "confirmation": "other@example.org"})
    assert tied(response, "confirmation") == fr("reason.emails_differ")


def test_code_step(dj_service: OnboardingService) -> None:
    client = csrf_client()
    start(client, dj_service)
    post_form(client, JOURNEY, "/premiere-connexion/email/",
              {"email": "marie@example.org", "confirmation": "marie@example.org"})
    response = refused(client, "/premiere-connexion/code/", "/premiere-connexion/code/",
                         {"code": "ZZZZZZ"})
    assert tied(response, "code")


def test_password_step(dj_service: OnboardingService) -> None:
    client = csrf_client()
    at_password_step(client, dj_service)
    response = refused(client, JOURNEY, "/premiere-connexion/mot-de-passe/",
                         {"password": "qwerty123456", "confirmation": "qwerty123456"})
    assert tied(response, "password") == fr("reason.password_common")


def test_question_step(dj_service: OnboardingService) -> None:
    client = csrf_client()
    at_password_step(client, dj_service)
    post_form(client, JOURNEY, "/premiere-connexion/mot-de-passe/",
              {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    question = next(iter(dj_service.settings.questions)).id
    response = refused(client, JOURNEY, "/premiere-connexion/question/",
                         {"question": question, "answer": "Lefebvre",
                          "confirmation": "Lefebre"})
    assert tied(response, "confirmation") == fr("reason.answers_differ")


def test_forgotten_identifier(dj_service: OnboardingService) -> None:
    response = refused(csrf_client(), "/identifiant-oublie/", "/identifiant-oublie/",
                         {"email": "not an address"})
    assert tied(response, "email") == fr("reason.email_invalid")


def test_forgotten_password(dj_service: OnboardingService) -> None:
    response = refused(csrf_client(), "/mot-de-passe-oublie/", "/mot-de-passe-oublie/",
                         {"identifier": "<>"})
    assert tied(response, "identifier")


def test_reset_link(dj_service: OnboardingService) -> None:
    active(csrf_client(), dj_service)
    client = csrf_client()
    post_form(client, "/mot-de-passe-oublie/", "/mot-de-passe-oublie/",
              {"identifier": "100234567"})
    dj_service.deliver_due()
    link = path_of(last_link())
    assert link.startswith("/mot-de-passe/reinitialiser")
    page = body(client.get(link, follow=True))
    token = re.search(r'name="token" value="([^"]*)"', page)
    assert token is not None
    response = refused(client, link, link.split("?")[0], {
        "token": html.unescape(token.group(1)), "answer": "Mauvaise réponse",
        "password": "Une autre phrase de passe 2026",
        "confirmation": "Une autre phrase de passe 2026"})
    assert tied(response, "answer") == fr("reason.answer_wrong")


def test_profile_forms_refusals_are_announced(dj_service: OnboardingService) -> None:
    """The profile's forms answer a refusal with a redirect: the message is an alert."""
    client = csrf_client()
    active(client, dj_service)
    mail.outbox = []
    response = post_form(client, "/profil/", "/profil/mot-de-passe/", {
        "current_password": "not the password", "password": "Une autre phrase de passe 2026",
        "confirmation": "Une autre phrase de passe 2026"}, follow=True)
    alerts = re.findall(r'role="alert" id="cegema-error">([^<]+)<', body(response))
    assert alerts, body(response)


def test_profile_password_refusal_is_tied_to_its_field(dj_service: OnboardingService) -> None:
    """Only the password form's field is marked, not the address form's of the same name."""
    client = csrf_client()
    active(client, dj_service)
    response = refused(client, "/profil/", "/profil/mot-de-passe/", {
        "current_password": "not the password", "password": "Une autre phrase de passe 2026",
        "confirmation": "Une autre phrase de passe 2026"})
    assert tied(response, "current_password") == fr("reason.bad_credentials")
    page = body(response)
    assert re.search(r'id="id_current_password"[^>]*aria-invalid="true"', page)
    assert not re.search(r'id="id_email_password"[^>]*aria-invalid', page)


def test_profile_email_refusal_is_tied_and_keeps_the_addresses(
        dj_service: OnboardingService) -> None:
    client = csrf_client()
    active(client, dj_service)
    response = refused(client, "/profil/", "/profil/email/", {
        "current_password": GOOD_PASSWORD, "email": "new@example.org",
        "confirmation": "neww@example.org"})
    assert tied(response, "confirmation") == fr("reason.emails_differ")
    page = body(response)
    assert re.search(r'id="id_new_email_confirm"[^>]*aria-invalid="true"', page)
    assert not re.search(r'id="id_new_password_confirm"[^>]*aria-invalid', page)
    assert 'value="new@example.org"' in page and 'value="neww@example.org"' in page
