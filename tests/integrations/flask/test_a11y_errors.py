"""Every Flask form's refusal is tied to its field and announced (issue #15).

Through Flask's test client: the refused field has ``aria-invalid="true"`` and an
``aria-describedby`` naming the element that holds the message, and a ``role="alert"``
region announces the refusal. A refusal of the whole form is that alert itself.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding.service import Ok, Provisioned

from ...a11y import refused_fields
from ...conftest import GOOD_PASSWORD
from .test_views import Env, fr, post


def refused(client: Any, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    """POST a form that is refused: Post/Redirect/Get, so the page the redirect leads to."""
    response = post(client, path, data, **kwargs)
    assert response.status_code == 303, response.status_code
    return client.get(response.location)


def page_of(response: Any) -> str:
    return str(response.get_data(as_text=True))


def tied(response: Any, field: str) -> str:
    """The message tied to ``field`` (unescaped), after checking the page announces it."""
    fields = refused_fields(page_of(response))
    assert field in fields, f"{field!r} is not marked invalid; refused: {sorted(fields)}"
    return html.unescape(fields[field]).strip()


@pytest.fixture
def env() -> Env:
    return Env()


def logged_in(env: Env, number: str, password: str) -> Any:
    client = env.client()
    response = post(client, "/connexion", {"identifier": number, "password": password})
    assert response.status_code in (302, 303), response.status_code
    return client


def at_password_step(env: Env, number: str) -> tuple[Any, Provisioned]:
    """A member whose address is verified, logged in with the initial password."""
    member = env.service.staff.provision(number, "Marie Dupont")
    result = env.service.login(number, member.initial_password)
    assert isinstance(result, Ok) and result.session is not None
    env.service.submit_email(result.session, "marie@example.com", "marie@example.com")
    token = env.last_link().split("token=")[1]
    assert isinstance(env.service.confirm_link(token, session=result.session), Ok)
    return logged_in(env, number, member.initial_password), member


def test_login(env: Env) -> None:
    response = refused(env.client(), "/connexion",
                    {"identifier": "100234567", "password": "not the password"})
    assert tied(response, "password") == fr("reason.bad_credentials")


def test_email_step(env: Env) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    client = logged_in(env, "100234567", member.initial_password)
    response = refused(client, "/premiere-connexion",
                    {"email": "marie@example.com", "confirmation": "marie@example.org"})
    assert tied(response, "confirmation") == fr("reason.emails_differ")


def test_code_step(env: Env) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    client = logged_in(env, "100234567", member.initial_password)
    post(client, "/premiere-connexion",
         {"email": "marie@example.com", "confirmation": "marie@example.com"})
    response = refused(client, "/premiere-connexion/code", {"code": "ZZZZZZ"})
    assert tied(response, "code")


def test_password_step(env: Env) -> None:
    client, _ = at_password_step(env, "100234567")
    response = refused(client, "/mot-de-passe",
                    {"password": "qwerty123456", "confirmation": "qwerty123456"})
    assert tied(response, "password").endswith(fr("reason.password_common"))


def test_question_step(env: Env) -> None:
    client, _ = at_password_step(env, "100234567")
    post(client, "/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    question = next(iter(env.service.settings.questions)).id
    response = refused(client, "/question-secrete",
                    {"question": question, "answer": "Lefebvre", "confirmation": "Lefebre"})
    assert tied(response, "confirmation") == fr("reason.answers_differ")


def test_forgotten_identifier(env: Env) -> None:
    response = refused(env.client(), "/identifiant-oublie", {"email": "not an address"})
    assert tied(response, "email") == fr("reason.email_invalid")


def test_forgotten_password(env: Env) -> None:
    response = refused(env.client(), "/mot-de-passe-oublie", {"identifier": "<>"})
    assert tied(response, "identifier")


def test_reset_link(env: Env) -> None:
    env.active_member("100234567", answer="Rex le chien")
    client = env.client()
    post(client, "/mot-de-passe-oublie", {"identifier": "100234567"})
    env.service.deliver_due()
    link = env.path_of(env.link_to("/mot-de-passe/reinitialiser"))
    form = page_of(client.get(link, follow_redirects=True))
    token = re.search(r'name="token" value="([^"]+)"', form)
    assert token is not None
    response = refused(client, link.split("?")[0], {
        "token": html.unescape(token.group(1)), "answer": "Mauvaise réponse",
        "password": "Une autre phrase de passe 2026",
        "confirmation": "Une autre phrase de passe 2026"}, token_from=link)
    assert tied(response, "answer").endswith(fr("reason.answer_wrong"))


@pytest.mark.parametrize(("path", "data", "field"), [
    ("/profil/mot-de-passe", {"current_password": "not the password",
                              "password": "Une autre phrase de passe 2026",
                              "confirmation": "Une autre phrase de passe 2026"},
     "current_password"),
    ("/profil/email", {"current_password": GOOD_PASSWORD, "email": "new@example.com",
                       "confirmation": "neww@example.com"}, "confirmation"),
])
def test_account_forms(env: Env, path: str, data: dict[str, str], field: str) -> None:
    env.active_member("100234567")
    client = logged_in(env, "100234567", GOOD_PASSWORD)
    assert tied(refused(client, path, data), field)
